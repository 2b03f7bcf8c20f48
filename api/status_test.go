package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/storage"
)

// failingReader yields data, then err.
func failingReader(data []byte, err error) io.Reader {
	return io.MultiReader(bytes.NewReader(data), &errReader{err})
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

// lastDetail returns the newest audit event and its detail.
func lastDetail(t *testing.T, e *env) (audit.Event, map[string]any) {
	t.Helper()
	ev := e.events()
	if len(ev) == 0 {
		t.Fatal("no audit event")
	}
	var d map[string]any
	if err := json.Unmarshal(ev[0].Detail, &d); err != nil {
		t.Fatal(err)
	}
	return ev[0], d
}

// no5xx fails when a 5xx request was counted.
func no5xx(t *testing.T, m map[string]float64) {
	t.Helper()
	for k, v := range m {
		if strings.HasPrefix(k, "pier_http_requests_total{code=\"5") && v > 0 {
			t.Errorf("a server error was counted: %s %v", k, v)
		}
	}
}

// TestClientAbort: an upload whose client goes away mid-body (the body
// ends before its Content-Length, raw or multipart) is not a server error:
// logged at INFO, audited as status 499 "aborted", counted as 499 and
// reason "aborted", never as a 5xx; a body that arrives too slowly (the
// connection's read deadline) is 408 "timeout".
func TestClientAbort(t *testing.T) {
	e := newEnv(t, auth.Config{}, api.Config{})
	const up = "/api/v1/targets/5.8/debian/bookworm/packages?publish=false"
	pkg := mkdeb(t, "cut", "1.0")
	mp, ct := multipartBody(t, [2]string{"file", string(pkg)})
	for _, c := range []struct {
		name     string
		r        req
		wire     int
		code     float64 // the status in the audit log and the metrics
		outcome  string
		says     string
		logLine  string
		refusals int // "write refused" warnings
	}{
		{"raw body cut", req{rd: failingReader(pkg[:len(pkg)/2], io.ErrUnexpectedEOF), size: int64(len(pkg))},
			400, 499, "aborted", "ended early", "client went away mid-request", 0},
		{"connection reset", req{rd: failingReader(pkg[:100], syscall.ECONNRESET), size: int64(len(pkg))},
			400, 499, "aborted", "ended early", "client went away mid-request", 0},
		{"multipart cut", req{rd: failingReader(mp[:len(mp)/2], io.ErrUnexpectedEOF), size: int64(len(mp)),
			hdr: map[string]string{"Content-Type": ct}}, 400, 499, "aborted", "ended early", "client went away mid-request", 0},
		{"too slow", req{rd: failingReader(pkg[:100], fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded)), size: int64(len(pkg))},
			408, 408, "timeout", "too slowly", "client too slow", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.scrape()
			logBefore := len(e.logs.String())
			c.r.method, c.r.path, c.r.bearer = "POST", up, adminSecret
			w := e.do(c.r)
			if w.Code != c.wire || !strings.Contains(w.Body.String(), c.says) {
				t.Errorf("reply %d %s, want %d saying %q", w.Code, w.Body, c.wire, c.says)
			}
			_, d := lastDetail(t, e)
			if d["status"] != c.code || d["outcome"] != c.outcome {
				t.Errorf("audit detail %v, want status %v outcome %s", d, c.code, c.outcome)
			}
			after := e.scrape()
			route := `pier_http_requests_total{code="` + fmt.Sprint(c.code) + `",route="/api/v1/targets/:stream/:distro/:release/packages"}`
			if got := after[route] - before[route]; got != 1 {
				t.Errorf("%s moved by %v", route, got)
			}
			reason := `pier_uploads_rejected_total{format="deb",reason="` + c.outcome + `"}`
			if got := after[reason] - before[reason]; got != 1 {
				t.Errorf("%s moved by %v", reason, got)
			}
			no5xx(t, after)
			logs := e.logs.String()[logBefore:]
			if !strings.Contains(logs, "level=INFO msg=\""+c.logLine) || strings.Contains(logs, "level=ERROR") {
				t.Errorf("log, want %q at INFO and no ERROR:\n%s", c.logLine, logs)
			}
			if got := strings.Count(logs, `msg="write refused"`); got != c.refusals {
				t.Errorf("%d refusal warnings, want %d:\n%s", got, c.refusals, logs)
			}
		})
	}
	if ps, _ := e.svc.Packages(context.Background(), mustTarget(t, "5.8/debian/bookworm")); len(ps) != 0 {
		t.Errorf("a cut upload was recorded: %v", ps)
	}
}

// fullDisk is a blob store whose writes fail with ENOSPC while full is
// set, as a local disk does when it is full.
type fullDisk struct {
	storage.Backend
	full *atomic.Bool
}

func (f fullDisk) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) error {
	if f.full.Load() {
		io.Copy(io.Discard, r)
		return &fs.PathError{Op: "write", Path: "blobs/.tmp/put", Err: syscall.ENOSPC}
	}
	return f.Backend.Put(ctx, key, r, size, opts)
}

// TestDiskFull: with the disk full an upload (and a publish) answers 507
// "the server's disk is full; nothing was stored", raises
// pier_storage_full_total and logs at ERROR; the published repository is
// served unchanged; once there is room the same upload succeeds.
func TestDiskFull(t *testing.T) {
	var full atomic.Bool
	e := newEnvWith(t, auth.Config{}, api.Config{}, func(b storage.Backend) storage.Backend { return fullDisk{b, &full} })
	e.ingest("5.8/debian/bookworm", "seed", "1.0")
	e.publish("5.8/debian/bookworm")
	var inrel string
	for p := range e.svc.ServedPaths("deb/") {
		if strings.HasSuffix(p, "/bookworm/InRelease") {
			inrel = "/" + p
		}
	}
	served := e.do(req{method: "GET", path: inrel}).Body.String()
	if inrel == "" || served == "" {
		t.Fatalf("no InRelease served (%q)", inrel)
	}
	content := e.content()
	full.Store(true)
	pkg := mkdeb(t, "roomless", "1.0")
	for _, r := range []req{
		{method: "POST", path: "/api/v1/targets/5.8/debian/bookworm/packages?publish=false", body: pkg},
		{method: "POST", path: "/api/v1/targets/5.8/debian/bookworm/packages?publish=false", rd: bytes.NewReader(pkg), size: -1}, // chunked
		{method: "POST", path: "/api/v1/targets/5.8/debian/bookworm/publish"},
	} {
		r.bearer = adminSecret
		w := e.do(r)
		var eb struct{ Error string }
		json.Unmarshal(w.Body.Bytes(), &eb)
		if w.Code != http.StatusInsufficientStorage || eb.Error != "the server's disk is full; nothing was stored" {
			t.Errorf("%s %s with a full disk: %d %s", r.method, r.path, w.Code, w.Body)
		}
	}
	m := e.scrape()
	if m["pier_storage_full_total"] != 3 || m[`pier_uploads_rejected_total{format="deb",reason="disk_full"}`] != 2 {
		t.Errorf("pier_storage_full_total %v, rejected disk_full %v", m["pier_storage_full_total"],
			m[`pier_uploads_rejected_total{format="deb",reason="disk_full"}`])
	}
	if !strings.Contains(e.logs.String(), `level=ERROR msg="disk full: request refused"`) {
		t.Errorf("no ERROR line for the full disk:\n%s", e.logs)
	}
	if _, d := lastDetail(t, e); d["status"] != float64(507) || d["outcome"] != "failed" {
		t.Errorf("audit detail of the refused upload: %v", d)
	}
	if w := e.do(req{method: "GET", path: inrel}); w.Code != 200 || w.Body.String() != served {
		t.Errorf("InRelease after the full disk: %d, changed %v", w.Code, w.Body.String() != served)
	}
	if e.content() != content {
		t.Error("the catalog changed while the disk was full")
	}
	if ti, err := e.svc.FindTarget(context.Background(), repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}); err != nil ||
		ti.PublishState() != repo.StateFailed || !strings.Contains(ti.PublishError, "no space") {
		t.Errorf("the target does not say its publish failed on the full disk: %+v %v", ti, err)
	}
	if m := e.scrape(); m[`pier_targets_by_publish_state{state="failed"}`] != 1 || m[`pier_targets_by_publish_state{state="published"}`] != 0 {
		t.Errorf("publish state gauges: failed %v, published %v", m[`pier_targets_by_publish_state{state="failed"}`],
			m[`pier_targets_by_publish_state{state="published"}`])
	}
	full.Store(false)
	if w := e.do(req{method: "POST", path: "/api/v1/targets/5.8/debian/bookworm/packages?publish=false", body: pkg, bearer: adminSecret}); w.Code != 201 {
		t.Errorf("upload once there is room: %d %s", w.Code, w.Body)
	}
}

// TestRefusedWritesLogged: every refused write (4xx on POST, PUT, DELETE)
// is logged at WARN with the request id, target, token name and the
// reason the client got; a refused read is not.
func TestRefusedWritesLogged(t *testing.T) {
	e := newEnv(t, auth.Config{Failures: -1}, api.Config{})
	reader := e.token("ci-reader", "read")
	pkg := mkdeb(t, "twice", "1.0")
	mp, ct := multipartBody(t, [2]string{"file", "not a package"})
	const tg = "/api/v1/targets/5.8/debian/bookworm"
	if w := e.do(req{method: "POST", path: tg + "/packages?publish=false", body: pkg, bearer: adminSecret}); w.Code != 201 {
		t.Fatalf("upload: %d %s", w.Code, w.Body)
	}
	for _, c := range []struct {
		r                     req
		code                  int
		token, target, reason string
	}{
		{req{method: "POST", path: tg + "/packages", body: pkg, bearer: reader}, 403, "ci-reader", "5.8/debian/bookworm",
			"token ci-reader lacks upload on 5.8/debian/bookworm"},
		{req{method: "POST", path: tg + "/packages?publish=false", body: mkdeb(t, "twice", "1.0-other"), bearer: adminSecret}, 201, "", "", ""},
		{req{method: "POST", path: tg + "/packages", body: mp, bearer: adminSecret, hdr: map[string]string{"Content-Type": ct}},
			422, "admin", "5.8/debian/bookworm", "bad package: not a deb package"},
		{req{method: "DELETE", path: tg + "/packages/nope/1.0/amd64", bearer: adminSecret}, 404, "admin", "5.8/debian/bookworm", "not found"},
		{req{method: "PUT", path: "/api/v1/targets/5.8/debian/-x/pins/a/1", bearer: adminSecret}, 400, "admin", "5.8/debian/-x", "release"},
		{req{method: "POST", path: "/api/v1/tokens", body: []byte(`{`), bearer: adminSecret}, 400, "admin", "", "want JSON"},
		{req{method: "POST", path: tg + "/publish", bearer: "pier_nope"}, 401, "", "5.8/debian/bookworm", "token not accepted"},
		{req{method: "GET", path: tg + "/packages", bearer: "pier_nope"}, 401, "", "", ""}, // a read: not a refused write
	} {
		c.r.hdr = mergeHdr(c.r.hdr, "X-Request-Id", "refusal-"+fmt.Sprint(c.code)+"-"+c.r.method)
		before := len(e.logs.String())
		w := e.do(c.r)
		if w.Code != c.code {
			t.Errorf("%s %s: %d %s, want %d", c.r.method, c.r.path, w.Code, w.Body, c.code)
		}
		logs := e.logs.String()[before:]
		warned := strings.Contains(logs, `level=WARN msg="write refused"`)
		if c.reason == "" {
			if warned {
				t.Errorf("%s %s: warned:\n%s", c.r.method, c.r.path, logs)
			}
			continue
		}
		token := "token=" + c.token + " "
		if c.token == "" {
			token = `token="" `
		}
		for _, want := range []string{`level=WARN msg="write refused" id=` + c.r.hdr["X-Request-Id"], "target=" + c.target,
			token, fmt.Sprintf("status=%d", c.code), c.reason} {
			if !strings.Contains(logs, want) {
				t.Errorf("%s %s: the log lacks %q:\n%s", c.r.method, c.r.path, want, logs)
			}
		}
	}
}

func mergeHdr(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range h {
		out[a] = b
	}
	return out
}

// TestMetricsHidePrivateTargets: /metrics (no token needed) sums private
// targets into target="private" and names none of them; public targets
// keep their own series; privacy follows the configuration (SIGHUP).
func TestMetricsHidePrivateTargets(t *testing.T) {
	e := newEnv(t, auth.Config{Private: []string{"secret/*/*"}}, api.Config{})
	e.ingest("secret/debian/hidden", "aa", "1.0")
	e.ingest("secret/debian/hidden", "bb", "1.0")
	e.ingest("secret/debian/covert", "cc", "1.0")
	e.ingest("5.8/debian/bookworm", "dd", "1.0")
	for _, tg := range []string{"secret/debian/hidden", "secret/debian/covert", "5.8/debian/bookworm"} {
		e.publish(tg)
	}
	body := e.do(req{method: "GET", path: "/metrics"}).Body.String()
	for _, s := range []string{"secret", "hidden", "covert"} {
		if strings.Contains(body, s) {
			t.Errorf("/metrics names %q", s)
		}
	}
	m := e.scrape()
	ps, _ := e.svc.Targets(context.Background())
	var privBytes float64
	for _, ti := range ps {
		if ti.Stream == "secret" {
			privBytes += float64(ti.Bytes)
		}
	}
	if m[`pier_target_packages{format="",target="private"}`] != 3 || m[`pier_target_bytes{format="",target="private"}`] != privBytes ||
		m[`pier_target_packages{format="deb",target="5.8/debian/bookworm"}`] != 1 ||
		m[`pier_target_generation{format="deb",target="5.8/debian/bookworm"}`] != 1 {
		t.Errorf("target gauges:\n%s", body)
	}
	if _, err := e.authn.Configure(auth.Config{Tokens: []auth.ConfigToken{{Name: "admin", Secret: adminSecret, Scopes: []string{"admin"}}}}); err != nil {
		t.Fatal(err)
	}
	m = e.scrape()
	if m[`pier_target_packages{format="deb",target="secret/debian/hidden"}`] != 2 || m[`pier_target_packages{format="",target="private"}`] != 0 {
		t.Errorf("after making the targets public:\n%s", e.do(req{method: "GET", path: "/metrics"}).Body)
	}
}
