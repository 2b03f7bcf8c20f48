// Package auth decides who an API call or a repository download comes from
// and what it may do.
//
// A token is "pier_" followed by 64 hex digits (32 random bytes). Pier
// keeps only its SHA-256 (tokens are high-entropy, so a fast hash is
// right), shows the token once when it is created, and compares hashes in
// constant time. A token carries scopes: an action (read, upload, publish,
// delete, promote, admin), optionally limited to a target pattern of three
// path.Match globs, stream/distro/release ("upload:5.8/*/*",
// "read:nightly/el/*"); a bare action covers every target and admin covers
// every action. Tokens may expire.
//
// The Authenticator checks a presented token against the tokens named in
// the configuration (the admin token among them) and the tokens of a Store
// (the catalog), limits failed attempts per client address (Limiter), and
// knows which targets are private (need a read token to be downloaded).
package auth

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/pierhq/pier/repo"
)

// Action is what a scope allows.
type Action string

// Actions a scope can name.
const (
	// Read allows downloading a private target's files and reading a
	// target's packages, generations and pins through the API.
	Read Action = "read"
	// Upload allows adding packages to a target.
	Upload Action = "upload"
	// Publish allows publishing, rolling back and pinning a target.
	Publish Action = "publish"
	// Delete allows removing packages and pruning a target.
	Delete Action = "delete"
	// Promote allows promoting packages into a target.
	Promote Action = "promote"
	// Admin allows everything: every action on every target, tokens,
	// the audit log and garbage collection.
	Admin Action = "admin"
)

// Actions lists every action, in the order they are documented.
var Actions = []Action{Read, Upload, Publish, Delete, Promote, Admin}

// Scope is one permission: an action on the targets matching a pattern.
type Scope struct {
	Action Action
	// Pattern is "stream/distro/release" with path.Match globs in each
	// part; empty means every target.
	Pattern string
}

// ParseScope parses "action" or "action:stream/distro/release". admin takes
// no pattern.
func ParseScope(s string) (Scope, error) {
	a, pat, hasPat := strings.Cut(strings.TrimSpace(s), ":")
	sc := Scope{Action: Action(a), Pattern: pat}
	if !slices.Contains(Actions, sc.Action) {
		return Scope{}, fmt.Errorf("scope %q: unknown action %q (known: read, upload, publish, delete, promote, admin): %w", s, a, repo.ErrInvalid)
	}
	if !hasPat {
		return sc, nil
	}
	if sc.Action == Admin {
		return Scope{}, fmt.Errorf("scope %q: admin covers every target and takes no pattern: %w", s, repo.ErrInvalid)
	}
	if err := ValidatePattern(pat); err != nil {
		return Scope{}, fmt.Errorf("scope %q: %w", s, err)
	}
	return sc, nil
}

// ParseScopes parses every scope of ss; there must be at least one.
func ParseScopes(ss []string) ([]Scope, error) {
	if len(ss) == 0 {
		return nil, fmt.Errorf("a token needs at least one scope: %w", repo.ErrInvalid)
	}
	out := make([]Scope, 0, len(ss))
	for _, s := range ss {
		sc, err := ParseScope(s)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// String returns the scope as ParseScope reads it.
func (s Scope) String() string {
	if s.Pattern == "" {
		return string(s.Action)
	}
	return string(s.Action) + ":" + s.Pattern
}

// ValidatePattern checks that p is three path.Match globs joined by "/":
// stream/distro/release.
func ValidatePattern(p string) error {
	parts := strings.Split(p, "/")
	if len(parts) != 3 {
		return fmt.Errorf("target pattern %q must be stream/distro/release (three globs, e.g. 5.8/*/*): %w", p, repo.ErrInvalid)
	}
	for _, part := range parts {
		if part == "" {
			return fmt.Errorf("target pattern %q has an empty part: %w", p, repo.ErrInvalid)
		}
		if _, err := path.Match(part, "x"); err != nil {
			return fmt.Errorf("target pattern %q: %w: %w", p, err, repo.ErrInvalid)
		}
	}
	return nil
}

// MatchTarget reports whether pattern (valid for ValidatePattern) matches t.
func MatchTarget(pattern string, t repo.Target) bool {
	ps := strings.Split(pattern, "/")
	if len(ps) != 3 {
		return false
	}
	for i, v := range []string{t.Stream, t.Distro, t.Release} {
		if ok, _ := path.Match(ps[i], v); !ok {
			return false
		}
	}
	return true
}

// Covers reports whether s allows action on t.
func (s Scope) Covers(action Action, t repo.Target) bool {
	if s.Action == Admin {
		return true
	}
	return s.Action == action && s.coversTarget(t)
}

func (s Scope) coversTarget(t repo.Target) bool {
	return s.Action == Admin || s.Pattern == "" || MatchTarget(s.Pattern, t)
}
