package deb

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Config configures the deb format.
type Config struct {
	// Origin is the Release file's Origin field. apt refuses to update when
	// it changes, so keep it stable once clients use the repository.
	Origin string `yaml:"origin"`
	// Label is the Release file's Label field; as stable as Origin.
	Label string `yaml:"label"`
	// Architectures are published in every component even when no package
	// has them, so that a client of that architecture finds an (empty)
	// index instead of an error. Architectures of uploaded packages are
	// published as well. "all" is never listed: arch-all packages appear in
	// every architecture's Packages file.
	Architectures []string `yaml:"architectures"`
	// ValidDays, when positive, adds a Valid-Until field that many days
	// after the publish time. apt rejects an expired Release, so only set it
	// when something republishes on a schedule. Zero means no Valid-Until.
	ValidDays int `yaml:"valid_days"`
	// ResignMargin is how long before Valid-Until Pier publishes the target
	// again on its own (pier serve) to sign fresh roots. Zero means a third
	// of the roots' validity (56h for valid_days 7). It must be shorter than
	// valid_days.
	ResignMargin time.Duration `yaml:"resign_margin"`
	// Contents turns the Contents-<arch> indexes (what apt-file searches)
	// on or off; unset means on. The file lists they are made of are
	// recorded at ingest either way, so turning them on later lists
	// every package uploaded since Pier recorded file lists.
	Contents Switch `yaml:"contents"`
	// Release sets the Release fields (and Contents) of the targets its
	// rules match; the first matching rule wins, and a target no rule
	// matches keeps the defaults (Origin and Label above, Suite and
	// Codename the release, Description "Pier repository for <stream>
	// <distro> <release>", Contents as above).
	Release []ReleaseRule `yaml:"release"`
	// Limits bound what the reader accepts from an uploaded .deb.
	Limits Limits `yaml:"limits"`
}

// Limits bound the work and memory spent on one uploaded .deb.
type Limits struct {
	// ControlTar is the largest accepted uncompressed size of the
	// control.tar member, in bytes. It stops decompression bombs.
	ControlTar int64 `yaml:"control_tar"`
	// DataTar is the largest accepted uncompressed size of the data.tar
	// member, in bytes. The reader decompresses the whole member on every
	// upload (so that a corrupt one is refused); this bounds the work a
	// decompression bomb can cause. Raise it for packages that install
	// more than 16 GiB.
	DataTar int64 `yaml:"data_tar"`
	// Control is the largest accepted control file, in bytes.
	Control int64 `yaml:"control"`
	// Name is the longest accepted package name, source name, architecture
	// and control field name, in bytes.
	Name int `yaml:"name"`
	// Version is the longest accepted version string, in bytes.
	Version int `yaml:"version"`
	// FileList is the largest total length, in bytes (one more per path),
	// of the paths one package installs: the reader records them at
	// ingest for the Contents index, in memory while it reads. A package
	// that installs more is refused.
	FileList int64 `yaml:"file_list"`
}

// Default limits.
const (
	defaultControlTar = 16 << 20
	defaultDataTar    = 16 << 30
	defaultControl    = 1 << 20
	defaultName       = 128
	defaultVersion    = 128
	defaultFileList   = 64 << 20
)

// Defaults fills unset fields with their default values.
func (c *Config) Defaults() {
	if c.Origin == "" {
		c.Origin = "Pier"
	}
	if c.Label == "" {
		c.Label = "Pier"
	}
	if len(c.Architectures) == 0 {
		c.Architectures = []string{"amd64", "arm64"}
	}
	if c.Limits.ControlTar == 0 {
		c.Limits.ControlTar = defaultControlTar
	}
	if c.Limits.DataTar == 0 {
		c.Limits.DataTar = defaultDataTar
	}
	if c.Limits.Control == 0 {
		c.Limits.Control = defaultControl
	}
	if c.Limits.Name == 0 {
		c.Limits.Name = defaultName
	}
	if c.Limits.Version == 0 {
		c.Limits.Version = defaultVersion
	}
	if c.Limits.FileList == 0 {
		c.Limits.FileList = defaultFileList
	}
	if c.Contents == SwitchDefault {
		c.Contents = SwitchOn
	}
}

// Validate checks the config; it reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	for _, f := range []struct{ name, value string }{{"origin", c.Origin}, {"label", c.Label}} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("deb: %s must not be empty", f.name))
		} else if strings.ContainsFunc(f.value, func(r rune) bool { return r < 0x20 || r == 0x7f }) ||
			strings.TrimSpace(f.value) != f.value {
			errs = append(errs, fmt.Errorf("deb: %s %q must be one line without control characters or surrounding spaces", f.name, f.value))
		}
	}
	if len(c.Architectures) == 0 {
		errs = append(errs, errors.New("deb: architectures must not be empty"))
	}
	for _, a := range c.Architectures {
		if reason := archProblem(a, defaultName); reason != "" {
			errs = append(errs, fmt.Errorf("deb: architectures: %s", reason))
		} else if a == "all" {
			errs = append(errs, errors.New(`deb: architectures: "all" is not published as an architecture (arch-all packages go into every architecture)`))
		}
	}
	if sorted := slices.Sorted(slices.Values(c.Architectures)); len(slices.Compact(sorted)) != len(c.Architectures) {
		errs = append(errs, errors.New("deb: architectures has duplicates"))
	}
	if c.ValidDays < 0 || c.ValidDays > 3660 {
		errs = append(errs, errors.New("deb: valid_days must be between 0 and 3660"))
	}
	if c.ResignMargin < 0 {
		errs = append(errs, errors.New("deb: resign_margin must not be negative"))
	} else if c.ValidDays > 0 && c.ResignMargin >= time.Duration(c.ValidDays)*24*time.Hour {
		errs = append(errs, fmt.Errorf("deb: resign_margin %s must be shorter than valid_days (%d days)", c.ResignMargin, c.ValidDays))
	}
	l := c.Limits
	if l.Control <= 0 {
		errs = append(errs, errors.New("deb: limits.control must be positive"))
	}
	if l.ControlTar < l.Control {
		errs = append(errs, errors.New("deb: limits.control_tar must be at least limits.control"))
	}
	if l.DataTar < 0 {
		errs = append(errs, errors.New("deb: limits.data_tar must not be negative (0 means the default, 16 GiB)"))
	}
	if l.Name < 2 || l.Name > 1024 {
		errs = append(errs, errors.New("deb: limits.name must be between 2 and 1024"))
	}
	if l.Version < 1 || l.Version > 1024 {
		errs = append(errs, errors.New("deb: limits.version must be between 1 and 1024"))
	}
	if l.FileList < 0 {
		errs = append(errs, errors.New("deb: limits.file_list must not be negative (0 means the default, 64 MiB)"))
	}
	for i, r := range c.Release {
		if err := r.validate(); err != nil {
			errs = append(errs, fmt.Errorf("deb: release[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// Switch is an on/off setting whose zero value means "not set, take the
// default". YAML writes it as true or false.
type Switch int8

// Values of a Switch.
const (
	SwitchDefault Switch = iota
	SwitchOn
	SwitchOff
)

// On reports whether s is on; an unset s is def.
func (s Switch) On(def bool) bool {
	if s == SwitchDefault {
		return def
	}
	return s == SwitchOn
}

// String returns "on", "off" or "default".
func (s Switch) String() string {
	switch s {
	case SwitchOn:
		return "on"
	case SwitchOff:
		return "off"
	}
	return "default"
}

// UnmarshalYAML reads a YAML boolean (yaml.v3's obsolete unmarshaler
// interface, so that this package needs no YAML import).
func (s *Switch) UnmarshalYAML(unmarshal func(any) error) error {
	var b bool
	if err := unmarshal(&b); err != nil {
		return errors.New("want true or false")
	}
	*s = SwitchOff
	if b {
		*s = SwitchOn
	}
	return nil
}
