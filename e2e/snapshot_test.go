package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSnapshotRelease is Kamailio's per-release flow: 5.8/el/9 and
// 5.8/debian/bookworm carry 5.8.1; at the release, `pier snapshot` (the CLI
// on the data dir, beside the running server) freezes 5.8/el/9 as
// 5.8.1/el/9, and the API freezes 5.8/debian/bookworm as
// 5.8.1/debian/bookworm. The real dnf and apt-get install 5.8.1 from the
// snapshots; uploads into a snapshot are 409 naming it; 5.8.2 uploaded to
// the sources reaches the rolling repositories and not the snapshots, whose
// pool files are the sources' own blobs.
func TestSnapshotRelease(t *testing.T) {
	need(t, "dnf")
	need(t, "apt-get")
	s := startServer(t, "")
	rpm581 := mkrpm(t, "kamailio", "", "5.8.1", "amd64", "kamailio 5.8.1")
	deb581 := mkdeb(t, "kamailio", "5.8.1", "amd64", "kamailio 5.8.1")
	for target, pkg := range map[string][]byte{"5.8/el/9": rpm581, "5.8/debian/bookworm": deb581} {
		if code, r := s.upload(target, pkg, "?publish=false"); code != http.StatusCreated {
			t.Fatalf("upload to %s: %d %v", target, code, r)
		}
		s.publish(target)
	}

	// The CLI on the data dir, while pier serve runs.
	out, err := exec.Command(pierBin, "snapshot", "--data", s.data, "5.8/el/9", "5.8.1/el/9").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "5.8.1/el/9: frozen snapshot of 5.8/el/9 generation 1 (1 packages)") ||
		!strings.Contains(string(out), "published 5.8.1/el/9 generation 1") {
		t.Fatalf("pier snapshot 5.8/el/9 5.8.1/el/9: %v\n%s", err, out)
	}
	// The API.
	code, body := s.do("POST", "/api/v1/targets/5.8/debian/bookworm/snapshot", strings.NewReader(`{"target":"5.8.1/debian/bookworm"}`))
	if code != http.StatusCreated || !strings.Contains(string(body), `"frozen":{"source":{"stream":"5.8","distro":"debian","release":"bookworm"}`) {
		t.Fatalf("POST snapshot of 5.8/debian/bookworm: %d %s", code, body)
	}

	// Both are listed as frozen, by the API and by pier targets.
	waitFor(t, 10*time.Second, "the server to see 5.8.1/el/9's generation", func() bool {
		c, _, _ := s.get("/rpm/5.8.1/el/9/repodata/repomd.xml")
		return c == 200
	})
	code, body = s.do("GET", "/api/v1/targets", nil)
	var ts []struct {
		Stream, Distro, Release string
		Frozen                  *struct{ Source struct{ Stream string } }
	}
	if err := json.Unmarshal(body, &ts); code != 200 || err != nil {
		t.Fatalf("GET /api/v1/targets: %d %v %s", code, err, body)
	}
	frozen := 0
	for _, ti := range ts {
		if ti.Frozen != nil {
			frozen++
			if ti.Stream != "5.8.1" || ti.Frozen.Source.Stream != "5.8" {
				t.Errorf("frozen target %s/%s/%s from %s", ti.Stream, ti.Distro, ti.Release, ti.Frozen.Source.Stream)
			}
		}
	}
	if frozen != 2 {
		t.Errorf("GET /api/v1/targets lists %d frozen targets, want 2: %s", frozen, body)
	}
	out, err = exec.Command(pierBin, "targets", "--data", s.data).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "(frozen: snapshot of 5.8/el/9)") ||
		!strings.Contains(string(out), "(frozen: snapshot of 5.8/debian/bookworm)") {
		t.Errorf("pier targets: %v\n%s", err, out)
	}

	// Uploads into a snapshot are refused, naming it.
	for target, pkg := range map[string][]byte{
		"5.8.1/el/9":            mkrpm(t, "kamailio", "", "5.8.2", "amd64", "kamailio 5.8.2"),
		"5.8.1/debian/bookworm": mkdeb(t, "kamailio", "5.8.2", "amd64", "kamailio 5.8.2"),
	} {
		code, r := s.upload(target, pkg, "")
		if code != http.StatusConflict || !strings.Contains(r["error"].(string), target+" is frozen") {
			t.Errorf("upload into %s: %d %v, want 409 naming the frozen target", target, code, r)
		}
	}
	// 5.8.2 goes to the sources.
	rpm582 := mkrpm(t, "kamailio", "", "5.8.2", "amd64", "kamailio 5.8.2")
	deb582 := mkdeb(t, "kamailio", "5.8.2", "amd64", "kamailio 5.8.2")
	for target, pkg := range map[string][]byte{"5.8/el/9": rpm582, "5.8/debian/bookworm": deb582} {
		if code, r := s.upload(target, pkg, "?publish=false"); code != http.StatusCreated {
			t.Fatalf("upload to %s: %d %v", target, code, r)
		}
		s.publish(target)
	}

	// dnf: the snapshot installs 5.8.1, the rolling repository 5.8.2.
	key, _ := rpmKeyring(t, s)
	for _, c := range []struct {
		stream string
		want   []byte
		file   string
	}{{"5.8.1", rpm581, "kamailio-5.8.1-1.x86_64.rpm"}, {"5.8", rpm582, "kamailio-5.8.2-1.x86_64.rpm"}} {
		dnf := newDnf(t, "pier", dnfRepo("pier", s.url+"/rpm/"+c.stream+"/el/9/"), key)
		files, out, err := dnf.download("kamailio")
		if err != nil || !bytes.Equal(files[c.file], c.want) || len(files) != 1 {
			t.Errorf("dnf from rpm/%s/el/9: %v, got %d files, want %s\n%s", c.stream, err, len(files), c.file, out)
		}
	}
	// apt-get: the same for the deb targets.
	keyDir := t.TempDir()
	keyPath := writeKey(t, s, keyDir)
	for _, c := range []struct {
		stream string
		want   []byte
	}{{"5.8.1", deb581}, {"5.8", deb582}} {
		apt := newApt(t, sourceLine(keyPath, s.url, c.stream, "bookworm"))
		apt.update()
		if got := apt.download("kamailio"); !bytes.Equal(got, c.want) {
			t.Errorf("apt-get download kamailio from deb/%s/debian: not the uploaded %s", c.stream, c.stream)
		}
	}
	// The snapshot's pool file is the source's blob (no copy): same sha256
	// as the 5.8.1 package the source published.
	code, body = s.do("GET", "/api/v1/targets/5.8.1/debian/bookworm/packages", nil)
	if code != 200 || !strings.Contains(string(body), sha(deb581)) || strings.Contains(string(body), sha(deb582)) {
		t.Errorf("packages of 5.8.1/debian/bookworm: %d %s", code, body)
	}
}
