package signing

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RSAKey is a plain RSA key pair for Alpine apk signatures (APKINDEX.tar.gz
// and packages). apk finds the public key by file name: a signature entry is
// named ".SIGN.RSA.<KeyName()>" and clients must install the public key as
// /etc/apk/keys/<KeyName()>. An RSAKey is immutable; its methods are safe for
// concurrent use.
type RSAKey struct {
	key     *rsa.PrivateKey
	pubName string
	pubPEM  []byte
}

// isDefaultRSAName reports whether base is a name LoadOrCreateRSA gives a key
// it generates without an explicit name: "pier-" and 8 lower-case hex digits.
func isDefaultRSAName(base string) bool {
	hex, ok := strings.CutPrefix(base, "pier-")
	if !ok || len(hex) != 8 {
		return false
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// LoadOrCreateRSA returns the apk signing key kept in dir, creating it (and
// dir, mode 0700) on first use. The private key is PEM in dir/<keyName>.rsa
// (mode 0600; PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY" are read,
// PKCS#8 is written) and the public key PEM "PUBLIC KEY" (PKIX) in
// dir/<keyName>.rsa.pub (mode 0644), following abuild-keygen's layout. A
// missing public key file is rewritten from the private key; one that does
// not match it is an error wrapping [ErrKeyMismatch].
//
// keyName is the file base name without ".rsa" (a trailing ".rsa" or
// ".rsa.pub" is ignored), e.g. "repo@example.com-6165ee59". When it is empty
// the key is named "pier-<unix time of creation as 8 lower-case hex
// digits>", like abuild-keygen's "<email>-<hex time>": a later call with an
// empty keyName loads the single "pier-XXXXXXXX.rsa" in dir, and fails with
// [ErrAmbiguousKey] if there are several. bits applies only to a new key: 0
// means DefaultRSABits, fewer than MinRSABits is an error. created reports
// whether this call generated the key.
func LoadOrCreateRSA(dir, keyName string, bits int) (k *RSAKey, created bool, err error) {
	bits, err = rsaBits(bits)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("signing: create key directory: %w", err)
	}
	if keyName != "" {
		keyName = trimRSAName(keyName)
		if err := checkRSAName(keyName); err != nil {
			return nil, false, err
		}
	} else {
		keyName, err = findDefaultRSAName(dir)
		if err != nil {
			return nil, false, err
		}
		if keyName == "" {
			keyName = fmt.Sprintf("pier-%08x", time.Now().Unix())
		}
	}
	privPath := filepath.Join(dir, keyName+".rsa")
	k, err = loadRSAFiles(dir, keyName)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, false, fmt.Errorf("signing: generate %d-bit RSA key: %w", bits, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, fmt.Errorf("signing: encode RSA private key: %w", err)
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := createFileExclusive(privPath, privPEM, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			k, err = loadRSAFiles(dir, keyName)
			return k, false, err
		}
		return nil, false, fmt.Errorf("signing: store new RSA key: %w", err)
	}
	k, err = loadRSAFiles(dir, keyName)
	if err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// findDefaultRSAName returns the base name of the one default-named key in
// dir, or "" if there is none.
func findDefaultRSAName(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("signing: list key directory: %w", err)
	}
	var found []string
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".rsa")
		if ok && e.Type().IsRegular() && isDefaultRSAName(base) {
			found = append(found, base)
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("%w: %s in %s", ErrAmbiguousKey, strings.Join(found, ", "), dir)
	}
}

// trimRSAName removes a ".rsa.pub" or ".rsa" suffix.
func trimRSAName(name string) string {
	if base, ok := strings.CutSuffix(name, ".rsa.pub"); ok {
		return base
	}
	return strings.TrimSuffix(name, ".rsa")
}

// checkRSAName rejects key names that are not a plain file name.
func checkRSAName(name string) error {
	if name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, "/\\\x00\n") {
		return fmt.Errorf("signing: invalid RSA key name %q", name)
	}
	return nil
}

// loadRSAFiles reads dir/<name>.rsa and checks or writes dir/<name>.rsa.pub.
// A missing private key gives an error wrapping fs.ErrNotExist.
func loadRSAFiles(dir, name string) (*RSAKey, error) {
	privPath := filepath.Join(dir, name+".rsa")
	privPEM, err := os.ReadFile(privPath)
	if err != nil {
		return nil, fmt.Errorf("signing: read RSA key: %w", err)
	}
	k, err := ParseRSA(name, privPEM)
	if err != nil {
		return nil, fmt.Errorf("signing: load %s: %w", privPath, err)
	}
	pubPath := filepath.Join(dir, k.KeyName())
	onDisk, err := os.ReadFile(pubPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := replaceFile(pubPath, k.pubPEM, 0o644); err != nil {
			return nil, fmt.Errorf("signing: write RSA public key: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("signing: read RSA public key: %w", err)
	case !bytes.Equal(onDisk, k.pubPEM):
		pub, perr := parseRSAPublicPEM(onDisk)
		if perr != nil {
			return nil, fmt.Errorf("signing: %s: %w", pubPath, perr)
		}
		if !pub.Equal(&k.key.PublicKey) {
			return nil, fmt.Errorf("%w: %s", ErrKeyMismatch, pubPath)
		}
	}
	return k, nil
}

// ParseRSA returns the key in privatePEM (PKCS#1 "RSA PRIVATE KEY" or PKCS#8
// "PRIVATE KEY", unencrypted) under the base name keyName, so that its
// [RSAKey.KeyName] is keyName+".rsa.pub".
func ParseRSA(keyName string, privatePEM []byte) (*RSAKey, error) {
	keyName = trimRSAName(keyName)
	if err := checkRSAName(keyName); err != nil {
		return nil, err
	}
	block, _ := pem.Decode(privatePEM)
	if block == nil {
		return nil, errors.New("signing: RSA private key: no PEM block")
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		if _, encrypted := block.Headers["DEK-Info"]; encrypted {
			return nil, errors.New("signing: RSA private key: encrypted PEM is not supported")
		}
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signing: RSA private key: %w", err)
		}
		key = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signing: RSA private key: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("signing: RSA private key: PKCS#8 holds a %T, not RSA", k)
		}
		key = rk
	default:
		return nil, fmt.Errorf("signing: RSA private key: unexpected PEM block %q", block.Type)
	}
	if bits := key.N.BitLen(); bits < MinRSABits {
		return nil, fmt.Errorf("%w: %d bits, need at least %d", ErrWeakKey, bits, MinRSABits)
	}
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("signing: RSA private key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("signing: encode RSA public key: %w", err)
	}
	return &RSAKey{
		key:     key,
		pubName: keyName + ".rsa.pub",
		pubPEM:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
	}, nil
}

func parseRSAPublicPEM(data []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM PUBLIC KEY")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	rp, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is a %T, not RSA", pub)
	}
	return rp, nil
}

// KeyName returns the public key's file name, e.g. "pier-6165ee59.rsa.pub":
// the name apk looks up in /etc/apk/keys/ and the suffix of the
// ".SIGN.RSA.<name>" signature entry.
func (k *RSAKey) KeyName() string { return k.pubName }

// PublicPEM returns the public key as PEM "PUBLIC KEY" (PKIX), the content
// of /etc/apk/keys/<KeyName()>. The caller must not modify it.
func (k *RSAKey) PublicPEM() []byte { return k.pubPEM }

// Public returns the RSA public key.
func (k *RSAKey) Public() *rsa.PublicKey { return &k.key.PublicKey }

// SignSHA1 returns the RSA PKCS#1 v1.5 signature of SHA-1(data): the
// ".SIGN.RSA." signature every apk version verifies.
func (k *RSAKey) SignSHA1(data []byte) ([]byte, error) {
	sum := sha1.Sum(data)
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.key, crypto.SHA1, sum[:])
	if err != nil {
		return nil, fmt.Errorf("signing: RSA/SHA-1 sign: %w", err)
	}
	return sig, nil
}

// SignSHA256 returns the RSA PKCS#1 v1.5 signature of SHA-256(data): the
// ".SIGN.RSA256." signature of apk-tools 2.7 and later.
func (k *RSAKey) SignSHA256(data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.key, crypto.SHA256, sum[:])
	if err != nil {
		return nil, fmt.Errorf("signing: RSA/SHA-256 sign: %w", err)
	}
	return sig, nil
}

// String describes the key by name; it never shows key material.
func (k *RSAKey) String() string { return "RSAKey(" + k.pubName + ")" }
