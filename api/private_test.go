package api_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// TestPrivateFiles: a private target's files need a token with read on it
// (HTTP Basic with the token as password, or Bearer); without one, with a
// wrong, malformed or expired one the answer is 401 with a Basic
// challenge, with a valid token that lacks read 403. Public targets stay
// anonymous, and a pool file that a public target holds too is public.
func TestPrivateFiles(t *testing.T) {
	e := newEnv(t, auth.Config{Private: []string{"5.8/debian/bookworm"}, Failures: -1}, api.Config{})
	shared := mkdeb(t, "shared", "1.0")
	for _, tg := range []string{"5.8/debian/bookworm", "5.8/debian/trixie"} {
		target, _ := repo.ParseTarget(tg)
		if _, err := e.svc.Ingest(context.Background(), target, bytes.NewReader(shared), repo.IngestOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.ingest("5.8/debian/bookworm", "secret", "1.0")
	e.publish("5.8/debian/bookworm")
	e.publish("5.8/debian/trixie")
	var secretPool, sharedPool string
	for p := range e.svc.ServedPaths("deb/5.8/pool/") {
		switch {
		case strings.Contains(p, "/secret_"):
			secretPool = "/" + p
		case strings.Contains(p, "/shared_"):
			sharedPool = "/" + p
		}
	}
	if secretPool == "" || sharedPool == "" {
		t.Fatalf("pool paths not found: %q %q", secretPool, sharedPool)
	}

	reader := e.token("reader", "read:5.8/debian/bookworm")
	readAll := e.token("read-all", "read")
	uploader := e.token("uploader", "upload") // no read
	otherReader := e.token("other-reader", "read:5.8/debian/trixie")
	expired := e.expiredToken("old-reader", "read")
	const inrel = "/deb/5.8/dists/bookworm/InRelease"
	for _, c := range []struct {
		name string
		r    req
		want int
	}{
		{"private, no credentials", req{path: inrel}, 401},
		{"private, unknown token", req{path: inrel, basic: "pier_" + strings.Repeat("1", 64)}, 401},
		{"private, expired token", req{path: inrel, basic: expired}, 401},
		{"private, token without read", req{path: inrel, basic: uploader}, 403},
		{"private, read on another target", req{path: inrel, basic: otherReader}, 403},
		{"private, malformed Basic", req{path: inrel, hdr: map[string]string{"Authorization": "Basic %%%"}}, 401},
		{"private, read token (Basic)", req{path: inrel, basic: reader}, 200},
		{"private, read token (Bearer)", req{path: inrel, bearer: reader}, 200},
		{"private, bare read", req{path: inrel, basic: readAll}, 200},
		{"private, admin", req{path: inrel, basic: adminSecret}, 200},
		{"private pool file, no credentials", req{path: secretPool}, 401},
		{"private pool file, read token", req{path: secretPool, basic: reader}, 200},
		{"private pool file, HEAD", req{method: "HEAD", path: secretPool}, 401},
		{"pool file shared with a public target", req{path: sharedPool}, 200},
		{"public target", req{path: "/deb/5.8/dists/trixie/InRelease"}, 200},
		{"public target, wrong token ignored", req{path: "/deb/5.8/dists/trixie/InRelease", basic: "wrong"}, 200},
		{"public key", req{path: "/keys/nothing"}, 404},
		// A missing path under a private target answers like an existing
		// one, so its existence cannot be probed (canonical and alias).
		{"missing file of a private target", req{path: "/deb/5.8/dists/bookworm/nothing"}, 401},
		{"missing release of a private target", req{path: "/deb/5.8/debian/dists/bookworm/main/binary-s390x/Packages"}, 401},
		{"missing file of a private target, read token", req{path: "/deb/5.8/debian/dists/bookworm/nothing", basic: reader}, 404},
		{"missing file of a private target, no read", req{path: "/deb/5.8/debian/dists/bookworm/nothing", basic: uploader}, 403},
		{"missing file of a public target", req{path: "/deb/5.8/debian/dists/trixie/nothing"}, 404},
		{"missing pool file shared with a public target", req{path: "/deb/5.8/debian/pool/main/x/x/x.deb"}, 404},
		{"missing file of no target", req{path: "/deb/9.9/debian/dists/x/InRelease"}, 404},
	} {
		if c.r.method == "" {
			c.r.method = "GET"
		}
		w := e.do(c.r)
		if w.Code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, w.Code, w.Body, c.want)
		}
		if c.want == 401 && w.Header().Get("WWW-Authenticate") != `Basic realm="pier"` {
			t.Errorf("%s: WWW-Authenticate %q", c.name, w.Header().Get("WWW-Authenticate"))
		}
	}
	// Privacy follows the configuration (SIGHUP): made public, it is
	// anonymous.
	if _, err := e.authn.Configure(auth.Config{Tokens: []auth.ConfigToken{{Name: "admin", Secret: adminSecret, Scopes: []string{"admin"}}}}); err != nil {
		t.Fatal(err)
	}
	if w := e.do(req{method: "GET", path: inrel}); w.Code != 200 {
		t.Errorf("after making it public: %d", w.Code)
	}
}

// TestRateLimit: after the configured failed attempts an address is
// answered 429 with Retry-After, on the API and on private files alike,
// even with the right token; other addresses are not affected; missing
// credentials do not count. With a trusted proxy, X-Forwarded-For names
// the client; from anyone else it is ignored.
func TestRateLimit(t *testing.T) {
	_, proxies, _ := net.ParseCIDR("203.0.113.0/24")
	e := newEnv(t, auth.Config{Private: []string{"5.8/*/*"}, Failures: 3}, api.Config{TrustedProxies: []*net.IPNet{proxies}})
	e.ingest("5.8/debian/bookworm", "pp", "1.0")
	e.publish("5.8/debian/bookworm")
	const inrel = "/deb/5.8/dists/bookworm/InRelease"
	for range 5 { // no credentials: not a failed attempt
		if w := e.do(req{method: "GET", path: inrel, remote: "192.0.2.9:1"}); w.Code != 401 {
			t.Fatalf("no credentials: %d", w.Code)
		}
	}
	for i := range 3 {
		if w := e.do(req{method: "GET", path: "/api/v1/targets", bearer: "wrong", remote: "192.0.2.9:1"}); w.Code != 401 {
			t.Fatalf("failure %d: %d", i, w.Code)
		}
	}
	for _, r := range []req{
		{method: "GET", path: "/api/v1/targets", bearer: adminSecret, remote: "192.0.2.9:2"},
		{method: "GET", path: inrel, basic: adminSecret, remote: "192.0.2.9:3"},
		// X-Forwarded-For from an untrusted peer changes nothing.
		{method: "GET", path: inrel, basic: adminSecret, remote: "192.0.2.9:3", hdr: map[string]string{"X-Forwarded-For": "198.51.100.1"}},
	} {
		w := e.do(r)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s after 3 failures: %d, Retry-After %q", r.method, r.path, w.Code, w.Header().Get("Retry-After"))
		}
	}
	if w := e.do(req{method: "GET", path: "/api/v1/targets", bearer: adminSecret, remote: "192.0.2.10:1"}); w.Code != 200 {
		t.Errorf("another address: %d", w.Code)
	}
	// Behind a trusted proxy, the forwarded address is the client.
	for range 3 {
		e.do(req{method: "GET", path: inrel, basic: "wrong", remote: "203.0.113.5:1", hdr: map[string]string{"X-Forwarded-For": "198.51.100.2"}})
	}
	if w := e.do(req{method: "GET", path: inrel, basic: adminSecret, remote: "203.0.113.5:1",
		hdr: map[string]string{"X-Forwarded-For": "198.51.100.2"}}); w.Code != 429 {
		t.Errorf("forwarded client after 3 failures: %d", w.Code)
	}
	if w := e.do(req{method: "GET", path: inrel, basic: adminSecret, remote: "203.0.113.5:1",
		hdr: map[string]string{"X-Forwarded-For": "198.51.100.3"}}); w.Code != 200 {
		t.Errorf("another client behind the same proxy: %d", w.Code)
	}
}
