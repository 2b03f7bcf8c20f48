package signing

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// RetiredDir is the subdirectory of a key directory that [RetireKey] moves
// keys into. Keys there no longer sign; they stay for the record (and for
// `pier keys export`).
const RetiredDir = "retired"

// generatedPrefix starts the file name of a key [CreateKey] generates:
// pier-signing-<last 16 hex digits of the fingerprint>.asc.
const generatedPrefix = "pier-signing-"

// ErrKeyNotFound means no key of a ring has the fingerprint asked for.
var ErrKeyNotFound = errors.New("signing: no such key")

// RingKey is one OpenPGP key of a [Ring] and where it comes from.
type RingKey struct {
	// Entity holds the key (private parts decrypted for active keys).
	Entity *openpgp.Entity
	// Path is the file the key was read from.
	Path string
	// Configured is true for a key from a configured file, false for one
	// found in the key directory.
	Configured bool
	// Retired is true for a key in the key directory's retired/ folder.
	Retired bool
}

// Fingerprint returns the key's upper-case hexadecimal fingerprint.
func (k RingKey) Fingerprint() string { return fingerprint(k.Entity) }

// Created returns the creation time of the key's primary key.
func (k RingKey) Created() time.Time { return k.Entity.PrimaryKey.CreationTime }

// Algorithm names the primary key's algorithm and size, such as "rsa4096"
// or "ed25519".
func (k RingKey) Algorithm() string { return algorithmName(k.Entity.PrimaryKey) }

func algorithmName(pk *packet.PublicKey) string {
	bits, _ := pk.BitLength()
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		return fmt.Sprintf("rsa%d", bits)
	case packet.PubKeyAlgoDSA:
		return fmt.Sprintf("dsa%d", bits)
	case packet.PubKeyAlgoECDSA:
		return fmt.Sprintf("ecdsa%d", bits)
	case packet.PubKeyAlgoEdDSA:
		return "ed25519"
	case packet.PubKeyAlgoEd25519:
		return "ed25519"
	case packet.PubKeyAlgoEd448:
		return "ed448"
	}
	return fmt.Sprintf("algo%d", pk.PubKeyAlgo)
}

// RingOptions says where the keys of a [Ring] are.
type RingOptions struct {
	// Dir is the key directory: every file in it (or symlink to a file)
	// whose name ends in ".asc" and that holds an armored OpenPGP private
	// key is part of the ring (hidden files and subdirectories are skipped). A missing directory
	// holds no keys.
	Dir string
	// Files are configured private key files, in order; they come first.
	Files []string
	// Passphrase decrypts encrypted keys (configured or in Dir).
	Passphrase []byte
}

// Ring is the set of OpenPGP keys that sign together: the configured files
// first, in their order, then the keys of the key directory, oldest first
// (by key creation time, then fingerprint). The first key is the primary.
// A key found twice is kept once, where it comes first.
type Ring struct {
	Keys []RingKey
}

// LoadRing reads the keys o names. It fails when a file cannot be read or
// parsed, holds a public key only, or holds an encrypted key that
// o.Passphrase does not open. The ring may be empty.
func LoadRing(o RingOptions) (*Ring, error) {
	r := &Ring{}
	seen := map[string]bool{}
	add := func(k RingKey) {
		fpr := k.Fingerprint()
		if !seen[fpr] {
			seen[fpr] = true
			r.Keys = append(r.Keys, k)
		}
	}
	for _, f := range o.Files {
		es, err := readPrivateFile(f, o.Passphrase)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			add(RingKey{Entity: e, Path: f, Configured: true})
		}
	}
	dirKeys, err := readKeyDir(o.Dir, o.Passphrase, true)
	if err != nil {
		return nil, err
	}
	for _, k := range dirKeys {
		add(k)
	}
	return r, nil
}

// LoadRetired reads the keys in dir's retired/ folder, oldest first. Their
// private parts are not decrypted: they are for listing and export only.
func LoadRetired(dir string) ([]RingKey, error) {
	keys, err := readKeyDir(filepath.Join(dir, RetiredDir), nil, false)
	for i := range keys {
		keys[i].Retired = true
	}
	return keys, err
}

// readKeyDir reads every armored private key file (*.asc) in dir, sorted
// by key creation time then fingerprint. With decrypt false, encrypted keys
// stay encrypted.
func readKeyDir(dir string, passphrase []byte, decrypt bool) ([]RingKey, error) {
	if dir == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("signing: read key directory: %w", err)
	}
	var keys []RingKey
	for _, de := range ents {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".asc") {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue // a directory, or a dangling symlink
		}
		data, err := readKeyBytes(p)
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(data, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----")) {
			continue // a public key or other file someone keeps there
		}
		var es []*openpgp.Entity
		if decrypt {
			es, err = ReadPrivateKeys(bytes.NewReader(data), passphrase)
		} else {
			es, err = readEntities(data)
		}
		if err != nil {
			return nil, fmt.Errorf("signing: load %s: %w", p, err)
		}
		for _, e := range es {
			keys = append(keys, RingKey{Entity: e, Path: p})
		}
	}
	slices.SortStableFunc(keys, func(a, b RingKey) int {
		if c := a.Created().Compare(b.Created()); c != 0 {
			return c
		}
		return strings.Compare(a.Fingerprint(), b.Fingerprint())
	})
	return keys, nil
}

func readKeyBytes(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("signing: open key: %w", err)
	}
	defer f.Close()
	data, err := readLimited(f)
	if err != nil {
		return nil, fmt.Errorf("signing: %s: %w", path, err)
	}
	return data, nil
}

func readPrivateFile(path string, passphrase []byte) ([]*openpgp.Entity, error) {
	data, err := readKeyBytes(path)
	if err != nil {
		return nil, err
	}
	es, err := ReadPrivateKeys(bytes.NewReader(data), passphrase)
	if err != nil {
		return nil, fmt.Errorf("signing: load %s: %w", path, err)
	}
	return es, nil
}

// Fingerprints returns the fingerprints of the ring's keys, primary first.
func (r *Ring) Fingerprints() []string {
	out := make([]string, len(r.Keys))
	for i, k := range r.Keys {
		out[i] = k.Fingerprint()
	}
	return out
}

// Signer returns a signer over every key of the ring, primary first. It
// fails with [ErrNoSigningKey] on an empty ring.
func (r *Ring) Signer(opts Options) (*OpenPGP, error) {
	es := make([]*openpgp.Entity, len(r.Keys))
	for i, k := range r.Keys {
		es[i] = k.Entity
	}
	return New(es, opts)
}

// Find returns the key whose fingerprint is fpr, or ends with it (at least
// 16 hexadecimal digits, a long key ID); case and spaces do not matter.
// Several matches or none are errors; none wraps [ErrKeyNotFound].
func Find(keys []RingKey, fpr string) (RingKey, error) {
	want := strings.ToUpper(strings.ReplaceAll(fpr, " ", ""))
	want = strings.TrimPrefix(want, "0X")
	if len(want) < 16 {
		return RingKey{}, fmt.Errorf("signing: fingerprint %q: give at least 16 hexadecimal digits", fpr)
	}
	var found []RingKey
	for _, k := range keys {
		if strings.HasSuffix(k.Fingerprint(), want) {
			found = append(found, k)
		}
	}
	switch len(found) {
	case 0:
		return RingKey{}, fmt.Errorf("%w: %s", ErrKeyNotFound, fpr)
	case 1:
		return found[0], nil
	}
	return RingKey{}, fmt.Errorf("signing: %s matches %d keys; give the whole fingerprint", fpr, len(found))
}

// ExportPublic returns the public keys of entities as one keyring: ASCII
// armored ("PGP PUBLIC KEY BLOCK", ending with a newline) when armored is
// true, else binary, as `gpg --export [--armor]` writes them.
func ExportPublic(entities []*openpgp.Entity, armored bool) ([]byte, error) {
	var bin bytes.Buffer
	for _, e := range entities {
		if err := e.Serialize(&bin); err != nil {
			return nil, fmt.Errorf("signing: serialize public key %s: %w", fingerprint(e), err)
		}
	}
	if !armored {
		return bin.Bytes(), nil
	}
	return armorBlock(openpgp.PublicKeyType, bin.Bytes())
}

// armorBlock wraps data in one armor block of type typ, with a final
// newline.
func armorBlock(typ string, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, typ, nil)
	if err != nil {
		return nil, fmt.Errorf("signing: armor: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("signing: armor: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("signing: armor: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// marshalPrivate returns e's private key, unencrypted, as an armored
// private key block.
func marshalPrivate(e *openpgp.Entity) ([]byte, error) {
	var raw bytes.Buffer
	if err := e.SerializePrivateWithoutSigning(&raw, nil); err != nil {
		return nil, fmt.Errorf("signing: serialize private key: %w", err)
	}
	return armorBlock(openpgp.PrivateKeyType, raw.Bytes())
}

// CreateKey generates a new key with [GenerateRSA] (opts.Name, or
// [DefaultKeyName]; opts.Email; opts.Bits; created at opts.Now) and stores
// it unencrypted, mode 0600, as dir/pier-signing-<last 16 digits of its
// fingerprint>.asc, through a synced temporary file, so that a crash never
// leaves half a key. The directory is created (0700) if needed. The new key
// joins the ring the next time the ring is loaded.
func CreateKey(dir string, opts Options) (RingKey, error) {
	e, err := generateFor(opts)
	if err != nil {
		return RingKey{}, err
	}
	fpr := fingerprint(e)
	path := filepath.Join(dir, generatedPrefix+fpr[len(fpr)-16:]+".asc")
	if err := storeKey(dir, path, e); err != nil {
		return RingKey{}, err
	}
	return RingKey{Entity: e, Path: path}, nil
}

// LoadOrCreateRing loads the ring o names and, when it holds no key at
// all, generates one in o.Dir/pier-signing.asc ([KeyFileName]) as
// [LoadOrCreate] does (two processes starting at once end up with the same
// key). created reports whether this call generated the key.
func LoadOrCreateRing(o RingOptions, opts Options) (r *Ring, created bool, err error) {
	r, err = LoadRing(o)
	if err != nil || len(r.Keys) > 0 {
		return r, false, err
	}
	e, err := generateFor(opts)
	if err != nil {
		return nil, false, err
	}
	if err := storeKey(o.Dir, filepath.Join(o.Dir, KeyFileName), e); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process won the race; use its key.
			r, err = LoadRing(o)
			return r, false, err
		}
		return nil, false, err
	}
	r, err = LoadRing(o)
	return r, err == nil, err
}

func generateFor(opts Options) (*openpgp.Entity, error) {
	name := opts.Name
	if name == "" {
		name = DefaultKeyName
	}
	return GenerateRSA(name, opts.Email, opts.Bits, opts.now())
}

// storeKey writes e's private key to path (which must not exist yet) in
// dir, creating dir with mode 0700.
func storeKey(dir, path string, e *openpgp.Entity) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("signing: create key directory: %w", err)
	}
	data, err := marshalPrivate(e)
	if err != nil {
		return err
	}
	if err := createFileExclusive(path, data, 0o600); err != nil {
		return fmt.Errorf("signing: store new key: %w", err)
	}
	return nil
}

// RetireKey moves the key file in dir that holds the key fpr (see [Find])
// into dir/retired/, so that the key no longer signs. It returns the new
// path. Only keys of the key directory can be retired (configured keys are
// removed from the configuration instead), and only from a file that holds
// no other key.
func RetireKey(dir, fpr string) (string, error) {
	keys, err := readKeyDir(dir, nil, false)
	if err != nil {
		return "", err
	}
	k, err := Find(keys, fpr)
	if err != nil {
		return "", err
	}
	for _, other := range keys {
		if other.Path == k.Path && other.Fingerprint() != k.Fingerprint() {
			return "", fmt.Errorf("signing: %s also holds key %s; split the file first", k.Path, other.Fingerprint())
		}
	}
	rdir := filepath.Join(dir, RetiredDir)
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return "", fmt.Errorf("signing: create %s: %w", rdir, err)
	}
	dst := filepath.Join(rdir, filepath.Base(k.Path))
	if _, err := os.Lstat(dst); err == nil {
		return "", fmt.Errorf("signing: retire %s: %s exists", k.Fingerprint(), dst)
	}
	if err := os.Rename(k.Path, dst); err != nil {
		return "", fmt.Errorf("signing: retire %s: %w", k.Fingerprint(), err)
	}
	if err := syncDir(rdir); err != nil {
		return "", err
	}
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return dst, nil
}
