package rpm

import (
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
// any header is trusted, with both headers checked as rpm checks them.
type layout struct {
	start int64 // offset of the main header: header-range start
	end   int64 // end of the main header, start of the payload: header-range end
	head  []byte
	sig   *hdrBlob // the signature header
	main  *hdrBlob // the main header
}

// mainHeader returns the main header's bytes, which the header digests and
// signatures cover.
func (l *layout) mainHeader() []byte { return l.head[l.start:l.end] }

// headerSpan is one header structure's index count and data size.
type headerSpan struct {
	entries uint64
	data    uint64
}

func (h headerSpan) size() uint64 { return headerIntro + indexEntry*h.entries + h.data }

// readLayout reads the lead and both headers of the rpm in r into memory,
// checking every size claim against rpm's limits, maxHeader and the file
// size before allocating anything, then checks both header structures as
// rpm does (parseHeader). It mirrors rpm's rpmLeadRead and hdrblobRead:
// what it refuses, rpm refuses to read.
func readLayout(r io.ReaderAt, size, maxHeader int64) (*layout, error) {
	if size < leadSize+headerIntro {
		return nil, repo.BadPackage(fmt.Sprintf("%d bytes is too short for an rpm (a lead and a signature header need %d)", size, leadSize+headerIntro))
	}
	var first [leadSize + headerIntro]byte
	if _, err := r.ReadAt(first[:], 0); err != nil {
		return nil, fmt.Errorf("rpm: read lead: %w", err)
	}
	if err := checkLead(first[:leadSize]); err != nil {
		return nil, err
	}
	sig, err := parseIntro(first[leadSize:], "signature", maxSigEntries, maxSigData, maxHeader)
	if err != nil {
		return nil, err
	}
	// rpm reads the signature header's padding to 8 bytes before the main
	// header.
	l := &layout{start: leadSize + int64((sig.size()+7)&^7)}
	if l.start+headerIntro > size {
		return nil, repo.BadPackage(fmt.Sprintf("file truncated: the signature header needs %d bytes, the file has %d", l.start+headerIntro, size))
	}
	var intro [headerIntro]byte
	if _, err := r.ReadAt(intro[:], l.start); err != nil {
		return nil, fmt.Errorf("rpm: read main header: %w", err)
	}
	main, err := parseIntro(intro[:], "main", maxMainEntries, maxMainData, maxHeader)
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
	if l.sig, err = parseHeader(l.head[leadSize:leadSize+int64(sig.size())], "signature", regionSignatures, false); err != nil {
		return nil, err
	}
	if l.main, err = parseHeader(l.head[l.start:l.end], "main", regionImmutable, true); err != nil {
		return nil, err
	}
	return l, nil
}

// checkLead mirrors rpm's rpmLeadRead: the magic, a major version of 3 or
// 4 and the header-style signature type 5. rpm ignores the rest of the
// lead (name, architecture, even the package type), and so does Pier.
func checkLead(b []byte) error {
	switch {
	case [4]byte(b[:4]) != leadMagic:
		return repo.BadPackage("not an rpm file (no rpm lead magic)")
	case b[4] != 3 && b[4] != 4:
		return repo.BadPackage(fmt.Sprintf("rpm lead: format version %d; rpm reads only versions 3 and 4 (\"unsupported RPM package version\")", b[4]))
	case binary.BigEndian.Uint16(b[78:80]) != 5:
		return repo.BadPackage(fmt.Sprintf("rpm lead: signature type %d; rpm reads only header-style signatures, type 5 (\"illegal signature type\")", binary.BigEndian.Uint16(b[78:80])))
	}
	return nil
}

// parseIntro checks a header structure's 16-byte intro (magic, reserved
// bytes, counts) against rpm's limits for that header and Pier's maxHeader.
func parseIntro(b []byte, which string, maxEntries, maxData uint64, maxHeader int64) (headerSpan, error) {
	if binary.BigEndian.Uint32(b[0:4]) != headerMagic || binary.BigEndian.Uint32(b[4:8]) != 0 {
		return headerSpan{}, repo.BadPackage(which + " header: bad magic (rpm: \"hdr magic: BAD\"): the file is not an rpm or is corrupt")
	}
	h := headerSpan{
		entries: uint64(binary.BigEndian.Uint32(b[8:12])),
		data:    uint64(binary.BigEndian.Uint32(b[12:16])),
	}
	switch {
	case h.entries == 0:
		return h, repo.BadPackage(which + " header has no entries (rpm: \"region: no tags\")")
	case h.entries > maxEntries:
		return h, repo.BadPackage(fmt.Sprintf("%s header claims %d entries, more than the %d rpm allows", which, h.entries, maxEntries))
	case h.data > maxData:
		return h, repo.BadPackage(fmt.Sprintf("%s header claims %d data bytes, more than the %d rpm allows", which, h.data, maxData))
	case h.size()-8 >= maxHeaderBytes:
		return h, repo.BadPackage(fmt.Sprintf("%s header claims %d bytes, more than the %d rpm allows", which, h.size()-8, maxHeaderBytes))
	case h.size() > uint64(maxHeader):
		return h, repo.BadPackage(fmt.Sprintf("%s header claims %d bytes, more than the limit of %d (rpm.max_header_size)", which, h.size(), maxHeader))
	}
	return h, nil
}
