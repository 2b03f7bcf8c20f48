package signing

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// KeyFileName is the name of the armored private key file [LoadOrCreate]
// keeps in its directory.
const KeyFileName = "pier-signing.asc"

// DefaultKeyName is the user ID name given to a key [LoadOrCreate]
// generates when [Options.Name] is empty.
const DefaultKeyName = "Pier Repository Signing Key"

// maxKeyFileSize bounds how much of a key file is read.
const maxKeyFileSize = 16 << 20

// Options configures an [OpenPGP] signer and the key [LoadOrCreate] may
// generate. The zero value is ready to use.
type Options struct {
	// Now returns the time stamped into every signature (and, in
	// LoadOrCreate, the creation time of a new key). Nil means time.Now.
	// Tests set it so that output is reproducible.
	Now func() time.Time
	// Name is the user ID name of a generated key; empty means
	// DefaultKeyName.
	Name string
	// Email is the user ID e-mail of a generated key; it may be empty.
	Email string
	// Bits is the RSA modulus size of a generated key; 0 means
	// DefaultRSABits (4096).
	Bits int
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// OpenPGP signs repository metadata with one or more OpenPGP keys. The first
// key is the primary one: it is the key [OpenPGP.Fingerprint] and
// [OpenPGP.PrivateKey] describe. Every signature is made with every key, which
// lets a repository rotate keys: publish both public keys, sign with both for
// a while, then drop the old one.
//
// Signatures use SHA-256 and are deterministic for RSA keys: the same message
// signed at the same second gives the same bytes (the random salt notation
// go-crypto adds by default is turned off). Signature creation time and the
// key-flags subpackets are written non-critical, as GnuPG writes them, because
// old rpm (openSUSE Leap 15.4) and yum (EL7) parsers reject critical
// subpackets they do not know.
//
// An OpenPGP is immutable after construction; all its methods are safe for
// concurrent use.
type OpenPGP struct {
	entities    []*openpgp.Entity
	primaryKey  *packet.PrivateKey
	now         func() time.Time
	publicArmor []byte
	publicBin   []byte
}

// New returns a signer for entities, which must each hold a decrypted private
// key able to sign; entities[0] becomes the primary key. The entities must
// not be modified afterwards.
func New(entities []*openpgp.Entity, opts Options) (*OpenPGP, error) {
	if len(entities) == 0 {
		return nil, ErrNoSigningKey
	}
	now := opts.now()
	seen := make(map[string]bool, len(entities))
	var bin bytes.Buffer
	var primaryKey *packet.PrivateKey
	for _, e := range entities {
		if e == nil || e.PrimaryKey == nil {
			return nil, fmt.Errorf("%w: nil entity", ErrNoSigningKey)
		}
		fpr := fingerprint(e)
		if seen[fpr] {
			return nil, fmt.Errorf("signing: key %s given twice", fpr)
		}
		seen[fpr] = true
		k, err := signingKey(e, now)
		if err != nil {
			return nil, err
		}
		if primaryKey == nil {
			primaryKey = k
		}
		if err := e.Serialize(&bin); err != nil {
			return nil, fmt.Errorf("signing: serialize public key %s: %w", fpr, err)
		}
	}
	var arm bytes.Buffer
	w, err := armor.Encode(&arm, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, fmt.Errorf("signing: armor public keys: %w", err)
	}
	if _, err := w.Write(bin.Bytes()); err != nil {
		return nil, fmt.Errorf("signing: armor public keys: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("signing: armor public keys: %w", err)
	}
	arm.WriteByte('\n')
	return &OpenPGP{
		entities:    append([]*openpgp.Entity(nil), entities...),
		primaryKey:  primaryKey,
		now:         opts.Now,
		publicArmor: arm.Bytes(),
		publicBin:   bin.Bytes(),
	}, nil
}

// signingKey returns the private key e signs with at time t: its newest valid
// signing subkey, or else its primary key. It fails when that key is missing,
// still encrypted, a GnuPG stub, expired, revoked or a too-short RSA key.
func signingKey(e *openpgp.Entity, t time.Time) (*packet.PrivateKey, error) {
	fpr := fingerprint(e)
	k, ok := e.SigningKey(t)
	if !ok {
		return nil, fmt.Errorf("%w: key %s has no valid signing key at %s (expired, revoked or not for signing)",
			ErrNoSigningKey, fpr, t.UTC().Format(time.RFC3339))
	}
	if k.PrivateKey == nil || k.PrivateKey.Dummy() {
		return nil, fmt.Errorf("%w: key %s: no secret part for the signing key", ErrNoSigningKey, fpr)
	}
	if k.PrivateKey.Encrypted {
		return nil, fmt.Errorf("%w: key %s", ErrPassphraseRequired, fpr)
	}
	switch k.PublicKey.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		bits, err := k.PublicKey.BitLength()
		if err != nil {
			return nil, fmt.Errorf("signing: key %s: %w", fpr, err)
		}
		if int(bits) < MinRSABits {
			return nil, fmt.Errorf("%w: key %s has %d bits, need at least %d", ErrWeakKey, fpr, bits, MinRSABits)
		}
	}
	return k.PrivateKey, nil
}

func fingerprint(e *openpgp.Entity) string {
	return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
}

// GenerateRSA makes a new OpenPGP key for signing repositories: a v4 RSA
// primary key that can sign and certify, with one user ID "name <email>"
// (email may be empty), a SHA-256 self-signature made at now, no expiry, no
// subkeys and no passphrase. bits 0 means DefaultRSABits; fewer than
// MinRSABits is an error. A zero now means the current time.
func GenerateRSA(name, email string, bits int, now time.Time) (*openpgp.Entity, error) {
	bits, err := rsaBits(bits)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, errors.New("signing: generate key: empty name")
	}
	if now.IsZero() {
		now = time.Now()
	}
	now = now.Truncate(time.Second)
	cfg := &packet.Config{
		Algorithm:   packet.PubKeyAlgoRSA,
		RSABits:     bits,
		DefaultHash: crypto.SHA256,
		Time:        func() time.Time { return now },
		// Keep the key importable by old rpm/yum parsers, as GnuPG does.
		InsecureGenerateNonCriticalKeyFlags:              true,
		InsecureGenerateNonCriticalSignatureCreationTime: true,
	}
	e, err := openpgp.NewEntity(name, "", email, cfg)
	if err != nil {
		return nil, fmt.Errorf("signing: generate %d-bit RSA key: %w", bits, err)
	}
	// NewEntity adds an encryption subkey; a repository key never decrypts.
	e.Subkeys = nil
	if e.PrimaryKey.Version != 4 {
		return nil, fmt.Errorf("signing: generated a v%d key, want v4", e.PrimaryKey.Version)
	}
	return e, nil
}

// LoadOrCreate returns the signer whose armored private key is kept in
// dir/pier-signing.asc ([KeyFileName]). On the first call the directory
// (mode 0700) and key are created: an RSA key from [GenerateRSA] with
// opts.Name, opts.Email and opts.Bits, written unencrypted with mode 0600
// through a synced temporary file that is linked into place, so a crash never
// leaves half a key and two processes starting at once end up with the same
// key. created reports whether this call generated the key.
func LoadOrCreate(dir string, opts Options) (s *OpenPGP, created bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("signing: create key directory: %w", err)
	}
	path := filepath.Join(dir, KeyFileName)
	s, err = loadFile(path, opts)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return s, false, err
	}
	e, err := generateFor(opts)
	if err != nil {
		return nil, false, err
	}
	data, err := marshalPrivate(e)
	if err != nil {
		return nil, false, err
	}
	if err := createFileExclusive(path, data, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process won the race; use its key.
			s, err = loadFile(path, opts)
			return s, false, err
		}
		return nil, false, fmt.Errorf("signing: store new key: %w", err)
	}
	s, err = New([]*openpgp.Entity{e}, opts)
	if err != nil {
		return nil, false, err
	}
	return s, true, nil
}

func loadFile(path string, opts Options) (*OpenPGP, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("signing: open key: %w", err)
	}
	defer f.Close()
	entities, err := ReadPrivateKeys(f, nil)
	if err != nil {
		return nil, fmt.Errorf("signing: load %s: %w", path, err)
	}
	return New(entities, opts)
}

// Load returns a signer for the private key(s) read from r, using the
// current time for signatures (use [ReadPrivateKeys] and [New] to set a
// clock). r holds armored (or binary) OpenPGP private keys, as
// `gpg --export-secret-keys --armor` writes them; several keys, in one
// armor block or several, all sign, and the first is primary. Encrypted keys
// are decrypted with passphrase. It fails with [ErrNoSigningKey] when a key
// has no usable private signing key.
func Load(r io.Reader, passphrase []byte) (*OpenPGP, error) {
	entities, err := ReadPrivateKeys(r, passphrase)
	if err != nil {
		return nil, err
	}
	return New(entities, Options{})
}

// ReadPrivateKeys reads the OpenPGP private keys in r (armored, possibly
// several armor blocks, or binary) and decrypts any encrypted ones with
// passphrase. A key without secret parts is an error wrapping
// [ErrNoSigningKey]; an encrypted key without a passphrase wraps
// [ErrPassphraseRequired]; a failed decryption wraps [ErrBadPassphrase].
func ReadPrivateKeys(r io.Reader, passphrase []byte) ([]*openpgp.Entity, error) {
	data, err := readLimited(r)
	if err != nil {
		return nil, fmt.Errorf("signing: read private key: %w", err)
	}
	entities, err := readEntities(data)
	if err != nil {
		return nil, err
	}
	for _, e := range entities {
		fpr := fingerprint(e)
		if !isEncrypted(e) {
			continue
		}
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("%w: key %s", ErrPassphraseRequired, fpr)
		}
		if err := e.DecryptPrivateKeys(passphrase); err != nil {
			return nil, fmt.Errorf("%w: key %s: %w", ErrBadPassphrase, fpr, err)
		}
	}
	return entities, nil
}

// readLimited reads all of r, at most maxKeyFileSize bytes.
func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxKeyFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("more than %d bytes", maxKeyFileSize)
	}
	return data, nil
}

// readEntities parses the OpenPGP private keys in data (armored, possibly
// several armor blocks, or binary) without decrypting them. It fails with
// [ErrNoSigningKey] when there is none or one is a public key only.
func readEntities(data []byte) ([]*openpgp.Entity, error) {
	var entities []*openpgp.Entity
	if bytes.Contains(data, []byte("-----BEGIN PGP ")) {
		for _, block := range splitArmorBlocks(data) {
			el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(block))
			if err != nil {
				return nil, fmt.Errorf("signing: parse armored private key: %w", err)
			}
			entities = append(entities, el...)
		}
	} else {
		el, err := openpgp.ReadKeyRing(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("signing: parse private key: %w", err)
		}
		entities = el
	}
	if len(entities) == 0 {
		return nil, ErrNoSigningKey
	}
	for _, e := range entities {
		if e.PrivateKey == nil {
			return nil, fmt.Errorf("%w: key %s is a public key", ErrNoSigningKey, fingerprint(e))
		}
	}
	return entities, nil
}

func isEncrypted(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && !e.PrivateKey.Dummy() && e.PrivateKey.Encrypted {
		return true
	}
	for _, sk := range e.Subkeys {
		if sk.PrivateKey != nil && !sk.PrivateKey.Dummy() && sk.PrivateKey.Encrypted {
			return true
		}
	}
	return false
}

// splitArmorBlocks cuts data into its armor blocks: from each
// "-----BEGIN " at the start of a line to the next one (text before the
// first block is dropped).
func splitArmorBlocks(data []byte) [][]byte {
	const begin = "-----BEGIN "
	var starts []int
	for i := 0; i < len(data); {
		j := bytes.Index(data[i:], []byte(begin))
		if j < 0 {
			break
		}
		pos := i + j
		if pos == 0 || data[pos-1] == '\n' {
			starts = append(starts, pos)
		}
		i = pos + len(begin)
	}
	blocks := make([][]byte, 0, len(starts))
	for n, s := range starts {
		end := len(data)
		if n+1 < len(starts) {
			end = starts[n+1]
		}
		blocks = append(blocks, data[s:end])
	}
	return blocks
}

// signConfig returns the go-crypto configuration for one signing call, with
// the clock read once so every signature of the call carries the same time.
func (o *OpenPGP) signConfig() (*packet.Config, time.Time) {
	t := time.Now()
	if o.now != nil {
		t = o.now()
	}
	t = t.Truncate(time.Second)
	return &packet.Config{
		DefaultHash:                           crypto.SHA256,
		Time:                                  func() time.Time { return t },
		NonDeterministicSignaturesViaNotation: packet.BoolPointer(false),
		InsecureGenerateNonCriticalSignatureCreationTime: true,
	}, t
}

// signers returns the private signing key of every entity at time t.
func (o *OpenPGP) signers(t time.Time) ([]*packet.PrivateKey, error) {
	keys := make([]*packet.PrivateKey, 0, len(o.entities))
	for _, e := range o.entities {
		k, err := signingKey(e, t)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// ClearSign returns msg as an OpenPGP cleartext-signed message, the format of
// apt's InRelease: "-----BEGIN PGP SIGNED MESSAGE-----", a "Hash: SHA256"
// header, an empty line, msg with every line that starts with "-" escaped as
// "- -", then one armored signature block holding a signature by every key,
// ending with "-----END PGP SIGNATURE-----\n" and nothing after it.
//
// As GnuPG does, a single final newline of msg is taken as the line break
// before the signature block, so the signed text is msg without it: a
// Release file ending in "\n" is followed directly by the
// "-----BEGIN PGP SIGNATURE-----" line, with no empty line between them.
// Trailing spaces and tabs on a line are not covered by the signature (RFC
// 4880 §7.1), so msg should not have any.
func (o *OpenPGP) ClearSign(msg []byte) ([]byte, error) {
	cfg, t := o.signConfig()
	keys, err := o.signers(t)
	if err != nil {
		return nil, fmt.Errorf("signing: clearsign: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(len(msg) + 1024*len(keys))
	w, err := clearsign.EncodeMulti(&buf, keys, cfg)
	if err != nil {
		return nil, fmt.Errorf("signing: clearsign: %w", err)
	}
	if _, err := w.Write(bytes.TrimSuffix(msg, []byte("\n"))); err != nil {
		return nil, fmt.Errorf("signing: clearsign: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("signing: clearsign: %w", err)
	}
	// go-crypto ends the armor with "-----" and no line break; apt wants
	// exactly one newline at most, and text tools want one.
	out := buf.Bytes()
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	return out, nil
}

// DetachSign returns an ASCII-armored detached signature over the exact bytes
// of msg (binary signature type), one "PGP SIGNATURE" block holding a
// signature by every key, ending with a newline: the format of apt's
// Release.gpg and of repomd.xml.asc.
func (o *OpenPGP) DetachSign(msg []byte) ([]byte, error) {
	cfg, t := o.signConfig()
	keys, err := o.signers(t)
	if err != nil {
		return nil, fmt.Errorf("signing: detach sign: %w", err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.SignatureType, nil)
	if err != nil {
		return nil, fmt.Errorf("signing: detach sign: %w", err)
	}
	for i, e := range o.entities {
		c := *cfg
		c.SigningKeyId = keys[i].KeyId
		if err := openpgp.DetachSign(w, e, bytes.NewReader(msg), &c); err != nil {
			return nil, fmt.Errorf("signing: detach sign with %s: %w", fingerprint(e), err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("signing: detach sign: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// PublicKey returns the public keys as one ASCII-armored "PGP PUBLIC KEY
// BLOCK" (what `gpg --export --armor` writes), ending with a newline: the
// file users install as /etc/apt/keyrings/*.asc or reference as gpgkey=.
// The caller must not modify the returned slice.
func (o *OpenPGP) PublicKey() []byte { return o.publicArmor }

// PublicKeyBinary returns the public keys as a binary OpenPGP keyring (what
// `gpg --export` writes), usable as an apt signed-by .gpg file: its first
// byte is an old-format (0x98/0x99) or new-format (0xC6) public-key packet
// tag. The caller must not modify the returned slice.
func (o *OpenPGP) PublicKeyBinary() []byte { return o.publicBin }

// Fingerprint returns the upper-case hexadecimal fingerprint of the primary
// key (40 digits for a v4 key).
func (o *OpenPGP) Fingerprint() string { return fingerprint(o.entities[0]) }

// Fingerprints returns the fingerprints of all keys, primary first.
func (o *OpenPGP) Fingerprints() []string {
	out := make([]string, len(o.entities))
	for i, e := range o.entities {
		out[i] = fingerprint(e)
	}
	return out
}

// Entities returns the keys, primary first. The slice is a copy; the
// entities are shared and must not be modified.
func (o *OpenPGP) Entities() []*openpgp.Entity {
	return append([]*openpgp.Entity(nil), o.entities...)
}

// PrivateKey returns the decrypted private key the primary entity signs with
// (its primary key, or its newest signing subkey if it has one, as chosen by
// New), for signers outside this package such as rpm header signing. It must
// not be modified.
func (o *OpenPGP) PrivateKey() *packet.PrivateKey { return o.primaryKey }

// String describes the signer by fingerprints; it never shows key material.
func (o *OpenPGP) String() string {
	return "OpenPGP(" + strings.Join(o.Fingerprints(), ",") + ")"
}
