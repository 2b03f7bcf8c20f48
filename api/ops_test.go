package api_test

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// TestBaseURL: setup snippets use public_url when set; otherwise https
// for a request that came over TLS, and X-Forwarded-Proto and
// X-Forwarded-Host only from a trusted proxy (a malformed host is
// ignored); the key is fetched over the repository's scheme and named by
// its fingerprint.
func TestBaseURL(t *testing.T) {
	_, trusted, _ := net.ParseCIDR("10.0.0.0/8")
	e := newEnv(t, auth.Config{Failures: -1}, api.Config{TrustedProxies: []*net.IPNet{trusted}})
	e.ingest("5.8/debian/bookworm", "pkg", "1.0")
	e.publish("5.8/debian/bookworm")
	fwd := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "pier.example.org"}
	for _, c := range []struct {
		name   string
		remote string
		hdr    map[string]string
		tls    bool
		base   string
	}{
		{"plain", "", nil, false, "http://example.com"},
		{"TLS", "", nil, true, "https://example.com"},
		{"trusted proxy", "10.1.2.3:5555", fwd, false, "https://pier.example.org"},
		{"trusted proxy, chain", "10.1.2.3:5555", map[string]string{"X-Forwarded-Proto": "https, http",
			"X-Forwarded-Host": "pier.example.org:8443, inner"}, false, "https://pier.example.org:8443"},
		{"untrusted peer", "192.0.2.7:5555", fwd, false, "http://example.com"},
		{"trusted proxy, bad values", "10.1.2.3:5555", map[string]string{"X-Forwarded-Proto": "gopher",
			"X-Forwarded-Host": "evil.example/path"}, false, "http://example.com"},
	} {
		hr := httptest.NewRequest("GET", "/setup/5.8/debian/bookworm", nil)
		if c.remote != "" {
			hr.RemoteAddr = c.remote
		}
		for k, v := range c.hdr {
			hr.Header.Set(k, v)
		}
		if c.tls {
			hr.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, hr)
		body := w.Body.String()
		if w.Code != 200 || !strings.Contains(body, "URIs: "+c.base+"/deb/5.8/debian\n") ||
			!strings.Contains(body, "curl -fsSL "+c.base+"/keys/pier.gpg") || !strings.Contains(body, "signing key AAAA") {
			t.Errorf("%s: %d\n%s", c.name, w.Code, body)
		}
	}
	// public_url wins over everything, and Reconfigure changes it.
	e.srv.Reconfigure(api.Config{PublicURL: "https://repo.example.net/", TrustedProxies: []*net.IPNet{trusted}})
	w := e.do(req{method: "GET", path: "/setup/5.8/debian/bookworm", remote: "10.1.2.3:1", hdr: fwd})
	if !strings.Contains(w.Body.String(), "URIs: https://repo.example.net/deb/5.8/debian\n") {
		t.Errorf("public_url after Reconfigure:\n%s", w.Body.String())
	}
}

// TestSetKeys: the keys served under /keys/ and the fingerprints of the
// setup snippets change with SetKeys (a reload with new keys).
func TestSetKeys(t *testing.T) {
	e := newEnv(t, auth.Config{Failures: -1}, api.Config{})
	e.ingest("5.8/debian/bookworm", "pkg", "1.0")
	e.publish("5.8/debian/bookworm")
	e.srv.SetKeys([]api.KeyFile{{Name: "pier.asc", ContentType: "application/pgp-keys", Data: []byte("NEW KEYS")}}, []string{"BBBB", "CCCC"})
	if w := e.do(req{method: "GET", path: "/keys/pier.asc"}); w.Code != 200 || w.Body.String() != "NEW KEYS" {
		t.Errorf("/keys/pier.asc: %d %q", w.Code, w.Body.String())
	}
	if w := e.do(req{method: "GET", path: "/setup/5.8/debian/bookworm"}); !strings.Contains(w.Body.String(), "signing keys BBBB, CCCC") {
		t.Errorf("setup after SetKeys:\n%s", w.Body.String())
	}
}

// TestRemoveTargetRoute: DELETE of a target needs delete on it; it removes
// the target (listed, served and found no more), records target.remove
// with what went, and a second DELETE is 404.
func TestRemoveTargetRoute(t *testing.T) {
	e := newEnv(t, auth.Config{Failures: -1}, api.Config{})
	for _, tg := range []string{"5.8/debian/bookworm", "5.8/debian/bookwrom"} {
		e.ingest(tg, "pkg", "1.0")
		e.publish(tg)
	}
	other := e.token("other", "delete:5.7/*/*")
	uploader := e.token("uploader", "upload")
	deleter := e.token("deleter", "delete:5.8/debian/*")
	path := "/api/v1/targets/5.8/debian/bookwrom"
	for name, tok := range map[string]string{"delete elsewhere": other, "upload only": uploader} {
		if w := e.do(req{method: "DELETE", path: path, bearer: tok}); w.Code != 403 {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
	if w := e.do(req{method: "DELETE", path: path}); w.Code != 401 {
		t.Errorf("no token: %d", w.Code)
	}
	w := e.do(req{method: "DELETE", path: path, bearer: deleter, hdr: map[string]string{api.HeaderCICommit: "abc123"}})
	var reply api.RemoveReply
	json.Unmarshal(w.Body.Bytes(), &reply)
	if w.Code != 200 || reply.Packages != 1 || reply.Generations != 1 || reply.Target.String() != "5.8/debian/bookwrom" || reply.RequestID == "" {
		t.Fatalf("DELETE: %d %s", w.Code, w.Body)
	}
	if w := e.do(req{method: "GET", path: "/deb/5.8/debian/dists/bookwrom/InRelease"}); w.Code != 404 {
		t.Errorf("InRelease of the removed target: %d", w.Code)
	}
	if w := e.do(req{method: "GET", path: "/deb/5.8/debian/dists/bookworm/InRelease"}); w.Code != 200 {
		t.Errorf("InRelease of the other target: %d", w.Code)
	}
	w = e.do(req{method: "GET", path: "/api/v1/targets", bearer: adminSecret})
	var ts []repo.TargetInfo
	json.Unmarshal(w.Body.Bytes(), &ts)
	if len(ts) != 1 || ts[0].Release != "bookworm" {
		t.Errorf("GET /targets after the removal: %s", w.Body)
	}
	if w := e.do(req{method: "DELETE", path: path, bearer: deleter}); w.Code != 404 {
		t.Errorf("second DELETE: %d %s", w.Code, w.Body)
	}
	var found *audit.Event
	for _, ev := range e.events() {
		if ev.Action == audit.TargetRemove {
			if found != nil {
				t.Errorf("two target.remove events")
			}
			found = &ev
		}
	}
	if found == nil || found.Actor != "deleter" || found.Target != "5.8/debian/bookwrom" || found.CICommit != "abc123" ||
		!strings.Contains(string(found.Detail), `"packages":1`) {
		t.Errorf("audit: %+v", found)
	}
}

// TestTargetsAllow: with targets.allow, a call that would create a
// target matching no pattern is 422 naming the patterns (upload,
// publish, promote), and nothing is created; existing targets take
// uploads whatever the patterns say; Reconfigure changes the patterns.
func TestTargetsAllow(t *testing.T) {
	e := newEnv(t, auth.Config{Failures: -1}, api.Config{})
	e.ingest("nightly/debian/bookworm", "pkg", "1.0") // exists before the rule
	e.srv.Reconfigure(api.Config{TargetsAllow: []string{"5.8/*/*", "5.9/debian/*"}})
	before := e.content()
	for _, c := range []req{
		{method: "POST", path: "/api/v1/targets/5.8/debian/bookwrom/packages?publish=false", body: mkdeb(t, "x", "1.0")},
		{method: "POST", path: "/api/v1/targets/5.7/debian/bookworm/packages?publish=false", body: mkdeb(t, "x", "1.0")},
		{method: "POST", path: "/api/v1/targets/5.7/debian/bookworm/publish"},
		{method: "POST", path: "/api/v1/targets/typo/debian/bookworm/promote",
			body: []byte(`{"from": "nightly/debian/bookworm", "packages": ["pkg"]}`)},
	} {
		c.bearer = adminSecret
		if c.path == "/api/v1/targets/5.8/debian/bookwrom/packages?publish=false" {
			// matches 5.8/*/*: allowed
			if w := e.do(c); w.Code != 201 {
				t.Errorf("%s %s: %d %s", c.method, c.path, w.Code, w.Body)
			}
			before = e.content()
			continue
		}
		w := e.do(c)
		if w.Code != 422 || !strings.Contains(w.Body.String(), "5.8/*/*, 5.9/debian/*") || !strings.Contains(w.Body.String(), "targets.allow") {
			t.Errorf("%s %s: %d %s", c.method, c.path, w.Code, w.Body)
		}
	}
	if after := e.content(); after != before {
		t.Errorf("refused calls changed the content:\n%s\n%s", before, after)
	}
	if w := e.do(req{method: "POST", path: "/api/v1/targets/nightly/debian/bookworm/packages?publish=false", bearer: adminSecret,
		body: mkdeb(t, "y", "1.0")}); w.Code != 201 {
		t.Errorf("upload to an existing target outside the patterns: %d %s", w.Code, w.Body)
	}
	refused := 0
	for _, ev := range e.events() {
		if ev.Action == audit.Upload && strings.Contains(string(ev.Detail), `"status":422`) {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d refused uploads audited, want 1", refused)
	}
	e.srv.Reconfigure(api.Config{})
	if w := e.do(req{method: "POST", path: "/api/v1/targets/5.7/debian/bookworm/packages?publish=false", bearer: adminSecret,
		body: mkdeb(t, "x", "1.0")}); w.Code != 201 {
		t.Errorf("upload after the patterns were cleared: %d %s", w.Code, w.Body)
	}
}
