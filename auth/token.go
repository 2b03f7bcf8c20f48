package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/repo"
)

// Prefix starts every token Pier generates.
const Prefix = "pier_"

// AdminName is the name of the principal of the admin token.
const AdminName = "admin"

// Token is a stored API token: never the token itself, only its hash.
type Token struct {
	Name string `json:"name"`
	// Hash is the lower-case hex SHA-256 of the token.
	Hash    string    `json:"-"`
	Scopes  []string  `json:"scopes"`
	Created time.Time `json:"created"`
	// Expires is when the token stops working; zero: never.
	Expires time.Time `json:"expires,omitzero"`
	// LastUsed is when the token last authenticated (updated at most about
	// once a minute); zero: never.
	LastUsed time.Time `json:"last_used,omitzero"`
	// Source is "api" for tokens made with pier token create or the API,
	// "config" for tokens named in the configuration (the admin token
	// among them), which cannot be revoked through Pier.
	Source string `json:"source"`
}

// Principal is who a request comes from: a token's name and scopes.
type Principal struct {
	Name   string
	Scopes []Scope
	// Expires is when the token stops working; zero: never.
	Expires time.Time
}

// Allows reports whether p may do action on t. admin allows everything.
func (p *Principal) Allows(action Action, t repo.Target) bool {
	if p == nil {
		return false
	}
	for _, s := range p.Scopes {
		if s.Covers(action, t) {
			return true
		}
	}
	return false
}

// AllowsSome reports whether p may do action on at least some target.
func (p *Principal) AllowsSome(action Action) bool {
	if p == nil {
		return false
	}
	for _, s := range p.Scopes {
		if s.Action == Admin || s.Action == action {
			return true
		}
	}
	return false
}

// Touches reports whether p holds any scope on t.
func (p *Principal) Touches(t repo.Target) bool {
	if p == nil {
		return false
	}
	for _, s := range p.Scopes {
		if s.coversTarget(t) {
			return true
		}
	}
	return false
}

// IsAdmin reports whether p holds the admin scope.
func (p *Principal) IsAdmin() bool { return p.AllowsSome(Admin) }

// Generate returns a new token: Prefix and 64 hex digits.
func Generate() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return Prefix + hex.EncodeToString(b), nil
}

// Hash returns the lower-case hex SHA-256 of token, the form in which
// Pier stores and compares tokens.
func Hash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidateName checks a token name: 1-64 letters, digits or ._- starting
// with a letter or digit. (So no token is named like the "cli:<user>"
// actor of the audit log.)
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("token name %q must be 1-64 letters, digits or ._- and start with a letter or digit: %w", name, repo.ErrInvalid)
	}
	return nil
}

// ParseExpiry returns when a token created at now expires: "" or "never"
// is never (zero time); a duration is counted from now ("90d", "12h",
// "1d12h"; d is 24 hours); a date (2006-01-02) or RFC 3339 time is taken
// as it is. It must lie in the future.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "never" || s == "0" {
		return time.Time{}, nil
	}
	var at time.Time
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		at = t
	} else if t, err := time.Parse(time.DateOnly, s); err == nil {
		at = t
	} else {
		d, err := ParseDuration(s)
		if err != nil {
			return time.Time{}, err
		}
		at = now.Add(d)
	}
	if !at.After(now) {
		return time.Time{}, fmt.Errorf("expiry %q is not in the future: %w", s, repo.ErrInvalid)
	}
	return at.UTC().Truncate(time.Second), nil
}

// ParseDuration is time.ParseDuration that also takes days: "90d", "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	var days int64
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseInt(s[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("duration %q: want e.g. 90d, 12h or 1d12h: %w", s, repo.ErrInvalid)
		}
		days, s = n, s[i+1:]
	}
	var d time.Duration
	if s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("duration %q: want e.g. 90d, 12h or 1d12h: %w", s, repo.ErrInvalid)
		}
	}
	total := time.Duration(days)*24*time.Hour + d
	if total <= 0 {
		return 0, fmt.Errorf("duration %q must be positive: %w", s, repo.ErrInvalid)
	}
	return total, nil
}
