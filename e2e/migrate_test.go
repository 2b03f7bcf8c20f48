package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/pgtest"
)

// TestMigrateCatalog: a single node on SQLite is moved to PostgreSQL with
// pier migrate-catalog: after the move the node serves every published
// file (roots, signatures, indexes, packages of deb, rpm and apk targets)
// byte for byte as before, with the same key; ids continue (the next
// publish makes the next generation number) and the audit log came
// along.
func TestMigrateCatalog(t *testing.T) {
	pg := pgtest.Start(t)
	dsn := pg.NewDatabase(t)
	s := startServer(t, "")
	up := func(s *server, target string, body []byte) {
		t.Helper()
		if code, r := s.upload(target, body, "?publish=false"); code != 201 {
			t.Fatalf("upload to %s: %d %v", target, code, r)
		}
	}
	up(s, "5.8/debian/bookworm", mkdeb(t, "mig-a", "1.0", "amd64", "a"))
	up(s, "5.8/debian/bookworm", mkdeb(t, "mig-gone", "1.0", "amd64", "gone"))
	up(s, "5.8/el/9", mkrpm(t, "mig-r", "", "1.0", "amd64", "r"))
	up(s, "5.8/alpine/v3.20", apkBuild(t, "mig-k", "x86_64", "k", nil))
	for _, tg := range []string{"5.8/debian/bookworm", "5.8/el/9", "5.8/alpine/v3.20"} {
		s.publish(tg)
	}
	if code, body := s.do("DELETE", "/api/v1/targets/5.8/debian/bookworm/packages/mig-gone/1.0/amd64?publish=false", nil); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	s.publish("5.8/debian/bookworm")
	// What clients read: the roots and what they name, and the keys.
	paths := []string{"/keys/pier.asc", "/keys/pier.gpg",
		"/deb/5.8/debian/dists/bookworm/InRelease", "/deb/5.8/debian/dists/bookworm/Release",
		"/deb/5.8/debian/dists/bookworm/Release.gpg", "/deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages",
		"/rpm/5.8/el/9/repodata/repomd.xml", "/rpm/5.8/el/9/repodata/repomd.xml.asc",
		"/apk/5.8/alpine/v3.20/main/x86_64/APKINDEX.tar.gz"}
	packages := string(getOK(t, s, "/deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages"))
	for _, m := range regexp.MustCompile(`(?m)^Filename: (\S+)$`).FindAllStringSubmatch(packages, -1) {
		paths = append(paths, "/deb/5.8/debian/"+m[1])
	}
	repomd := getOK(t, s, "/rpm/5.8/el/9/repodata/repomd.xml")
	for _, m := range regexp.MustCompile(`href="([^"]+)"`).FindAllSubmatch(repomd, -1) {
		paths = append(paths, "/rpm/5.8/el/9/"+string(m[1]))
	}
	primary := clusterPrimary(t, s, "/rpm/5.8/el/9")
	for _, m := range regexp.MustCompile(`<location href="([^"]+\.rpm)"`).FindAllStringSubmatch(primary, -1) {
		paths = append(paths, "/rpm/5.8/el/9/"+m[1])
	}
	paths = append(paths, "/apk/5.8/alpine/v3.20/main/x86_64/mig-k-"+apkVersion+".apk")
	if len(paths) < 14 {
		t.Fatalf("only %d files to compare: %v", len(paths), paths)
	}
	before := map[string][]byte{}
	for _, p := range paths {
		before[p] = getOK(t, s, p)
	}
	s.stop()

	out, err := exec.Command(pierBin, "migrate-catalog", "--data", s.data, "--config", "", "--to", dsn).CombinedOutput()
	if err != nil {
		t.Fatalf("pier migrate-catalog: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "3 targets") || !strings.Contains(string(out), "4 packages") {
		t.Errorf("pier migrate-catalog said:\n%s", out)
	}
	// A second run refuses: the destination is not empty.
	if out, err := exec.Command(pierBin, "migrate-catalog", "--data", s.data, "--config", "", "--to", dsn).CombinedOutput(); err == nil {
		t.Errorf("a second migration into the same catalog succeeded:\n%s", out)
	}

	p := startServer(t, s.data, "PIER_DATABASE_URL="+dsn)
	for _, path := range paths {
		code, got, _ := p.get(path)
		if code != 200 || !bytes.Equal(got, before[path]) {
			t.Errorf("%s after the migration: %d, %d bytes (before: %d bytes)", path, code, len(got), len(before[path]))
		}
	}
	// Numbers continue: the next publish of the target makes the
	// generation after the last one migrated.
	up(p, "5.8/debian/bookworm", mkdeb(t, "mig-b", "1.0", "amd64", "b"))
	code, body := p.do("POST", "/api/v1/targets/5.8/debian/bookworm/publish", nil)
	var gen struct {
		ID       int `json:"id"`
		Packages int `json:"packages"`
	}
	if code != 200 || json.Unmarshal(body, &gen) != nil || gen.Packages != 2 {
		t.Fatalf("publish after the migration: %d %s", code, body)
	}
	code, body = p.do("GET", "/api/v1/targets/5.8/debian/bookworm/generations", nil)
	var gens []struct {
		ID int `json:"id"`
	}
	json.Unmarshal(body, &gens)
	if code != 200 || len(gens) < 2 || gens[0].ID != gen.ID || gens[1].ID != gen.ID-1 {
		t.Errorf("generations after the migration: %d %s", code, body)
	}
	code, body = p.do("GET", "/api/v1/audit?action=delete", nil)
	if code != 200 || !bytes.Contains(body, []byte("mig-gone")) {
		t.Errorf("the audit log did not come along: %d %s", code, body)
	}
}
