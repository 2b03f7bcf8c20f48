package deb

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pierhq/pier/repo"
)

// ReleaseRule sets Release fields, and whether Contents is published, for
// the targets matching Targets. Empty fields keep their defaults. Text fields may name the target with
// {stream}, {distro} and {release}, e.g. "Kamailio {stream}".
//
// apt remembers Origin, Label, Codename and the default pin
// (NotAutomatic, ButAutomaticUpgrades) of every repository it has
// fetched, and refuses an update in which one of them changed unless the
// user passes --allow-releaseinfo-change (apt: apt-pkg/acquire-item.cc,
// the release info checks of pkgAcqMetaBase): set them before clients
// use a target, and keep them.
type ReleaseRule struct {
	// Targets are stream/distro/release glob patterns ("nightly/*/*").
	// YAML takes one pattern or a list.
	Targets Patterns `yaml:"targets"`
	// Origin and Label replace deb.origin and deb.label.
	Origin string `yaml:"origin"`
	Label  string `yaml:"label"`
	// Suite and Codename default to the release. apt warns ("Conflicting
	// distribution") unless one of them is the distribution named in the
	// sources line, which is the release, so one of them must stay it.
	Suite    string `yaml:"suite"`
	Codename string `yaml:"codename"`
	// Description is free text.
	Description string `yaml:"description"`
	// NotAutomatic: yes gives the target's packages apt's default pin 1:
	// apt installs them only when asked (name=version, or -t with the
	// target's suite or codename) and does not upgrade to them (apt:
	// apt-pkg/policy.cc, pkgPolicy::InitDefaults).
	NotAutomatic bool `yaml:"not_automatic"`
	// ButAutomaticUpgrades: yes, with NotAutomatic, gives pin 100
	// instead (policy.cc checks it first): installed packages follow the
	// target's upgrades, nothing new is installed from it (Debian's
	// backports). Pier refuses it without NotAutomatic, the only
	// combination the Debian repository format defines.
	ButAutomaticUpgrades bool `yaml:"but_automatic_upgrades"`
	// Contents turns the target's Contents indexes on or off; unset
	// follows deb.contents.
	Contents Switch `yaml:"contents"`
}

// Patterns is a list of target patterns that YAML may write as one string.
type Patterns []string

// UnmarshalYAML reads a pattern or a list of patterns (yaml.v3's obsolete
// unmarshaler interface, so that this package needs no YAML import).
func (p *Patterns) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*p = Patterns{one}
		return nil
	}
	var list []string
	if err := unmarshal(&list); err != nil {
		return errors.New("want a stream/distro/release pattern or a list of them")
	}
	*p = list
	return nil
}

// releaseFields are the Release fields of one target, and whether it
// publishes Contents.
type releaseFields struct {
	origin, label, suite, codename, description string
	notAutomatic, butAutomaticUpgrades          bool
	contents                                    bool
}

// placeholders are the names a rule's text may use.
var placeholders = []string{"stream", "distro", "release"}

// validate checks a rule on its own.
func (r *ReleaseRule) validate() error {
	var errs []error
	if len(r.Targets) == 0 {
		errs = append(errs, errors.New("targets must name at least one stream/distro/release pattern"))
	}
	for _, p := range r.Targets {
		if err := repo.ValidatePattern(p); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range []struct {
		name, value string
		word        bool
	}{{"origin", r.Origin, false}, {"label", r.Label, false}, {"suite", r.Suite, true}, {"codename", r.Codename, true}, {"description", r.Description, false}} {
		if err := checkTemplate(f.value, f.word); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", f.name, f.value, err))
		}
	}
	if r.ButAutomaticUpgrades && !r.NotAutomatic {
		errs = append(errs, errors.New("but_automatic_upgrades needs not_automatic: the Debian repository format defines ButAutomaticUpgrades only together with NotAutomatic"))
	}
	// A pattern whose release is a plain name shows now whether Suite or
	// Codename stays the release; patterns with globs are checked at
	// publish.
	for _, p := range r.Targets {
		parts := strings.Split(p, "/")
		if len(parts) != 3 || strings.ContainsAny(parts[2], `*?[\`) {
			continue
		}
		t := repo.Target{Stream: parts[0], Distro: parts[1], Release: parts[2]}
		if err := r.fields(t, releaseFields{suite: t.Release, codename: t.Release}).check(t); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkTemplate checks a rule's text: one line without control
// characters or surrounding spaces, no space at all for a word, and only
// known {placeholders}.
func checkTemplate(s string, word bool) error {
	switch {
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("must be one line without control characters")
	case strings.TrimSpace(s) != s:
		return errors.New("must not start or end with spaces")
	case word && strings.ContainsAny(s, " "):
		return errors.New("must be one word (apt compares it with the distribution of a sources line)")
	}
	for rest := s; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return errors.New("has a '{' without '}'")
		}
		name := rest[i+1 : i+j]
		known := false
		for _, p := range placeholders {
			known = known || name == p
		}
		if !known {
			return fmt.Errorf("unknown placeholder {%s} (known: {stream}, {distro}, {release})", name)
		}
		rest = rest[i+j+1:]
	}
}

// expand replaces the placeholders of s with t's names.
func expand(s string, t repo.Target) string {
	if !strings.Contains(s, "{") {
		return s
	}
	return strings.NewReplacer("{stream}", t.Stream, "{distro}", t.Distro, "{release}", t.Release).Replace(s)
}

// fields returns def with the rule's settings for t applied.
func (r *ReleaseRule) fields(t repo.Target, def releaseFields) releaseFields {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = expand(v, t)
		}
	}
	set(&def.origin, r.Origin)
	set(&def.label, r.Label)
	set(&def.suite, r.Suite)
	set(&def.codename, r.Codename)
	set(&def.description, r.Description)
	def.notAutomatic = r.NotAutomatic
	def.butAutomaticUpgrades = r.ButAutomaticUpgrades
	def.contents = r.Contents.On(def.contents)
	return def
}

// check applies the rules that depend on the target: apt only accepts a
// Release whose Suite or Codename is the distribution of the sources
// line (apt: apt-pkg/deb/debmetaindex.cc, debReleaseIndex::CheckDist,
// else the warning "Conflicting distribution").
func (rf releaseFields) check(t repo.Target) error {
	if rf.suite != t.Release && rf.codename != t.Release {
		return fmt.Errorf("for %s, neither suite %q nor codename %q is the release %q, which apt's sources lines name (apt warns \"Conflicting distribution\")", t, rf.suite, rf.codename, t.Release)
	}
	return nil
}

// releaseFields returns t's Release fields (and whether it publishes
// Contents): the defaults, with the first rule that matches t applied.
func (f *Format) releaseFields(t repo.Target) (releaseFields, error) {
	rf := releaseFields{
		origin:      f.cfg.Origin,
		label:       f.cfg.Label,
		suite:       t.Release,
		codename:    t.Release,
		description: "Pier repository for " + oneLine(t.Stream) + " " + oneLine(t.Distro) + " " + oneLine(t.Release),
		contents:    f.cfg.Contents.On(true),
	}
	for i := range f.cfg.Release {
		r := &f.cfg.Release[i]
		for _, p := range r.Targets {
			if t.Matches(p) {
				rf = r.fields(t, rf)
				return rf, rf.check(t)
			}
		}
	}
	return rf, nil
}
