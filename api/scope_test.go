package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
)

// TestScopeTable tries every /api/v1 operation with no token, an unknown,
// a malformed, a revoked and an expired token, a token lacking the route's
// scope and one whose scope names other targets: each is refused and
// changes nothing (targets, packages, generations, tokens, audit log). No
// token is 401 with a Bearer challenge; a refused token 401 with
// error="invalid_token" (RFC 6750); a valid token without the scope 403.
// Then the right token succeeds.
func TestScopeTable(t *testing.T) {
	e := newEnv(t, auth.Config{Failures: -1}, api.Config{})
	e.ingest("5.8/debian/bookworm", "seed", "1.0")
	e.ingest("5.8/debian/bookworm", "victim", "1.0")
	e.publish("5.8/debian/bookworm")

	actions := []auth.Action{auth.Read, auth.Upload, auth.Publish, auth.Delete, auth.Promote}
	right, wrongScope, wrongTarget, expired := map[auth.Action]string{}, map[auth.Action]string{}, map[auth.Action]string{}, map[auth.Action]string{}
	for _, a := range actions {
		var others []string
		for _, o := range actions {
			if o != a {
				others = append(others, string(o))
			}
		}
		rightScopes := []string{string(a) + ":5.8/debian/*"}
		elsewhere := []string{string(a) + ":5.7/*/*"}
		if a == auth.Promote { // promote also reads its source
			rightScopes = append(rightScopes, "read:5.8/*/*")
			elsewhere = append(elsewhere, "read")
		}
		right[a] = e.token("right-"+string(a), rightScopes...)
		wrongScope[a] = e.token("wrong-scope-"+string(a), others...)
		wrongTarget[a] = e.token("wrong-target-"+string(a), elsewhere...)
		expired[a] = e.expiredToken("expired-"+string(a), string(a))
	}
	revoked := e.token("revoked", "admin")
	if err := e.authn.Revoke(context.Background(), "revoked"); err != nil {
		t.Fatal(err)
	}
	right[auth.Admin] = adminSecret
	wrongScope[auth.Admin] = e.token("wrong-scope-admin", "read", "upload", "publish", "delete", "promote")
	expired[auth.Admin] = e.expiredToken("expired-admin", "admin")

	const tg = "/api/v1/targets/5.8/debian/bookworm"
	for _, r := range []struct {
		name, method, path string
		body               []byte
		need               auth.Action // anyToken: ""
		targeted           bool        // the route names a target
		want               int         // the right token's status; 0: any 2xx
	}{
		{"list targets", "GET", "/api/v1/targets", nil, "", false, 200},
		{"list packages", "GET", tg + "/packages", nil, auth.Read, true, 200},
		{"upload", "POST", tg + "/packages?publish=false", mkdeb(t, "up", "1.0"), auth.Upload, true, 201},
		{"publish", "POST", tg + "/publish", nil, auth.Publish, true, 200},
		{"delete", "DELETE", tg + "/packages/victim/1.0/amd64?publish=false", nil, auth.Delete, true, 200},
		{"generations", "GET", tg + "/generations", nil, auth.Read, true, 200},
		{"rollback", "POST", tg + "/rollback", []byte(`{"generation":1}`), auth.Publish, true, 200},
		{"promote", "POST", "/api/v1/targets/5.8/debian/trixie/promote", []byte(`{"from":"5.8/debian/bookworm","packages":["seed"]}`),
			auth.Promote, true, 200},
		{"list pins", "GET", tg + "/pins", nil, auth.Read, true, 200},
		{"pin", "PUT", tg + "/pins/seed/1.0", nil, auth.Publish, true, 200},
		{"unpin", "DELETE", tg + "/pins/seed/1.0", nil, auth.Publish, true, 200},
		{"prune", "POST", tg + "/prune", nil, auth.Delete, true, 200},
		{"gc", "POST", "/api/v1/gc", nil, auth.Admin, false, 200},
		{"mirrors", "GET", "/api/v1/mirrors", nil, auth.Read, false, 200},
		{"create token", "POST", "/api/v1/tokens", []byte(`{"name":"made","scopes":["read:5.8/*/*"],"expires":"30d"}`), auth.Admin, false, 201},
		{"list tokens", "GET", "/api/v1/tokens", nil, auth.Admin, false, 200},
		{"revoke token", "DELETE", "/api/v1/tokens/made", nil, auth.Admin, false, 200},
		{"audit log", "GET", "/api/v1/audit", nil, auth.Admin, false, 200},
	} {
		t.Run(r.name, func(t *testing.T) {
			scope := r.need
			if scope == "" {
				scope = auth.Read // any valid token: expired/unknown ones still fail
			}
			type refusal struct {
				name, token string
				hdr         map[string]string
				want        int
				challenge   string
			}
			const invalid = `Bearer realm="pier", error="invalid_token"`
			refusals := []refusal{
				{"no token", "", nil, http.StatusUnauthorized, `Bearer realm="pier"`},
				{"unknown token", "pier_" + strings.Repeat("0", 64), nil, http.StatusUnauthorized, invalid},
				{"malformed token", "", map[string]string{"Authorization": "Basic %%%"}, http.StatusUnauthorized, invalid},
				{"revoked token", revoked, nil, http.StatusUnauthorized, invalid},
				{"expired token", expired[scope], nil, http.StatusUnauthorized, invalid},
			}
			if r.need != "" {
				refusals = append(refusals, refusal{"wrong scope", wrongScope[scope], nil, http.StatusForbidden, ""})
			}
			if r.targeted {
				refusals = append(refusals, refusal{"wrong target pattern", wrongTarget[scope], nil, http.StatusForbidden, ""})
			}
			for _, ref := range refusals {
				before := e.state()
				w := e.do(req{method: r.method, path: r.path, body: r.body, bearer: ref.token, hdr: ref.hdr})
				if w.Code != ref.want {
					t.Errorf("%s: %d %s, want %d", ref.name, w.Code, w.Body, ref.want)
				}
				if got := w.Header().Get("WWW-Authenticate"); got != ref.challenge {
					t.Errorf("%s: WWW-Authenticate %q, want %q", ref.name, got, ref.challenge)
				}
				var body struct{ Error string }
				if json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error == "" {
					t.Errorf("%s: no JSON error message: %s", ref.name, w.Body)
				}
				if after := e.state(); after != before {
					t.Errorf("%s: the refused call changed the state:\nbefore %s\nafter  %s", ref.name, before, after)
				}
			}
			t.Run("right token", func(t *testing.T) {
				tok := right[scope]
				if r.need == "" {
					tok = right[auth.Upload] // any token will do
				}
				w := e.do(req{method: r.method, path: r.path, body: r.body, bearer: tok})
				if (r.want != 0 && w.Code != r.want) || (r.want == 0 && (w.Code < 200 || w.Code > 299)) {
					t.Errorf("right token: %d %s, want %d", w.Code, w.Body, r.want)
				}
			})
		})
	}

	// promote needs read on its source too.
	t.Run("promote without read on the source", func(t *testing.T) {
		tok := e.token("promote-no-source", "promote:5.8/*/*", "read:5.7/*/*")
		before := e.state()
		w := e.do(req{method: "POST", path: "/api/v1/targets/5.8/debian/trixie/promote", bearer: tok,
			body: []byte(`{"from":"5.8/debian/bookworm","packages":["seed"]}`)})
		switch {
		case w.Code != http.StatusForbidden:
			t.Errorf("promote without read on the source: %d %s, want 403", w.Code, w.Body)
		}
		if e.state() != before {
			t.Error("the refused promote changed the state")
		}
	})

	// The same tokens work as the HTTP Basic password.
	if w := e.do(req{method: "GET", path: tg + "/packages", basic: right[auth.Read]}); w.Code != 200 {
		t.Errorf("read token as HTTP Basic password: %d %s", w.Code, w.Body)
	}
	// A token with admin scope from the catalog is an admin too.
	if w := e.do(req{method: "GET", path: "/api/v1/tokens", bearer: e.token("stored-admin", "admin")}); w.Code != 200 {
		t.Errorf("stored admin token: %d %s", w.Code, w.Body)
	}
	// GET /targets lists the targets a token holds any scope on.
	for _, c := range []struct {
		token string
		want  bool
	}{{right[auth.Read], true}, {wrongTarget[auth.Upload], false}, {adminSecret, true}} {
		w := e.do(req{method: "GET", path: "/api/v1/targets", bearer: c.token})
		if got := strings.Contains(w.Body.String(), `"release":"bookworm"`); w.Code != 200 || got != c.want {
			t.Errorf("GET /targets: %d %s, want bookworm listed: %v", w.Code, w.Body, c.want)
		}
	}
	// The token list never holds a token or a hash.
	w := e.do(req{method: "GET", path: "/api/v1/tokens", bearer: adminSecret})
	for _, secret := range []string{right[auth.Read], auth.Hash(right[auth.Read]), adminSecret, auth.Hash(adminSecret)} {
		if strings.Contains(w.Body.String(), secret) {
			t.Errorf("GET /tokens shows a token or its hash: %s", w.Body)
		}
	}
}
