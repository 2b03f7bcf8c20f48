package rpm

import (
	"cmp"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"

	"github.com/pierhq/pier/repo"
)

// Tags rpm's package verification reads (lib/rpmvs.c).
const (
	sigTagDSA            = 267  // header-only OpenPGP signature (DSA, ECDSA, EdDSA)
	sigTagRSA            = 268  // header-only OpenPGP signature (RSA)
	sigTagSHA1           = 269  // SHA-1 of the main header, hex
	sigTagLongArchive    = 271  // uncompressed payload size, 64-bit
	sigTagSHA256         = 273  // SHA-256 of the main header, hex
	sigTagSize           = 1000 // header+payload size
	sigTagPGP            = 1002 // header+payload OpenPGP signature (RSA)
	sigTagMD5            = 1004 // MD5 of header+payload, binary
	sigTagGPG            = 1005 // header+payload OpenPGP signature (DSA, ECDSA, EdDSA)
	sigTagPGP5           = 1006 // obsolete signature, removed by rpmsign
	sigTagPayloadSize    = 1007 // uncompressed payload size
	sigTagReserved       = 1008 // room for signatures
	tagPayloadDigest     = 5092 // SHA-256 of the compressed payload, hex, one per element
	tagPayloadDigestAlgo = 5093 // the digest's algorithm; rpm 4.18 verifies SHA-256 whatever it says
	tagPayloadDigestAlt  = 5097 // digest of the uncompressed payload, hex
)

// vsResult is the state of one digest or signature, as rpm's rpmRC.
type vsResult int

const (
	vsNotFound vsResult = iota // absent, or not verifiable here
	vsOK
	vsBad
)

// vsItem is one digest or signature of a package, as rpm's rpmsinfo: what
// it covers, what it claims and how it fared.
type vsItem struct {
	name      string // as rpm -Kv names it: "Header SHA256 digest"
	where     string // "signature header tag 273"
	id        uint32 // tag<<16 | element: orders payload digests as rpm does
	header    bool   // covers the main header
	payload   bool   // covers the payload
	signature bool
	want      string // lower-case hex the package claims
	hash      func() hash.Hash
	pkt       *sigPacket // a signature's packet
	h         hash.Hash  // the running digest while the payload is read
	rc        vsResult
	problem   string // why rc is vsBad
}

// integrity is every digest and signature of one package, checked the way
// rpm 4.18 checks a package before installing it (rpmpkgRead with
// %_pkgverify_level digest, the default, which is also what rpmkeys -K
// and rpmsign's check before signing do).
type integrity struct {
	items []*vsItem
}

// newIntegrity collects the package's digests and signatures and checks
// their form, as rpmvsInit and rpmsinfoInit do: a digest of the wrong type,
// size or hex form, or a signature that is not an OpenPGP signature
// packet, is BAD before anything is hashed.
func newIntegrity(l *layout) *integrity {
	v := &integrity{}
	sig := func(tag uint32, name string, header, payload bool, hashOf func() hash.Hash, typ, count, size uint32) {
		e := vsLookup(l.sig, tag)
		if e == nil {
			return
		}
		it := &vsItem{name: name, where: fmt.Sprintf("signature header tag %d", tag), id: tag << 16,
			header: header, payload: payload, signature: hashOf == nil, hash: hashOf}
		v.items = append(v.items, it)
		switch {
		case e.typ != typ:
			it.bad("it has type %s, rpm wants %s (the tool that made or signed the package wrote a broken value)", typeName(e.typ), typeName(typ))
		case count != 0 && e.count != count:
			it.bad("it has %d values, rpm wants %d (the tool that made or signed the package wrote a broken value)", e.count, count)
		case size != 0 && uint32(len(e.data)) != size:
			it.bad("it is %d bytes long, rpm wants %d (the tool that made or signed the package wrote a broken value)", len(e.data), size)
		case it.signature:
			pkt, err := parseSignaturePacket(e.data)
			if err != nil {
				it.bad("it is not an OpenPGP signature rpm can read: %v (rpm: \"invalid OpenPGP signature\"; the signing tool wrote a broken or unsupported signature)", err)
				break
			}
			it.pkt = pkt
		case typ == typeBin:
			it.want = hex.EncodeToString(e.data)
		default:
			it.setHex(strings.TrimSuffix(string(e.data), "\x00"))
		}
	}
	// In the order failures are reported: what the header digests say
	// first, then the payload, then signatures.
	sig(sigTagSHA256, "Header SHA256 digest", true, false, sha256.New, typeString, 1, 65)
	sig(sigTagSHA1, "Header SHA1 digest", true, false, sha1.New, typeString, 1, 41)
	// The payload digests are string arrays: rpm checks every element,
	// always as SHA-256 of the compressed payload (it ignores
	// PAYLOADDIGESTALGO, and rpm -K hashes the ALT digest over the same
	// compressed bytes).
	for _, tag := range []uint32{tagPayloadDigest, tagPayloadDigestAlt} {
		e := vsLookup(l.main, tag)
		if e == nil {
			continue
		}
		name := "Payload SHA256 digest"
		if tag == tagPayloadDigestAlt {
			name = "Payload SHA256 ALT digest"
		}
		values := []string{""}
		if e.typ == typeStringArr {
			values = e.strings()
		}
		for i, val := range values {
			it := &vsItem{name: name, where: fmt.Sprintf("main header tag %d", tag), id: tag<<16 | uint32(i),
				payload: true, hash: sha256.New}
			v.items = append(v.items, it)
			if e.typ != typeStringArr {
				it.bad("it has type %s, rpm wants %s", typeName(e.typ), typeName(typeStringArr))
				continue
			}
			it.setHex(val)
		}
	}
	sig(sigTagMD5, "MD5 digest", true, true, md5.New, typeBin, 0, 16)
	sig(sigTagRSA, "Header RSA signature", true, false, nil, typeBin, 0, 0)
	sig(sigTagDSA, "Header DSA signature", true, false, nil, typeBin, 0, 0)
	sig(sigTagPGP, "RSA signature of header and payload", true, true, nil, typeBin, 0, 0)
	sig(sigTagGPG, "DSA signature of header and payload", true, true, nil, typeBin, 0, 0)
	return v
}

// vsLookup finds a tag as rpm's hdrblobGet does for verification: an entry
// whose elements are wider than a byte (INT16, INT32, INT64) or empty
// (NULL) counts as absent.
func vsLookup(h *hdrBlob, tag uint32) *hdrEntry {
	e := h.find(tag)
	if e == nil || e.typ == typeNull || e.typ == typeInt16 || e.typ == typeInt32 || e.typ == typeInt64 {
		return nil
	}
	return e
}

func (it *vsItem) bad(format string, args ...any) {
	it.rc, it.problem = vsBad, fmt.Sprintf(format, args...)
}

// setHex records a hex digest after rpm's validHex check: at least 40
// characters, an even number of them, all hex digits.
func (it *vsItem) setHex(s string) {
	if len(s) < 40 || len(s)%2 != 0 || strings.Trim(s, "0123456789abcdefABCDEF") != "" {
		it.bad("%q is not a hex digest (rpm: \"invalid hex\"; the tool that made the package wrote a broken value)", s)
		return
	}
	it.want = strings.ToLower(s)
}

// check verifies the package: the header digests and header-only
// signatures over the main header, then, in one read of the payload, the
// payload digests, the MD5 of header and payload and the header+payload
// signatures. A signature cannot be verified without the signer's key; rpm
// still compares the digest with the 16-bit prefix the signature carries,
// and so does Pier. It returns a bad package error naming the first check
// that failed, or the range no digest covers. Each of tee receives the
// payload as it is read, so that a caller that copies or signs it needs no
// second read.
func (v *integrity) check(ctx context.Context, r io.ReaderAt, size int64, l *layout, tee ...io.Writer) error {
	running := v.begin(l)
	if len(running) > 0 || len(tee) > 0 {
		if err := hashPayload(ctx, r, l.end, size, append(running, tee...)); err != nil {
			return err
		}
	}
	return v.finish()
}

// begin hashes the main header into the digests that cover it and returns
// the running digests that the payload must be written to (one SHA-256 of
// the payload serves every payload digest); finish then judges them.
func (v *integrity) begin(l *layout) []io.Writer {
	var payloadSum hash.Hash
	var running []io.Writer
	for _, it := range v.items {
		if it.rc == vsBad {
			continue
		}
		switch {
		case it.signature:
			if it.h = it.pkt.newHash(); it.h == nil {
				continue // rpm cannot compute this digest: NOTFOUND
			}
			it.h.Write(l.mainHeader())
		case it.header:
			it.h = it.hash()
			it.h.Write(l.mainHeader())
		default:
			if payloadSum == nil {
				payloadSum = sha256.New()
				running = append(running, payloadSum)
			}
			it.h = payloadSum
			continue
		}
		if it.payload {
			running = append(running, it.h)
		}
	}
	return running
}

// finish compares every digest begin started, now fed the whole payload,
// with what the package claims, and returns the verdict.
func (v *integrity) finish() error {
	for _, it := range v.items {
		if it.rc == vsBad || it.h == nil {
			continue
		}
		switch {
		case it.signature && it.pkt.sigType != pgpSigBinary:
			it.bad("it signs with signature type %#x; rpm verifies only binary-document signatures", it.pkt.sigType)
		case it.signature && !it.pkt.finish(it.h):
			it.bad("its digest does not start with the 16 bits the signature records: the signed bytes were changed after signing")
		case it.signature:
			// rpm now needs the key: NOKEY, which does not fail the package.
		case hex.EncodeToString(it.h.Sum(nil)) == it.want:
			it.rc = vsOK
		default:
			it.rc = vsBad
		}
	}
	return v.verdict()
}

// verdict applies rpm's rules (rpmvsVerify at the digest level): a failed
// payload digest is forgiven when the first other payload digest (in rpm's
// order) verified; anything else that failed fails the package; and both
// the header and the payload must be covered by a digest that verified.
func (v *integrity) verdict() error {
	// rpm's order among the payload digests: highest tag<<16|element first.
	var pl []*vsItem
	for _, it := range v.items {
		if it.payload && !it.header {
			pl = append(pl, it)
		}
	}
	slices.SortFunc(pl, func(a, b *vsItem) int { return cmp.Compare(b.id, a.id) })
	for i, it := range pl {
		if it.rc != vsBad {
			continue
		}
		alt := 0
		if i == 0 {
			alt = 1
		}
		if alt < len(pl) && pl[alt].rc == vsOK {
			it.rc = vsNotFound
		}
	}
	var header, payload bool
	for _, it := range v.items {
		if it.rc == vsBad {
			return it.err()
		}
		if it.rc == vsOK {
			header = header || it.header
			payload = payload || it.payload
		}
	}
	switch {
	case !header:
		return repo.BadPackage("no digest of the main header (header SHA-256, SHA-1 or MD5 in the signature header): rpm and dnf refuse to install it (\"no digest\"); rebuild it with rpmbuild or another tool that writes digests")
	case !payload:
		return repo.BadPackage("no digest of the payload (PAYLOADDIGEST in the main header or MD5 in the signature header): rpm and dnf refuse to install it (\"no digest\"); rebuild it with rpmbuild or another tool that writes digests")
	}
	return nil
}

// err describes a failed item: what rpm -K would print, and the usual
// cause.
func (it *vsItem) err() error {
	if it.problem != "" {
		return repo.BadPackage(fmt.Sprintf("%s (%s): %s; rpm reports it BAD and refuses to install the package",
			it.name, it.where, it.problem))
	}
	switch {
	case it.header && it.payload:
		return repo.BadPackage(fmt.Sprintf("MD5 digest (%s) of header and payload does not match: the file is corrupt or truncated (an incomplete or altered upload)", it.where))
	case it.payload && it.id>>16 == tagPayloadDigestAlt:
		return repo.BadPackage(fmt.Sprintf("payload SHA-256 ALT digest (%s) does not match the payload: the payload is corrupt or truncated, or, when it is the package's only payload digest, rpm 4.18 cannot verify it (it hashes the compressed payload, the ALT digest is of the uncompressed one; rebuild with rpmbuild, which writes PAYLOADDIGEST too)", it.where))
	case it.payload:
		return repo.BadPackage(fmt.Sprintf("payload SHA-256 digest (%s) does not match the header: the payload is corrupt or truncated (an incomplete or altered upload)", it.where))
	case it.name == "Header SHA1 digest":
		return repo.BadPackage(fmt.Sprintf("header SHA-1 digest (%s) does not match the main header: the header is corrupt or was changed after the package was built", it.where))
	default:
		return repo.BadPackage(fmt.Sprintf("header SHA-256 digest (%s) does not match the main header: the header is corrupt or was changed after the package was built", it.where))
	}
}

// hashPayload feeds the payload, bytes [from, size) of r, to every
// writer, in one read.
func hashPayload(ctx context.Context, r io.ReaderAt, from, size int64, ws []io.Writer) error {
	buf := make([]byte, 256<<10)
	for off := from; off < size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		for _, w := range ws {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		off += int64(n)
		if err != nil && (err != io.EOF || off < size) {
			return fmt.Errorf("rpm: read payload: %w", err)
		}
	}
	return nil
}
