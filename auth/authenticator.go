package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/repo"
)

// Store keeps API tokens (never the tokens themselves, only their hashes).
// It is defined over auth's own types, so that what stores the tokens (the
// catalog's TokenStore, wired to it in cmd/pier) never imports auth.
// Implementations must be safe for concurrent use and may be shared by
// several processes.
type Store interface {
	// CreateToken records t. A name or hash already taken is an error
	// wrapping repo.ErrConflict.
	CreateToken(ctx context.Context, t *Token) error
	// TokenByHash returns the token whose Hash is hash, or an error
	// wrapping repo.ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	// Tokens lists every token, ordered by name.
	Tokens(ctx context.Context) ([]Token, error)
	// DeleteToken removes the token named name, or returns an error
	// wrapping repo.ErrNotFound.
	DeleteToken(ctx context.Context, name string) error
	// TouchToken sets the LastUsed time of the token named name.
	TouchToken(ctx context.Context, name string, at time.Time) error
}

// Errors of Authenticate. Both count as failed attempts.
var (
	// ErrUnknownToken marks a token Pier does not know (or a revoked one).
	ErrUnknownToken = errors.New("token not accepted")
	// ErrExpired marks a known token past its expiry.
	ErrExpired = errors.New("token expired")
)

// RateLimitedError is returned while a client address has used up its
// failed attempts.
type RateLimitedError struct {
	// RetryAfter is how long until the address may try again.
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many failed authentication attempts from this address; retry in %s", e.RetryAfter.Round(time.Second))
}

// TouchInterval is how stale a stored token's LastUsed may get before an
// authentication updates it: writing it on every request would cost a
// catalog write per request.
const TouchInterval = time.Minute

// ConfigToken is a token named in the configuration: the admin token, and
// tokens from the environment or files for simple setups.
type ConfigToken struct {
	Name   string
	Secret string
	Scopes []string
}

// Config is what the Authenticator takes from the configuration. Configure
// replaces it while requests are served (SIGHUP).
type Config struct {
	// Tokens are the tokens named in the configuration.
	Tokens []ConfigToken
	// Private are stream/distro/release patterns of the targets whose
	// files need a token with read on them.
	Private []string
	// Failures and Window configure the limiter of failed attempts per
	// client address (see Limiter); Failures < 0 disables it, 0 means
	// DefaultFailures, a zero Window DefaultWindow.
	Failures int
	Window   time.Duration
}

type configToken struct {
	name     string
	hash     []byte
	scopes   []Scope
	raw      []string
	lastUsed *atomic.Int64 // unix nanoseconds
}

type state struct {
	tokens  []configToken
	private []string
	digest  string // what Configure compares to tell a change
}

// Authenticator checks tokens and says which targets are private. It is
// safe for concurrent use.
type Authenticator struct {
	store Store
	cur   atomic.Pointer[state]
	lim   *Limiter
	log   *slog.Logger
	now   func() time.Time
}

// New returns an authenticator over store (nil: configuration tokens only).
func New(store Store, cfg Config, log *slog.Logger) (*Authenticator, error) {
	a := &Authenticator{store: store, lim: NewLimiter(DefaultFailures, DefaultWindow), log: log, now: time.Now}
	if _, err := a.Configure(cfg); err != nil {
		return nil, err
	}
	return a, nil
}

// Validate checks cfg: token names, secrets and scopes, patterns, limits.
func (cfg *Config) Validate() error {
	names := map[string]bool{}
	secrets := map[string]bool{}
	for _, t := range cfg.Tokens {
		if err := ValidateName(t.Name); err != nil {
			return err
		}
		if names[t.Name] {
			return fmt.Errorf("two tokens are named %q: %w", t.Name, repo.ErrInvalid)
		}
		names[t.Name] = true
		if strings.TrimSpace(t.Secret) == "" {
			return fmt.Errorf("token %s is empty: %w", t.Name, repo.ErrInvalid)
		}
		if secrets[t.Secret] {
			return fmt.Errorf("token %s has the same value as another token: %w", t.Name, repo.ErrInvalid)
		}
		secrets[t.Secret] = true
		if _, err := ParseScopes(t.Scopes); err != nil {
			return fmt.Errorf("token %s: %w", t.Name, err)
		}
	}
	for _, p := range cfg.Private {
		if err := ValidatePattern(p); err != nil {
			return fmt.Errorf("private: %w", err)
		}
	}
	if cfg.Window < 0 {
		return fmt.Errorf("rate limit window must be positive: %w", repo.ErrInvalid)
	}
	return nil
}

// Configure validates cfg and puts it in force. It reports whether
// anything changed (tokens, their scopes, private targets or limits).
func (a *Authenticator) Configure(cfg Config) (bool, error) {
	if err := cfg.Validate(); err != nil {
		return false, err
	}
	old := a.cur.Load()
	st := &state{private: slices.Clone(cfg.Private)}
	for _, t := range cfg.Tokens {
		scopes, _ := ParseScopes(t.Scopes)
		ct := configToken{name: t.Name, hash: []byte(Hash(t.Secret)), scopes: scopes, raw: slices.Clone(t.Scopes), lastUsed: new(atomic.Int64)}
		if old != nil {
			for _, o := range old.tokens {
				if o.name == t.Name && subtle.ConstantTimeCompare(o.hash, ct.hash) == 1 {
					ct.lastUsed = o.lastUsed
				}
			}
		}
		st.tokens = append(st.tokens, ct)
	}
	failures, window := cfg.Failures, cfg.Window
	if failures == 0 {
		failures = DefaultFailures
	}
	if window == 0 {
		window = DefaultWindow
	}
	a.lim.Set(failures, window)
	var digest strings.Builder
	for _, t := range st.tokens {
		fmt.Fprintf(&digest, "%s %s %v\n", t.name, t.hash, t.raw)
	}
	fmt.Fprintf(&digest, "%v %d %s", st.private, failures, window)
	st.digest = digest.String()
	a.cur.Store(st)
	return old == nil || old.digest != st.digest, nil
}

// Authenticate returns the principal of token presented by a client at
// addr. Unknown and expired tokens count as failed attempts of addr; while
// addr has none left, it returns a *RateLimitedError without looking at
// the token. Other errors are the store's.
func (a *Authenticator) Authenticate(ctx context.Context, addr, token string) (*Principal, error) {
	if ok, wait := a.lim.Allow(addr); !ok {
		return nil, &RateLimitedError{RetryAfter: wait}
	}
	p, err := a.check(ctx, token)
	if errors.Is(err, ErrUnknownToken) || errors.Is(err, ErrExpired) {
		a.lim.Fail(addr)
	}
	return p, err
}

func (a *Authenticator) check(ctx context.Context, token string) (*Principal, error) {
	if token == "" || len(token) > 512 {
		return nil, ErrUnknownToken
	}
	now := a.now()
	h := Hash(token)
	hb := []byte(h)
	// Every configuration token is compared, in constant time.
	var found *configToken
	st := a.cur.Load()
	for i := range st.tokens {
		if subtle.ConstantTimeCompare(hb, st.tokens[i].hash) == 1 {
			found = &st.tokens[i]
		}
	}
	if found != nil {
		found.lastUsed.Store(now.UnixNano())
		return &Principal{Name: found.name, Scopes: found.scopes}, nil
	}
	if a.store == nil {
		return nil, ErrUnknownToken
	}
	// The lookup is by the SHA-256 of the token, which tells a timing
	// observer nothing about any stored token; the hashes are compared in
	// constant time once more all the same.
	tok, err := a.store.TokenByHash(ctx, h)
	if errors.Is(err, repo.ErrNotFound) {
		return nil, ErrUnknownToken
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(tok.Hash), hb) != 1 {
		return nil, ErrUnknownToken
	}
	if !tok.Expires.IsZero() && !now.Before(tok.Expires) {
		return nil, fmt.Errorf("token %s expired at %s: %w", tok.Name, tok.Expires.UTC().Format(time.RFC3339), ErrExpired)
	}
	scopes, err := ParseScopes(tok.Scopes)
	if err != nil {
		return nil, fmt.Errorf("stored token %s: %w", tok.Name, err)
	}
	if now.Sub(tok.LastUsed) >= TouchInterval {
		if err := a.store.TouchToken(ctx, tok.Name, now); err != nil && a.log != nil {
			a.log.Warn("record the last use of a token", "token", tok.Name, "err", err)
		}
	}
	return &Principal{Name: tok.Name, Scopes: scopes, Expires: tok.Expires}, nil
}

// Private reports whether t's files need a token with read on t.
func (a *Authenticator) Private(t repo.Target) bool {
	for _, p := range a.cur.Load().private {
		if MatchTarget(p, t) {
			return true
		}
	}
	return false
}

// configured reports whether name is a configuration token.
func (a *Authenticator) configured(name string) bool {
	for _, t := range a.cur.Load().tokens {
		if t.name == name {
			return true
		}
	}
	return false
}

// Create makes a new stored token and returns it; this is the only time
// the token is seen. expires zero means it never expires.
func (a *Authenticator) Create(ctx context.Context, name string, scopes []string, expires time.Time) (string, *Token, error) {
	if a.store == nil {
		return "", nil, fmt.Errorf("no token store")
	}
	if err := ValidateName(name); err != nil {
		return "", nil, err
	}
	if name == AdminName || a.configured(name) {
		return "", nil, fmt.Errorf("token name %q is taken by a token of the configuration: %w", name, repo.ErrConflict)
	}
	parsed, err := ParseScopes(scopes)
	if err != nil {
		return "", nil, err
	}
	now := a.now().UTC().Truncate(time.Second)
	if !expires.IsZero() && !expires.After(now) {
		return "", nil, fmt.Errorf("expiry %s is not in the future: %w", expires.Format(time.RFC3339), repo.ErrInvalid)
	}
	secret, err := Generate()
	if err != nil {
		return "", nil, err
	}
	norm := make([]string, len(parsed))
	for i, s := range parsed {
		norm[i] = s.String()
	}
	t := &Token{Name: name, Hash: Hash(secret), Scopes: norm, Created: now, Expires: expires, Source: "api"}
	if err := a.store.CreateToken(ctx, t); err != nil {
		return "", nil, err
	}
	return secret, t, nil
}

// List returns every token: the configuration's (Source "config") and the
// stored ones (Source "api"), ordered by name.
func (a *Authenticator) List(ctx context.Context) ([]Token, error) {
	var out []Token
	for _, t := range a.cur.Load().tokens {
		tok := Token{Name: t.name, Scopes: t.raw, Source: "config"}
		if n := t.lastUsed.Load(); n != 0 {
			tok.LastUsed = time.Unix(0, n).UTC()
		}
		out = append(out, tok)
	}
	if a.store != nil {
		ts, err := a.store.Tokens(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			t.Source = "api"
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(x, y Token) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

// Revoke removes the stored token named name; from then on it is refused.
// A configuration token cannot be revoked here.
func (a *Authenticator) Revoke(ctx context.Context, name string) error {
	if a.configured(name) {
		return fmt.Errorf("token %s is named in the configuration: remove it there and reload: %w", name, repo.ErrInvalid)
	}
	if a.store == nil {
		return fmt.Errorf("token %s: %w", name, repo.ErrNotFound)
	}
	return a.store.DeleteToken(ctx, name)
}
