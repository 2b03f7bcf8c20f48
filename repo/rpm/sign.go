package rpm

import (
	"bytes"
	"context"
	"crypto"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"path"
	"slices"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/pierhq/pier/repo"
)

var _ repo.Rewriter = (*Format)(nil)

// WithSigningKey returns a copy of f that signs packages at ingest with key
// when the config asks for it (SignPackages, SignTargets). The key must be
// an OpenPGP v4 RSA, DSA or EdDSA key: the algorithms rpm 4.18 signs and
// verifies packages with.
func (f *Format) WithSigningKey(key *packet.PrivateKey) *Format {
	g := *f
	g.signKey = key
	return &g
}

// signs reports whether packages uploaded to t are signed at ingest.
func (f *Format) signs(t repo.Target) bool {
	if !f.cfg.SignPackages || f.signKey == nil {
		return false
	}
	if len(f.cfg.SignTargets) == 0 {
		return true
	}
	for _, p := range f.cfg.SignTargets {
		if ok, _ := path.Match(p, t.String()); ok {
			return true
		}
	}
	return false
}

// Rewrite signs the rpm in r for targets that want signed packages, the
// way rpmsign --addsign from rpm 4.18 does (sign/rpmgensig.c):
//
//   - it refuses a package whose digests do not verify (rpmsign's checkPkg:
//     "not signing corrupt package") and an rpm v3 package, whose main
//     header has no immutable region ("Cannot sign RPM v3 packages");
//   - it keeps only the signature header's region, removes every earlier
//     OpenPGP signature (tags 267, 268, 1002, 1005, 1006) and adds a
//     header-only signature, SHA-256, in tag 268 (RSA) or 267 (DSA,
//     EdDSA);
//   - a package with no payload digest (neither PAYLOADDIGEST nor
//     PAYLOADDIGESTALT: rpm < 4.14 builds) also gets a header+payload
//     signature in tag 1002 or 1005, which rpmsign adds for such packages
//     by itself; whether the package names its payload digest's algorithm
//     does not matter (rpm then assumes SHA-256);
//   - it shrinks RESERVEDSPACE by what the signatures add when that fits,
//     so the main header and payload keep their offsets, and otherwise
//     lets the signature header grow (or shrink, when signatures are
//     removed);
//   - a package that already carries a signature by the same key with the
//     same parameters is left as it is (rpmsign: "already contains
//     identical signature, skipping"), so it returns false.
//
// The main header and payload are copied unchanged. It returns false for
// targets that do not sign. Problems with the package are bad package
// errors; problems with the key or the output are plain errors.
func (f *Format) Rewrite(ctx context.Context, t repo.Target, r io.ReaderAt, size int64, w io.Writer) (bool, error) {
	if !f.signs(t) {
		return false, nil
	}
	key := f.signKey
	headerTag, wholeTag, err := signatureTags(key)
	if err != nil {
		return false, err
	}
	l, err := readLayout(r, size, f.cfg.MaxHeaderSize)
	if err != nil {
		return false, err
	}
	if l.main.region == 0 {
		return false, repo.BadPackage("rpm v3 package (its main header has no immutable region): rpmsign cannot sign it (\"Cannot sign RPM v3 packages\"); rebuild it with rpm 4 or later")
	}
	check := newIntegrity(l)
	if alreadySigned(l, headerTag, key) {
		return false, check.check(ctx, r, size, l)
	}
	v3 := l.main.find(tagPayloadDigest) == nil && l.main.find(tagPayloadDigestAlt) == nil
	now := time.Now().UTC().Truncate(time.Second)
	headerSig, err := signDigest(key, now, l.mainHeader(), nil)
	if err != nil {
		return false, err
	}
	sigs := []hdrEntry{{tag: headerTag, typ: typeBin, count: uint32(len(headerSig)), data: headerSig}}
	if v3 {
		// The header+payload signature is computed in the same read of
		// the payload that checks its digests, before anything is written.
		h := crypto.SHA256.New()
		h.Write(l.mainHeader())
		if err := check.check(ctx, r, size, l, h); err != nil {
			return false, err
		}
		wholeSig, err := signDigest(key, now, nil, h)
		if err != nil {
			return false, err
		}
		sigs = append(sigs, hdrEntry{tag: wholeTag, typ: typeBin, count: uint32(len(wholeSig)), data: wholeSig})
	}
	sigHdr := resignHeader(l, sigs)
	var head bytes.Buffer
	head.Grow(leadSize + len(sigHdr) + 8 + len(l.mainHeader()))
	head.Write(l.head[:leadSize])
	head.Write(sigHdr)
	head.Write(make([]byte, (8-len(sigHdr)%8)%8))
	head.Write(l.mainHeader())
	if _, err := w.Write(head.Bytes()); err != nil {
		return false, fmt.Errorf("rpm: write signed package: %w", err)
	}
	if v3 {
		if err := copyPayload(ctx, r, l.end, size, w); err != nil {
			return false, err
		}
	} else if err := check.check(ctx, r, size, l, writeErr{w}); err != nil {
		// The payload is checked while it is copied: the caller discards
		// the output of a failed rewrite.
		return false, err
	}
	return true, ctx.Err()
}

// signatureTags returns the tags rpm puts key's header-only and
// header+payload signatures in (rpmgensig.c makeSigTag), or an error for
// a key rpm 4.18 cannot sign with or verify.
func signatureTags(key *packet.PrivateKey) (header, whole uint32, err error) {
	if key.Version != 4 {
		return 0, 0, fmt.Errorf("rpm: signing key %X is an OpenPGP v%d key; rpm 4.18 verifies only v4 signatures", key.Fingerprint, key.Version)
	}
	switch key.PubKeyAlgo {
	case packet.PubKeyAlgoRSA:
		return sigTagRSA, sigTagPGP, nil
	case packet.PubKeyAlgoDSA, packet.PubKeyAlgoEdDSA:
		return sigTagDSA, sigTagGPG, nil
	}
	return 0, 0, fmt.Errorf("rpm: signing key %X uses public key algorithm %d; rpm 4.18 signs and verifies packages only with RSA, DSA and EdDSA keys", key.Fingerprint, key.PubKeyAlgo)
}

// alreadySigned reports whether the package's header signature tag holds a
// signature with the parameters Pier would write (rpmsign's haveSignature:
// same version, type, algorithms and issuer key ID).
func alreadySigned(l *layout, tag uint32, key *packet.PrivateKey) bool {
	e := l.sig.find(tag)
	if e == nil || e.typ != typeBin {
		return false
	}
	pkt, err := parseSignaturePacket(e.data)
	return err == nil && pkt.version == 4 && pkt.sigType == pgpSigBinary && pkt.pubKeyAlgo == byte(key.PubKeyAlgo) &&
		pkt.hashAlgo == 8 && pkt.issuer == key.KeyId
}

// signDigest returns a v4 binary-document signature packet over data, or
// over what h has hashed when data is nil, made with key and SHA-256.
func signDigest(key *packet.PrivateKey, now time.Time, data []byte, h hash.Hash) ([]byte, error) {
	if h == nil {
		h = crypto.SHA256.New()
		h.Write(data)
	}
	keyID := key.KeyId
	sig := &packet.Signature{
		Version:      4,
		SigType:      packet.SigTypeBinary,
		PubKeyAlgo:   key.PubKeyAlgo,
		Hash:         crypto.SHA256,
		CreationTime: now,
		IssuerKeyId:  &keyID,
	}
	if err := sig.Sign(h, key, &packet.Config{DefaultHash: crypto.SHA256}); err != nil {
		return nil, fmt.Errorf("rpm: sign with key %X: %w", key.Fingerprint, err)
	}
	var b bytes.Buffer
	if err := sig.Serialize(&b); err != nil {
		return nil, fmt.Errorf("rpm: write signature: %w", err)
	}
	return b.Bytes(), nil
}

// resignHeader returns the new signature header: the entries of the old
// one without its OpenPGP signatures, plus sigs, with RESERVEDSPACE shrunk
// by what that adds when it has room, as rpmsign does, so that the header
// keeps its size. Entries after the region (appended by some tool once the
// region was sealed; rpm reads and verifies them there) move into the new
// region, as rpmsign 4.18 writes them back (checked: a package whose
// region covers none of its entries, signed by rpmsign, keeps them all);
// of a tag found twice only the first, which verification used, is kept
// (rpmsign would keep the later one).
func resignHeader(l *layout, sigs []hdrEntry) []byte {
	var entries []hdrEntry
	for i, e := range l.sig.entries {
		switch {
		case e.tag == sigTagDSA || e.tag == sigTagRSA || e.tag == sigTagPGP || e.tag == sigTagGPG || e.tag == sigTagPGP5:
		case i >= l.sig.inRegion && slices.ContainsFunc(entries, func(k hdrEntry) bool { return k.tag == e.tag }):
			// A second entry of a tag: the first is what rpm and the
			// reader verified, so it is the one kept.
		default:
			entries = append(entries, e)
		}
	}
	reserved := slices.IndexFunc(entries, func(e hdrEntry) bool { return e.tag == sigTagReserved })
	entries = append(entries, sigs...)
	out := encodeEntries(entries, regionSignatures)
	intro := l.head[leadSize:]
	orig := headerIntro + indexEntry*int(binary.BigEndian.Uint32(intro[8:])) + int(binary.BigEndian.Uint32(intro[12:]))
	if reserved < 0 {
		return out
	}
	// rpmsign takes added bytes out of RESERVEDSPACE when they fit in it
	// entirely; removed bytes shrink the header, and so do added ones that
	// do not fit (checked against rpmsign 4.18 on packages whose signatures
	// grow, shrink and outgrow the reserved space).
	r := &entries[reserved]
	for range 3 { // tags after RESERVEDSPACE may move with it: settle
		grow := len(out) - orig
		if grow <= 0 || grow >= int(r.count) {
			break
		}
		n := int(r.count) - grow
		r.data, r.count = make([]byte, n), uint32(n)
		out = encodeEntries(entries, regionSignatures)
	}
	return out
}

// copyPayload writes bytes [from, size) of r to w.
func copyPayload(ctx context.Context, r io.ReaderAt, from, size int64, w io.Writer) error {
	return hashPayload(ctx, r, from, size, []io.Writer{writeErr{w}})
}

// writeErr marks write errors of the output as such, so that they are not
// mistaken for a problem with the package.
type writeErr struct{ w io.Writer }

func (e writeErr) Write(b []byte) (int, error) {
	n, err := e.w.Write(b)
	if err != nil {
		err = fmt.Errorf("rpm: write signed package: %w", err)
	}
	return n, err
}
