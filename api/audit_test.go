package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
)

// TestAuditAPI: uploads (with their outcome), deletes, publishes and
// token changes are recorded with the token's name, the client address,
// the CI headers and the request id; GET /api/v1/audit filters them.
func TestAuditAPI(t *testing.T) {
	e := newEnv(t, auth.Config{}, api.Config{})
	ci := e.token("ci", "upload:5.8/*/*", "publish:5.8/*/*", "delete:5.8/*/*")
	hdr := map[string]string{api.HeaderCIJobURL: "https://ci.example/jobs/42", api.HeaderCICommit: "0123abcd", "X-Request-Id": "req-1"}
	pkg := mkdeb(t, "audited", "1.0")
	const tg = "/api/v1/targets/5.8/debian/bookworm"
	for i, want := range []int{201, 200} {
		if w := e.do(req{method: "POST", path: tg + "/packages?publish=false", body: pkg, bearer: ci, hdr: hdr, remote: "198.51.100.7:5000"}); w.Code != want {
			t.Fatalf("upload %d: %d %s", i, w.Code, w.Body)
		}
	}
	if w := e.do(req{method: "POST", path: tg + "/packages?publish=false", body: []byte("not a package"), bearer: ci}); w.Code != 422 {
		t.Fatalf("bad upload: %d %s", w.Code, w.Body)
	}
	if w := e.do(req{method: "POST", path: tg + "/publish", bearer: ci}); w.Code != 200 {
		t.Fatalf("publish: %d %s", w.Code, w.Body)
	}
	if w := e.do(req{method: "DELETE", path: tg + "/packages/audited/1.0/amd64?publish=false", bearer: ci}); w.Code != 200 {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	w := e.do(req{method: "POST", path: "/api/v1/tokens", bearer: adminSecret, body: []byte(`{"name":"reader","scopes":["read"]}`)})
	var made api.TokenReply
	if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &made) != nil || made.Secret == "" || made.Name != "reader" {
		t.Fatalf("create token: %d %s", w.Code, w.Body)
	}
	if w := e.do(req{method: "DELETE", path: "/api/v1/tokens/reader", bearer: adminSecret}); w.Code != 200 {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	// A refused call leaves no event.
	e.do(req{method: "POST", path: tg + "/publish", bearer: made.Secret})

	events := func(query string) []audit.Event {
		t.Helper()
		w := e.do(req{method: "GET", path: "/api/v1/audit" + query, bearer: adminSecret})
		var es []audit.Event
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &es) != nil {
			t.Fatalf("GET /api/v1/audit%s: %d %s", query, w.Code, w.Body)
		}
		return es
	}
	all := events("")
	var got []string
	for _, ev := range all {
		got = append(got, ev.Actor+" "+ev.Action+" "+ev.Target)
	}
	want := []string{"admin token.revoke ", "admin token.create ", "ci delete 5.8/debian/bookworm", "ci publish 5.8/debian/bookworm",
		"ci upload 5.8/debian/bookworm", "ci upload 5.8/debian/bookworm", "ci upload 5.8/debian/bookworm"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events:\n%q\nwant\n%q", got, want)
	}
	first := all[len(all)-1]
	var d map[string]any
	json.Unmarshal(first.Detail, &d)
	if first.Remote != "198.51.100.7" || first.CIJobURL != "https://ci.example/jobs/42" || first.CICommit != "0123abcd" ||
		first.RequestID != "req-1" || d["name"] != "audited" || d["status"] != float64(201) || d["created"] != true {
		t.Errorf("first upload event: %+v %s", first, first.Detail)
	}
	json.Unmarshal(all[len(all)-2].Detail, &d)
	if d["status"] != float64(200) || d["created"] != false {
		t.Errorf("re-upload event: %s", all[len(all)-2].Detail)
	}
	json.Unmarshal(all[len(all)-3].Detail, &d)
	if d["status"] != float64(422) || d["error"] == nil {
		t.Errorf("refused upload event: %s", all[len(all)-3].Detail)
	}
	for _, ev := range all {
		if len(ev.Detail) > 0 && !json.Valid(ev.Detail) {
			t.Errorf("detail is not JSON: %s", ev.Detail)
		}
		for _, secret := range []string{made.Secret, ci, adminSecret} {
			if strings.Contains(string(ev.Detail), secret) {
				t.Errorf("event %d shows a token", ev.ID)
			}
		}
	}
	if es := events("?action=upload&limit=2"); len(es) != 2 || es[0].Action != "upload" {
		t.Errorf("?action=upload&limit=2: %+v", es)
	}
	if es := events("?target=5.8/*&action=delete"); len(es) != 1 {
		t.Errorf("?target=5.8/*&action=delete: %+v", es)
	}
	if es := events("?actor=admin"); len(es) != 2 {
		t.Errorf("?actor=admin: %+v", es)
	}
	if es := events("?since=1h"); len(es) != len(all) {
		t.Errorf("?since=1h: %d events", len(es))
	}
	if w := e.do(req{method: "GET", path: "/api/v1/audit?limit=0", bearer: adminSecret}); w.Code != http.StatusBadRequest {
		t.Errorf("?limit=0: %d", w.Code)
	}
}
