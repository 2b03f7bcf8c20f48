package repo

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$`)

// ParseTarget parses "stream/distro/release" and checks each part.
func ParseTarget(s string) (Target, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return Target{}, fmt.Errorf("target %q is not stream/distro/release: %w", s, ErrInvalid)
	}
	t := Target{Stream: parts[0], Distro: parts[1], Release: parts[2]}
	return t, t.Validate()
}

// Validate checks that each part of t is a safe path element.
func (t Target) Validate() error {
	for _, p := range []struct{ what, v string }{{"stream", t.Stream}, {"distro", t.Distro}, {"release", t.Release}} {
		if !nameRE.MatchString(p.v) || p.v == "." || p.v == ".." {
			return fmt.Errorf("%s %q must be 1-64 letters, digits or ._+~- and start with a letter or digit: %w", p.what, p.v, ErrInvalid)
		}
	}
	return nil
}

// ValidatePattern checks a stream/distro/release glob pattern.
func ValidatePattern(p string) error {
	if strings.Count(p, "/") != 2 {
		return fmt.Errorf("target pattern %q must be stream/distro/release globs: %w", p, ErrInvalid)
	}
	if _, err := path.Match(p, "s/d/r"); err != nil {
		return fmt.Errorf("target pattern %q: %w: %w", p, err, ErrInvalid)
	}
	return nil
}

// Matches reports whether t matches the stream/distro/release pattern p.
func (t Target) Matches(p string) bool {
	ok, _ := path.Match(p, t.String())
	return ok
}
