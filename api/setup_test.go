package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
)

// TestSetup: GET /setup of a published public target answers the lines
// anonymously; a private target needs a read token (401 with a Basic
// challenge without one or with a refused one, whether or not the target
// exists; 403 with a valid token lacking read), sent as Basic or Bearer;
// a target that is not published is 404 naming the published targets of
// its stream and distro that the caller may read, and nothing private to
// anyone else.
func TestSetup(t *testing.T) {
	e := newEnv(t, auth.Config{Private: []string{"5.8/debian/bookworm", "secret/*/*"}, Failures: -1},
		api.Config{PublicURL: "https://pier.example.org"})
	for _, tg := range []string{"5.8/debian/bookworm", "5.8/debian/trixie", "5.7/debian/bookworm", "secret/debian/sid"} {
		e.ingest(tg, "pkg", "1.0")
		e.publish(tg)
	}
	e.ingest("5.8/debian/forky", "unpublished", "1.0")
	reader := e.token("reader", "read:5.8/debian/bookworm")
	uploader := e.token("uploader", "upload")
	secretReader := e.token("secret-reader", "read:secret/*/*")
	expired := e.expiredToken("old", "read")
	const unknown = "pier_0000000000000000000000000000000000000000000000000000000000000000"

	for _, c := range []struct {
		name      string
		r         req
		want      int
		has, lack []string
	}{
		{"public", req{path: "/setup/5.8/debian/trixie"}, 200, []string{"Suites: trixie"}, []string{"auth.conf"}},
		{"public, a wrong token is not looked at", req{path: "/setup/5.8/debian/trixie", basic: unknown}, 200, nil, nil},
		{"private, no token", req{path: "/setup/5.8/debian/bookworm"}, 401, nil, []string{"bookworm", "main"}},
		{"private, unknown token", req{path: "/setup/5.8/debian/bookworm", basic: unknown}, 401, nil, []string{"bookworm"}},
		{"private, malformed Basic", req{path: "/setup/5.8/debian/bookworm", hdr: map[string]string{"Authorization": "Basic %%%"}}, 401, nil, nil},
		{"private, expired token", req{path: "/setup/5.8/debian/bookworm", basic: expired}, 401, nil, nil},
		{"private, token without read", req{path: "/setup/5.8/debian/bookworm", basic: uploader}, 403, nil, []string{"Suites"}},
		{"private, read on other targets", req{path: "/setup/5.8/debian/bookworm", bearer: secretReader}, 403, nil, nil},
		{"private, read token (Basic)", req{path: "/setup/5.8/debian/bookworm", basic: reader}, 200,
			[]string{"/etc/apt/auth.conf.d/", "machine pier.example.org/deb/5.8", "Suites: bookworm"}, nil},
		{"private, read token (Bearer)", req{path: "/setup/5.8/debian/bookworm", bearer: reader}, 200, []string{"auth.conf"}, nil},
		// A private pattern answers the same whether the target exists.
		{"private pattern, nonexistent, no token", req{path: "/setup/secret/debian/nope"}, 401, nil, []string{"secret/debian/sid", "not"}},
		{"private pattern, nonexistent, reader", req{path: "/setup/secret/debian/nope", basic: secretReader}, 404,
			[]string{"no published target secret/debian/nope", "stream secret has secret/debian/sid"}, nil},
		{"unknown release, anonymous", req{path: "/setup/5.8/debian/sid"}, 404,
			[]string{"no published target 5.8/debian/sid", "stream 5.8 has 5.8/debian/trixie;", "distro debian has 5.7/debian/bookworm, 5.8/debian/trixie"},
			[]string{"5.8/debian/bookworm", "secret", "forky"}},
		{"unknown release, reader", req{path: "/setup/5.8/debian/sid", basic: reader}, 404,
			[]string{"stream 5.8 has 5.8/debian/bookworm, 5.8/debian/trixie"}, []string{"secret"}},
		{"unknown release, secret reader", req{path: "/setup/5.8/debian/sid", basic: secretReader}, 404,
			[]string{"distro debian has 5.7/debian/bookworm, 5.8/debian/trixie, secret/debian/sid"}, []string{"5.8/debian/bookworm"}},
		{"unknown release, refused token", req{path: "/setup/5.8/debian/sid", basic: unknown}, 401, nil, []string{"secret", "bookworm"}},
		{"unpublished target", req{path: "/setup/5.8/debian/forky"}, 404, []string{"no published target 5.8/debian/forky"}, []string{"secret"}},
		{"unknown distro", req{path: "/setup/5.8/nodistro/1"}, 404,
			[]string{`unknown distro "nodistro" (known: debian)`, "stream 5.8 has 5.8/debian/trixie"}, []string{"bookworm", "secret"}},
		{"nothing nearby", req{path: "/setup/9.9/el/9"}, 404, []string{"no published target shares its stream or distro"}, nil},
		{"invalid release", req{path: "/setup/5.8/debian/-x"}, 400, []string{"release"}, nil},
	} {
		c.r.method = "GET"
		w := e.do(c.r)
		body := w.Body.String()
		var eb struct{ Error string }
		if json.Unmarshal(w.Body.Bytes(), &eb) == nil {
			body = eb.Error
		}
		if w.Code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, w.Code, body, c.want)
		}
		if c.want == 401 && w.Header().Get("WWW-Authenticate") != `Basic realm="pier"` {
			t.Errorf("%s: WWW-Authenticate %q", c.name, w.Header().Get("WWW-Authenticate"))
		}
		for _, s := range c.has {
			if !strings.Contains(body, s) {
				t.Errorf("%s: the reply lacks %q:\n%s", c.name, s, body)
			}
		}
		for _, s := range c.lack {
			if strings.Contains(body, s) {
				t.Errorf("%s: the reply shows %q:\n%s", c.name, s, body)
			}
		}
	}
	// An anonymous caller cannot tell a private target from a missing one.
	a := e.do(req{method: "GET", path: "/setup/secret/debian/sid"})
	b := e.do(req{method: "GET", path: "/setup/secret/debian/nope"})
	strip := func(s string) string { return s[:strings.Index(s, `"request_id"`)] }
	if a.Code != b.Code || strip(a.Body.String()) != strip(b.Body.String()) {
		t.Errorf("private existing vs missing: %d %s / %d %s", a.Code, a.Body, b.Code, b.Body)
	}
}
