package e2e

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// pierKeys runs `pier keys ARGS --data DATA` and returns stdout; it fails
// the test on a non-zero exit.
func pierKeys(t *testing.T, data string, args ...string) string {
	t.Helper()
	out, errOut, err := pierKeysRun(data, args...)
	if err != nil {
		t.Fatalf("pier keys %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func pierKeysRun(data string, args ...string) (stdout, stderr string, err error) {
	full := append([]string{"keys", args[0], "--data", data}, args[1:]...)
	cmd := exec.Command(pierBin, full...)
	cmd.Env = append(os.Environ(), "PIER_CONFIG=")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// signatureCount returns how many signature packets an armored signature
// block holds.
func signatureCount(t *testing.T, armored []byte) int {
	t.Helper()
	blk, err := armor.Decode(bytes.NewReader(armored))
	if err != nil {
		t.Fatalf("decode signature: %v", err)
	}
	return countSigPackets(t, blk.Body)
}

func countSigPackets(t *testing.T, r interface{ Read([]byte) (int, error) }) int {
	t.Helper()
	n := 0
	pr := packet.NewReader(r)
	for {
		p, err := pr.Next()
		if err != nil {
			return n
		}
		if _, ok := p.(*packet.Signature); ok {
			n++
		}
	}
}

// inReleaseSignatures returns how many signatures InRelease carries.
func inReleaseSignatures(t *testing.T, inRelease []byte) int {
	t.Helper()
	b, _ := clearsign.Decode(inRelease)
	if b == nil {
		t.Fatal("InRelease is not clear-signed")
	}
	return countSigPackets(t, b.ArmoredSignature.Body)
}

// waitSignatures waits until the InRelease at path carries n signatures.
func waitSignatures(t *testing.T, s *server, path string, n int) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, _ := s.get(path)
		if code == 200 && inReleaseSignatures(t, body) == n {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never carried %d signatures\n%s", path, n, s.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitDetached waits until the detached signature at path carries n
// signatures: targets are re-signed one after the other.
func waitDetached(t *testing.T, s *server, path string, n int) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, _ := s.get(path)
		if code == 200 && signatureCount(t, body) == n {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never carried %d signatures\n%s", path, n, s.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// noInRelease serves Pier through a proxy that answers 404 for InRelease,
// so that apt must use Release + Release.gpg.
func noInRelease(t *testing.T, s *server) string {
	t.Helper()
	u, _ := url.Parse(s.url)
	proxy := httputil.NewSingleHostReverseProxy(u)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/InRelease") {
			http.NotFound(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// aptWithKey checks that apt-get, trusting only key, updates from url
// (both InRelease and, through a proxy hiding it, Release.gpg) and
// downloads want; with fail set it checks that the update fails instead.
func aptWithKey(t *testing.T, s *server, key string, want []byte, fail bool) {
	t.Helper()
	for _, base := range []string{s.url, noInRelease(t, s)} {
		apt := newApt(t, sourceLine(key, base, "5.8", "bookworm"))
		out, err := apt.run("update")
		if fail {
			if err == nil && len(problems(out)) == 0 {
				t.Errorf("apt-get update with %s succeeded, want a signature failure:\n%s", filepath.Base(key), out)
			} else if !strings.Contains(out, "NO_PUBKEY") && !strings.Contains(out, "not signed") && !strings.Contains(out, "signature") {
				t.Errorf("apt-get update with %s failed for another reason:\n%s", filepath.Base(key), out)
			}
			continue
		}
		if err != nil || len(problems(out)) > 0 {
			t.Fatalf("apt-get update via %s with only %s: %v\n%s", base, filepath.Base(key), err, out)
		}
		if base != s.url && !strings.Contains(out, "Release.gpg") {
			t.Errorf("apt did not use Release.gpg:\n%s", out)
		}
		if got := apt.download("rot:amd64"); !bytes.Equal(got, want) {
			t.Errorf("apt-get download with only %s: bytes differ", filepath.Base(key))
		}
	}
}

var fprRE = regexp.MustCompile(`^[0-9A-F]{40}$`)

// logsContain waits a little for each of subs to appear in the server's
// output (the lines after "serving … on" arrive after start returns).
func logsContain(s *server, subs ...string) bool {
	deadline := time.Now().Add(5 * time.Second)
	for {
		all := true
		for _, sub := range subs {
			all = all && strings.Contains(s.logs(), sub)
		}
		if all || time.Now().After(deadline) {
			return all
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKeyRotation rotates the signing key of a data dir that started with
// one generated key: `pier keys generate` adds a second key, and after a
// restart Pier re-signs every target with both, so apt-get trusting only
// the old key and apt-get trusting only the new key both verify InRelease
// and Release.gpg (each carries two signatures) and download; dnf verifies
// repomd.xml.asc with either key alone. `pier keys retire` then drops the
// old key: after a restart only the new key verifies.
func TestKeyRotation(t *testing.T) {
	need(t, "apt-get")
	data := t.TempDir()
	s := startServer(t, data)
	deb := mkdeb(t, "rot", "1.0-1", "amd64", "rotation")
	if code, reply := s.upload("5.8/debian/bookworm", deb, "?publish=false"); code != http.StatusCreated {
		t.Fatalf("upload: %d %v", code, reply)
	}
	s.publish("5.8/debian/bookworm")
	rpmPkg := mkrpm(t, "rot", "", "1.0", "amd64", "rotation")
	if code, reply := s.upload("5.8/el/9", rpmPkg, "?publish=false"); code != http.StatusCreated {
		t.Fatalf("upload rpm: %d %v", code, reply)
	}
	s.publish("5.8/el/9")
	_, oldPub, _ := s.get("/keys/pier.gpg")
	s.stop()

	// One key: the one generated on first start, under its old file name.
	list := pierKeys(t, data, "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "primary") || !strings.Contains(lines[1], "rsa4096") ||
		!strings.Contains(lines[1], filepath.Join(data, "keys", "pier-signing.asc")) {
		t.Fatalf("pier keys list:\n%s", list)
	}
	oldFpr := strings.Fields(lines[1])[0]

	newFpr := strings.TrimSpace(pierKeys(t, data, "generate", "--email", "repo@example.org"))
	if !fprRE.MatchString(newFpr) || newFpr == oldFpr {
		t.Fatalf("pier keys generate printed %q", newFpr)
	}
	list = pierKeys(t, data, "list")
	if !regexp.MustCompile(oldFpr+`.*primary`).MatchString(list) || !regexp.MustCompile(newFpr+`.*active.*data dir: .*pier-signing-`+newFpr[24:]+`\.asc`).MatchString(list) {
		t.Fatalf("pier keys list after generate:\n%s", list)
	}

	// Exports: one key each, and all keys by default.
	dir := t.TempDir()
	oldKey := filepath.Join(dir, "old.gpg")
	newKey := filepath.Join(dir, "new.asc")
	oldBin := pierKeys(t, data, "export", "--binary", oldFpr)
	if oldBin != string(oldPub) {
		t.Error("pier keys export --binary OLD differs from the /keys/pier.gpg served before the rotation")
	}
	os.WriteFile(oldKey, []byte(oldBin), 0o644)
	newArm := pierKeys(t, data, "export", strings.ToLower(newFpr[24:]))
	if el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(newArm)); err != nil || len(el) != 1 || el[0].PrivateKey != nil {
		t.Fatalf("pier keys export NEW: %v\n%s", err, newArm)
	}
	os.WriteFile(newKey, []byte(newArm), 0o644)
	all := pierKeys(t, data, "export")

	// Restart: both keys sign, every target is re-signed without an upload.
	s.start()
	if !logsContain(s, "signing key (using): "+oldFpr, "signing key (also signs): "+newFpr) {
		t.Errorf("startup lines do not name both keys:\n%s", s.logs())
	}
	waitSignatures(t, s, "/deb/5.8/dists/bookworm/InRelease", 2)
	_, releaseGPG, _ := s.get("/deb/5.8/dists/bookworm/Release.gpg")
	if n := signatureCount(t, releaseGPG); n != 2 {
		t.Errorf("Release.gpg carries %d signatures, want 2", n)
	}
	waitDetached(t, s, "/rpm/5.8/el/9/repodata/repomd.xml.asc", 2)
	code, served, _ := s.get("/keys/pier.asc")
	if code != 200 || string(served) != all {
		t.Errorf("/keys/pier.asc is not every active key (pier keys export)")
	}
	_, servedBin, _ := s.get("/keys/pier.gpg")
	if el, err := openpgp.ReadKeyRing(bytes.NewReader(servedBin)); err != nil || len(el) != 2 {
		t.Errorf("/keys/pier.gpg: %v, want 2 keys", err)
	}

	// Real apt-get with only the old key, then with only the new key.
	aptWithKey(t, s, oldKey, deb, false)
	aptWithKey(t, s, newKey, deb, false)

	// dnf (repo_gpgcheck=1) with either key alone.
	if _, err := exec.LookPath("dnf"); err == nil || os.Getenv("CI") == "true" {
		for _, k := range []string{oldKey, newKey} {
			var keyArm []byte
			if k == newKey {
				keyArm = []byte(newArm)
			} else {
				keyArm = []byte(pierKeys(t, data, "export", oldFpr))
			}
			dnf := newDnf(t, "pier", dnfRepo("pier", s.url+"/rpm/5.8/el/9/"), keyArm)
			dnf.must("makecache")
			got, out, err := dnf.download("rot")
			if err != nil || !bytes.Equal(got["rot-1.0-1.x86_64.rpm"], rpmPkg) {
				t.Errorf("dnf with only %s: %v (%d files)\n%s", filepath.Base(k), err, len(got), out)
			}
		}
	}

	// Finish the rotation: retire the old key.
	if _, errOut, err := pierKeysRun(data, "retire", newFpr[:10]); err == nil || !strings.Contains(errOut, "16") {
		t.Errorf("retire with a short fingerprint: %v %s", err, errOut)
	}
	out := pierKeys(t, data, "retire", oldFpr)
	if !strings.Contains(out, "retired "+oldFpr) {
		t.Errorf("pier keys retire: %s", out)
	}
	list = pierKeys(t, data, "list")
	if !regexp.MustCompile(newFpr+`.*primary`).MatchString(list) || !regexp.MustCompile(oldFpr+`.*retired.*keys/retired/pier-signing\.asc`).MatchString(list) {
		t.Errorf("pier keys list after retire:\n%s", list)
	}
	if _, errOut, err := pierKeysRun(data, "retire", newFpr); err == nil || !strings.Contains(errOut, "only signing key") {
		t.Errorf("retiring the last key: %v %s", err, errOut)
	}
	// A retired key can still be exported.
	if got := pierKeys(t, data, "export", "--binary", oldFpr); got != oldBin {
		t.Error("export of the retired key differs")
	}
	s.stop()
	s.start()
	waitSignatures(t, s, "/deb/5.8/dists/bookworm/InRelease", 1)
	aptWithKey(t, s, newKey, deb, false)
	aptWithKey(t, s, oldKey, deb, true)
}

// TestKeysConfigured: keys named in the config (signing.key_file and
// signing.key_files) join the ring before the data dir's keys, and no key
// is generated when one is configured.
func TestKeysConfigured(t *testing.T) {
	other := t.TempDir()
	pier(t, []string{"PIER_CONFIG="}, "init", "--data", other) // keys generate works on a data dir only
	first := strings.TrimSpace(pierKeys(t, other, "generate", "--bits", "2048"))
	second := strings.TrimSpace(pierKeys(t, other, "generate", "--bits", "2048"))
	files, _ := filepath.Glob(filepath.Join(other, "keys", "pier-signing-*.asc"))
	if len(files) != 2 {
		t.Fatalf("generated files: %v", files)
	}
	pathOf := func(fpr string) string { return filepath.Join(other, "keys", "pier-signing-"+fpr[24:]+".asc") }
	data := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	os.WriteFile(cfg, []byte("signing:\n  key_file: "+pathOf(second)+"\n  key_files: ["+pathOf(first)+"]\n"), 0o644)
	// pier init makes the data dir without an OpenPGP key of its own: the
	// configured ones are the ring.
	if out := pier(t, nil, "init", "--data", data, "--config", cfg); !strings.Contains(out, "signing key (using): "+second) {
		t.Errorf("pier init with configured keys:\n%s", out)
	}
	cmd := exec.Command(pierBin, "keys", "list", "--data", data, "--config", cfg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pier keys list: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?s)` + second + `.*primary.*config: .*` + first + `.*active.*config: `).Match(out) {
		t.Errorf("pier keys list with configured keys:\n%s", out)
	}
	s := startServer(t, data, "PIER_CONFIG="+cfg)
	if !logsContain(s, "signing key (using): "+second, "signing key (also signs): "+first) {
		t.Errorf("startup:\n%s", s.logs())
	}
	if ents, _ := filepath.Glob(filepath.Join(data, "keys", "*.asc")); len(ents) != 0 {
		t.Errorf("a key was generated although keys are configured: %v", ents)
	}
	s.publish("5.8/debian/bookworm")
	waitSignatures(t, s, "/deb/5.8/dists/bookworm/InRelease", 2)
	// A configured key cannot be retired from the command line.
	cmd = exec.Command(pierBin, "keys", "retire", "--data", data, "--config", cfg, first)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "from the config") {
		t.Errorf("retire of a configured key: %v %s", err, out)
	}
}
