package signing_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/signing"
)

// testRSAKeys generates two 2048-bit RSA keys once per test binary.
var testRSAKeys = sync.OnceValues(func() ([]*rsa.PrivateKey, error) {
	var out []*rsa.PrivateKey
	for range 2 {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
})

func rsaKeys(t *testing.T) (a, b *rsa.PrivateKey) {
	t.Helper()
	ks, err := testRSAKeys()
	if err != nil {
		t.Fatal(err)
	}
	return ks[0], ks[1]
}

func pkcs1PEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func pkcs8PEM(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func parsePublicPEM(t *testing.T, data []byte) *rsa.PublicKey {
	t.Helper()
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("not a PEM PUBLIC KEY: %q", data)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		t.Errorf("data after the PEM block: %q", rest)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rp, ok := pub.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("public key is %T", pub)
	}
	return rp
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestLoadOrCreateRSADefaultName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "apk")
	before := time.Now().Unix()
	k, created, err := signing.LoadOrCreateRSA(dir, "", 2048)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("first call: created = false")
	}
	m := regexp.MustCompile(`^pier-([0-9a-f]{8})\.rsa\.pub$`).FindStringSubmatch(k.KeyName())
	if m == nil {
		t.Fatalf("KeyName %q does not look like pier-<8 hex>.rsa.pub", k.KeyName())
	}
	ts, _ := strconv.ParseInt(m[1], 16, 64)
	if ts < before || ts > time.Now().Unix() {
		t.Errorf("name time %d is not the creation time", ts)
	}
	base := strings.TrimSuffix(k.KeyName(), ".pub")
	if got := fileMode(t, filepath.Join(dir, base)); got != 0o600 {
		t.Errorf("private key mode %v, want 0600", got)
	}
	if got := fileMode(t, filepath.Join(dir, k.KeyName())); got != 0o644 {
		t.Errorf("public key mode %v, want 0644", got)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, k.KeyName()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, k.PublicPEM()) {
		t.Error("public key file differs from PublicPEM")
	}
	if pub := parsePublicPEM(t, k.PublicPEM()); !pub.Equal(k.Public()) || pub.N.BitLen() != 2048 {
		t.Error("PublicPEM is not the key's 2048-bit public key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%d files in the key directory, want 2", len(entries))
	}

	k2, created, err := signing.LoadOrCreateRSA(dir, "", 2048)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("second call: created = true")
	}
	if k2.KeyName() != k.KeyName() || !bytes.Equal(k2.PublicPEM(), k.PublicPEM()) {
		t.Error("second call returned a different key")
	}
}

func TestLoadOrCreateRSANamed(t *testing.T) {
	dir := t.TempDir()
	const name = "repo@example.com-6165ee59"
	k, created, err := signing.LoadOrCreateRSA(dir, name, 2048)
	if err != nil || !created {
		t.Fatalf("create: %v, created=%v", err, created)
	}
	if k.KeyName() != name+".rsa.pub" {
		t.Errorf("KeyName = %q", k.KeyName())
	}
	for _, alias := range []string{name, name + ".rsa", name + ".rsa.pub"} {
		k2, created, err := signing.LoadOrCreateRSA(dir, alias, 2048)
		if err != nil || created {
			t.Fatalf("load %q: %v, created=%v", alias, err, created)
		}
		if !bytes.Equal(k2.PublicPEM(), k.PublicPEM()) {
			t.Errorf("load %q: different key", alias)
		}
	}
}

func TestRSASign(t *testing.T) {
	a, b := rsaKeys(t)
	k, err := signing.ParseRSA("pier-test", pkcs8PEM(t, a))
	if err != nil {
		t.Fatal(err)
	}
	pub := parsePublicPEM(t, k.PublicPEM())
	data := []byte("gzip bytes of an APKINDEX control stream")
	tests := []struct {
		name string
		sign func([]byte) ([]byte, error)
		hash crypto.Hash
		sum  func([]byte) []byte
		alg  string
	}{
		{"SHA1", k.SignSHA1, crypto.SHA1, func(d []byte) []byte { s := sha1.Sum(d); return s[:] }, "-sha1"},
		{"SHA256", k.SignSHA256, crypto.SHA256, func(d []byte) []byte { s := sha256.Sum256(d); return s[:] }, "-sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := tt.sign(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(sig) != 256 {
				t.Errorf("signature is %d bytes, want 256", len(sig))
			}
			if err := rsa.VerifyPKCS1v15(pub, tt.hash, tt.sum(data), sig); err != nil {
				t.Errorf("verify: %v", err)
			}
			if err := rsa.VerifyPKCS1v15(&b.PublicKey, tt.hash, tt.sum(data), sig); err == nil {
				t.Error("verified with the wrong key")
			}
			if err := rsa.VerifyPKCS1v15(pub, tt.hash, tt.sum(append([]byte("x"), data...)), sig); err == nil {
				t.Error("verified over other data")
			}
			// OpenSSL is what apk-tools verifies with.
			openssl := requireTool(t, "openssl")
			dir := t.TempDir()
			cmd := exec.Command(openssl, "dgst", tt.alg, "-verify", writeTemp(t, dir, "key.pub", k.PublicPEM()),
				"-signature", writeTemp(t, dir, "sig", sig), writeTemp(t, dir, "data", data))
			if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Verified OK") {
				t.Errorf("openssl dgst -verify: %v\n%s", err, out)
			}
		})
	}
}

func TestParseRSA(t *testing.T) {
	a, _ := rsaKeys(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}})
	tests := []struct {
		name    string
		keyName string
		pem     []byte
		want    error // nil: success; errAny: any error
	}{
		{"PKCS1", "k", pkcs1PEM(a), nil},
		{"PKCS8", "k", pkcs8PEM(t, a), nil},
		{"name with suffix", "k.rsa.pub", pkcs8PEM(t, a), nil},
		{"ECDSA", "k", pkcs8PEM(t, ec), errAny},
		{"encrypted", "k", encrypted, errAny},
		{"garbage", "k", []byte("nope"), errAny},
		{"public key", "k", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}), errAny},
		{"bad name", "../k", pkcs1PEM(a), errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := signing.ParseRSA(tt.keyName, tt.pem)
			if tt.want != nil {
				if err == nil {
					t.Fatal("no error")
				}
				if tt.want != errAny && !errors.Is(err, tt.want) {
					t.Fatalf("error %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.KeyName() != "k.rsa.pub" {
				t.Errorf("KeyName = %q", k.KeyName())
			}
			if !k.Public().Equal(&a.PublicKey) {
				t.Error("wrong key")
			}
			if strings.Contains(k.String(), "PRIVATE") {
				t.Error("String shows key material")
			}
		})
	}
}

var errAny = errors.New("any error")

func TestParseRSAWeak(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Skip("cannot generate a 1024-bit key here:", err)
	}
	if _, err := signing.ParseRSA("k", pkcs1PEM(weak)); !errors.Is(err, signing.ErrWeakKey) {
		t.Errorf("error %v, want ErrWeakKey", err)
	}
	if _, _, err := signing.LoadOrCreateRSA(t.TempDir(), "k", 1024); !errors.Is(err, signing.ErrWeakKey) {
		t.Errorf("LoadOrCreateRSA(1024): %v, want ErrWeakKey", err)
	}
}

// TestLoadOrCreateRSAExisting loads keys as abuild-keygen and older
// OpenSSL write them: PKCS#1 private key, public key missing or present.
func TestLoadOrCreateRSAExisting(t *testing.T) {
	a, b := rsaKeys(t)
	pubA, err := signing.ParseRSA("x", pkcs1PEM(a))
	if err != nil {
		t.Fatal(err)
	}
	pubB, err := signing.ParseRSA("x", pkcs1PEM(b))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		pub    []byte // nil: no public key file
		want   error
		assert func(t *testing.T, dir string, k *signing.RSAKey)
	}{
		{name: "public key missing", assert: func(t *testing.T, dir string, k *signing.RSAKey) {
			data, err := os.ReadFile(filepath.Join(dir, "abuild-5f5e1000.rsa.pub"))
			if err != nil || !bytes.Equal(data, k.PublicPEM()) {
				t.Errorf("public key file not rewritten: %v", err)
			}
		}},
		{name: "public key present", pub: pubA.PublicPEM()},
		{name: "public key of another key", pub: pubB.PublicPEM(), want: signing.ErrKeyMismatch},
		{name: "public key garbage", pub: []byte("junk"), want: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTemp(t, dir, "abuild-5f5e1000.rsa", pkcs1PEM(a))
			if tt.pub != nil {
				writeTemp(t, dir, "abuild-5f5e1000.rsa.pub", tt.pub)
			}
			k, created, err := signing.LoadOrCreateRSA(dir, "abuild-5f5e1000", 4096)
			if tt.want != nil {
				if err == nil || (tt.want != errAny && !errors.Is(err, tt.want)) {
					t.Fatalf("error %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if created {
				t.Error("created = true for an existing key")
			}
			if !k.Public().Equal(&a.PublicKey) {
				t.Error("loaded a different key")
			}
			if tt.assert != nil {
				tt.assert(t, dir, k)
			}
		})
	}
}

func TestLoadOrCreateRSAAmbiguous(t *testing.T) {
	a, b := rsaKeys(t)
	dir := t.TempDir()
	writeTemp(t, dir, "pier-00000001.rsa", pkcs1PEM(a))
	writeTemp(t, dir, "pier-00000002.rsa", pkcs1PEM(b))
	writeTemp(t, dir, "other-00000003.rsa", pkcs1PEM(b)) // not default-named: ignored
	if _, _, err := signing.LoadOrCreateRSA(dir, "", 2048); !errors.Is(err, signing.ErrAmbiguousKey) {
		t.Fatalf("error %v, want ErrAmbiguousKey", err)
	}
	k, _, err := signing.LoadOrCreateRSA(dir, "pier-00000002", 2048)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Public().Equal(&b.PublicKey) {
		t.Error("explicit name loaded the wrong key")
	}
}

func TestLoadOrCreateRSABadNames(t *testing.T) {
	for _, name := range []string{"../escape", "a/b", `a\b`, ".hidden", ".rsa"} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "keys")
			if _, _, err := signing.LoadOrCreateRSA(dir, name, 2048); err == nil {
				t.Fatal("no error")
			}
			entries, _ := os.ReadDir(parent)
			for _, e := range entries {
				if e.Name() != "keys" {
					t.Errorf("file %q created outside the key directory", e.Name())
				}
			}
		})
	}
}

// TestRSAOpenSSLInterop loads keys generated by the openssl command line, as
// abuild-keygen does, and checks PublicPEM matches `openssl rsa -pubout`.
func TestRSAOpenSSLInterop(t *testing.T) {
	openssl := requireTool(t, "openssl")
	for _, args := range [][]string{{"genrsa", "2048"}, {"genrsa", "-traditional", "2048"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			priv, err := exec.Command(openssl, args...).Output()
			if err != nil {
				t.Fatalf("openssl %v: %v", args, err)
			}
			k, err := signing.ParseRSA("ossl", priv)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(openssl, "rsa", "-pubout")
			cmd.Stdin = bytes.NewReader(priv)
			pub, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pub, k.PublicPEM()) {
				t.Errorf("PublicPEM differs from openssl rsa -pubout:\n%s\n%s", k.PublicPEM(), pub)
			}
		})
	}
}
