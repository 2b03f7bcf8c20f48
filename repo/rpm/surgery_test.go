package rpm

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"testing"
)

// rpmParts is an rpm file taken apart, for tests and fixtures that alter a
// real package: the lead, the entries of both headers (regions left out)
// and the payload. bytes puts it back together the way rpm writes files.
type rpmParts struct {
	lead          []byte
	sig, main     []hdrEntry
	payload       []byte
	noMainRegion  bool
	noSigRegion   bool
	keepSigValues bool // do not recompute digests and sizes in bytes
}

// splitRPM takes b apart; b must be an rpm Pier reads.
func splitRPM(t testing.TB, b []byte) *rpmParts {
	t.Helper()
	l, err := readLayout(bytes.NewReader(b), int64(len(b)), DefaultMaxHeaderSize)
	if err != nil {
		t.Fatal(err)
	}
	clone := func(es []hdrEntry) []hdrEntry {
		out := slices.Clone(es)
		for i := range out {
			out[i].data = bytes.Clone(out[i].data)
		}
		return out
	}
	return &rpmParts{lead: bytes.Clone(b[:leadSize]), sig: clone(l.sig.entries), main: clone(l.main.entries),
		payload: bytes.Clone(b[l.end:])}
}

// find returns the entry of h with tag, or nil.
func find(h []hdrEntry, tag uint32) *hdrEntry {
	for i := range h {
		if h[i].tag == tag {
			return &h[i]
		}
	}
	return nil
}

// del removes every entry of *h with tag.
func del(h *[]hdrEntry, tag uint32) {
	*h = slices.DeleteFunc(*h, func(e hdrEntry) bool { return e.tag == tag })
}

// set replaces (or adds) the entry of *h with tag.
func set(h *[]hdrEntry, tag, typ, count uint32, data []byte) {
	del(h, tag)
	*h = append(*h, hdrEntry{tag: tag, typ: typ, count: count, data: data})
}

// str is a STRING value.
func str(s string) []byte { return append([]byte(s), 0) }

// strArr is a STRING_ARRAY value.
func strArr(ss ...string) []byte {
	var b []byte
	for _, s := range ss {
		b = append(append(b, s...), 0)
	}
	return b
}

// u32 is an INT32 value.
func u32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// mainHeaderBytes encodes the main header.
func (p *rpmParts) mainHeaderBytes() []byte {
	region := uint32(regionImmutable)
	if p.noMainRegion {
		region = 0
	}
	return encodeEntries(p.main, region)
}

// bytes reassembles the file. Unless keepSigValues is set, the digests and
// sizes the signature header already carries are recomputed, as rpmbuild
// would have written them for this main header and payload.
func (p *rpmParts) bytes() []byte {
	mh := p.mainHeaderBytes()
	if !p.keepSigValues {
		if e := find(p.sig, sigTagSHA1); e != nil {
			s := sha1.Sum(mh)
			e.data = str(hex.EncodeToString(s[:]))
		}
		if e := find(p.sig, sigTagSHA256); e != nil {
			s := sha256.Sum256(mh)
			e.data = str(hex.EncodeToString(s[:]))
		}
		if e := find(p.sig, sigTagMD5); e != nil {
			s := md5.Sum(append(bytes.Clone(mh), p.payload...))
			e.data = s[:]
		}
		if e := find(p.sig, sigTagSize); e != nil && e.typ == typeInt32 {
			e.data = u32(uint32(len(mh) + len(p.payload)))
		}
	}
	region := uint32(regionSignatures)
	if p.noSigRegion {
		region = 0
	}
	sh := encodeEntries(p.sig, region)
	out := append(bytes.Clone(p.lead), sh...)
	out = append(out, make([]byte, (8-len(sh)%8)%8)...)
	out = append(out, mh...)
	return append(out, p.payload...)
}

// patchIndex returns b with the index entry i (counting the region's) of
// the header at off rewritten by fn, which sees tag, type, offset, count.
func patchIndex(b []byte, off int64, i int, fn func(e []uint32)) []byte {
	b = bytes.Clone(b)
	at := int(off) + headerIntro + indexEntry*i
	e := []uint32{binary.BigEndian.Uint32(b[at:]), binary.BigEndian.Uint32(b[at+4:]),
		binary.BigEndian.Uint32(b[at+8:]), binary.BigEndian.Uint32(b[at+12:])}
	fn(e)
	for k, v := range e {
		binary.BigEndian.PutUint32(b[at+4*k:], v)
	}
	return b
}
