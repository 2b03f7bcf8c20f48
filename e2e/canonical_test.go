package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCanonicalAndAliasPaths: two distros that share a release name in one
// stream (5.8/debian/bookworm and 5.8/ubuntu/bookworm; 5.8/alpine/v3.20 and
// a custom apk distro 5.8/wolfi/v3.20) each serve their own packages at
// their canonical paths, with the real apt-get and an apk client, and the
// distro-less paths of Pier's first releases (deb/5.8 bookworm,
// apk/5.8/v3.20) keep serving the target that claimed them first, however
// often the other target publishes (the bug: one upload to ubuntu/bookworm
// made deb/5.8/dists/bookworm serve Ubuntu's index to Debian users).
func TestCanonicalAndAliasPaths(t *testing.T) {
	need(t, "apt-get")
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	if err := os.WriteFile(cfg, []byte("distros: {wolfi: apk}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "PIER_CONFIG="+cfg)
	debian := mkdeb(t, "from-debian", "1.0", "amd64", "debian bytes")
	ubuntu := mkdeb(t, "from-ubuntu", "1.0", "amd64", "ubuntu bytes")
	alpine := apkBuild(t, "from-alpine", "x86_64", "alpine bytes", nil)
	wolfi := apkBuild(t, "from-wolfi", "x86_64", "wolfi bytes", nil)
	for _, u := range []struct {
		target string
		pkg    []byte
	}{{"5.8/debian/bookworm", debian}, {"5.8/alpine/v3.20", alpine}, {"5.8/ubuntu/bookworm", ubuntu}, {"5.8/wolfi/v3.20", wolfi}} {
		if code, r := s.upload(u.target, u.pkg, "?publish=false"); code != 201 {
			t.Fatalf("upload to %s: %d %v", u.target, code, r)
		}
		s.publish(u.target)
	}
	// The late targets publish again: the aliases must not move.
	s.publish("5.8/ubuntu/bookworm")
	s.publish("5.8/wolfi/v3.20")

	// The setup snippets name the canonical paths.
	for target, want := range map[string]string{
		"5.8/debian/bookworm": "URIs: " + s.url + "/deb/5.8/debian\n",
		"5.8/ubuntu/bookworm": "URIs: " + s.url + "/deb/5.8/ubuntu\n",
		"5.8/alpine/v3.20":    "echo " + s.url + "/apk/5.8/alpine/v3.20/main >> /etc/apk/repositories\n",
		"5.8/wolfi/v3.20":     "echo " + s.url + "/apk/5.8/wolfi/v3.20/main >> /etc/apk/repositories\n",
	} {
		if _, setup, _ := s.get("/setup/" + target); !strings.Contains(string(setup), want) {
			t.Errorf("setup of %s lacks %q:\n%s", target, want, setup)
		}
	}

	key := writeKey(t, s, t.TempDir())
	for _, c := range []struct {
		what, base  string
		has, hasNot string
		want        []byte
	}{
		{"debian canonical", "/deb/5.8/debian", "from-debian", "from-ubuntu", debian},
		{"ubuntu canonical", "/deb/5.8/ubuntu", "from-ubuntu", "from-debian", ubuntu},
		{"distro-less alias", "/deb/5.8", "from-debian", "from-ubuntu", debian},
	} {
		line := fmt.Sprintf("deb [arch=amd64 signed-by=%s] %s%s bookworm main\n", key, s.url, c.base)
		apt := newApt(t, line)
		apt.update()
		if got := apt.download(c.has + ":amd64"); !bytes.Equal(got, c.want) {
			t.Errorf("%s: apt-get downloaded other bytes for %s", c.what, c.has)
		}
		if out, err := apt.run("download", c.hasNot+":amd64"); err == nil {
			t.Errorf("%s: apt-get found %s, which another target holds:\n%s", c.what, c.hasNot, out)
		}
	}

	keyName, pub := apkServerKey(t, s, "5.8/alpine/v3.20")
	apkInstallOne(t, s.url+"/apk/5.8/alpine/v3.20/main", keyName, pub, alpine)
	apkInstallOne(t, s.url+"/apk/5.8/wolfi/v3.20/main", keyName, pub, wolfi)
	apkInstallOne(t, s.url+"/apk/5.8/v3.20/main", keyName, pub, alpine) // the alias: alpine claimed it first
}
