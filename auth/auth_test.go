package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

func tg(s string) repo.Target {
	t, err := repo.ParseTarget(s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseScope(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"read", "read", true},
		{"upload:5.8/*/*", "upload:5.8/*/*", true},
		{"read:nightly/el/*", "read:nightly/el/*", true},
		{" publish:5.8/debian/bookworm ", "publish:5.8/debian/bookworm", true},
		{"delete:5.[78]/*/*", "delete:5.[78]/*/*", true},
		{"promote", "promote", true},
		{"admin", "admin", true},
		{"admin:5.8/*/*", "", false},
		{"write", "", false},
		{"", "", false},
		{"Upload", "", false},
		{"upload:5.8/*", "", false},
		{"upload:5.8/*/*/*", "", false},
		{"upload:5.8//*", "", false},
		{"upload:", "", false},
		{"upload:5.8/[/*", "", false},
	} {
		s, err := ParseScope(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseScope(%q) err = %v, want ok=%v", c.in, err, c.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, repo.ErrInvalid) {
				t.Errorf("ParseScope(%q) err %v does not wrap ErrInvalid", c.in, err)
			}
			continue
		}
		if s.String() != c.want {
			t.Errorf("ParseScope(%q) = %q, want %q", c.in, s, c.want)
		}
	}
	if _, err := ParseScopes(nil); err == nil {
		t.Error("ParseScopes(nil) accepted")
	}
}

func TestAllows(t *testing.T) {
	p := func(scopes ...string) *Principal {
		ss, err := ParseScopes(scopes)
		if err != nil {
			t.Fatal(err)
		}
		return &Principal{Name: "p", Scopes: ss}
	}
	for _, c := range []struct {
		p      *Principal
		action Action
		target string
		want   bool
	}{
		{p("upload:5.8/*/*"), Upload, "5.8/debian/bookworm", true},
		{p("upload:5.8/*/*"), Upload, "5.7/debian/bookworm", false},
		{p("upload:5.8/*/*"), Upload, "5.80/debian/bookworm", false},
		{p("upload:5.8/*/*"), Read, "5.8/debian/bookworm", false},
		{p("upload:5.8/*/*"), Publish, "5.8/debian/bookworm", false},
		{p("upload"), Upload, "x/alpine/v3.20", true},
		{p("read:nightly/el/*"), Read, "nightly/el/9", true},
		{p("read:nightly/el/*"), Read, "nightly/fedora/41", false},
		{p("read:nightly/el/9"), Read, "nightly/el/9", true},
		{p("read:nightly/el/9"), Read, "nightly/el/8", false},
		{p("read:*/debian/bookworm", "upload:5.8/*/*"), Read, "5.7/debian/bookworm", true},
		{p("read:*/debian/bookworm", "upload:5.8/*/*"), Upload, "5.8/el/9", true},
		{p("admin"), Promote, "any/el/9", true},
		{p("admin"), Admin, "", true},
		{p("delete"), Admin, "", false},
		{nil, Read, "5.8/el/9", false},
	} {
		var tt repo.Target
		if c.target != "" {
			tt = tg(c.target)
		}
		if got := c.p.Allows(c.action, tt); got != c.want {
			t.Errorf("%v Allows(%s, %s) = %v, want %v", c.p, c.action, c.target, got, c.want)
		}
	}
	if !p("read:a/b/c").AllowsSome(Read) || p("upload").AllowsSome(Read) || !p("admin").AllowsSome(Read) {
		t.Error("AllowsSome")
	}
	if !p("upload:5.8/*/*").Touches(tg("5.8/el/9")) || p("upload:5.8/*/*").Touches(tg("5.7/el/9")) || !p("admin").IsAdmin() ||
		p("upload").IsAdmin() {
		t.Error("Touches / IsAdmin")
	}
}

func TestTokenAndExpiry(t *testing.T) {
	a, err := Generate()
	b, _ := Generate()
	if err != nil || a == b || !strings.HasPrefix(a, "pier_") || len(a) != 5+64 {
		t.Fatalf("Generate: %q %q %v", a, b, err)
	}
	if h := Hash("x"); h != "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" {
		t.Errorf("Hash = %s", h)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"", time.Time{}, true},
		{"never", time.Time{}, true},
		{"90d", now.Add(90 * 24 * time.Hour), true},
		{"1d12h", now.Add(36 * time.Hour), true},
		{"12h", now.Add(12 * time.Hour), true},
		{"2026-03-01", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), true},
		{"2026-03-01T10:00:00+01:00", time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), true},
		{"2024-01-01", time.Time{}, false},
		{"-1d", time.Time{}, false},
		{"soon", time.Time{}, false},
		{"3w", time.Time{}, false},
		{"d", time.Time{}, false},
	} {
		got, err := ParseExpiry(c.in, now)
		if (err == nil) != c.ok || !got.Equal(c.want) {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
	for _, n := range []string{"ci", "ci-upload_5.8", "A.b"} {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q): %v", n, err)
		}
	}
	for _, n := range []string{"", "cli:root", "-x", "a b", strings.Repeat("a", 65), "é"} {
		if err := ValidateName(n); err == nil {
			t.Errorf("ValidateName(%q) accepted", n)
		}
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimiter(3, time.Minute) // one attempt back every 20s
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("attempt %d refused", i)
		}
		l.Fail("a")
	}
	ok, wait := l.Allow("a")
	if ok || wait < 19*time.Second || wait > 20*time.Second {
		t.Errorf("after 3 failures: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("another address is limited too")
	}
	now = now.Add(20 * time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Error("no attempt regained after 20s")
	}
	l.Fail("a")
	if ok, _ := l.Allow("a"); ok {
		t.Error("allowed right after failing the regained attempt")
	}
	now = now.Add(time.Hour)
	for range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatal("not fully regained after an hour")
		}
		l.Fail("a")
	}

	// Bounded memory: full buckets are forgotten first, then any.
	l = NewLimiter(2, time.Minute)
	l.maxAddr = 100
	l.now = func() time.Time { return now }
	for i := range 1000 {
		l.Fail(fmt.Sprint("addr-", i))
		if n := l.Tracked(); n > 100 {
			t.Fatalf("tracks %d addresses", n)
		}
	}
	// Disabled.
	l = NewLimiter(-1, time.Minute)
	for range 100 {
		l.Fail("a")
	}
	if ok, _ := l.Allow("a"); !ok {
		t.Error("disabled limiter refused")
	}
	// Concurrent use.
	l = NewLimiter(5, time.Minute)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				l.Allow(fmt.Sprint(i, j%7))
				l.Fail(fmt.Sprint(i, j%7))
			}
		})
	}
	wg.Wait()
}

// memStore is an in-memory Store for the tests.
type memStore struct {
	mu      sync.Mutex
	tokens  map[string]Token
	touches int
}

func (m *memStore) CreateToken(ctx context.Context, t *Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tokens[t.Name]; ok {
		return repo.ErrConflict
	}
	m.tokens[t.Name] = *t
	return nil
}

func (m *memStore) TokenByHash(ctx context.Context, hash string) (*Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tokens {
		if t.Hash == hash {
			return &t, nil
		}
	}
	return nil, repo.ErrNotFound
}

func (m *memStore) Tokens(ctx context.Context) ([]Token, error) {
	var out []Token
	for _, t := range m.tokens {
		out = append(out, t)
	}
	return out, nil
}

func (m *memStore) DeleteToken(ctx context.Context, name string) error {
	if _, ok := m.tokens[name]; !ok {
		return repo.ErrNotFound
	}
	delete(m.tokens, name)
	return nil
}

func (m *memStore) TouchToken(ctx context.Context, name string, at time.Time) error {
	t := m.tokens[name]
	t.LastUsed = at
	m.tokens[name] = t
	m.touches++
	return nil
}

func TestAuthenticator(t *testing.T) {
	ctx := context.Background()
	st := &memStore{tokens: map[string]Token{}}
	a, err := New(st, Config{
		Tokens:  []ConfigToken{{Name: "admin", Secret: "adm", Scopes: []string{"admin"}}, {Name: "ci", Secret: "ci-secret", Scopes: []string{"upload:5.8/*/*"}}},
		Private: []string{"5.8/el/*"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	a.now = func() time.Time { return now }
	a.lim.now = a.now

	if p, err := a.Authenticate(ctx, "ip", "adm"); err != nil || p.Name != "admin" || !p.IsAdmin() {
		t.Errorf("admin: %v %v", p, err)
	}
	if p, err := a.Authenticate(ctx, "ip", "ci-secret"); err != nil || p.Name != "ci" || !p.Allows(Upload, tg("5.8/el/9")) {
		t.Errorf("config token: %v %v", p, err)
	}
	if _, err := a.Authenticate(ctx, "ip", "nope"); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("unknown: %v", err)
	}
	if !a.Private(tg("5.8/el/9")) || a.Private(tg("5.8/debian/bookworm")) {
		t.Error("Private")
	}

	// Stored tokens.
	for _, bad := range []struct {
		name   string
		scopes []string
	}{{"admin", []string{"read"}}, {"ci", []string{"read"}}, {"x y", []string{"read"}}, {"ok", nil}, {"ok", []string{"rd"}}} {
		if _, _, err := a.Create(ctx, bad.name, bad.scopes, time.Time{}); err == nil {
			t.Errorf("Create(%q, %v) accepted", bad.name, bad.scopes)
		}
	}
	if _, _, err := a.Create(ctx, "old", []string{"read"}, now.Add(-time.Second)); err == nil {
		t.Error("Create with a past expiry accepted")
	}
	sec, tok, err := a.Create(ctx, "reader", []string{"read:5.8/el/*", " upload "}, now.Add(time.Hour))
	if err != nil || tok.Hash != Hash(sec) || fmt.Sprint(tok.Scopes) != "[read:5.8/el/* upload]" {
		t.Fatalf("Create: %v %+v", err, tok)
	}
	if _, _, err := a.Create(ctx, "reader", []string{"read"}, time.Time{}); !errors.Is(err, repo.ErrConflict) {
		t.Errorf("second Create reader: %v", err)
	}
	p, err := a.Authenticate(ctx, "ip", sec)
	if err != nil || p.Name != "reader" || !p.Allows(Read, tg("5.8/el/9")) || p.Allows(Read, tg("5.8/debian/x")) {
		t.Fatalf("stored token: %v %v", p, err)
	}
	// LastUsed is written at most once per TouchInterval.
	a.Authenticate(ctx, "ip", sec)
	now = now.Add(30 * time.Second)
	a.Authenticate(ctx, "ip", sec)
	if st.touches != 1 {
		t.Errorf("%d touches within a minute", st.touches)
	}
	now = now.Add(31 * time.Second)
	a.Authenticate(ctx, "ip", sec)
	if st.touches != 2 {
		t.Errorf("%d touches after a minute", st.touches)
	}
	list, err := a.List(ctx)
	if err != nil || len(list) != 3 || list[0].Name != "admin" || list[0].Source != "config" || list[2].Name != "reader" ||
		list[2].Source != "api" || list[2].LastUsed.IsZero() || list[1].LastUsed.IsZero() {
		t.Errorf("List: %v %+v", err, list)
	}
	// Expiry.
	now = now.Add(time.Hour)
	if _, err := a.Authenticate(ctx, "ip2", sec); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: %v", err)
	}
	// Revocation.
	if err := a.Revoke(ctx, "ci"); err == nil {
		t.Error("revoked a configuration token")
	}
	if err := a.Revoke(ctx, "reader"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, "ip2", sec); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("revoked: %v", err)
	}
	if err := a.Revoke(ctx, "reader"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("second revoke: %v", err)
	}

	// Failed attempts are limited per address, then even the right token
	// is refused.
	for range DefaultFailures {
		a.Authenticate(ctx, "guesser", "wrong")
	}
	var rl *RateLimitedError
	if _, err := a.Authenticate(ctx, "guesser", "adm"); !errors.As(err, &rl) || rl.RetryAfter <= 0 {
		t.Errorf("after %d failures: %v", DefaultFailures, err)
	}
	if _, err := a.Authenticate(ctx, "other", "adm"); err != nil {
		t.Errorf("another address: %v", err)
	}

	// Reconfiguration swaps configuration tokens.
	if changed, err := a.Configure(Config{Tokens: []ConfigToken{{Name: "admin", Secret: "adm2", Scopes: []string{"admin"}}}}); err != nil || !changed {
		t.Fatal(changed, err)
	}
	if changed, err := a.Configure(Config{Tokens: []ConfigToken{{Name: "admin", Secret: "adm2", Scopes: []string{"admin"}}}}); err != nil || changed {
		t.Fatal("the same config again: changed =", changed, err)
	}
	if _, err := a.Authenticate(ctx, "ip3", "adm"); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("old admin token after Configure: %v", err)
	}
	if _, err := a.Authenticate(ctx, "ip3", "adm2"); err != nil {
		t.Errorf("new admin token: %v", err)
	}
	for _, bad := range []Config{
		{Tokens: []ConfigToken{{Name: "a", Secret: "x", Scopes: []string{"read"}}, {Name: "a", Secret: "y", Scopes: []string{"read"}}}},
		{Tokens: []ConfigToken{{Name: "a", Secret: "x", Scopes: []string{"read"}}, {Name: "b", Secret: "x", Scopes: []string{"read"}}}},
		{Tokens: []ConfigToken{{Name: "a", Secret: "", Scopes: []string{"read"}}}},
		{Tokens: []ConfigToken{{Name: "a", Secret: "x"}}},
		{Private: []string{"5.8"}},
		{Window: -time.Second},
	} {
		if _, err := a.Configure(bad); err == nil {
			t.Errorf("Configure(%+v) accepted", bad)
		}
	}
	if _, err := a.Authenticate(ctx, "ip3", "adm2"); err != nil {
		t.Errorf("a refused Configure changed the tokens: %v", err)
	}
}
