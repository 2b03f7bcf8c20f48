package rpm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/pierhq/pier/repo"
)

// Fixed sizes of the rpm file structure.
const (
	leadSize      = 96
	headerIntro   = 16 // magic, reserved, index count, data size
	indexEntry    = 16 // tag, type, offset, count
	headerMagic   = 0x8eade801
	leadTypeSrc   = 1
	typeNull      = 0
	typeChar      = 1
	typeInt8      = 2
	typeInt16     = 3
	typeInt32     = 4
	typeInt64     = 5
	typeString    = 6
	typeBin       = 7
	typeStringArr = 8
	typeI18N      = 9
)

// leadMagic starts every rpm file.
var leadMagic = [4]byte{0xed, 0xab, 0xee, 0xdb}

// layout is where the parts of an rpm file lie, found and bounded before
// any header is trusted.
type layout struct {
	source   bool  // the lead says "source package"
	sigStart int64 // offset of the signature header (always 96)
	start    int64 // offset of the main header: header-range start
	end      int64 // end of the main header, start of the payload: header-range end
	head     []byte
}

// headerSpan is one header structure's index count and data size.
type headerSpan struct {
	entries uint64
	data    uint64
}

func (h headerSpan) size() uint64 { return headerIntro + indexEntry*h.entries + h.data }

// readLayout reads the lead and both headers of the rpm in r into memory,
// checking every size claim against maxHeader and the file size before
// allocating anything, and validates each header's index entries so that
// no entry points outside its data store.
func readLayout(r io.ReaderAt, size, maxHeader int64) (*layout, error) {
	if size < leadSize+headerIntro {
		return nil, repo.BadPackage(fmt.Sprintf("%d bytes is too short for an rpm", size))
	}
	var first [leadSize + headerIntro]byte
	if _, err := r.ReadAt(first[:], 0); err != nil {
		return nil, fmt.Errorf("rpm: read lead: %w", err)
	}
	if [4]byte(first[:4]) != leadMagic {
		return nil, repo.BadPackage("not an rpm file (no rpm lead magic)")
	}
	l := &layout{
		source:   binary.BigEndian.Uint16(first[6:8]) == leadTypeSrc,
		sigStart: leadSize,
	}
	sig, err := parseIntro(first[leadSize:], "signature", maxHeader)
	if err != nil {
		return nil, err
	}
	sigSize := (sig.size() + 7) &^ 7 // the signature header is padded to 8 bytes
	l.start = leadSize + int64(sigSize)
	if l.start+headerIntro > size {
		return nil, repo.BadPackage(fmt.Sprintf("file truncated: the signature header needs %d bytes, the file has %d", l.start+headerIntro, size))
	}
	var intro [headerIntro]byte
	if _, err := r.ReadAt(intro[:], l.start); err != nil {
		return nil, fmt.Errorf("rpm: read main header: %w", err)
	}
	main, err := parseIntro(intro[:], "main", maxHeader)
	if err != nil {
		return nil, err
	}
	l.end = l.start + int64(main.size())
	if l.end > size {
		return nil, repo.BadPackage(fmt.Sprintf("file truncated: the headers need %d bytes, the file has %d", l.end, size))
	}
	l.head = make([]byte, l.end)
	if _, err := r.ReadAt(l.head, 0); err != nil {
		return nil, fmt.Errorf("rpm: read headers: %w", err)
	}
	if err := checkEntries(l.head[leadSize:], sig, "signature"); err != nil {
		return nil, err
	}
	if err := checkEntries(l.head[l.start:], main, "main"); err != nil {
		return nil, err
	}
	return l, nil
}

// parseIntro checks a header structure's 16-byte intro and bounds its claims.
func parseIntro(b []byte, which string, maxHeader int64) (headerSpan, error) {
	if binary.BigEndian.Uint32(b[0:4]) != headerMagic {
		return headerSpan{}, repo.BadPackage(which + " header: bad magic")
	}
	h := headerSpan{
		entries: uint64(binary.BigEndian.Uint32(b[8:12])),
		data:    uint64(binary.BigEndian.Uint32(b[12:16])),
	}
	if h.entries == 0 {
		return h, repo.BadPackage(which + " header has no entries")
	}
	if h.entries > maxHeaderEntries {
		return h, repo.BadPackage(fmt.Sprintf("%s header claims %d entries, more than the %d rpm allows", which, h.entries, maxHeaderEntries))
	}
	if h.size() > uint64(maxHeader) {
		return h, repo.BadPackage(fmt.Sprintf("%s header claims %d bytes, more than the limit of %d", which, h.size(), maxHeader))
	}
	return h, nil
}

// fixedSize is the size of one element of each fixed-size header data type.
var fixedSize = [...]uint64{
	typeNull: 0, typeChar: 1, typeInt8: 1, typeInt16: 2, typeInt32: 4, typeInt64: 8, typeBin: 1,
}

// checkEntries verifies that every index entry of the header at b (intro
// first) has a known type and lies inside the data store.
func checkEntries(b []byte, h headerSpan, which string) error {
	index := b[headerIntro : headerIntro+indexEntry*h.entries]
	data := b[headerIntro+indexEntry*h.entries : h.size()]
	for i := uint64(0); i < h.entries; i++ {
		e := index[i*indexEntry:]
		tag := binary.BigEndian.Uint32(e[0:4])
		typ := binary.BigEndian.Uint32(e[4:8])
		off := uint64(binary.BigEndian.Uint32(e[8:12]))
		cnt := uint64(binary.BigEndian.Uint32(e[12:16]))
		bad := func(what string) error {
			return repo.BadPackage(fmt.Sprintf("%s header: tag %d %s", which, tag, what))
		}
		if off > h.data {
			return bad("points outside the header")
		}
		switch typ {
		case typeString, typeStringArr, typeI18N:
			rest := data[off:]
			for n := uint64(0); n < cnt; n++ {
				k := bytes.IndexByte(rest, 0)
				if k < 0 {
					return bad("has an unterminated string")
				}
				rest = rest[k+1:]
			}
		case typeNull, typeChar, typeInt8, typeInt16, typeInt32, typeInt64, typeBin:
			if cnt > h.data || off+cnt*fixedSize[typ] > h.data {
				return bad("runs past the end of the header")
			}
		default:
			return bad(fmt.Sprintf("has unknown data type %d", typ))
		}
	}
	return nil
}
