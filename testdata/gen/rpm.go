package main

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
)

// rpm tags used here (rpm: include/rpm/rpmtag.h).
const (
	tagHeaderImmutable   = 63
	tagSigSize           = 1000
	tagSigMD5            = 1004
	tagSigSHA1           = 269
	tagSigSHA256         = 273
	tagSigLongSize       = 270
	tagPayloadDigest     = 5092
	tagPayloadDigestAlgo = 5093
	tagPayloadDigestAlt  = 5097
	tagSummary           = 1004
	tagRSAHeader         = 268
)

var headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}

// rpmEntry is one index entry of an rpm header with its data.
type rpmEntry struct {
	tag, typ, offset, count uint32
	data                    []byte
}

// rpmHeader is a parsed header structure: index entries and data store.
type rpmHeader struct {
	entries []rpmEntry
	store   []byte
	// size is the header's length in the file (16 + 16*il + dl).
	size int
}

// rpmFile is an rpm split into its parts.
type rpmFile struct {
	lead      []byte
	sig       rpmHeader
	sigPadded int // the signature header's length with its padding to 8
	main      rpmHeader
	payload   []byte
	// sigStart, mainStart and payloadStart are offsets in the file.
	sigStart, mainStart, payloadStart int
}

// typeAlign is the alignment of each rpm data type in the data store.
func typeAlign(typ uint32) int {
	switch typ {
	case 3: // INT16
		return 2
	case 4: // INT32
		return 4
	case 5: // INT64
		return 8
	}
	return 1
}

// dataLen returns the length of an entry's data starting at p.
func dataLen(typ, count uint32, p []byte) (int, error) {
	switch typ {
	case 0:
		return 0, nil
	case 1, 2, 7: // CHAR, INT8, BIN
		return int(count), nil
	case 3:
		return 2 * int(count), nil
	case 4:
		return 4 * int(count), nil
	case 5:
		return 8 * int(count), nil
	case 6, 8, 9: // STRING, STRING_ARRAY, I18NSTRING: count NUL-terminated strings
		n := 0
		for i := uint32(0); i < count; i++ {
			k := bytes.IndexByte(p[n:], 0)
			if k < 0 {
				return 0, errors.New("unterminated string")
			}
			n += k + 1
		}
		return n, nil
	}
	return 0, fmt.Errorf("unknown rpm data type %d", typ)
}

// parseHeader parses the header at b[0:].
func parseHeader(b []byte) (rpmHeader, error) {
	if len(b) < 16 || !bytes.Equal(b[:8], headerMagic) {
		return rpmHeader{}, errors.New("no rpm header magic")
	}
	il := int(binary.BigEndian.Uint32(b[8:]))
	dl := int(binary.BigEndian.Uint32(b[12:]))
	size := 16 + 16*il + dl
	if size > len(b) {
		return rpmHeader{}, errors.New("rpm header longer than the file")
	}
	store := b[16+16*il : size]
	h := rpmHeader{store: store, size: size}
	for i := 0; i < il; i++ {
		e := b[16+16*i:]
		ent := rpmEntry{tag: binary.BigEndian.Uint32(e), typ: binary.BigEndian.Uint32(e[4:]),
			offset: binary.BigEndian.Uint32(e[8:]), count: binary.BigEndian.Uint32(e[12:])}
		if int(ent.offset) > len(store) {
			return rpmHeader{}, fmt.Errorf("tag %d: offset past the data store", ent.tag)
		}
		n, err := dataLen(ent.typ, ent.count, store[ent.offset:])
		if err != nil || int(ent.offset)+n > len(store) {
			return rpmHeader{}, fmt.Errorf("tag %d: bad data (%v)", ent.tag, err)
		}
		ent.data = store[ent.offset : int(ent.offset)+n]
		h.entries = append(h.entries, ent)
	}
	return h, nil
}

// parseRPM splits b into lead, signature header, main header and payload.
func parseRPM(b []byte) (*rpmFile, error) {
	if len(b) < 96 || !bytes.Equal(b[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
		return nil, errors.New("no rpm lead")
	}
	f := &rpmFile{lead: b[:96], sigStart: 96}
	var err error
	if f.sig, err = parseHeader(b[96:]); err != nil {
		return nil, fmt.Errorf("signature header: %w", err)
	}
	f.sigPadded = (f.sig.size + 7) &^ 7
	f.mainStart = 96 + f.sigPadded
	if f.main, err = parseHeader(b[f.mainStart:]); err != nil {
		return nil, fmt.Errorf("main header: %w", err)
	}
	f.payloadStart = f.mainStart + f.main.size
	f.payload = b[f.payloadStart:]
	return f, nil
}

// entry returns the entry of tag in h, or nil.
func (h *rpmHeader) entry(tag uint32) *rpmEntry {
	for i := range h.entries {
		if h.entries[i].tag == tag {
			return &h.entries[i]
		}
	}
	return nil
}

// encodeRegion writes a header whose entries all belong to one immutable
// region (the first entry, tag 63, whose 16-byte trailer ends the data
// store), laying the other entries' data out in their original store
// order with each type's alignment. That is the layout rpmbuild writes: a
// header re-encoded without changes comes out byte-identical.
func encodeRegion(entries []rpmEntry) ([]byte, error) {
	if len(entries) == 0 || entries[0].tag != tagHeaderImmutable {
		return nil, errors.New("the header does not start with an immutable region")
	}
	byOffset := slices.Clone(entries[1:])
	slices.SortStableFunc(byOffset, func(a, b rpmEntry) int { return int(a.offset) - int(b.offset) })
	var store []byte
	newOffset := map[uint32]uint32{}
	for _, e := range byOffset {
		for len(store)%typeAlign(e.typ) != 0 {
			store = append(store, 0)
		}
		newOffset[e.tag] = uint32(len(store))
		store = append(store, e.data...)
	}
	trailerAt := uint32(len(store))
	trailer := make([]byte, 16)
	binary.BigEndian.PutUint32(trailer, tagHeaderImmutable)
	binary.BigEndian.PutUint32(trailer[4:], 7)
	binary.BigEndian.PutUint32(trailer[8:], uint32(-int32(16*len(entries))))
	binary.BigEndian.PutUint32(trailer[12:], 16)
	store = append(store, trailer...)
	var b bytes.Buffer
	b.Write(headerMagic)
	b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(entries))))
	b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(store))))
	for i, e := range entries {
		off := newOffset[e.tag]
		if i == 0 {
			off = trailerAt
		}
		for _, v := range []uint32{e.tag, e.typ, off, e.count} {
			b.Write(binary.BigEndian.AppendUint32(nil, v))
		}
	}
	b.Write(store)
	return b.Bytes(), nil
}

// stripPayloadDigest writes the rpm at in to out without
// RPMTAG_PAYLOADDIGEST, RPMTAG_PAYLOADDIGESTALGO and
// RPMTAG_PAYLOADDIGESTALT (only without the algorithm with keepDigest),
// the layout of packages built by rpm before 4.14, and recomputes the
// signature header's digests over the new main header (SHA1, SHA256) and
// over header and payload (MD5, SIZE). The input must be unsigned: a
// signature over the old header would no longer verify.
func stripPayloadDigest(in, out string, keepDigest bool) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	f, err := parseRPM(b)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	// Self-check: re-encoding unchanged must give the original bytes.
	same, err := encodeRegion(f.main.entries)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if !bytes.Equal(same, b[f.mainStart:f.payloadStart]) {
		return fmt.Errorf("%s: the main header does not re-encode to its own bytes; its layout is not rpmbuild's", in)
	}
	for _, t := range []uint32{tagRSAHeader, 267, 1002, 1005} {
		if f.sig.entry(t) != nil {
			return fmt.Errorf("%s: the package is signed (signature tag %d); strip an unsigned build and sign afterwards", in, t)
		}
	}
	drop := []uint32{tagPayloadDigestAlgo}
	if !keepDigest {
		drop = append(drop, tagPayloadDigest, tagPayloadDigestAlt)
	}
	var kept []rpmEntry
	for _, e := range f.main.entries {
		if !slices.Contains(drop, e.tag) {
			kept = append(kept, e)
		}
	}
	if len(kept) == len(f.main.entries) {
		return fmt.Errorf("%s: none of the tags %v to remove", in, drop)
	}
	main, err := encodeRegion(kept)
	if err != nil {
		return err
	}
	// New signature header values, written in place (same sizes).
	sig := slices.Clone(b[f.sigStart : f.sigStart+f.sig.size])
	set := func(tag uint32, val []byte) error {
		e := f.sig.entry(tag)
		if e == nil {
			return nil // rpmbuild did not write it; leave it out
		}
		if len(val) != len(e.data) {
			return fmt.Errorf("signature tag %d: new value is %d bytes, old %d", tag, len(val), len(e.data))
		}
		copy(sig[16+16*len(f.sig.entries)+int(e.offset):], val)
		return nil
	}
	s1 := sha1.Sum(main)
	s256 := sha256.Sum256(main)
	md := md5.New()
	md.Write(main)
	md.Write(f.payload)
	size := len(main) + len(f.payload)
	for _, v := range []struct {
		tag uint32
		val []byte
	}{
		{tagSigSHA1, append([]byte(hex.EncodeToString(s1[:])), 0)},
		{tagSigSHA256, append([]byte(hex.EncodeToString(s256[:])), 0)},
		{tagSigMD5, md.Sum(nil)},
		{tagSigSize, binary.BigEndian.AppendUint32(nil, uint32(size))},
		{tagSigLongSize, binary.BigEndian.AppendUint64(nil, uint64(size))},
	} {
		if err := set(v.tag, v.val); err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
	}
	var res bytes.Buffer
	res.Write(f.lead)
	res.Write(sig)
	res.Write(b[f.sigStart+f.sig.size : f.mainStart]) // padding
	res.Write(main)
	res.Write(f.payload)
	return writeFile(out, res.Bytes())
}
