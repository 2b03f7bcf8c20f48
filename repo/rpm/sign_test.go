package rpm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/signing"
)

var el9 = repo.Target{Stream: "5.8", Distro: "el", Release: "9"}

// signer returns a format that signs every el target with a new RSA key,
// and that key's entity.
func signer(t testing.TB) (*Format, *openpgp.Entity) {
	t.Helper()
	e, err := signing.GenerateRSA("Pier Test", "", 2048, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{SignPackages: true, SignTargets: []string{"5.8/el/*"}}).WithSigningKey(e.PrivateKey), e
}

// rewrite signs b with f for el9.
func rewrite(t testing.TB, f *Format, b []byte) ([]byte, bool, error) {
	t.Helper()
	var out bytes.Buffer
	changed, err := f.Rewrite(context.Background(), el9, bytes.NewReader(b), int64(len(b)), &out)
	return out.Bytes(), changed, err
}

// armored returns e's public key, ASCII-armored.
func armored(t testing.TB, e *openpgp.Entity) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return b.Bytes()
}

// rpmKeyring returns an rpm root whose keyring holds exactly keys.
func rpmKeyring(t testing.TB, keys ...*openpgp.Entity) (rpmkeys, root string) {
	t.Helper()
	rpmkeys = realTool(t, "rpmkeys")
	root = t.TempDir()
	for i, e := range keys {
		f := filepath.Join(t.TempDir(), fmt.Sprintf("key%d.asc", i))
		os.WriteFile(f, armored(t, e), 0o644)
		if out, err := exec.Command(rpmkeys, "--root", root, "--import", f).CombinedOutput(); err != nil {
			t.Fatalf("rpmkeys --import: %v\n%s", err, out)
		}
	}
	return rpmkeys, root
}

// checkSig runs rpmkeys -Kv on b and returns what it says about each digest
// and signature, one line each, with key IDs left in.
func checkSig(t testing.TB, rpmkeys, root string, b []byte) ([]string, error) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "p.rpm")
	os.WriteFile(f, b, 0o644)
	out, err := exec.Command(rpmkeys, "--root", root, "-Kv", f).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")[1:]
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return lines, err
}

// TestRewriteSigns signs every fixture, the legacy one included, and has
// the real rpm check the result against a keyring holding only Pier's key:
// every line must be OK, there must be exactly the lines rpm prints for
// that shape of package, and the package must read back with the same
// identity. (rpmkeys -K exits 0 for unsigned rpms too: the signature line
// is required.)
func TestRewriteSigns(t *testing.T) {
	f, e := signer(t)
	other := repo.Target{Stream: "nightly", Distro: "el", Release: "9"}
	if !f.signs(el9) || f.signs(other) || New(Config{}).WithSigningKey(e.PrivateKey).signs(el9) {
		t.Fatalf("sign_targets matching is wrong")
	}
	rpmkeys, root := rpmKeyring(t, e)
	keyID := fmt.Sprintf("%08x", uint32(e.PrivateKey.KeyId))
	sig := "Header V4 RSA/SHA256 Signature, key ID " + keyID + ": OK"
	v3sig := "V4 RSA/SHA256 Signature, key ID " + keyID + ": OK"
	for _, tc := range []struct {
		name string
		want []string
	}{
		// rpmbuild 4.18: payload digest, so a header signature only.
		{"greet-1.0-1.noarch.rpm", []string{sig, "Header SHA256 digest: OK", "Header SHA1 digest: OK", "Payload SHA256 digest: OK", "MD5 digest: OK"}},
		{"greet-1.0-1.src.rpm", []string{sig, "Header SHA256 digest: OK", "Header SHA1 digest: OK", "Payload SHA256 digest: OK", "MD5 digest: OK"}},
		// nfpm: no reserved space, so the signature header grows.
		{"hello-1.2.3-1.x86_64.rpm", []string{sig, "Header SHA256 digest: OK", "Payload SHA256 digest: OK"}},
		// A payload digest without its algorithm: rpm assumes SHA-256 and
		// so does Pier. Its old signatures, by another key, are replaced.
		{legacyFixture, []string{sig, "Header SHA256 digest: OK", "Payload SHA256 digest: OK"}},
		// No payload digest at all (rpm < 4.14): the header+payload
		// signature is added too.
		{"no payload digest", []string{sig, "Header SHA256 digest: OK", "Header SHA1 digest: OK", v3sig, "MD5 digest: OK"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var orig []byte
			if tc.name == "no payload digest" {
				p := splitRPM(t, readFixture(t, "greet-1.0-1.noarch.rpm"))
				del(&p.main, tagPayloadDigest)
				del(&p.main, tagPayloadDigestAlgo)
				del(&p.main, tagPayloadDigestAlt)
				orig = p.bytes()
			} else {
				orig = readFixture(t, tc.name)
			}
			out, changed, err := rewrite(t, f, orig)
			if err != nil || !changed {
				t.Fatalf("Rewrite = %v, %v", changed, err)
			}
			p1, err := readBytes(t, orig)
			if err != nil {
				t.Fatal(err)
			}
			p2, err := readBytes(t, out)
			if err != nil {
				t.Fatalf("signed package does not read: %v", err)
			}
			if p1.Name != p2.Name || p1.Version != p2.Version || p1.Arch != p2.Arch {
				t.Errorf("identity changed: %+v vs %+v", p1, p2)
			}
			// The main header and payload are copied unchanged.
			lo, _ := readLayout(bytes.NewReader(orig), int64(len(orig)), DefaultMaxHeaderSize)
			ls, _ := readLayout(bytes.NewReader(out), int64(len(out)), DefaultMaxHeaderSize)
			if !bytes.Equal(orig[lo.start:], out[ls.start:]) {
				t.Error("main header or payload changed")
			}
			if changed, err := f.Rewrite(context.Background(), other, bytes.NewReader(orig), int64(len(orig)), &bytes.Buffer{}); changed || err != nil {
				t.Errorf("target without signing rewrote: %v %v", changed, err)
			}
			got, err := checkSig(t, rpmkeys, root, out)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("rpmkeys -Kv: %v\n%s\nwant\n%s", err, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// rpmsignWith signs a copy of b with the real rpmsign 4.18, using e's
// secret key through a private GnuPG home, and returns the signed file.
func rpmsignWith(t *testing.T, e *openpgp.Entity, b []byte) []byte {
	t.Helper()
	rpmsign := realTool(t, "rpmsign")
	gpg := realTool(t, "gpg")
	home, err := os.MkdirTemp("", "pier-gnupg-") // short: gpg-agent's socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o700)
	env := append(os.Environ(), "GNUPGHOME="+home)
	t.Cleanup(func() {
		if gpgconf, err := exec.LookPath("gpgconf"); err == nil {
			cmd := exec.Command(gpgconf, "--kill", "gpg-agent")
			cmd.Env = env
			cmd.Run()
		}
		os.RemoveAll(home)
	})
	var secret bytes.Buffer
	if err := e.SerializePrivate(&secret, nil); err != nil {
		t.Fatal(err)
	}
	imp := exec.Command(gpg, "--batch", "--import")
	imp.Env, imp.Stdin = env, &secret
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	f := filepath.Join(t.TempDir(), "p.rpm")
	os.WriteFile(f, b, 0o644)
	cmd := exec.Command(rpmsign, "--define", "__gpg "+gpg, "--define", fmt.Sprintf("_gpg_name %X", e.PrimaryKey.Fingerprint),
		"--define", "_gpg_digest_algo sha256", "--addsign", f)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpmsign: %v\n%s", err, out)
	}
	signed, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// sigShape is what a signed package's signature header holds apart from
// the signature bytes: tags, types and counts (signature packets may
// differ in length between GnuPG and Pier), and where the main header
// starts.
func sigShape(t testing.TB, b []byte) string {
	t.Helper()
	l, err := readLayout(bytes.NewReader(b), int64(len(b)), DefaultMaxHeaderSize)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, e := range l.sig.entries {
		c := fmt.Sprint(e.count)
		if e.tag == sigTagRSA || e.tag == sigTagDSA || e.tag == sigTagPGP || e.tag == sigTagGPG || e.tag == sigTagReserved {
			c = "n"
		}
		s = append(s, fmt.Sprintf("%d/%s/%s", e.tag, typeName(e.typ), c))
	}
	return strings.Join(s, " ")
}

// TestRewriteLikeRpmsign signs the same packages with Pier and with the
// real rpmsign 4.18 and the same key: the signature headers must hold the
// same tags, the main header and payload must be the same bytes, the
// RESERVEDSPACE bookkeeping must keep (or not keep) the payload where
// rpmsign keeps it, and rpm must say exactly the same about both.
func TestRewriteLikeRpmsign(t *testing.T) {
	f, e := signer(t)
	rpmkeys, root := rpmKeyring(t, e)
	noDigest := splitRPM(t, readFixture(t, "greet-1.0-1.noarch.rpm"))
	del(&noDigest.main, tagPayloadDigest)
	del(&noDigest.main, tagPayloadDigestAlgo)
	del(&noDigest.main, tagPayloadDigestAlt)
	smallReserve := splitRPM(t, readFixture(t, "greet-1.0-1.noarch.rpm"))
	set(&smallReserve.sig, sigTagReserved, typeBin, 100, make([]byte, 100))
	for name, in := range map[string][]byte{
		legacyFixture:               readFixture(t, legacyFixture),
		"greet-1.0-1.noarch.rpm":    readFixture(t, "greet-1.0-1.noarch.rpm"),
		"hello-1.2.3-1.x86_64.rpm":  readFixture(t, "hello-1.2.3-1.x86_64.rpm"),
		"no payload digest":         noDigest.bytes(),
		"reserved space too small":  smallReserve.bytes(),
		"no entry in the region":    shrinkSigRegion(t, readFixture(t, "greet-1.0-1.noarch.rpm"), 0),
		"two entries in the region": shrinkSigRegion(t, readFixture(t, "greet-1.0-1.noarch.rpm"), 2),
	} {
		t.Run(name, func(t *testing.T) {
			ours, changed, err := rewrite(t, f, in)
			if err != nil || !changed {
				t.Fatalf("Rewrite = %v, %v", changed, err)
			}
			theirs := rpmsignWith(t, e, in)
			if a, b := sigShape(t, ours), sigShape(t, theirs); a != b {
				t.Errorf("signature header\n pier    %s\n rpmsign %s", a, b)
			}
			lo, _ := readLayout(bytes.NewReader(ours), int64(len(ours)), DefaultMaxHeaderSize)
			lt, _ := readLayout(bytes.NewReader(theirs), int64(len(theirs)), DefaultMaxHeaderSize)
			if !bytes.Equal(ours[lo.start:], theirs[lt.start:]) {
				t.Error("main header and payload differ from rpmsign's")
			}
			// With signatures of the same length, the payload lands where
			// rpmsign puts it.
			if len(lo.sig.find(sigTagRSA).data) == len(lt.sig.find(sigTagRSA).data) && lo.start != lt.start {
				t.Errorf("main header at %d, rpmsign puts it at %d", lo.start, lt.start)
			}
			a, errA := checkSig(t, rpmkeys, root, ours)
			b, errB := checkSig(t, rpmkeys, root, theirs)
			if errA != nil || errB != nil || !slices.Equal(a, b) {
				t.Errorf("rpmkeys -Kv:\n pier: %v\n%s\n rpmsign: %v\n%s", errA, strings.Join(a, "\n"), errB, strings.Join(b, "\n"))
			}
		})
	}
}

// TestRewriteRefuses: a package rpmsign would not sign is a bad package
// (422), never a server error; a key rpm cannot use and a failing output
// are server errors (500), never bad packages.
func TestRewriteRefuses(t *testing.T) {
	f, _ := signer(t)
	greet := readFixture(t, "greet-1.0-1.noarch.rpm")
	corrupt := bytes.Clone(greet)
	corrupt[len(corrupt)-100] ^= 1
	v3 := splitRPM(t, greet)
	v3.noMainRegion = true
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"corrupt payload", corrupt, "payload SHA-256 digest"},
		{"corrupt header", func() []byte {
			b := bytes.Clone(greet)
			b[bytes.Index(b, []byte("Greets the world"))] ^= 1
			return b
		}(), "header SHA-256 digest"},
		{"truncated", greet[:len(greet)-100], "payload SHA-256 digest"},
		{"rpm v3 package", v3.bytes(), "Cannot sign RPM v3 packages"},
		{"not an rpm", []byte(strings.Repeat("x", 200)), "not an rpm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := rewrite(t, f, tc.in)
			if !errors.Is(err, repo.ErrBadPackage) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a bad package naming %q", err, tc.want)
			}
		})
	}

	keys := newTestKeys(t)
	for name, key := range map[string]*packet.PrivateKey{"ECDSA key": keys.ecdsa} {
		g := New(Config{SignPackages: true}).WithSigningKey(key)
		_, _, err := rewrite(t, g, greet)
		if err == nil || errors.Is(err, repo.ErrBadPackage) || !strings.Contains(err.Error(), "algorithm") {
			t.Errorf("%s: err = %v, want a server error about the algorithm", name, err)
		}
	}
	_, err := f.Rewrite(context.Background(), el9, bytes.NewReader(greet), int64(len(greet)), failingWriter{})
	if err == nil || errors.Is(err, repo.ErrBadPackage) {
		t.Errorf("failing output: err = %v, want a server error", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestRewriteEdDSA signs with an EdDSA key: rpm puts those signatures in
// the DSA tag (267), and rpm verifies them.
func TestRewriteEdDSA(t *testing.T) {
	e, err := openpgp.NewEntity("Pier EdDSA", "", "", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	f := New(Config{SignPackages: true}).WithSigningKey(e.PrivateKey)
	out, changed, err := rewrite(t, f, readFixture(t, legacyFixture))
	if err != nil || !changed {
		t.Fatalf("Rewrite = %v, %v", changed, err)
	}
	l, _ := readLayout(bytes.NewReader(out), int64(len(out)), DefaultMaxHeaderSize)
	if l.sig.find(sigTagDSA) == nil || l.sig.find(sigTagRSA) != nil || l.sig.find(sigTagPGP) != nil {
		t.Errorf("signature tags: %s", sigShape(t, out))
	}
	rpmkeys, root := rpmKeyring(t, e)
	got, err := checkSig(t, rpmkeys, root, out)
	want := fmt.Sprintf("Header V4 EdDSA/SHA256 Signature, key ID %08x: OK", uint32(e.PrivateKey.KeyId))
	if err != nil || len(got) == 0 || got[0] != want {
		t.Errorf("rpmkeys -Kv: %v\n%s", err, strings.Join(got, "\n"))
	}
}

// TestRewriteIdempotent: a package Pier already signed is left as it is
// (rpmsign skips identical signatures), one signed by another key is
// signed again with only Pier's signature left.
func TestRewriteIdempotent(t *testing.T) {
	f, e := signer(t)
	once, _, err := rewrite(t, f, readFixture(t, "greet-1.0-1.noarch.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	if out, changed, err := rewrite(t, f, once); err != nil || changed || len(out) != 0 {
		t.Errorf("re-signing a signed package: changed %v, %d bytes, %v", changed, len(out), err)
	}
	g, _ := signer(t)
	twice, changed, err := rewrite(t, g, once)
	if err != nil || !changed {
		t.Fatalf("signing with another key: %v %v", changed, err)
	}
	l, _ := readLayout(bytes.NewReader(twice), int64(len(twice)), DefaultMaxHeaderSize)
	pkt, err := parseSignaturePacket(l.sig.find(sigTagRSA).data)
	if err != nil || pkt.issuer == e.PrivateKey.KeyId || pkt.issuer != g.signKey.KeyId {
		t.Errorf("signature by %x (%v), want only the second key's", pkt.issuer, err)
	}
}

// TestRewriteKeepsDigestsOutsideTheRegion: a package whose signature
// header keeps its digests after the region (rpm verifies them there, so
// Pier reads the package) still reads once signed: the digests move into
// the region, as rpmsign keeps them (TestRewriteLikeRpmsign compares the
// two). Found by FuzzRead. The real rpm checks the signed package with
// Pier's key.
func TestRewriteKeepsDigestsOutsideTheRegion(t *testing.T) {
	f, e := signer(t)
	rpmkeys, root := rpmKeyring(t, e)
	greet := readFixture(t, "greet-1.0-1.noarch.rpm")
	for _, covered := range []int{0, 1} {
		t.Run(fmt.Sprintf("region covers %d entries", covered), func(t *testing.T) {
			b := shrinkSigRegion(t, greet, covered)
			l, err := readLayout(bytes.NewReader(b), int64(len(b)), DefaultMaxHeaderSize)
			if err != nil || l.sig.inRegion != covered {
				t.Fatalf("test package: region covers %d entries, %v", l.sig.inRegion, err)
			}
			if _, err := f.Read(context.Background(), bytes.NewReader(b), int64(len(b)), nil); err != nil {
				t.Fatalf("the test package does not read: %v", err)
			}
			out, changed, err := rewrite(t, f, b)
			if err != nil || !changed {
				t.Fatalf("Rewrite = %v, %v", changed, err)
			}
			if _, err := f.Read(context.Background(), bytes.NewReader(out), int64(len(out)), nil); err != nil {
				t.Fatalf("the signed package does not read: %v", err)
			}
			s, _ := readLayout(bytes.NewReader(out), int64(len(out)), DefaultMaxHeaderSize)
			for _, tag := range []uint32{sigTagSHA256, sigTagSHA1, sigTagMD5} {
				if e := s.sig.find(tag); e == nil || !bytes.Equal(e.data, l.sig.find(tag).data) {
					t.Errorf("signature tag %d: %v, want the original's value", tag, e)
				}
			}
			if s.sig.inRegion != len(s.sig.entries) {
				t.Errorf("signed: region covers %d of %d entries", s.sig.inRegion, len(s.sig.entries))
			}
			got, err := checkSig(t, rpmkeys, root, out)
			want := []string{fmt.Sprintf("Header V4 RSA/SHA256 Signature, key ID %08x: OK", uint32(e.PrivateKey.KeyId)),
				"Header SHA256 digest: OK", "Header SHA1 digest: OK", "Payload SHA256 digest: OK", "MD5 digest: OK"}
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("rpmkeys -Kv: %v\n%s", err, strings.Join(got, "\n"))
			}
		})
	}
}

// shrinkSigRegion returns b with its signature region's trailer rewritten
// so that the region covers only its first n entries: the others follow
// the region, as entries a tool appends to a sealed header do.
func shrinkSigRegion(t testing.TB, b []byte, n int) []byte {
	t.Helper()
	b = bytes.Clone(b)
	h := b[leadSize:]
	il := int(binary.BigEndian.Uint32(h[8:]))
	if binary.BigEndian.Uint32(h[headerIntro:]) != regionSignatures || il < n+1 {
		t.Fatalf("signature header starts with tag %d, %d entries", binary.BigEndian.Uint32(h[headerIntro:]), il)
	}
	off := int(binary.BigEndian.Uint32(h[headerIntro+8:]))
	trailer := h[headerIntro+indexEntry*il+off:]
	binary.BigEndian.PutUint32(trailer[8:], uint32(-int32(indexEntry*(n+1))))
	return b
}
