package signing_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/pierhq/pier/signing"
)

// TestRotationEachKeyAloneVerifies is the key-rotation property clients
// rely on: with two keys signing, InRelease and the detached signature
// (Release.gpg, repomd.xml.asc) carry one signature per key, and a verifier
// that trusts only the old key, or only the new one, accepts them: gpgv
// (apt up to 2.8) and sqv (apt 2.9 and later), each with a one-key keyring.
func TestRotationEachKeyAloneVerifies(t *testing.T) {
	a, b, c := entities(t)
	s := newSigner(t, a, b)
	inRelease, err := s.ClearSign([]byte(releaseText))
	if err != nil {
		t.Fatal(err)
	}
	detached, err := s.DetachSign([]byte(releaseText))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := clearsign.Decode(inRelease)
	if block == nil {
		t.Fatal("InRelease does not decode")
	}
	if got := signatureIssuers(t, block.ArmoredSignature.Body); len(got) != 2 {
		t.Errorf("InRelease carries %d signatures, want 2", len(got))
	}
	blk, err := armor.Decode(bytes.NewReader(detached))
	if err != nil {
		t.Fatal(err)
	}
	if got := signatureIssuers(t, blk.Body); len(got) != 2 {
		t.Errorf("detached signature carries %d signatures, want 2", len(got))
	}
	content, inSig, err := aptSplit(inRelease)
	if err != nil {
		t.Fatal(err)
	}
	for _, only := range []struct {
		name string
		e    *openpgp.Entity
	}{{"old key", a}, {"new key", b}} {
		t.Run(only.name, func(t *testing.T) {
			one := newSigner(t, only.e)
			fpr := one.Fingerprint()
			dir := t.TempDir()
			// go-crypto.
			block, _ := clearsign.Decode(inRelease)
			if _, err := block.VerifySignature(openpgp.EntityList{only.e}, nil); err != nil {
				t.Errorf("go-crypto InRelease: %v", err)
			}
			if _, err := openpgp.CheckArmoredDetachedSignature(openpgp.EntityList{only.e},
				strings.NewReader(releaseText), bytes.NewReader(detached), nil); err != nil {
				t.Errorf("go-crypto detached: %v", err)
			}
			// gpgv, as apt 2.6 runs it: the signature of the key it does not
			// have is reported as NO_PUBKEY (exit status 2), the other one
			// must be good.
			for _, files := range [][]string{
				{writeTemp(t, dir, "InRelease", inRelease)},
				{writeTemp(t, dir, "Release.gpg", detached), writeTemp(t, dir, "Release", []byte(releaseText))},
			} {
				status, _ := gpgv(t, one.PublicKeyBinary(), files...)
				if !strings.Contains(status, "[GNUPG:] VALIDSIG "+fpr) || !strings.Contains(status, "[GNUPG:] GOODSIG ") {
					t.Errorf("gpgv %s with %s only: no good signature:\n%s", filepath.Base(files[0]), only.name, status)
				}
				if strings.Contains(status, "BADSIG") || strings.Contains(status, "ERRSIG") && !strings.Contains(status, "NO_PUBKEY") {
					t.Errorf("gpgv %s with %s only: bad signature:\n%s", filepath.Base(files[0]), only.name, status)
				}
			}
			// sqv, as apt >= 2.9 runs it (one good signature is enough).
			if err := sqv(t, one.PublicKey(), inSig, content); err != nil {
				t.Errorf("sqv InRelease with %s only: %v", only.name, err)
			}
			if err := sqv(t, one.PublicKeyBinary(), detached, []byte(releaseText)); err != nil {
				t.Errorf("sqv Release.gpg with %s only: %v", only.name, err)
			}
		})
	}
	// A key that signed neither is refused.
	wrong := newSigner(t, c)
	if err := sqv(t, wrong.PublicKey(), detached, []byte(releaseText)); err == nil {
		t.Error("sqv accepted the signatures with an unrelated key")
	}
}

// writeKeyFile stores es as an armored private key file.
func writeKeyFile(t *testing.T, path string, es ...*openpgp.Entity) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, armoredPrivate(t, nil, es...), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRing(t *testing.T) {
	a, b, c := entities(t)
	root := t.TempDir()
	dir := filepath.Join(root, "keys")

	// Missing directory, nothing configured: an empty ring.
	r, err := signing.LoadRing(signing.RingOptions{Dir: dir})
	if err != nil || len(r.Keys) != 0 {
		t.Fatalf("empty: %v %v", r, err)
	}
	if _, err := r.Signer(signing.Options{}); !errors.Is(err, signing.ErrNoSigningKey) {
		t.Errorf("signer of an empty ring: %v", err)
	}

	writeKeyFile(t, filepath.Join(dir, signing.KeyFileName), a)
	// A newer key generated into the directory.
	later := signing.Options{Now: func() time.Time { return testTime.Add(24 * time.Hour) }, Bits: 2048}
	n, err := signing.CreateKey(dir, later)
	if err != nil {
		t.Fatal(err)
	}
	if want := "pier-signing-" + n.Fingerprint()[24:] + ".asc"; filepath.Base(n.Path) != want {
		t.Errorf("new key file %s, want %s", n.Path, want)
	}
	if fi, err := os.Stat(n.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new key file: %v %v", fi, err)
	}
	// Files that are not private keys, or hidden, are not keys of the ring.
	os.WriteFile(filepath.Join(dir, "public.asc"), newSigner(t, c).PublicKey(), 0o644)
	writeKeyFile(t, filepath.Join(dir, ".tmp-pier-signing.asc-123"), c)
	writeKeyFile(t, filepath.Join(dir, "notes.txt"), c)
	os.Symlink(filepath.Join(root, "missing.asc"), filepath.Join(dir, "dangling.asc"))
	os.Mkdir(filepath.Join(dir, "sub.asc"), 0o700)
	// A configured key (b) comes first, and a, configured too, is kept once.
	conf := filepath.Join(root, "conf.asc")
	writeKeyFile(t, conf, b)
	r, err = signing.LoadRing(signing.RingOptions{Dir: dir, Files: []string{conf, filepath.Join(dir, signing.KeyFileName)}})
	if err != nil {
		t.Fatal(err)
	}
	got := r.Fingerprints()
	want := []string{newSigner(t, b).Fingerprint(), newSigner(t, a).Fingerprint(), n.Fingerprint()}
	if !slices.Equal(got, want) {
		t.Fatalf("ring %v, want %v", got, want)
	}
	if !r.Keys[0].Configured || !r.Keys[1].Configured || r.Keys[2].Configured {
		t.Errorf("configured flags: %+v", r.Keys)
	}
	if alg := r.Keys[2].Algorithm(); alg != "rsa2048" {
		t.Errorf("algorithm %q", alg)
	}
	if !r.Keys[2].Created().Equal(testTime.Add(24 * time.Hour)) {
		t.Errorf("created %v", r.Keys[2].Created())
	}
	s, err := r.Signer(signing.Options{Now: func() time.Time { return testTime.Add(48 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Fingerprints(), want) || s.Fingerprint() != want[0] {
		t.Errorf("signer keys %v", s.Fingerprints())
	}
	// Without configuration: directory keys, oldest first.
	r, err = signing.LoadRing(signing.RingOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Fingerprints(); !slices.Equal(got, want[1:]) {
		t.Errorf("directory ring %v, want %v", got, want[1:])
	}
	// A broken private key file is an error that names it.
	bad := filepath.Join(dir, "broken.asc")
	os.WriteFile(bad, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\ngarbage\n-----END PGP PRIVATE KEY BLOCK-----\n"), 0o600)
	if _, err := signing.LoadRing(signing.RingOptions{Dir: dir}); err == nil || !strings.Contains(err.Error(), "broken.asc") {
		t.Errorf("broken key file: %v", err)
	}
	os.Remove(bad)
	// An encrypted key in the directory needs the passphrase.
	enc := filepath.Join(dir, "enc.asc")
	os.WriteFile(enc, armoredPrivate(t, []byte("pw"), c), 0o600)
	if _, err := signing.LoadRing(signing.RingOptions{Dir: dir}); !errors.Is(err, signing.ErrPassphraseRequired) {
		t.Errorf("encrypted key without passphrase: %v", err)
	}
	if r, err := signing.LoadRing(signing.RingOptions{Dir: dir, Passphrase: []byte("pw")}); err != nil || len(r.Keys) != 3 {
		t.Errorf("encrypted key with passphrase: %v %v", r, err)
	}
}

func TestLoadOrCreateRing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	opts := signing.Options{Now: fixedClock, Bits: 2048}
	r1, created, err := signing.LoadOrCreateRing(signing.RingOptions{Dir: dir}, opts)
	if err != nil || !created || len(r1.Keys) != 1 {
		t.Fatalf("first: %v %v %v", r1, created, err)
	}
	if filepath.Base(r1.Keys[0].Path) != signing.KeyFileName {
		t.Errorf("generated %s, want the legacy name %s", r1.Keys[0].Path, signing.KeyFileName)
	}
	r2, created, err := signing.LoadOrCreateRing(signing.RingOptions{Dir: dir}, opts)
	if err != nil || created || !slices.Equal(r1.Fingerprints(), r2.Fingerprints()) {
		t.Fatalf("second: %v %v %v", r2, created, err)
	}
	// The same key LoadOrCreate (the single-key loader) finds.
	s, created, err := signing.LoadOrCreate(dir, opts)
	if err != nil || created || s.Fingerprint() != r1.Fingerprints()[0] {
		t.Errorf("LoadOrCreate: %v %v", created, err)
	}
	// A configured key means nothing is generated.
	_, b, _ := entities(t)
	conf := filepath.Join(t.TempDir(), "b.asc")
	writeKeyFile(t, conf, b)
	empty := filepath.Join(t.TempDir(), "keys")
	r3, created, err := signing.LoadOrCreateRing(signing.RingOptions{Dir: empty, Files: []string{conf}}, opts)
	if err != nil || created || len(r3.Keys) != 1 {
		t.Errorf("configured: %v %v %v", r3, created, err)
	}
	if _, err := os.Stat(empty); err == nil {
		t.Error("a key directory was created although a key is configured")
	}
}

func TestRetireKey(t *testing.T) {
	a, b, _ := entities(t)
	dir := filepath.Join(t.TempDir(), "keys")
	writeKeyFile(t, filepath.Join(dir, signing.KeyFileName), a)
	writeKeyFile(t, filepath.Join(dir, "second.asc"), b)
	writeKeyFile(t, filepath.Join(dir, "pair.asc"), newEntity(t, "D"), newEntity(t, "E"))
	fa := newSigner(t, a).Fingerprint()

	if _, err := signing.RetireKey(dir, "0123456789ABCDEF"); !errors.Is(err, signing.ErrKeyNotFound) {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := signing.RetireKey(dir, fa[:8]); err == nil {
		t.Error("a short fingerprint was accepted")
	}
	r, _ := signing.LoadRing(signing.RingOptions{Dir: dir})
	var pairFpr string
	for _, k := range r.Keys {
		if filepath.Base(k.Path) == "pair.asc" {
			pairFpr = k.Fingerprint()
		}
	}
	if _, err := signing.RetireKey(dir, pairFpr); err == nil || !strings.Contains(err.Error(), "split") {
		t.Errorf("retiring one key of a two-key file: %v", err)
	}
	// By long key ID, lower case.
	dst, err := signing.RetireKey(dir, strings.ToLower(fa[24:]))
	if err != nil {
		t.Fatal(err)
	}
	if dst != filepath.Join(dir, signing.RetiredDir, signing.KeyFileName) {
		t.Errorf("retired to %s", dst)
	}
	r, err = signing.LoadRing(signing.RingOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(r.Fingerprints(), fa) || len(r.Keys) != 3 {
		t.Errorf("ring after retire: %v", r.Fingerprints())
	}
	old, err := signing.LoadRetired(dir)
	if err != nil || len(old) != 1 || old[0].Fingerprint() != fa || !old[0].Retired {
		t.Errorf("retired keys: %v %v", old, err)
	}
}

// newEntity generates a throwaway 2048-bit key.
func newEntity(t *testing.T, name string) *openpgp.Entity {
	t.Helper()
	e, err := signing.GenerateRSA("Pier Test "+name, "", 2048, testTime)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestFindAndExport(t *testing.T) {
	a, b, _ := entities(t)
	keys := []signing.RingKey{{Entity: a}, {Entity: b}}
	fb := newSigner(t, b).Fingerprint()
	for _, q := range []string{fb, strings.ToLower(fb), "0x" + fb[24:], fb[:20] + " " + fb[20:]} {
		k, err := signing.Find(keys, q)
		if err != nil || k.Fingerprint() != fb {
			t.Errorf("Find(%q) = %v, %v", q, k.Fingerprint(), err)
		}
	}
	arm, err := signing.ExportPublic([]*openpgp.Entity{b}, true)
	if err != nil {
		t.Fatal(err)
	}
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(arm))
	if err != nil || len(el) != 1 || el[0].PrivateKey != nil || fmtFpr(el[0]) != fb {
		t.Errorf("armored export: %v %v", len(el), err)
	}
	both := newSigner(t, a, b)
	bin, err := signing.ExportPublic([]*openpgp.Entity{a, b}, false)
	if err != nil || !bytes.Equal(bin, both.PublicKeyBinary()) {
		t.Errorf("binary export differs from the signer's keyring: %v", err)
	}
	arm2, _ := signing.ExportPublic([]*openpgp.Entity{a, b}, true)
	if !bytes.Equal(arm2, both.PublicKey()) {
		t.Errorf("armored export differs from the signer's public key block")
	}
}

func fmtFpr(e *openpgp.Entity) string {
	return strings.ToUpper(hexString(e.PrimaryKey.Fingerprint))
}
