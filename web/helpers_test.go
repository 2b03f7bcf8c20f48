package web_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
	"github.com/pierhq/pier/repo/catalog/sqlite"
	"github.com/pierhq/pier/repo/deb"
	"github.com/pierhq/pier/repo/deb/debtest"
	"github.com/pierhq/pier/signing"
	"github.com/pierhq/pier/storage/local"
	"github.com/pierhq/pier/web"
)

var (
	keyOnce sync.Once
	key     *signing.OpenPGP
	keyErr  error
)

func testSigner(t testing.TB) *signing.OpenPGP {
	keyOnce.Do(func() {
		e, err := signing.GenerateRSA("Pier Test", "", 2048, time.Unix(1700000000, 0))
		if err != nil {
			keyErr = err
			return
		}
		key, keyErr = signing.New([]*openpgp.Entity{e}, signing.Options{})
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return key
}

const adminSecret = "test-admin-secret"

// env is the web interface in front of the API over a real catalog and
// blob store, wired as cmd/pier wires them; the targets matching
// "secret/*/*" are private.
type env struct {
	t     testing.TB
	h     http.Handler
	svc   *repo.Service
	cat   *sqlite.DB
	authn *auth.Authenticator
	web   *web.Server
	// skew moves the web interface's clock (sessions) ahead of the real
	// time, in nanoseconds.
	skew *atomic.Int64
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	cat, err := sqlite.Open(ctx, filepath.Join(dir, "catalog.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	b, err := local.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var dc deb.Config
	dc.Defaults()
	formats := []repo.FormatSpec{{Format: deb.New(dc), Digests: deb.Digests, Distros: []string{"debian"}}}
	log := slog.New(slog.DiscardHandler)
	svc, err := repo.NewService(cat, repo.NewBlobs(b), testSigner(t), formats,
		repo.Options{TmpDir: filepath.Join(dir, "tmp"), LockDir: filepath.Join(dir, "locks"), PublishDelay: time.Hour}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	authn, err := auth.New(tokenStore{cat}, auth.Config{Private: []string{"secret/*/*"}, Failures: -1,
		Tokens: []auth.ConfigToken{{Name: auth.AdminName, Secret: adminSecret, Scopes: []string{"admin"}}}}, log)
	if err != nil {
		t.Fatal(err)
	}
	fprs := testSigner(t).Fingerprints()
	srv := api.New(api.Config{}, api.Deps{Service: svc, Auth: authn, Audit: cat, Fingerprint: fprs[0], Fingerprints: fprs, Log: log})
	skew := &atomic.Int64{}
	w, err := web.New(web.Config{PageSize: 20}, web.Deps{Service: svc, Auth: authn, Audit: cat, Search: cat, Sessions: cat,
		Fingerprints: func() []string { return fprs }, Log: log, Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, h: w.Handler(srv.Handler()), svc: svc, cat: cat, authn: authn, web: w, skew: skew}
}

// deb builds a .deb installing files.
func debPkg(t testing.TB, name, version string, files ...string) []byte {
	t.Helper()
	fs := map[string][]byte{}
	for _, f := range files {
		fs[f] = []byte(name + " " + f)
	}
	b, err := debtest.Build(debtest.Options{Package: name, Version: version, Arch: "amd64", Files: fs,
		Description: "the " + name + " package"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// upload ingests pkg into target (stream/distro/release) through the API and
// publishes it.
func (e *env) upload(target string, pkg []byte) {
	e.t.Helper()
	w := e.do(req{method: "POST", path: "/api/v1/targets/" + target + "/packages?publish=false", body: pkg, bearer: adminSecret})
	if w.Code != http.StatusCreated {
		e.t.Fatalf("upload to %s: %d %s", target, w.Code, w.Body)
	}
}

func (e *env) publish(target string) {
	e.t.Helper()
	w := e.do(req{method: "POST", path: "/api/v1/targets/" + target + "/publish", bearer: adminSecret})
	if w.Code != http.StatusOK {
		e.t.Fatalf("publish %s: %d %s", target, w.Code, w.Body)
	}
}

// token makes a stored token with scopes and returns it.
func (e *env) token(name string, scopes ...string) string {
	e.t.Helper()
	tok, _, err := e.authn.Create(context.Background(), name, scopes, time.Time{})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// req is one request.
type req struct {
	method, path string
	body         []byte
	form         url.Values
	bearer       string
	cookie       *http.Cookie
	hdr          map[string]string
}

func (e *env) do(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader = bytes.NewReader(r.body)
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	hr := httptest.NewRequest(r.method, "http://pier.test"+r.path, body)
	hr.RemoteAddr = "192.0.2.1:1234"
	if r.form != nil {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	if r.cookie != nil {
		hr.AddCookie(r.cookie)
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	return w
}

// get fetches path as the viewer with cookie (nil: anonymous).
func (e *env) get(path string, cookie *http.Cookie) (int, string) {
	e.t.Helper()
	w := e.do(req{method: "GET", path: path, cookie: cookie})
	return w.Code, w.Body.String()
}

// signin signs in with tok and returns the session cookie.
func (e *env) signin(tok string) *http.Cookie {
	e.t.Helper()
	w := e.do(req{method: "POST", path: "/signin", form: url.Values{"token": {tok}, "next": {"/"}}})
	if w.Code != http.StatusSeeOther {
		e.t.Fatalf("sign in: %d %s", w.Code, w.Body)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == "pier_session" {
			return c
		}
	}
	e.t.Fatal("sign in set no session cookie")
	return nil
}

// tokenStore is the catalog's token table as an auth.Store (what
// cmd/pier's adapter does).
type tokenStore struct{ cat catalog.TokenStore }

func (s tokenStore) CreateToken(ctx context.Context, t *auth.Token) error {
	return s.cat.CreateToken(ctx, &catalog.Token{Name: t.Name, Hash: t.Hash, Scopes: t.Scopes, Created: t.Created,
		Expires: t.Expires, LastUsed: t.LastUsed})
}

func (s tokenStore) TokenByHash(ctx context.Context, hash string) (*auth.Token, error) {
	ct, err := s.cat.TokenByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	t := authToken(ct)
	return &t, nil
}

func (s tokenStore) Tokens(ctx context.Context) ([]auth.Token, error) {
	cts, err := s.cat.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]auth.Token, len(cts))
	for i := range cts {
		out[i] = authToken(&cts[i])
	}
	return out, nil
}

func (s tokenStore) DeleteToken(ctx context.Context, name string) error {
	return s.cat.DeleteToken(ctx, name)
}

func (s tokenStore) TouchToken(ctx context.Context, name string, at time.Time) error {
	return s.cat.TouchToken(ctx, name, at)
}

func authToken(t *catalog.Token) auth.Token {
	return auth.Token{Name: t.Name, Hash: t.Hash, Scopes: t.Scopes, Created: t.Created, Expires: t.Expires, LastUsed: t.LastUsed}
}
