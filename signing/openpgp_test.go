package signing_test

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/pierhq/pier/signing"
)

const releaseText = `Origin: Pier
Label: Pier
Suite: bookworm
Codename: bookworm
Date: Sun, 01 Jun 2025 12:00:00 UTC
Architectures: amd64 arm64
Components: main
Acquire-By-Hash: yes
SHA256:
 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef     1234 main/binary-amd64/Packages
 fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210      567 main/binary-amd64/Packages.gz
`

var fprPattern = regexp.MustCompile(`^[0-9A-F]{40}$`)

func TestGenerateRSA4096(t *testing.T) {
	if testing.Short() {
		t.Skip("RSA-4096 generation is slow")
	}
	e, err := signing.GenerateRSA("Pier Test 4096", "", 4096, testTime.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	checkGeneratedKey(t, e, 4096)
	s := newSigner(t, e)
	inRelease, err := s.ClearSign([]byte(releaseText))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := gpgv(t, s.PublicKeyBinary(), writeTemp(t, dir, "InRelease", inRelease)); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateRSAProperties(t *testing.T) {
	a, _, _ := entities(t)
	checkGeneratedKey(t, a, 2048)
}

func checkGeneratedKey(t *testing.T, e *openpgp.Entity, bits int) {
	t.Helper()
	if e.PrimaryKey.Version != 4 {
		t.Errorf("key version = %d, want 4", e.PrimaryKey.Version)
	}
	if e.PrimaryKey.PubKeyAlgo != packet.PubKeyAlgoRSA {
		t.Errorf("algorithm = %v, want RSA", e.PrimaryKey.PubKeyAlgo)
	}
	if n, _ := e.PrimaryKey.BitLength(); int(n) != bits {
		t.Errorf("bits = %d, want %d", n, bits)
	}
	if e.PrivateKey == nil || e.PrivateKey.Encrypted {
		t.Error("private key missing or encrypted")
	}
	if len(e.Subkeys) != 0 {
		t.Errorf("%d subkeys, want none", len(e.Subkeys))
	}
	sig, _ := e.PrimarySelfSignature()
	if sig == nil {
		t.Fatal("no self-signature")
	}
	if sig.Hash != crypto.SHA256 {
		t.Errorf("self-signature hash = %v, want SHA-256", sig.Hash)
	}
	if sig.KeyLifetimeSecs != nil && *sig.KeyLifetimeSecs != 0 {
		t.Errorf("key expires after %d s, want never", *sig.KeyLifetimeSecs)
	}
	if !sig.FlagsValid || !sig.FlagSign {
		t.Error("primary key is not flagged for signing")
	}
}

func TestGenerateRSAErrors(t *testing.T) {
	tests := []struct {
		name, uid, email string
		bits             int
		want             error
	}{
		{name: "weak", uid: "x", bits: 1024, want: signing.ErrWeakKey},
		{name: "empty name", uid: "", bits: 2048},
		{name: "bad characters", uid: "a <b>", bits: 2048},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := signing.GenerateRSA(tt.uid, tt.email, tt.bits, testTime)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestClearSign(t *testing.T) {
	a, _, _ := entities(t)
	s := newSigner(t, a)
	tests := []struct {
		name string
		msg  string
	}{
		{"release", releaseText},
		{"no final newline", "Origin: Pier\nLabel: Pier"},
		{"leading dashes", "-----BEGIN PGP SIGNATURE-----\n- already escaped\n-x\n--\nplain\n"},
		{"dash after blank", "a\n\n-b\n"},
		{"empty lines at end", "a\n\n\n"},
		{"single line", "x"},
		{"from line", "From the top\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := s.ClearSign([]byte(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			checkClearSigned(t, out, tt.msg, s)
			if _, err := gpgv(t, s.PublicKeyBinary(), writeTemp(t, t.TempDir(), "InRelease", out)); err != nil {
				t.Errorf("gpgv on InRelease: %v\n%s", err, out)
			}
			content, sig, err := aptSplit(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := sqv(t, s.PublicKey(), sig, content); err != nil {
				t.Errorf("sqv: %v", err)
			}
		})
	}
}

// checkClearSigned checks the layout apt's splitter demands and that
// go-crypto verifies the signature and recovers the text.
func checkClearSigned(t *testing.T, out []byte, msg string, s *signing.OpenPGP) {
	t.Helper()
	text := string(out)
	if !strings.HasPrefix(text, "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n") {
		t.Errorf("bad start:\n%s", text)
	}
	if !strings.HasSuffix(text, "\n-----END PGP SIGNATURE-----\n") {
		t.Errorf("does not end with END line and one newline: %q", text[max(0, len(text)-40):])
	}
	if strings.Count(text, "\n-----END PGP SIGNATURE-----") != 1 {
		t.Error("not exactly one END line")
	}
	content, _, err := aptSplit(out)
	if err != nil {
		t.Fatalf("apt splitter rejects output: %v\n%s", err, text)
	}
	if want := strings.TrimSuffix(msg, "\n"); string(content) != want {
		t.Errorf("split content = %q, want %q", content, want)
	}
	b, rest := clearsign.Decode(out)
	if b == nil {
		t.Fatal("clearsign.Decode found no block")
	}
	if len(rest) != 0 {
		t.Errorf("clearsign.Decode left %q", rest)
	}
	kr := openpgp.EntityList(s.Entities())
	if _, err := b.VerifySignature(kr, nil); err != nil {
		t.Errorf("go-crypto verify: %v", err)
	}
	// Every line starting with "-" in msg must appear escaped.
	for _, l := range strings.Split(msg, "\n") {
		if strings.HasPrefix(l, "-") && !strings.Contains(text, "\n- "+l+"\n") {
			t.Errorf("line %q not dash-escaped", l)
		}
	}
}

func TestClearSignEscapesAgainstInjection(t *testing.T) {
	a, _, _ := entities(t)
	s := newSigner(t, a)
	// A message that tries to end the signed part early.
	msg := "Origin: Pier\n-----BEGIN PGP SIGNATURE-----\n\nfake\n-----END PGP SIGNATURE-----\n"
	out, err := s.ClearSign([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(out), "\n-----BEGIN PGP SIGNATURE-----\n") != 1 {
		t.Fatalf("unescaped signature marker in body:\n%s", out)
	}
	checkClearSigned(t, out, msg, s)
}

func TestClearSignMultipleKeys(t *testing.T) {
	a, b, _ := entities(t)
	s := newSigner(t, a, b)
	out, err := s.ClearSign([]byte(releaseText))
	if err != nil {
		t.Fatal(err)
	}
	checkClearSigned(t, out, releaseText, s)
	if n := strings.Count(string(out), "-----BEGIN PGP SIGNATURE-----"); n != 1 {
		t.Errorf("%d signature blocks, want 1 holding both signatures", n)
	}
	// One block, two signature packets, one per key.
	block, _ := clearsign.Decode(out)
	issuers := signatureIssuers(t, block.ArmoredSignature.Body)
	want := []uint64{a.PrimaryKey.KeyId, b.PrimaryKey.KeyId}
	if len(issuers) != 2 || issuers[0] != want[0] || issuers[1] != want[1] {
		t.Errorf("issuers = %x, want %x", issuers, want)
	}
	// Each key alone is enough for go-crypto.
	for _, e := range []*openpgp.Entity{a, b} {
		block, _ := clearsign.Decode(out)
		if _, err := block.VerifySignature(openpgp.EntityList{e}, nil); err != nil {
			t.Errorf("verify with %X only: %v", e.PrimaryKey.Fingerprint, err)
		}
	}
	// gpgv reports a good signature from each key.
	status, err := gpgv(t, s.PublicKeyBinary(), writeTemp(t, t.TempDir(), "InRelease", out))
	if err != nil {
		t.Fatal(err)
	}
	for _, fpr := range s.Fingerprints() {
		if !strings.Contains(status, "VALIDSIG "+fpr) {
			t.Errorf("gpgv status lacks VALIDSIG %s:\n%s", fpr, status)
		}
	}
	// sqv, as apt runs it, with only the new key trusted.
	content, sig, err := aptSplit(out)
	if err != nil {
		t.Fatal(err)
	}
	onlyB := newSigner(t, b)
	if err := sqv(t, onlyB.PublicKey(), sig, content); err != nil {
		t.Errorf("sqv with key B only: %v", err)
	}
}

func signatureIssuers(t *testing.T, r interface{ Read([]byte) (int, error) }) []uint64 {
	t.Helper()
	var ids []uint64
	pr := packet.NewReader(r)
	for {
		p, err := pr.Next()
		if err != nil {
			break
		}
		sig, ok := p.(*packet.Signature)
		if !ok {
			t.Fatalf("unexpected packet %T", p)
		}
		if sig.Hash != crypto.SHA256 {
			t.Errorf("signature hash %v, want SHA-256", sig.Hash)
		}
		if !sig.CreationTime.Equal(testTime) {
			t.Errorf("signature time %v, want %v", sig.CreationTime, testTime)
		}
		ids = append(ids, *sig.IssuerKeyId)
	}
	return ids
}

func TestDetachSign(t *testing.T) {
	a, b, _ := entities(t)
	tests := []struct {
		name string
		keys []*openpgp.Entity
		msg  []byte
	}{
		{"one key", []*openpgp.Entity{a}, []byte(releaseText)},
		{"two keys", []*openpgp.Entity{a, b}, []byte(releaseText)},
		{"binary bytes", []*openpgp.Entity{a}, []byte("x \r\n-\x00\xff trailing  \n\n")},
		{"empty", []*openpgp.Entity{a}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSigner(t, tt.keys...)
			sig, err := s.DetachSign(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			text := string(sig)
			if !strings.HasPrefix(text, "-----BEGIN PGP SIGNATURE-----\n") ||
				!strings.HasSuffix(text, "\n-----END PGP SIGNATURE-----\n") {
				t.Errorf("not one armored signature block:\n%s", text)
			}
			blk, err := armor.Decode(bytes.NewReader(sig))
			if err != nil {
				t.Fatal(err)
			}
			if got := signatureIssuers(t, blk.Body); len(got) != len(tt.keys) {
				t.Errorf("%d signatures, want %d", len(got), len(tt.keys))
			}
			for _, e := range tt.keys {
				if _, err := openpgp.CheckArmoredDetachedSignature(openpgp.EntityList{e}, bytes.NewReader(tt.msg), bytes.NewReader(sig), nil); err != nil {
					t.Errorf("go-crypto verify with %X: %v", e.PrimaryKey.Fingerprint, err)
				}
			}
			dir := t.TempDir()
			status, err := gpgv(t, s.PublicKeyBinary(), writeTemp(t, dir, "Release.gpg", sig), writeTemp(t, dir, "Release", tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			for _, fpr := range s.Fingerprints() {
				if !strings.Contains(status, "VALIDSIG "+fpr) {
					t.Errorf("gpgv status lacks VALIDSIG %s:\n%s", fpr, status)
				}
			}
			if err := sqv(t, s.PublicKeyBinary(), sig, tt.msg); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestWrongKeyOrTamperedFails(t *testing.T) {
	a, _, c := entities(t)
	s := newSigner(t, a)
	wrong := newSigner(t, c)
	msg := []byte(releaseText)
	inRelease, err := s.ClearSign(msg)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.DetachSign(msg)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(msg, []byte("bookworm"), []byte("trixie"), 1)
	tamperedInRelease := bytes.Replace(inRelease, []byte("bookworm"), []byte("trixie"), 1)

	t.Run("go-crypto", func(t *testing.T) {
		if _, err := openpgp.CheckArmoredDetachedSignature(openpgp.EntityList{c}, bytes.NewReader(msg), bytes.NewReader(sig), nil); err == nil {
			t.Error("detached: wrong key verified")
		}
		if _, err := openpgp.CheckArmoredDetachedSignature(openpgp.EntityList{a}, bytes.NewReader(tampered), bytes.NewReader(sig), nil); err == nil {
			t.Error("detached: tampered message verified")
		}
		b, _ := clearsign.Decode(inRelease)
		if _, err := b.VerifySignature(openpgp.EntityList{c}, nil); err == nil {
			t.Error("clearsign: wrong key verified")
		}
		b, _ = clearsign.Decode(tamperedInRelease)
		if _, err := b.VerifySignature(openpgp.EntityList{a}, nil); err == nil {
			t.Error("clearsign: tampered message verified")
		}
	})
	t.Run("gpgv", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := gpgv(t, wrong.PublicKeyBinary(), writeTemp(t, dir, "InRelease", inRelease)); err == nil {
			t.Error("wrong key verified InRelease")
		}
		if _, err := gpgv(t, s.PublicKeyBinary(), writeTemp(t, dir, "InRelease.bad", tamperedInRelease)); err == nil {
			t.Error("tampered InRelease verified")
		}
		if _, err := gpgv(t, wrong.PublicKeyBinary(), writeTemp(t, dir, "Release.gpg", sig), writeTemp(t, dir, "Release", msg)); err == nil {
			t.Error("wrong key verified Release.gpg")
		}
	})
	t.Run("sqv", func(t *testing.T) {
		if err := sqv(t, wrong.PublicKey(), sig, msg); err == nil {
			t.Error("wrong key verified")
		}
		if err := sqv(t, s.PublicKey(), sig, tampered); err == nil {
			t.Error("tampered message verified")
		}
	})
}

func TestDeterministic(t *testing.T) {
	a, _, _ := entities(t)
	s1 := newSigner(t, a)
	s2 := newSigner(t, a)
	later, err := signing.New([]*openpgp.Entity{a}, signing.Options{Now: func() time.Time { return testTime.Add(time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	for name, sign := range map[string]func(*signing.OpenPGP) ([]byte, error){
		"ClearSign":  func(s *signing.OpenPGP) ([]byte, error) { return s.ClearSign([]byte(releaseText)) },
		"DetachSign": func(s *signing.OpenPGP) ([]byte, error) { return s.DetachSign([]byte(releaseText)) },
	} {
		t.Run(name, func(t *testing.T) {
			x, err1 := sign(s1)
			y, err2 := sign(s2)
			z, err3 := sign(later)
			if err := errors.Join(err1, err2, err3); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(x, y) {
				t.Error("same message and clock gave different bytes")
			}
			if bytes.Equal(x, z) {
				t.Error("different clock gave the same bytes")
			}
		})
	}
}

func TestPublicKeyExports(t *testing.T) {
	a, b, _ := entities(t)
	s := newSigner(t, a, b)
	bin := s.PublicKeyBinary()
	if len(bin) == 0 || (bin[0] != 0x98 && bin[0] != 0x99 && bin[0] != 0xC6) {
		t.Fatalf("binary keyring starts with %#x, want 0x98, 0x99 or 0xC6", bin[:1])
	}
	arm := string(s.PublicKey())
	if !strings.HasPrefix(arm, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n") ||
		!strings.HasSuffix(arm, "\n-----END PGP PUBLIC KEY BLOCK-----\n") ||
		strings.Count(arm, "-----BEGIN") != 1 {
		t.Errorf("armored public key is not one block:\n%s", arm)
	}
	for name, read := range map[string]func() (openpgp.EntityList, error){
		"armored": func() (openpgp.EntityList, error) { return openpgp.ReadArmoredKeyRing(strings.NewReader(arm)) },
		"binary":  func() (openpgp.EntityList, error) { return openpgp.ReadKeyRing(bytes.NewReader(bin)) },
	} {
		el, err := read()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(el) != 2 {
			t.Fatalf("%s: %d keys, want 2", name, len(el))
		}
		for i, e := range el {
			if e.PrivateKey != nil {
				t.Errorf("%s: key %d carries a private key", name, i)
			}
			if got := strings.ToUpper(e.PrimaryKey.KeyIdString()); !strings.HasSuffix(s.Fingerprints()[i], got) {
				t.Errorf("%s: key %d is %s, want %s", name, i, got, s.Fingerprints()[i])
			}
		}
	}
	if !fprPattern.MatchString(s.Fingerprint()) {
		t.Errorf("fingerprint %q is not 40 upper-case hex digits", s.Fingerprint())
	}
	if s.Fingerprint() != s.Fingerprints()[0] {
		t.Error("Fingerprint is not the first of Fingerprints")
	}
	if pk := s.PrivateKey(); pk == nil || pk.Encrypted || !bytes.Equal(pk.Fingerprint, a.PrimaryKey.Fingerprint) {
		t.Error("PrivateKey is not the decrypted primary signing key")
	}
	if got := s.Entities(); len(got) != 2 || got[0] != a || got[1] != b {
		t.Error("Entities does not return the keys in order")
	}
	if strings.Contains(s.String(), "PRIVATE") {
		t.Error("String shows key material")
	}
}

// TestGPGImport checks that GnuPG itself accepts the exported public key, the
// way a user runs `gpg --import` on the published key.
func TestGPGImport(t *testing.T) {
	gpg := requireTool(t, "gpg")
	a, _, _ := entities(t)
	s := newSigner(t, a)
	home := t.TempDir()
	cmd := exec.Command(gpg, "--homedir", home, "--batch", "--status-fd", "1", "--import")
	cmd.Stdin = bytes.NewReader(s.PublicKey())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "IMPORT_OK") || !strings.Contains(string(out), s.Fingerprint()) {
		t.Errorf("gpg did not import %s:\n%s", s.Fingerprint(), out)
	}
}

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	opts := signing.Options{Now: fixedClock, Bits: 2048, Email: "repo@example.com"}
	s1, created, err := signing.LoadOrCreate(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("first call: created = false")
	}
	path := filepath.Join(dir, signing.KeyFileName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\n")) {
		t.Errorf("key file is not an armored private key:\n%.60s", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file", len(entries))
	}

	s2, created, err := signing.LoadOrCreate(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("second call: created = true")
	}
	if s1.Fingerprint() != s2.Fingerprint() {
		t.Errorf("fingerprint changed: %s then %s", s1.Fingerprint(), s2.Fingerprint())
	}
	if uid := s2.Entities()[0].PrimaryIdentity().Name; uid != signing.DefaultKeyName+" <repo@example.com>" {
		t.Errorf("user ID %q", uid)
	}
	if !bytes.Equal(s1.PublicKeyBinary(), s2.PublicKeyBinary()) {
		t.Error("public key changed between loads")
	}
	out, err := s2.ClearSign([]byte(releaseText))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gpgv(t, s1.PublicKeyBinary(), writeTemp(t, t.TempDir(), "InRelease", out)); err != nil {
		t.Error(err)
	}
}

func TestLoadOrCreateConcurrent(t *testing.T) {
	dir := t.TempDir()
	opts := signing.Options{Now: fixedClock, Bits: 2048}
	const n = 3
	fprs := make([]string, n)
	errs := make([]error, n)
	createdCount := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, created, err := signing.LoadOrCreate(dir, opts)
			errs[i] = err
			if err == nil {
				fprs[i] = s.Fingerprint()
			}
			if created {
				mu.Lock()
				createdCount++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, f := range fprs[1:] {
		if f != fprs[0] {
			t.Fatalf("concurrent LoadOrCreate returned different keys: %v", fprs)
		}
	}
	if createdCount != 1 {
		t.Errorf("%d calls report created, want 1", createdCount)
	}
}

// armoredPrivate serializes entities as one armored private key block,
// encrypting a copy of each with passphrase if it is not empty.
func armoredPrivate(t *testing.T, passphrase []byte, es ...*openpgp.Entity) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		var raw bytes.Buffer
		if err := e.SerializePrivateWithoutSigning(&raw, nil); err != nil {
			t.Fatal(err)
		}
		cp, err := openpgp.ReadEntity(packet.NewReader(&raw))
		if err != nil {
			t.Fatal(err)
		}
		if len(passphrase) > 0 {
			if err := cp.EncryptPrivateKeys(passphrase, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := cp.SerializePrivateWithoutSigning(w, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

func TestLoad(t *testing.T) {
	a, b, _ := entities(t)
	secret := []byte("correct horse battery staple")
	plainA := armoredPrivate(t, nil, a)
	publicA := newSigner(t, a).PublicKey()
	tests := []struct {
		name       string
		input      []byte
		passphrase []byte
		want       error // nil: success
		wantFprs   []*openpgp.Entity
	}{
		{name: "plain", input: plainA, wantFprs: []*openpgp.Entity{a}},
		{name: "plain, passphrase ignored", input: plainA, passphrase: secret, wantFprs: []*openpgp.Entity{a}},
		{name: "encrypted", input: armoredPrivate(t, secret, a), passphrase: secret, wantFprs: []*openpgp.Entity{a}},
		{name: "two keys one block", input: armoredPrivate(t, nil, b, a), wantFprs: []*openpgp.Entity{b, a}},
		{name: "two blocks", input: append(armoredPrivate(t, nil, a), armoredPrivate(t, secret, b)...), passphrase: secret, wantFprs: []*openpgp.Entity{a, b}},
		{name: "encrypted without passphrase", input: armoredPrivate(t, secret, a), want: signing.ErrPassphraseRequired},
		{name: "wrong passphrase", input: armoredPrivate(t, secret, a), passphrase: []byte("hunter2-wrong"), want: signing.ErrBadPassphrase},
		{name: "public key only", input: publicA, want: signing.ErrNoSigningKey},
		{name: "garbage", input: []byte("not a key"), want: errors.New("any")},
		{name: "empty", input: nil, want: errors.New("any")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := signing.Load(bytes.NewReader(tt.input), tt.passphrase)
			if tt.want != nil {
				if err == nil {
					t.Fatal("no error")
				}
				if tt.want.Error() != "any" && !errors.Is(err, tt.want) {
					t.Fatalf("error %v, want %v", err, tt.want)
				}
				if len(tt.passphrase) > 0 && strings.Contains(err.Error(), string(tt.passphrase)) {
					t.Fatalf("error reveals the passphrase: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := s.Fingerprints()
			if len(got) != len(tt.wantFprs) {
				t.Fatalf("%d keys, want %d", len(got), len(tt.wantFprs))
			}
			for i, e := range tt.wantFprs {
				if got[i] != strings.ToUpper(hexString(e.PrimaryKey.Fingerprint)) {
					t.Errorf("key %d = %s", i, got[i])
				}
			}
			if _, err := s.DetachSign([]byte("x")); err != nil {
				t.Errorf("sign after load: %v", err)
			}
		})
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestLoadGnuPGKey loads a key made and exported by GnuPG, with a
// passphrase and a separate signing subkey, and checks the signatures verify.
func TestLoadGnuPGKey(t *testing.T) {
	gpg := requireTool(t, "gpg")
	home := t.TempDir()
	run := func(stdin []byte, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(gpg, append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "s3cret"}, args...)...)
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpg %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}
	run(nil, "--quick-gen-key", "GnuPG Made <gpg@example.com>", "rsa2048", "cert", "never")
	fprOut := run(nil, "--with-colons", "--list-secret-keys")
	var fpr string
	for _, l := range strings.Split(string(fprOut), "\n") {
		if strings.HasPrefix(l, "fpr:") {
			fpr = strings.Split(l, ":")[9]
			break
		}
	}
	run(nil, "--quick-add-key", fpr, "rsa2048", "sign", "never")
	secret := run(nil, "--armor", "--export-secret-keys", fpr)

	if _, err := signing.Load(bytes.NewReader(secret), nil); !errors.Is(err, signing.ErrPassphraseRequired) {
		t.Fatalf("without passphrase: %v, want ErrPassphraseRequired", err)
	}
	s, err := signing.Load(bytes.NewReader(secret), []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Fingerprint() != fpr {
		t.Errorf("fingerprint %s, want %s", s.Fingerprint(), fpr)
	}
	if s.PrivateKey().KeyId == s.Entities()[0].PrimaryKey.KeyId {
		t.Error("PrivateKey is the certify-only primary, want the signing subkey")
	}
	public := run(nil, "--export", fpr)
	inRelease, err := s.ClearSign([]byte(releaseText))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.DetachSign([]byte(releaseText))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := gpgv(t, public, writeTemp(t, dir, "InRelease", inRelease)); err != nil {
		t.Error(err)
	}
	if _, err := gpgv(t, public, writeTemp(t, dir, "Release.gpg", sig), writeTemp(t, dir, "Release", []byte(releaseText))); err != nil {
		t.Error(err)
	}
	if err := sqv(t, public, sig, []byte(releaseText)); err != nil {
		t.Error(err)
	}
}

func TestNewErrors(t *testing.T) {
	a, _, _ := entities(t)
	tests := []struct {
		name string
		es   []*openpgp.Entity
		opts signing.Options
		want error
	}{
		{name: "none", es: nil, want: signing.ErrNoSigningKey},
		{name: "duplicate", es: []*openpgp.Entity{a, a}},
		{name: "public only", es: publicOnly(t, a), want: signing.ErrNoSigningKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := signing.New(tt.es, tt.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func publicOnly(t *testing.T, e *openpgp.Entity) []*openpgp.Entity {
	t.Helper()
	var buf bytes.Buffer
	if err := e.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	el, err := openpgp.ReadKeyRing(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return el
}

func TestConcurrentSigning(t *testing.T) {
	a, b, _ := entities(t)
	s := newSigner(t, a, b)
	want, err := s.ClearSign([]byte(releaseText))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				got, err := s.ClearSign([]byte(releaseText))
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, want) {
					errs <- errors.New("concurrent ClearSign gave different bytes")
					return
				}
				if _, err := s.DetachSign([]byte(releaseText)); err != nil {
					errs <- err
					return
				}
				_ = s.PublicKey()
				_ = s.Fingerprint()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
