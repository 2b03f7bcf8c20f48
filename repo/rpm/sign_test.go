package rpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/signing"
)

// TestRewriteSigns signs fixture rpms at "ingest" and has the real rpm
// check the signatures against a keyring holding only Pier's key: rpmkeys
// -K exits 0 for unsigned rpms too, so the test requires the "Header V4
// RSA/SHA256 Signature, key ID …: OK" line.
func TestRewriteSigns(t *testing.T) {
	e, err := signing.GenerateRSA("Pier Test", "", 2048, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signing.New([]*openpgp.Entity{e}, signing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := New(Config{SignPackages: true, SignTargets: []string{"5.8/el/*"}}).WithSigningKey(signer.PrivateKey())
	el9 := repo.Target{Stream: "5.8", Distro: "el", Release: "9"}
	other := repo.Target{Stream: "nightly", Distro: "el", Release: "9"}
	if !f.signs(el9) || f.signs(other) || New(Config{}).WithSigningKey(signer.PrivateKey()).signs(el9) {
		t.Fatalf("sign_targets matching is wrong")
	}

	dir := t.TempDir()
	keyPath := filepath.Join(dir, "pier.asc")
	os.WriteFile(keyPath, signer.PublicKey(), 0o644)
	rpmkeys, haveRpm := exec.LookPath("rpmkeys")
	root := filepath.Join(dir, "root")
	if haveRpm == nil {
		os.MkdirAll(root, 0o755)
		if out, err := exec.Command(rpmkeys, "--root", root, "--import", keyPath).CombinedOutput(); err != nil {
			t.Fatalf("rpmkeys --import: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatal("rpmkeys is required in CI")
	}

	for _, name := range []string{"hello-1.2.3-1.x86_64.rpm", "greet-1.0-1.src.rpm", "greet-1.0-1.noarch.rpm"} {
		orig := readFixture(t, name)
		var out bytes.Buffer
		changed, err := f.Rewrite(context.Background(), el9, bytes.NewReader(orig), int64(len(orig)), &out)
		if err != nil || !changed {
			t.Fatalf("%s: Rewrite = %v, %v", name, changed, err)
		}
		// The signed package still reads, with the same identity.
		h := sha256.Sum256(out.Bytes())
		p1, err := f.Read(context.Background(), bytes.NewReader(orig), int64(len(orig)), repo.Sums{repo.SHA256: "x"})
		if err != nil {
			t.Fatal(err)
		}
		p2, err := f.Read(context.Background(), bytes.NewReader(out.Bytes()), int64(out.Len()), repo.Sums{repo.SHA256: hex.EncodeToString(h[:])})
		if err != nil {
			t.Fatalf("%s: signed package does not read: %v", name, err)
		}
		if p1.Name != p2.Name || p1.Version != p2.Version || p1.Arch != p2.Arch {
			t.Errorf("%s: identity changed: %+v vs %+v", name, p1, p2)
		}
		if changed, err := f.Rewrite(context.Background(), other, bytes.NewReader(orig), int64(len(orig)), &out); changed || err != nil {
			t.Errorf("%s: target without signing rewrote: %v %v", name, changed, err)
		}
		if haveRpm != nil {
			continue
		}
		pkg := filepath.Join(dir, name)
		os.WriteFile(pkg, out.Bytes(), 0o644)
		res, err := exec.Command(rpmkeys, "--root", root, "-Kv", pkg).CombinedOutput()
		if err != nil || !strings.Contains(string(res), "Signature, key ID") || strings.Contains(string(res), "NOKEY") ||
			strings.Contains(string(res), "BAD") {
			t.Errorf("%s: rpmkeys -Kv: %v\n%s", name, err, res)
		}
		// The unsigned original has no signature line: the check can fail.
		os.WriteFile(pkg, orig, 0o644)
		res, _ = exec.Command(rpmkeys, "--root", root, "-Kv", pkg).CombinedOutput()
		if strings.Contains(string(res), "Signature, key ID") {
			t.Errorf("%s: unsigned original shows a signature:\n%s", name, res)
		}
	}
}
