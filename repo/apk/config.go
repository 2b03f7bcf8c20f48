package apk

import (
	"errors"
	"fmt"
	"slices"
)

// Config configures the apk format.
type Config struct {
	// Architectures are published in every component even when they hold
	// no package, so that a client of that architecture finds an (empty)
	// signed index instead of a 404. Architectures of uploaded packages are
	// published as well. "noarch" is not an architecture directory: noarch
	// packages appear in every architecture's index. Default x86_64 and
	// aarch64.
	Architectures []string `yaml:"architectures"`
	// Components are published in every target even when they hold no
	// package (an apk "repository" such as main or community). Default main.
	Components []string `yaml:"components"`
	// MaxPkgInfoSize is the largest accepted .PKGINFO, in bytes (1 MiB);
	// it also bounds a tar entry's pax or GNU long-name record.
	MaxPkgInfoSize int64 `yaml:"max_pkginfo_size"`
	// MaxControlSize is the largest accepted uncompressed size of the
	// signature and control streams together, in bytes (16 MiB).
	MaxControlSize int64 `yaml:"max_control_size"`
	// MaxDataSize is the largest accepted uncompressed size of the data
	// stream, in bytes (16 GiB). It stops gzip bombs.
	MaxDataSize int64 `yaml:"max_data_size"`
	// MaxNameLength is the longest accepted package name (128).
	MaxNameLength int `yaml:"max_name_length"`
	// CompressionLevel is the gzip level of APKINDEX.tar.gz, 1-9 (6).
	CompressionLevel int `yaml:"compression_level"`
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if len(c.Architectures) == 0 {
		c.Architectures = []string{"x86_64", "aarch64"}
	}
	if len(c.Components) == 0 {
		c.Components = []string{"main"}
	}
	if c.MaxPkgInfoSize == 0 {
		c.MaxPkgInfoSize = 1 << 20
	}
	if c.MaxControlSize == 0 {
		c.MaxControlSize = 16 << 20
	}
	if c.MaxDataSize == 0 {
		c.MaxDataSize = 16 << 30
	}
	if c.MaxNameLength == 0 {
		c.MaxNameLength = 128
	}
	if c.CompressionLevel == 0 {
		c.CompressionLevel = 6
	}
}

// Validate checks the config.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Architectures) == 0 {
		errs = append(errs, errors.New("apk: architectures must not be empty"))
	}
	for _, a := range c.Architectures {
		if err := validArch(a); err != nil {
			errs = append(errs, fmt.Errorf("apk: architectures: %w", err))
		} else if a == noarch {
			errs = append(errs, fmt.Errorf("apk: architectures: %q is not a directory architecture", a))
		}
	}
	if hasDuplicates(c.Architectures) {
		errs = append(errs, errors.New("apk: architectures has duplicates"))
	}
	for _, comp := range c.Components {
		if err := validComponent(comp); err != nil {
			errs = append(errs, fmt.Errorf("apk: components: %w", err))
		}
	}
	if hasDuplicates(c.Components) {
		errs = append(errs, errors.New("apk: components has duplicates"))
	}
	if c.MaxPkgInfoSize <= 0 {
		errs = append(errs, errors.New("apk: max_pkginfo_size must be positive"))
	}
	if c.MaxControlSize < c.MaxPkgInfoSize {
		errs = append(errs, errors.New("apk: max_control_size must be at least max_pkginfo_size"))
	}
	if c.MaxDataSize <= 0 {
		errs = append(errs, errors.New("apk: max_data_size must be positive"))
	}
	if c.MaxNameLength <= 0 || c.MaxNameLength > 1024 {
		errs = append(errs, errors.New("apk: max_name_length must be between 1 and 1024"))
	}
	if c.CompressionLevel < 1 || c.CompressionLevel > 9 {
		errs = append(errs, errors.New("apk: compression_level must be between 1 and 9"))
	}
	return errors.Join(errs...)
}

func hasDuplicates(s []string) bool {
	c := slices.Clone(s)
	slices.Sort(c)
	return len(slices.Compact(c)) != len(s)
}

// validComponent checks a component name: it is a path element.
func validComponent(c string) error {
	if c == "" || c == "." || c == ".." || len(c) > 64 {
		return fmt.Errorf("component %q is not a valid name", c)
	}
	for i := 0; i < len(c); i++ {
		ch := c[i]
		if !isDigit(ch) && !isLower(ch) && !(ch >= 'A' && ch <= 'Z') && ch != '.' && ch != '_' && ch != '-' && ch != '+' && ch != '~' {
			return fmt.Errorf("component %q has a character outside letters, digits and ._+~-", c)
		}
	}
	return nil
}
