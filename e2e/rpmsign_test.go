package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRpmSignedPackages runs pier serve with rpm.sign_packages for 5.8/el/*:
// uploads there are signed at ingest (the reply carries both checksums, a
// re-upload of the original bytes is recognised), the real dnf installs
// them with gpgcheck=1, and rpmkeys checks the signature against Pier's key
// alone. Packages of a target outside sign_targets stay unsigned, and dnf
// with gpgcheck=1 refuses them.
func TestRpmSignedPackages(t *testing.T) {
	need(t, "dnf")
	rpmkeys := need(t, "rpmkeys")
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	os.WriteFile(cfg, []byte("rpm:\n  sign_packages: true\n  sign_targets: [\"5.8/el/*\"]\n"), 0o644)
	s := startServer(t, "", "PIER_CONFIG="+cfg)

	orig := mkrpm(t, "signed-hello", "", "2.0", "x86_64", "signed payload")
	code, reply := s.upload("5.8/el/9", orig, "?publish=false")
	if code != http.StatusCreated || reply["original_sha256"] != sha(orig) || reply["sha256"] == sha(orig) {
		t.Fatalf("signed upload: %d %v", code, reply)
	}
	published := reply["sha256"].(string)
	if code, reply := s.upload("5.8/el/9", orig, "?publish=false"); code != http.StatusOK || reply["sha256"] != published {
		t.Errorf("re-upload of the original bytes: %d %v", code, reply)
	}
	if code, reply := s.upload("nightly/el/9", orig, "?publish=false"); code != http.StatusCreated || reply["sha256"] != sha(orig) {
		t.Errorf("upload to a target without signing: %d %v", code, reply)
	}
	s.publish("5.8/el/9")
	s.publish("nightly/el/9")
	key, _ := rpmKeyring(t, s)

	for _, c := range []struct {
		target   string
		gpgcheck string
	}{{"5.8/el/9", "1"}, {"nightly/el/9", "0"}} {
		repoText, _ := rpmSetupRepo(t, s, c.target)
		if rpmRepoOption(repoText, "gpgcheck") != c.gpgcheck {
			t.Errorf("setup for %s: want gpgcheck=%s:\n%s", c.target, c.gpgcheck, repoText)
		}
	}

	repo := func(target string) string {
		return strings.Replace(dnfRepo("pier", s.url+"/rpm/"+target+"/"), "gpgcheck=0", "gpgcheck=1", 1)
	}
	dnf := newDnf(t, "pier", repo("5.8/el/9"), key)
	dnf.must("makecache")
	files, out, err := dnf.download("signed-hello")
	got := files["signed-hello-2.0-1.x86_64.rpm"]
	if err != nil || got == nil || sha(got) != published {
		t.Fatalf("dnf gpgcheck=1 download of the signed package: %v (%d files)\n%s", err, len(files), out)
	}

	// rpmkeys with a keyring holding only Pier's key.
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "pier.asc")
	os.WriteFile(keyFile, key, 0o644)
	root := filepath.Join(dir, "root")
	os.MkdirAll(root, 0o755)
	if out, err := exec.Command(rpmkeys, "--root", root, "--import", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("rpmkeys --import: %v\n%s", err, out)
	}
	pkg := filepath.Join(dir, "signed.rpm")
	os.WriteFile(pkg, got, 0o644)
	res, err := exec.Command(rpmkeys, "--root", root, "-Kv", pkg).CombinedOutput()
	if err != nil || !bytes.Contains(res, []byte("Signature, key ID")) || !bytes.Contains(res, []byte("OK")) ||
		bytes.Contains(res, []byte("NOKEY")) || bytes.Contains(res, []byte("BAD")) {
		t.Errorf("rpmkeys -Kv on the published package: %v\n%s", err, res)
	}

	// The unsigned package of the other target fails dnf's gpgcheck=1.
	unsigned := newDnf(t, "pier", repo("nightly/el/9"), key)
	unsigned.must("makecache")
	if files, out, err := unsigned.download("signed-hello"); err == nil {
		t.Errorf("dnf gpgcheck=1 accepted an unsigned package (%d files):\n%s", len(files), out)
	} else if !strings.Contains(out, "not signed") && !strings.Contains(strings.ToLower(out), "gpg") {
		t.Errorf("dnf refused the unsigned package for another reason:\n%s", out)
	} else {
		t.Logf("unsigned refused: %s", lastLine(out))
	}
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}

// TestRpmSignLegacyPackage is issue #13 item 6: with rpm.sign_packages,
// an old-style signed package whose header carries a payload digest but
// no PAYLOADDIGESTALGO (rpm's hlinktest has this shape) is signed by Pier
// the way rpmsign signs it, and the real dnf installs it with gpgcheck=1
// and repo_gpgcheck=1; rpmkeys with a keyring holding only Pier's key
// reports the signature and every digest OK, and nothing else.
func TestRpmSignLegacyPackage(t *testing.T) {
	need(t, "dnf")
	rpmkeys := need(t, "rpmkeys")
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	os.WriteFile(cfg, []byte("rpm:\n  sign_packages: true\n"), 0o644)
	s := startServer(t, "", "PIER_CONFIG="+cfg)

	orig := rpmFixture(t, "legacy-1.0-1.noarch.rpm")
	code, reply := s.upload("5.8/el/9", orig, "?publish=false")
	if code != http.StatusCreated || reply["original_sha256"] != sha(orig) || reply["sha256"] == sha(orig) {
		t.Fatalf("upload of the legacy package: %d %v", code, reply)
	}
	s.publish("5.8/el/9")
	key, kr := rpmKeyring(t, s)

	repo := strings.Replace(dnfRepo("pier", s.url+"/rpm/5.8/el/9/"), "gpgcheck=0", "gpgcheck=1", 1)
	dnf := newDnf(t, "pier", repo, key)
	dnf.must("makecache")
	out := dnf.must("install", "legacy")
	installed, err := os.ReadFile(dnf.sb.path("root/usr/share/legacy/hello.txt"))
	if err != nil || string(installed) != "hello\n" || !strings.Contains(out, "legacy-1.0-1.noarch") {
		t.Fatalf("dnf install legacy with gpgcheck=1: %v (%q)\n%s", err, installed, out)
	}

	code, published, _ := s.get("/" + reply["path"].(string))
	if code != 200 || sha(published) != reply["sha256"] {
		t.Fatalf("published package: %d", code)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "pier.asc")
	os.WriteFile(keyFile, key, 0o644)
	root := filepath.Join(dir, "root")
	os.MkdirAll(root, 0o755)
	if out, err := exec.Command(rpmkeys, "--root", root, "--import", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("rpmkeys --import: %v\n%s", err, out)
	}
	pkg := filepath.Join(dir, "legacy.rpm")
	os.WriteFile(pkg, published, 0o644)
	res, err := exec.Command(rpmkeys, "--root", root, "-Kv", pkg).CombinedOutput()
	keyID := fmt.Sprintf("%08x", uint32(kr[0].PrimaryKey.KeyId))
	want := pkg + ":\n    Header V4 RSA/SHA256 Signature, key ID " + keyID + ": OK\n    Header SHA256 digest: OK\n    Payload SHA256 digest: OK\n"
	if err != nil || string(res) != want {
		t.Errorf("rpmkeys -Kv on the published package: %v\n%s\nwant\n%s", err, res, want)
	}
}
