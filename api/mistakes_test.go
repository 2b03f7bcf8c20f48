package api_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
)

// multipartBody returns a multipart/form-data body with the given parts
// (field name → content, files named after their field) and its
// Content-Type.
func multipartBody(t testing.TB, parts ...[2]string) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		w, err := mw.CreateFormFile(p[0], p[0]+".deb")
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(p[1]))
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// TestClientMistakes: every mistake a client can make on each route
// (malformed multipart, empty body, bad JSON, bad query parameters, odd
// escapes in path parameters, a wrong method) answers its 4xx with a JSON
// message that says what is wrong, never a 5xx, and changes nothing.
func TestClientMistakes(t *testing.T) {
	e := newEnv(t, auth.Config{Failures: -1}, api.Config{})
	e.ingest("5.8/debian/bookworm", "seed", "1.0")
	e.publish("5.8/debian/bookworm")
	const tg = "/api/v1/targets/5.8/debian/bookworm"
	deb := mkdeb(t, "good", "1.0")
	mpNoFile, ctNoFile := multipartBody(t, [2]string{"other", "x"})
	mpGarbage, ctGarbage := multipartBody(t, [2]string{"file", "not a package"})
	mpGood, ctGood := multipartBody(t, [2]string{"file", string(deb)})
	truncated := mpGood[:len(mpGood)-20]
	big := []byte(`{"from":"` + strings.Repeat("x", 2<<20) + `"}`)
	ct := func(v string) map[string]string { return map[string]string{"Content-Type": v} }

	for _, c := range []struct {
		name, method, path string
		body               []byte
		hdr                map[string]string
		want               int
		says               string // in the message
	}{
		// Uploads.
		{"empty body", "POST", tg + "/packages", []byte{}, nil, 400, "request body is empty"},
		{"not a package", "POST", tg + "/packages", []byte("hello"), nil, 422, "bad package"},
		{"publish=maybe", "POST", tg + "/packages?publish=maybe", deb, nil, 400, `publish="maybe"`},
		{"invalid target name", "POST", "/api/v1/targets/5.8/debian/-bad/packages", deb, nil, 400, "release"},
		{"escaped slash in the stream", "POST", "/api/v1/targets/5.8%2Fx/debian/bookworm/packages", deb, nil, 400, "stream"},
		{"NUL in the release", "POST", "/api/v1/targets/5.8/debian/book%00worm/packages", deb, nil, 400, "release"},
		{"unknown distro", "POST", "/api/v1/targets/5.8/nodistro/1/packages", deb, nil, 400, "unknown distro"},
		{"bad component", "POST", tg + "/packages?component=a/b", deb, nil, 400, "component"},
		{"multipart without boundary", "POST", tg + "/packages", mpGood, ct("multipart/form-data"), 400, "multipart"},
		{"multipart with a wrong boundary", "POST", tg + "/packages", mpGood, ct("multipart/form-data; boundary=nope"), 400, "multipart"},
		{"multipart without a file part", "POST", tg + "/packages", mpNoFile, ct(ctNoFile), 400, `no part named "file"`},
		{"multipart truncated", "POST", tg + "/packages", truncated, ct(ctGood), 400, "multipart"},
		{"multipart garbage file", "POST", tg + "/packages", mpGarbage, ct(ctGarbage), 422, "bad package"},
		{"multipart, empty", "POST", tg + "/packages", []byte("--x--\r\n"), ct("multipart/form-data; boundary=x"), 400, `no part named "file"`},
		// Package lists.
		{"list, limit=0", "GET", tg + "/packages?limit=0", nil, nil, 400, `limit "0" must be a number from 1 to 1000`},
		{"list, limit over the maximum", "GET", tg + "/packages?limit=1001", nil, nil, 400, "from 1 to 1000"},
		{"list, limit not a number", "GET", tg + "/packages?limit=ten", nil, nil, 400, `limit "ten"`},
		{"list, limit twice", "GET", tg + "/packages?limit=1&limit=2", nil, nil, 400, "limit must be given once"},
		{"list, empty after", "GET", tg + "/packages?after=", nil, nil, 400, "after must be given once and not empty"},
		{"list, after not base64", "GET", tg + "/packages?limit=5&after=!!", nil, nil, 400, `Link rel="next"`},
		{"list, after not a cursor", "GET", tg + "/packages?after=MTIz", nil, nil, 400, "not a cursor of this server"},
		{"list, after of cursor 0", "GET", tg + "/packages?after=cDE6MA", nil, nil, 400, "not a cursor of this server"},
		{"list, empty name", "GET", tg + "/packages?name=", nil, nil, 400, "name must be given once"},
		{"list, missing target", "GET", "/api/v1/targets/5.8/debian/sid/packages?limit=5", nil, nil, 404, "not found"},
		// Deletes and pins.
		{"delete a missing package", "DELETE", tg + "/packages/nope/1.0/amd64", nil, nil, 404, "not found"},
		{"delete, escaped slash in the name", "DELETE", tg + "/packages/a%2Fb/1.0/amd64", nil, nil, 404, "not found"},
		{"delete, escaped percent", "DELETE", tg + "/packages/a%25zz/1.0/amd64", nil, nil, 404, "not found"},
		{"delete, publish=0x", "DELETE", tg + "/packages/seed/1.0/amd64?publish=0x", nil, nil, 400, "publish"},
		{"pin in a missing target", "PUT", "/api/v1/targets/5.8/debian/sid/pins/seed/1.0", nil, nil, 404, "not found"},
		// JSON bodies.
		{"promote, empty body", "POST", "/api/v1/targets/5.8/debian/trixie/promote", nil, nil, 400, "request body is empty"},
		{"promote, not JSON", "POST", "/api/v1/targets/5.8/debian/trixie/promote", []byte("from=x"), nil, 400, "want JSON"},
		{"promote, unknown field", "POST", "/api/v1/targets/5.8/debian/trixie/promote", []byte(`{"form":"x"}`), nil, 400, `unknown field "form"`},
		{"promote, wrong type", "POST", "/api/v1/targets/5.8/debian/trixie/promote", []byte(`{"from":1}`), nil, 400, "want JSON"},
		{"promote, two values", "POST", "/api/v1/targets/5.8/debian/trixie/promote", []byte(`{"from":"5.8/debian/bookworm"}{}`), nil, 400, "more than one JSON value"},
		{"promote, bad source", "POST", "/api/v1/targets/5.8/debian/trixie/promote", []byte(`{"from":"nope","packages":["seed"]}`), nil, 400, "nope"},
		{"promote, bad package spec", "POST", "/api/v1/targets/5.8/debian/trixie/promote", []byte(`{"from":"5.8/debian/bookworm","packages":["="]}`), nil, 400, ""},
		{"promote, missing package", "POST", "/api/v1/targets/5.8/debian/trixie/promote", []byte(`{"from":"5.8/debian/bookworm","packages":["nope"]}`), nil, 404, "nope"},
		{"promote, body over 1 MiB", "POST", "/api/v1/targets/5.8/debian/trixie/promote", big, nil, 413, "larger than"},
		{"rollback, no generation", "POST", tg + "/rollback", []byte(`{}`), nil, 400, "generation"},
		{"rollback, string generation", "POST", tg + "/rollback", []byte(`{"generation":"1"}`), nil, 400, "want JSON"},
		{"rollback, missing generation", "POST", tg + "/rollback", []byte(`{"generation":99}`), nil, 404, ""},
		{"create token, truncated JSON", "POST", "/api/v1/tokens", []byte(`{"name":"x"`), nil, 400, "want JSON"},
		{"create token, bad scope", "POST", "/api/v1/tokens", []byte(`{"name":"x","scopes":["fly"]}`), nil, 400, "unknown action"},
		{"create token, no scope", "POST", "/api/v1/tokens", []byte(`{"name":"x"}`), nil, 400, "scope"},
		{"create token, bad expiry", "POST", "/api/v1/tokens", []byte(`{"name":"x","scopes":["read"],"expires":"soon"}`), nil, 400, "soon"},
		{"create token, bad name", "POST", "/api/v1/tokens", []byte(`{"name":"a b","scopes":["read"]}`), nil, 400, "token name"},
		{"create token, name of the admin", "POST", "/api/v1/tokens", []byte(`{"name":"admin","scopes":["read"]}`), nil, 409, "taken"},
		{"revoke a missing token", "DELETE", "/api/v1/tokens/nope", nil, nil, 404, "nope"},
		{"revoke the admin token", "DELETE", "/api/v1/tokens/admin", nil, nil, 400, "configuration"},
		// Query parameters.
		{"prune, dry_run=perhaps", "POST", tg + "/prune?dry_run=perhaps", nil, nil, 400, "dry_run"},
		{"gc, dry_run=2", "POST", "/api/v1/gc?dry_run=2", nil, nil, 400, "dry_run"},
		{"audit, limit=abc", "GET", "/api/v1/audit?limit=abc", nil, nil, 400, "limit"},
		{"audit, since=yesterday", "GET", "/api/v1/audit?since=yesterday", nil, nil, 400, "since"},
		{"packages of a missing target", "GET", "/api/v1/targets/5.8/debian/sid/packages", nil, nil, 404, "not found"},
		// Routes and methods.
		{"unknown API route", "GET", "/api/v1/nope", nil, nil, 404, "no such API route"},
		{"unknown API route, POST", "POST", "/api/v1/targets/5.8/debian/bookworm/nope", nil, nil, 404, "no such API route"},
		{"unknown API route, trailing slash", "GET", "/api/v1/targets/", nil, nil, 404, "no such API route"},
		{"PUT on a GET route", "PUT", "/api/v1/targets", nil, nil, 405, "allowed: GET, HEAD"},
		{"GET on a POST route", "GET", tg + "/publish", nil, nil, 405, "method GET is not allowed on this API route; allowed: POST"},
		{"PATCH on packages", "PATCH", tg + "/packages", nil, nil, 405, "allowed: GET, HEAD, POST"},
		{"DELETE on gc", "DELETE", "/api/v1/gc", nil, nil, 405, "allowed: POST"},
		{"GET on a token", "GET", "/api/v1/tokens/admin", nil, nil, 405, "allowed: DELETE"},
		{"POST on a file", "POST", "/deb/5.8/dists/bookworm/InRelease", nil, nil, 405, "Method Not Allowed"},
		{"POST on /setup", "POST", "/setup/5.8/debian/bookworm", nil, nil, 405, "Method Not Allowed"},
		{"file, dot-dot", "GET", "/deb/5.8/%2e%2e/%2e%2e/catalog.db", nil, nil, 404, "not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.content()
			w := e.do(req{method: c.method, path: c.path, body: c.body, bearer: adminSecret, hdr: c.hdr})
			type errorBody struct {
				Error     string `json:"error"`
				RequestID string `json:"request_id"`
			}
			var eb errorBody
			if w.Code != c.want {
				t.Errorf("%d %s, want %d", w.Code, w.Body, c.want)
			}
			// A multipart upload answers one result per file.
			var files []errorBody
			if json.Unmarshal(w.Body.Bytes(), &files) == nil && len(files) == 1 {
				eb = files[0]
			} else if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil {
				t.Errorf("the reply is not JSON: %q (%v)", w.Body, err)
			}
			if eb.Error == "" {
				t.Errorf("the reply has no message: %s", w.Body)
			}
			if !strings.Contains(eb.Error, c.says) {
				t.Errorf("message %q does not say %q", eb.Error, c.says)
			}
			if eb.RequestID == "" {
				t.Errorf("no request id in %s", w.Body)
			}
			if c.want == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			if after := e.content(); after != before {
				t.Errorf("the refused call changed the state:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestHeadOnAPI: HEAD on a GET route of the API authenticates and answers
// like GET without a body; HEAD on a route without GET is 405.
func TestHeadOnAPI(t *testing.T) {
	e := newEnv(t, auth.Config{Failures: -1}, api.Config{})
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/api/v1/targets", adminSecret, 200},
		{"/api/v1/targets", "", 401},
		{"/api/v1/targets", "pier_nope", 401},
		{"/api/v1/tokens", e.token("reader", "read"), 403},
		{"/api/v1/gc", adminSecret, 405},
	} {
		w := e.do(req{method: "HEAD", path: c.path, bearer: c.token})
		// (net/http drops what a handler writes to a HEAD reply; the
		// recorder keeps it, so only refusals are checked for a body.)
		if w.Code != c.want || (c.want != 200 && w.Body.Len() != 0) {
			t.Errorf("HEAD %s: %d with %d bytes, want %d", c.path, w.Code, w.Body.Len(), c.want)
		}
	}
}
