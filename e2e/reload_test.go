package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// TestSIGHUPKeys: SIGHUP reloads the signing keys without a restart: a
// key made with pier keys generate signs every target at once (every
// target is re-signed), /keys/ and the setup snippets carry it; a key file
// that does not load is refused with the reason logged and the running
// keys kept; a retired key stops signing at the next reload.
func TestSIGHUPKeys(t *testing.T) {
	need(t, "apt-get")
	s := startServer(t, "")
	deb := mkdeb(t, "hup-key", "1.0", "amd64", "k")
	if code, r := s.upload("5.8/debian/bookworm", deb, "?publish=false"); code != 201 {
		t.Fatalf("upload: %d %v", code, r)
	}
	s.publish("5.8/debian/bookworm")
	waitSignatures(t, s, "/deb/5.8/dists/bookworm/InRelease", 1)
	oldFpr := strings.TrimSpace(strings.Split(strings.Split(pierKeys(t, s.data, "list"), "\n")[1], " ")[0])
	newFpr := strings.TrimSpace(pierKeys(t, s.data, "generate", "--bits", "2048"))
	hups := strings.Count(s.logs(), "reloaded")

	s.cmd.Process.Signal(syscall.SIGHUP)
	waitSignatures(t, s, "/deb/5.8/debian/dists/bookworm/InRelease", 2)
	if !logsContain(s, `"keys_changed":true`, "re-signed every target with the current keys") {
		t.Errorf("the reload does not say the keys changed:\n%s", s.logs())
	}
	_, bin, _ := s.get("/keys/pier.gpg")
	if el, err := openpgp.ReadKeyRing(bytes.NewReader(bin)); err != nil || len(el) != 2 {
		t.Errorf("/keys/pier.gpg after the reload: %v, %d keys", err, len(el))
	}
	_, setup, _ := s.get("/setup/5.8/debian/bookworm")
	if !strings.Contains(string(setup), "signing keys "+oldFpr+", "+newFpr) {
		t.Errorf("setup after the reload:\n%s", setup)
	}
	// apt-get trusting only the new key installs.
	dir := t.TempDir()
	newKey := filepath.Join(dir, "new.asc")
	os.WriteFile(newKey, []byte(pierKeys(t, s.data, "export", newFpr)), 0o644)
	aptOnlyKey(t, s, newKey, deb)

	// A key that does not load: refused, the two keys stay.
	bad := filepath.Join(s.data, "keys", "broken.asc")
	os.WriteFile(bad, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nnot a key\n-----END PGP PRIVATE KEY BLOCK-----\n"), 0o600)
	refusals := strings.Count(s.logs(), "reload refused")
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the reload to be refused", func() bool { return strings.Count(s.logs(), "reload refused") > refusals })
	if !strings.Contains(s.logs(), "broken.asc") {
		t.Errorf("the refusal does not name the key file:\n%s", s.logs())
	}
	if _, b, _ := s.get("/keys/pier.gpg"); !bytes.Equal(b, bin) {
		t.Error("a refused reload changed /keys/pier.gpg")
	}
	os.Remove(bad)

	// Retire the old key: after the next reload only the new one signs.
	pierKeys(t, s.data, "retire", oldFpr)
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitSignatures(t, s, "/deb/5.8/debian/dists/bookworm/InRelease", 1)
	if n := strings.Count(s.logs(), "reloaded"); n < hups+2 {
		t.Errorf("%d reloads logged, want %d", n-hups, 2)
	}
	aptOnlyKey(t, s, newKey, deb)
}

// aptOnlyKey has apt-get trusting only key update from the target's
// canonical root and download hup-key, which must be want.
func aptOnlyKey(t *testing.T, s *server, key string, want []byte) {
	t.Helper()
	apt := newApt(t, sourceLine(key, s.url, "5.8", "bookworm"))
	apt.update()
	if got := apt.download("hup-key"); !bytes.Equal(got, want) {
		t.Errorf("apt-get with only %s: the package differs", filepath.Base(key))
	}
}
