package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRollbackApt publishes generations 1..3 of a target, rolls back to 1
// through the API, and the real apt-get then sees generation 1's packages;
// `pier generations` and the API list the generations and what changed.
func TestRollbackApt(t *testing.T) {
	need(t, "apt-get")
	s := startServer(t, "")
	tg := "5.8/debian/bookworm"
	v1 := mkdeb(t, "rb-app", "1.0-1", "amd64", "one")
	v2 := mkdeb(t, "rb-app", "2.0-1", "amd64", "two")
	v3 := mkdeb(t, "rb-app", "3.0-1", "amd64", "three")
	for i, b := range [][]byte{v1, v2, v3} {
		if code, r := s.upload(tg, b, "?publish=false"); code != 201 {
			t.Fatalf("upload %d: %d %v", i+1, code, r)
		}
		if i == 2 {
			if code, r := s.upload(tg, mkdeb(t, "rb-newcomer", "1.0", "amd64", "new"), "?publish=false"); code != 201 {
				t.Fatalf("upload newcomer: %d %v", code, r)
			}
		}
		s.publish(tg)
	}
	apt := newApt(t, sourceLine(writeKey(t, s, t.TempDir()), s.url, "5.8", "bookworm"))
	apt.update()
	if got := apt.download("rb-app"); sha(got) != sha(v3) {
		t.Fatalf("before rollback apt-get downloads %d bytes, not version 3", len(got))
	}

	code, body := s.do("POST", "/api/v1/targets/"+tg+"/rollback", strings.NewReader(`{"generation": 1}`))
	if code != 200 {
		t.Fatalf("rollback: %d %s", code, body)
	}
	var gen struct {
		ID       int    `json:"id"`
		Packages int    `json:"packages"`
		Note     string `json:"note"`
	}
	if err := json.Unmarshal(body, &gen); err != nil || gen.ID != 4 || gen.Packages != 1 || gen.Note != "rollback to generation 1" {
		t.Fatalf("rollback reply: %s (%v)", body, err)
	}
	apt.update()
	if got := apt.download("rb-app"); sha(got) != sha(v1) {
		t.Errorf("after rollback apt-get downloads %d bytes, not version 1", len(got))
	}
	if out, err := apt.run("download", "rb-newcomer"); err == nil {
		t.Errorf("rb-newcomer (generation 3 only) still downloadable after rollback:\n%s", out)
	}

	code, body = s.do("GET", "/api/v1/targets/"+tg+"/generations", nil)
	if code != 200 || !strings.Contains(string(body), `"note":"rollback to generation 1"`) || !strings.Contains(string(body), `"rb-newcomer 1.0 amd64"`) {
		t.Errorf("GET generations: %d %s", code, body)
	}
	out, err := exec.Command(pierBin, "generations", "--data", s.data, tg).Output()
	if err != nil {
		t.Fatalf("pier generations: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[1], "4*") || !strings.Contains(lines[1], "rollback to generation 1:") ||
		!strings.Contains(lines[1], "-rb-app 3.0-1 amd64") || !strings.Contains(lines[2], "+rb-app 3.0-1 amd64") {
		t.Errorf("pier generations:\n%s", out)
	}
	// The CLI rolls forward again, and pier serve picks it up.
	out, err = exec.Command(pierBin, "rollback", "--data", s.data, tg, "3").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "published generation 5 (4 packages)") {
		t.Fatalf("pier rollback: %v\n%s", err, out)
	}
	if code, body := s.do("POST", "/api/v1/targets/"+tg+"/rollback", strings.NewReader(`{"generation": 99}`)); code != 404 {
		t.Errorf("rollback to a missing generation: %d %s", code, body)
	}
}

// TestPromoteAndRetention: 12 versions pushed to nightly, which keeps 5
// per package: the 5 highest by Debian's order (epochs and tildes) stay,
// plus a pinned and a promoted one; `pier prune --dry-run` reports without
// changing anything; the promoted package reaches the real apt-get from the
// 5.8 stream (the same blob); `pier gc` deletes exactly the pruned blobs.
func TestPromoteAndRetention(t *testing.T) {
	need(t, "apt-get")
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	if err := os.WriteFile(cfg, []byte(`retention:
  gc_interval: 0s
  rules:
    - targets: ["nightly/*/*"]
      keep_versions: 5
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "PIER_CONFIG="+cfg)
	nightly := "nightly/debian/bookworm"
	vers := []string{"1.0~rc1-1", "1:0.9-1", "1.0-1", "0.1-1", "1.0+b1-1", "2.0~a-1", "1.1~beta-1", "1:0.5-1", "1.1-1",
		"2.0~~a-1", "1:0.9~rc1-1", "0.9-1"}
	highest := []string{"1:0.9-1", "1:0.9~rc1-1", "1:0.5-1", "2.0~a-1", "2.0~~a-1"}
	pruned := []string{"0.1-1", "0.9-1", "1.0+b1-1", "1.1~beta-1", "1.1-1"} // in version order
	debs := map[string][]byte{}
	for _, v := range vers {
		debs[v] = mkdeb(t, "pr-app", v, "amd64", v)
		if code, r := s.upload(nightly, debs[v], "?publish=false"); code != 201 {
			t.Fatalf("upload %s: %d %v", v, code, r)
		}
	}
	if code, body := s.do("PUT", "/api/v1/targets/"+nightly+"/pins/pr-app/1.0~rc1-1", nil); code != 200 {
		t.Fatalf("pin: %d %s", code, body)
	}
	code, body := s.do("POST", "/api/v1/targets/5.8/debian/bookworm/promote",
		strings.NewReader(`{"from": "nightly/debian/bookworm", "packages": ["pr-app=1.0-1"]}`))
	if code != 200 || !strings.Contains(string(body), `"added":true`) {
		t.Fatalf("promote: %d %s", code, body)
	}
	out, err := exec.Command(pierBin, "prune", "--data", s.data, "--config", cfg, "--dry-run", nightly).Output()
	var want strings.Builder
	for _, v := range pruned {
		want.WriteString("would remove pr-app " + v + " amd64 from " + nightly + "\n")
	}
	want.WriteString("would remove 5 package(s)\n")
	if err != nil || string(out) != want.String() {
		t.Fatalf("pier prune --dry-run: %v\n%s\nwant:\n%s", err, out, want.String())
	}
	s.publish(nightly)
	code, body = s.do("GET", "/api/v1/targets/"+nightly+"/packages", nil)
	var ps []struct{ Version string }
	json.Unmarshal(body, &ps)
	got := map[string]bool{}
	for _, p := range ps {
		got[p.Version] = true
	}
	for _, v := range append(highest, "1.0~rc1-1", "1.0-1") {
		if !got[v] {
			t.Errorf("nightly lost %s", v)
		}
	}
	if code != 200 || len(ps) != 7 {
		t.Errorf("nightly after publish: %d %s", code, body)
	}
	apt := newApt(t, sourceLine(writeKey(t, s, t.TempDir()), s.url, "5.8", "bookworm"))
	apt.update()
	if b := apt.download("pr-app"); sha(b) != sha(debs["1.0-1"]) {
		t.Errorf("5.8 serves %d bytes, not the promoted 1.0-1", len(b))
	}
	out, err = exec.Command(pierBin, "gc", "--data", s.data, "--config", cfg, "--grace", "0s").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "deleted 5 blob(s)") {
		t.Errorf("pier gc: %v\n%s", err, out)
	}
	for v, b := range debs {
		h := sha(b)
		_, err := os.Stat(filepath.Join(s.data, "blobs", "sha256", h[:2], h))
		if gone := os.IsNotExist(err); gone != slices.Contains(pruned, v) {
			t.Errorf("blob of %s: gone=%v (%v)", v, gone, err)
		}
	}
	// Still served after the collection.
	apt.update()
	if b := apt.download("pr-app"); sha(b) != sha(debs["1.0-1"]) {
		t.Errorf("after gc 5.8 serves %d bytes", len(b))
	}
	// The audit log has the pin and the promotion (API, token "admin") and
	// the collection (CLI).
	for _, action := range []string{"pin", "promote", "gc"} {
		code, body := s.do("GET", "/api/v1/audit?action="+action, nil)
		var evs []struct{ Actor, Action, Target string }
		if err := json.Unmarshal(body, &evs); code != 200 || err != nil || len(evs) != 1 {
			t.Errorf("audit %s: %d %s", action, code, body)
			continue
		}
		if (action == "gc") != strings.HasPrefix(evs[0].Actor, "cli:") || (action == "promote" && evs[0].Target != "5.8/debian/bookworm") {
			t.Errorf("audit %s: %+v", action, evs[0])
		}
	}
}
