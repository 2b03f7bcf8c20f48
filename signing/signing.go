// Package signing signs repository metadata.
//
// It has two kinds of signer:
//
//   - [OpenPGP] holds one or more OpenPGP private keys and writes what apt,
//     dnf/yum and zypper verify: clear-signed InRelease files, ASCII-armored
//     detached signatures (Release.gpg, repomd.xml.asc) and the public keys
//     clients install. With several keys, every signature is made with every
//     key, so a client that trusts any one of them accepts the result; that is
//     how a key is rotated.
//   - [RSAKey] holds the plain RSA key Alpine's apk uses for APKINDEX
//     signatures, stored the way abuild-keygen stores it.
//
// A [Ring] is the set of OpenPGP keys a repository signs with during a key
// rotation: configured key files plus every private key in a key directory
// (where [CreateKey] adds new keys and [RetireKey] moves keys out of use).
//
// Keys are loaded once; signing methods never touch the disk and are safe for
// concurrent use. Passphrases and private key material never appear in an
// error.
package signing

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Sentinel errors; test for them with errors.Is.
var (
	// ErrNoSigningKey means a key ring holds no private key that can sign.
	ErrNoSigningKey = errors.New("signing: no signing-capable private key")
	// ErrPassphraseRequired means a private key is encrypted and no
	// passphrase was given.
	ErrPassphraseRequired = errors.New("signing: private key is encrypted and no passphrase was given")
	// ErrBadPassphrase means an encrypted private key could not be decrypted
	// with the passphrase given.
	ErrBadPassphrase = errors.New("signing: cannot decrypt private key (wrong passphrase?)")
	// ErrWeakKey means a requested or loaded RSA key is shorter than
	// [MinRSABits].
	ErrWeakKey = errors.New("signing: RSA key too short")
	// ErrKeyMismatch means a stored public key does not belong to the stored
	// private key next to it.
	ErrKeyMismatch = errors.New("signing: public key file does not match private key")
	// ErrAmbiguousKey means several default-named keys were found where one
	// was expected.
	ErrAmbiguousKey = errors.New("signing: several keys found, name one explicitly")
)

const (
	// DefaultRSABits is the RSA modulus size used when a caller passes 0:
	// RSA-4096 is accepted by every apt, dnf, zypper and apk verifier policy.
	DefaultRSABits = 4096
	// MinRSABits is the smallest RSA modulus accepted. apt's gpgv policy
	// requires at least rsa2048 (and Sequoia accepts RSA-2048 only until
	// 2030), so 2048 is meant for tests; use 4096 for real keys.
	MinRSABits = 2048
)

// rsaBits applies the default and the lower bound to a requested size.
func rsaBits(bits int) (int, error) {
	if bits == 0 {
		return DefaultRSABits, nil
	}
	if bits < MinRSABits {
		return 0, fmt.Errorf("%w: %d bits, need at least %d", ErrWeakKey, bits, MinRSABits)
	}
	return bits, nil
}

// createFileExclusive writes data to path atomically and only if path does
// not exist yet: the bytes go to a temporary file in the same directory
// (mode 0600), which is synced and then hard-linked into place, so a reader
// never sees a partial key and two processes racing to create the same key
// cannot overwrite each other. It reports fs.ErrExist (wrapped) when path
// already exists. On file systems without hard links it falls back to rename.
func createFileExclusive(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op once removed below
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod %s: %w", tmpName, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmpName, err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create %s: %w", path, err)
		}
		// No hard links here: check-then-rename is the best we can do.
		if _, statErr := os.Lstat(path); statErr == nil {
			return fmt.Errorf("create %s: %w", path, os.ErrExist)
		}
		if err := os.Rename(tmpName, path); err != nil {
			return fmt.Errorf("rename %s: %w", path, err)
		}
	}
	// After a link the temporary name is an extra link to the key: drop it
	// before the directory is synced.
	os.Remove(tmpName)
	return syncDir(dir)
}

// replaceFile writes data to path atomically, replacing any existing file:
// temporary file, fsync, rename, fsync of the directory.
func replaceFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod %s: %w", tmpName, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmpName, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	ok = true
	return syncDir(dir)
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
