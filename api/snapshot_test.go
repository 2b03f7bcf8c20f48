package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// TestSnapshotRoute: POST /targets/{source}/snapshot needs publish on the
// source and upload on the new target (each alone is 403 and changes
// nothing); the right token gets 201 with the frozen, published target;
// GET /targets lists it as frozen; an upload into it and a second snapshot
// into it are 409 naming it; the snapshot is audited.
func TestSnapshotRoute(t *testing.T) {
	e := newEnv(t, auth.Config{Failures: -1}, api.Config{})
	e.ingest("5.8/debian/bookworm", "kamailio", "5.8.1")
	e.publish("5.8/debian/bookworm")
	const path = "/api/v1/targets/5.8/debian/bookworm/snapshot"
	body := []byte(`{"target":"5.8.1/debian/bookworm"}`)
	for name, tok := range map[string]string{
		"publish on the source only": e.token("src-only", "publish:5.8/*/*"),
		"upload on the new one only": e.token("dst-only", "upload:5.8.1/*/*"),
		"upload instead of publish":  e.token("uploads", "upload"),
		"publish instead of upload":  e.token("publishes", "publish"),
		"read on both":               e.token("reads", "read"),
	} {
		before := e.state()
		if w := e.do(req{method: "POST", path: path, body: body, bearer: tok}); w.Code != http.StatusForbidden {
			t.Errorf("%s: %d %s, want 403", name, w.Code, w.Body)
		}
		if e.state() != before {
			t.Errorf("%s: the refused snapshot changed the state", name)
		}
	}
	tok := e.token("releaser", "publish:5.8/*/*", "upload:5.8.1/*/*")
	w := e.do(req{method: "POST", path: path, body: body, bearer: tok})
	if w.Code != http.StatusCreated {
		t.Fatalf("snapshot: %d %s", w.Code, w.Body)
	}
	var reply api.SnapshotReply
	if err := json.Unmarshal(w.Body.Bytes(), &reply); err != nil {
		t.Fatal(err)
	}
	if reply.Source != "5.8/debian/bookworm" || reply.Packages != 1 || reply.Generation == nil || reply.Target == nil ||
		reply.Target.Frozen == nil || reply.Target.Frozen.Source.String() != "5.8/debian/bookworm" {
		t.Errorf("reply: %s", w.Body)
	}
	w = e.do(req{method: "GET", path: "/api/v1/targets", bearer: adminSecret})
	var ts []repo.TargetInfo
	if err := json.Unmarshal(w.Body.Bytes(), &ts); err != nil {
		t.Fatal(err)
	}
	for _, ti := range ts {
		if (ti.Target.String() == "5.8.1/debian/bookworm") != (ti.Frozen != nil) {
			t.Errorf("GET /targets: %s frozen %+v", ti.Target, ti.Frozen)
		}
	}
	if !strings.Contains(w.Body.String(), `"frozen":{"source":{"stream":"5.8"`) {
		t.Errorf("GET /targets does not show frozen: %s", w.Body)
	}
	w = e.do(req{method: "POST", path: "/api/v1/targets/5.8.1/debian/bookworm/packages", body: mkdeb(t, "kamailio", "5.8.2"), bearer: adminSecret})
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "5.8.1/debian/bookworm is frozen") {
		t.Errorf("upload into the snapshot: %d %s, want 409 naming it", w.Code, w.Body)
	}
	if w := e.do(req{method: "POST", path: path, body: body, bearer: tok}); w.Code != http.StatusConflict {
		t.Errorf("second snapshot into the same target: %d %s, want 409", w.Code, w.Body)
	}
	found := false
	for _, ev := range e.events() {
		if ev.Action == audit.TargetSnapshot && ev.Target == "5.8.1/debian/bookworm" && ev.Actor == "releaser" &&
			strings.Contains(string(ev.Detail), `"source":"5.8/debian/bookworm"`) && strings.Contains(string(ev.Detail), `"packages":1`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no audit event of the snapshot: %+v", e.events())
	}
}
