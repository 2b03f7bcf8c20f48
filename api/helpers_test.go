package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/metrics"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
	"github.com/pierhq/pier/repo/catalog/sqlite"
	"github.com/pierhq/pier/repo/deb"
	"github.com/pierhq/pier/repo/deb/debtest"
	"github.com/pierhq/pier/signing"
	"github.com/pierhq/pier/storage"
	"github.com/pierhq/pier/storage/local"
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

// env is a Pier API server over a real catalog and blob store in a temp
// dir, wired as cmd/pier wires it, with metrics and a log it keeps.
type env struct {
	t       testing.TB
	srv     *api.Server
	h       http.Handler
	svc     *repo.Service
	cat     *sqlite.DB
	authn   *auth.Authenticator
	metrics *metrics.Metrics
	logs    *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (the log).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newEnv(t testing.TB, ac auth.Config, cfg api.Config) *env {
	t.Helper()
	return newEnvWith(t, ac, cfg, nil)
}

// newEnvWith is newEnv with the blob store wrapped by wrap (nil: as is).
func newEnvWith(t testing.TB, ac auth.Config, cfg api.Config, wrap func(storage.Backend) storage.Backend) *env {
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
	var backend storage.Backend = b
	if wrap != nil {
		backend = wrap(b)
	}
	var dc deb.Config
	dc.Defaults()
	formats := []repo.FormatSpec{{Format: deb.New(dc), Digests: deb.Digests, Distros: []string{"debian"}}}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := metrics.New()
	svc, err := repo.NewService(cat, repo.NewBlobs(backend), testSigner(t), formats,
		repo.Options{TmpDir: filepath.Join(dir, "tmp"), LockDir: filepath.Join(dir, "locks"), PublishDelay: time.Hour, Observer: m}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	ac.Tokens = append(ac.Tokens, auth.ConfigToken{Name: auth.AdminName, Secret: adminSecret, Scopes: []string{"admin"}})
	authn, err := auth.New(tokenStore{cat}, ac, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := api.New(cfg, api.Deps{Service: svc, Auth: authn, Audit: cat, Fingerprint: "AAAA", Fingerprints: []string{"AAAA"},
		Metrics: m, Log: log})
	m.WatchTargets(func() ([]repo.TargetInfo, error) { return svc.Targets(context.Background()) }, authn.Private)
	return &env{t: t, srv: srv, h: srv.Handler(), svc: svc, cat: cat, authn: authn, metrics: m, logs: logs}
}

// scrape returns the samples of /metrics by name with labels, e.g.
// `pier_http_requests_total{code="201",route="/…"}`.
func (e *env) scrape() map[string]float64 {
	e.t.Helper()
	w := e.do(req{method: "GET", path: "/metrics"})
	if w.Code != 200 {
		e.t.Fatalf("/metrics: %d", w.Code)
	}
	out := map[string]float64{}
	for _, l := range strings.Split(w.Body.String(), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if v, err := strconv.ParseFloat(l[i+1:], 64); err == nil {
			out[l[:i]] = v
		}
	}
	return out
}

// events returns the audit log, newest first.
func (e *env) events() []audit.Event {
	e.t.Helper()
	ev, err := e.cat.AuditEvents(context.Background(), audit.Query{Limit: audit.MaxLimit})
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
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

// expiredToken stores a token with scopes that expired an hour ago.
func (e *env) expiredToken(name string, scopes ...string) string {
	e.t.Helper()
	tok, err := auth.Generate()
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := e.cat.CreateToken(context.Background(), &catalog.Token{Name: name, Hash: auth.Hash(tok), Scopes: scopes,
		Created: now.Add(-2 * time.Hour), Expires: now.Add(-time.Hour)}); err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// req is one request to the server.
type req struct {
	method, path string
	body         []byte
	rd           io.Reader // the body instead of body, of length size
	size         int64
	bearer       string // token sent as Bearer
	basic        string // token sent as the HTTP Basic password
	remote       string // client address (default 192.0.2.1:1234)
	hdr          map[string]string
}

func (e *env) do(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	if r.rd != nil {
		body = r.rd
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.rd != nil {
		hr.ContentLength = r.size
	}
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	if r.bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	if r.basic != "" {
		hr.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("pier:"+r.basic)))
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	return w
}

func mkdeb(t testing.TB, name, version string) []byte {
	t.Helper()
	b, err := debtest.Build(debtest.Options{Package: name, Version: version, Arch: "amd64",
		Files: map[string][]byte{"usr/share/doc/" + name + "/payload": []byte(name + " " + version)}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ingest adds a package directly (not through the API).
func (e *env) ingest(target, name, version string) {
	e.t.Helper()
	tg, err := repo.ParseTarget(target)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.Ingest(context.Background(), tg, bytes.NewReader(mkdeb(e.t, name, version)), repo.IngestOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) publish(target string) {
	e.t.Helper()
	tg, _ := repo.ParseTarget(target)
	if _, err := e.svc.Publish(context.Background(), tg); err != nil {
		e.t.Fatal(err)
	}
}

// state is everything a call could change: targets (revisions, package
// counts, current generations), packages, tokens and the audit log.
func (e *env) state() string {
	e.t.Helper()
	return e.snapshot(true)
}

// content is state without the audit log (which records refused uploads).
func (e *env) content() string {
	e.t.Helper()
	return e.snapshot(false)
}

func (e *env) snapshot(withAudit bool) string {
	e.t.Helper()
	ctx := context.Background()
	var out []any
	ts, err := e.svc.Targets(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	// The content, not how publishing it went: a refused publish records
	// its failure (publish_state) on purpose.
	for i := range ts {
		ts[i].State, ts[i].PublishError, ts[i].PublishFailures, ts[i].FailingSince = "", "", 0, nil
	}
	out = append(out, ts)
	for _, ti := range ts {
		ps, err := e.svc.Packages(ctx, ti.Target)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ps)
	}
	toks, err := e.authn.List(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range toks {
		toks[i].LastUsed = time.Time{} // a successful authentication may touch it
	}
	out = append(out, toks)
	if withAudit {
		ev, err := e.cat.AuditEvents(ctx, audit.Query{Limit: audit.MaxLimit})
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ev)
	}
	b, err := json.Marshal(out)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func mustTarget(t testing.TB, s string) repo.Target {
	t.Helper()
	tg, err := repo.ParseTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// debWithPayload builds a .deb holding payload as one file.
func debWithPayload(name string, payload []byte) ([]byte, error) {
	return debtest.Build(debtest.Options{Package: name, Version: "1.0", Arch: "amd64",
		Files: map[string][]byte{"usr/share/" + name + "/payload": payload}})
}
