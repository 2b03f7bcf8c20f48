package rpm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/pierhq/pier/repo"
)

// This file checks one header structure the way rpm 4.18 does before it
// trusts a byte of it (lib/header.c: hdrblobRead, hdrblobInit,
// hdrblobVerifyRegion, hdrblobVerifyInfo), so that Pier accepts exactly
// the headers rpm and dnf read, and gives access to its entries.

// Region tags: the first index entry of a header, whose 16-byte trailer at
// the end of the region says how many entries and bytes the region covers.
const (
	regionImage      = 61 // HEADERIMAGE: very old signature regions
	regionSignatures = 62 // HEADERSIGNATURES
	regionImmutable  = 63 // HEADERIMMUTABLE
	minTag           = 100
)

// rpm's limits on a header (lib/header.c): index entries and data bytes of
// a main header, of a signature header, and of any array but BIN.
const (
	maxMainEntries = 0xffff
	maxMainData    = 0x0fffffff
	maxSigEntries  = 32
	maxSigData     = 64 << 20
	maxArrayCount  = 0x000fffff
	maxHeaderBytes = 256 << 20 // whole index + data, exclusive
)

// typeAlign and typeSize are rpm's alignment and element size of each data
// type; a size of 0 marks the string types.
var (
	typeAlign = [...]uint32{typeNull: 1, typeChar: 1, typeInt8: 1, typeInt16: 2, typeInt32: 4, typeInt64: 8,
		typeString: 1, typeBin: 1, typeStringArr: 1, typeI18N: 1}
	typeSize = [...]uint32{typeNull: 0, typeChar: 1, typeInt8: 1, typeInt16: 2, typeInt32: 4, typeInt64: 8,
		typeString: 0, typeBin: 1, typeStringArr: 0, typeI18N: 0}
	typeNames = [...]string{typeNull: "NULL", typeChar: "CHAR", typeInt8: "INT8", typeInt16: "INT16",
		typeInt32: "INT32", typeInt64: "INT64", typeString: "STRING", typeBin: "BIN",
		typeStringArr: "STRING_ARRAY", typeI18N: "I18NSTRING"}
)

func typeName(t uint32) string {
	if t < uint32(len(typeNames)) {
		return typeNames[t]
	}
	return fmt.Sprintf("%d (unknown)", t)
}

func isStringType(t uint32) bool { return t == typeString || t == typeStringArr || t == typeI18N }

// tagType is one tag of rpm's tag table and the data type rpm gives it.
type tagType struct {
	tag uint16
	typ uint8
}

// knownType returns the data type rpm 4.18 defines for tag, or typeNull
// for a tag it does not know.
func knownType(tag uint32) uint32 {
	i, ok := slices.BinarySearchFunc(rpmTagTypes[:], tag, func(t tagType, tag uint32) int {
		return int(t.tag) - int(tag)
	})
	if !ok {
		return typeNull
	}
	return uint32(rpmTagTypes[i].typ)
}

// hdrEntry is one checked index entry: its value is data, exactly the
// bytes rpm's dataLength gives it.
type hdrEntry struct {
	tag, typ, count uint32
	data            []byte
}

// hdrBlob is a checked header structure.
type hdrBlob struct {
	which   string     // "signature" or "main", for messages
	region  uint32     // the region tag found, 0 when the header has none
	entries []hdrEntry // every index entry but the region's, in index order
	// inRegion is how many of entries the region covers (all of them
	// when there is no region); the rest follow it ("dribble" entries).
	inRegion int
}

// parseHeader checks the header structure b (intro, index and data, b's
// length exactly what the intro claims) as rpm's hdrblobInit does for a
// header read from a package, and returns its entries. regionTag is the
// region the header should carry (62 for the signature header, 63 for the
// main header); exact requires the region to cover the whole header, as
// rpm does for the main header. Every failure is a bad package naming the
// entry and the rule.
func parseHeader(b []byte, which string, regionTag uint32, exact bool) (*hdrBlob, error) {
	il := binary.BigEndian.Uint32(b[8:12])
	p := &hdrParse{b: b, which: which, il: il, dl: binary.BigEndian.Uint32(b[12:16]),
		index: b[headerIntro : headerIntro+indexEntry*uint64(il)], data: b[headerIntro+indexEntry*uint64(il):]}
	h := &hdrBlob{which: which}
	if il < 1 {
		return nil, p.bad("it has no entries")
	}
	rdl, first, err := p.region(h, regionTag, exact)
	if err != nil {
		return nil, err
	}
	if err := p.verifyInfo(h, first, rdl); err != nil {
		return nil, err
	}
	if h.region == 0 {
		h.inRegion = len(h.entries)
	}
	return h, nil
}

// hdrParse is one header being checked: its bytes, index and data, and the
// counts of its intro.
type hdrParse struct {
	b           []byte
	which       string
	il, dl      uint32
	index, data []byte
}

// bad is a refusal of the header, as rpm refuses it.
func (p *hdrParse) bad(format string, args ...any) error {
	return repo.BadPackage(p.which + " header: " + fmt.Sprintf(format, args...) +
		" (rpm refuses to read this header; the file is corrupt or was made by a broken tool)")
}

// ent returns index entry i.
func (p *hdrParse) ent(i uint32) (tag, typ uint32, off int32, cnt uint32) {
	e := p.index[i*indexEntry:]
	return binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:]),
		int32(binary.BigEndian.Uint32(e[8:])), binary.BigEndian.Uint32(e[12:])
}

// region checks the header's region tag, when its first entry is one, as
// rpm's hdrblobVerifyRegion does, and records it in h. It returns the data
// length the region covers and the index of the first entry after it.
func (p *hdrParse) region(h *hdrBlob, regionTag uint32, exact bool) (rdl, first uint32, err error) {
	il, dl := p.il, p.dl
	tag, typ, off, cnt := p.ent(0)
	if tag != regionTag {
		return dl, 0, nil
	}
	if typ != typeBin || cnt != indexEntry {
		return 0, 0, p.bad("region tag %d has type %s and count %d, rpm wants BIN and 16", tag, typeName(typ), cnt)
	}
	// rpm checks only that the trailer ends inside the data: a small
	// negative offset reads it from the end of the index.
	if int64(off)+indexEntry < 0 || int64(off)+indexEntry > int64(dl) {
		return 0, 0, p.bad("region tag %d points outside the data (offset %d)", tag, off)
	}
	at := int64(headerIntro) + indexEntry*int64(il) + int64(off)
	trailer := p.b[at : at+indexEntry]
	ttag := binary.BigEndian.Uint32(trailer)
	ttyp := binary.BigEndian.Uint32(trailer[4:])
	toff := -int64(int32(binary.BigEndian.Uint32(trailer[8:])))
	tcnt := binary.BigEndian.Uint32(trailer[12:])
	if regionTag == regionSignatures && ttag == regionImage {
		ttag = regionSignatures // very old packages; rpm fixes this up too
	}
	if ttag != regionTag || ttyp != typeBin || tcnt != indexEntry {
		return 0, 0, p.bad("region trailer is tag %d type %s count %d, rpm wants tag %d BIN 16", ttag, typeName(ttyp), tcnt, regionTag)
	}
	ril := toff / indexEntry
	rdl = uint32(int64(off) + indexEntry)
	if toff%indexEntry != 0 || ril < 0 || ril > int64(il) {
		return 0, 0, p.bad("region claims %d entries of %d", ril, il)
	}
	// rpm's checks above let a trailer count no entries, not even the
	// region's own; loading such a header then fails (hdrblobImport: "hdr
	// load: BAD"), so rpm -qp and rpm -i refuse the package, as does
	// whatever loads it with librpm (rpmkeys -K, which never loads it,
	// does not; TestSignatureRegionMatchesRpm).
	if ril == 0 {
		return 0, 0, p.bad("region claims no entries, not even its own tag (rpm: \"hdr load: BAD\")")
	}
	if exact && (ril != int64(il) || rdl != dl) {
		return 0, 0, p.bad("region covers %d entries and %d bytes, the header has %d and %d", ril, rdl, il, dl)
	}
	h.region = regionTag
	h.inRegion = int(ril) - 1
	return rdl, 1, nil
}

// verifyInfo checks the index entries from first on as rpm's
// hdrblobVerifyInfo does (and their types in an immutable region, as
// hdrchkTagType) and appends them to h.entries; rdl is the data length the
// region covers.
func (p *hdrParse) verifyInfo(h *hdrBlob, first, rdl uint32) error {
	typechk := h.region == regionImmutable
	end, dl := uint32(0), p.dl
	h.entries = make([]hdrEntry, 0, p.il-first)
	for i := first; i < p.il; i++ {
		tag, typ, off, cnt := p.ent(i)
		badEntry := func(rule string, args ...any) error {
			return p.bad("entry %d (tag %d, %s, offset %d, count %d) %s", i, tag, typeName(typ), off, cnt, fmt.Sprintf(rule, args...))
		}
		switch {
		case off >= 0 && end > uint32(off):
			return badEntry("overlaps the data of the entry before it (rpm wants entries in data order)")
		case tag < minTag:
			return badEntry("has a tag below %d", minTag)
		case typ > typeI18N:
			return badEntry("has an unknown data type")
		case cnt < 1 || cnt > dl:
			return badEntry("has a count out of range")
		case uint32(off)&(typeAlign[typ]-1) != 0:
			return badEntry("is not aligned to %d bytes", typeAlign[typ])
		case off < 0 || uint32(off) > dl:
			return badEntry("points outside the header data")
		case typ != typeBin && cnt > maxArrayCount:
			return badEntry("has more than %d elements", maxArrayCount)
		}
		if typechk {
			if want := knownType(tag); want != typeNull && want != typ && !(isStringType(want) && isStringType(typ)) {
				return badEntry("has type %s, rpm defines tag %d as %s", typeName(typ), tag, typeName(want))
			}
		}
		n, ok := dataLength(typ, p.data[off:], cnt)
		if !ok || n == 0 {
			return badEntry("runs past the end of the header data")
		}
		end = uint32(off) + n
		if h.region != 0 && end > rdl-indexEntry && uint32(off) < rdl {
			return badEntry("overlaps the region trailer")
		}
		h.entries = append(h.entries, hdrEntry{tag: tag, typ: typ, count: cnt, data: p.data[off:end]})
	}
	return nil
}

// encodeEntries writes a header structure holding entries, sorted by tag,
// their data aligned as rpm's headerExport lays it out, and a region tag
// covering all of it when region is not 0.
func encodeEntries(entries []hdrEntry, region uint32) []byte {
	entries = slices.Clone(entries)
	slices.SortStableFunc(entries, func(a, b hdrEntry) int { return int(a.tag) - int(b.tag) })
	n := len(entries)
	if region != 0 {
		n++
	}
	index := make([]byte, 0, indexEntry*n)
	var data []byte
	put := func(b []byte, tag, typ uint32, off int32, count uint32) []byte {
		b = binary.BigEndian.AppendUint32(b, tag)
		b = binary.BigEndian.AppendUint32(b, typ)
		b = binary.BigEndian.AppendUint32(b, uint32(off))
		return binary.BigEndian.AppendUint32(b, count)
	}
	for _, e := range entries {
		for uint32(len(data))%typeAlign[e.typ] != 0 {
			data = append(data, 0)
		}
		index = put(index, e.tag, e.typ, int32(len(data)), e.count)
		data = append(data, e.data...)
	}
	if region != 0 {
		index = append(put(nil, region, typeBin, int32(len(data)), indexEntry), index...)
		data = put(data, region, typeBin, -int32(indexEntry*n), indexEntry)
	}
	out := make([]byte, 0, headerIntro+len(index)+len(data))
	out = binary.BigEndian.AppendUint32(out, headerMagic)
	out = binary.BigEndian.AppendUint32(out, 0)
	out = binary.BigEndian.AppendUint32(out, uint32(n))
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	out = append(out, index...)
	return append(out, data...)
}

// dataLength is the length of an entry's value at the start of b, as
// rpm's dataLength computes it on disk; ok is false when it does not fit.
func dataLength(typ uint32, b []byte, count uint32) (uint32, bool) {
	switch typ {
	case typeString, typeStringArr, typeI18N:
		if typ == typeString && count != 1 {
			return 0, false
		}
		n := 0
		for c := count; c > 0; c-- {
			k := bytes.IndexByte(b[n:], 0)
			if k < 0 {
				return 0, false
			}
			n += k + 1
		}
		return uint32(n), true
	default:
		n := uint64(typeSize[typ]) * uint64(count)
		if n > uint64(len(b)) {
			return 0, false
		}
		return uint32(n), true
	}
}

// find returns the first entry with tag, or nil.
func (h *hdrBlob) find(tag uint32) *hdrEntry {
	for i := range h.entries {
		if h.entries[i].tag == tag {
			return &h.entries[i]
		}
	}
	return nil
}

// strings returns the value of a string entry, one element per string.
func (e *hdrEntry) strings() []string {
	out := make([]string, 0, e.count)
	rest := e.data
	for range e.count {
		k := bytes.IndexByte(rest, 0)
		out = append(out, string(rest[:k]))
		rest = rest[k+1:]
	}
	return out
}

// numbers returns the value of an integer entry; ok is false for other
// types.
func (e *hdrEntry) numbers() (out []uint64, ok bool) {
	size := uint32(0)
	switch e.typ {
	case typeChar, typeInt8, typeInt16, typeInt32, typeInt64:
		size = typeSize[e.typ]
	default:
		return nil, false
	}
	out = make([]uint64, e.count)
	for i := range out {
		b := e.data[uint32(i)*size:]
		switch size {
		case 1:
			out[i] = uint64(b[0])
		case 2:
			out[i] = uint64(binary.BigEndian.Uint16(b))
		case 4:
			out[i] = uint64(binary.BigEndian.Uint32(b))
		default:
			out[i] = binary.BigEndian.Uint64(b)
		}
	}
	return out, true
}
