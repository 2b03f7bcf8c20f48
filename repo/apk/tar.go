package apk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// This file walks a tar stream the way apk-tools 2.14 does
// (src/io_archive.c apk_tar_parse), not the way Go's archive/tar does: the
// two differ on exactly the packages that matter (apk refuses numeric header
// fields that are not plain octal, which Go decodes, and ignores header
// checksums, which Go verifies). Every rule below names the apk-tools
// behaviour it mirrors.

// Mode type bits as apk-tools sets them from the typeflag (<sys/stat.h>).
const (
	sIFMT  = 0o170000
	sIFREG = 0o100000
	sIFDIR = 0o040000
	sIFLNK = 0o120000
	sIFCHR = 0o020000
	sIFBLK = 0o060000
	sIFIFO = 0o010000
)

// pathMax is Linux's PATH_MAX; apk refuses names of PATH_MAX-10 bytes or
// more (ENAMETOOLONG).
const pathMax = 4096

// tarItem is one entry as apk-tools hands it to its callbacks.
type tarItem struct {
	name     string
	link     string // hard link or symlink target ("" when none)
	typeflag byte
	mode     uint32 // permission bits (& 07777) | S_IFMT type
	size     int64
	offset   int64 // offset of its header in the decompressed stream
}

func (e *tarItem) isDir() bool { return e.mode&sIFMT == sIFDIR }

// tarFormatError is a header that apk-tools refuses with EAPKFORMAT,
// "package file format error".
type tarFormatError struct{ msg string }

func (e *tarFormatError) Error() string { return e.msg }

// tarStructError is a stream that apk-tools refuses with EBADMSG ("BAD
// archive"): a partial block, data after the end-of-archive blocks.
type tarStructError struct {
	msg string
	// endAt is the stream offset of the end-of-archive block a trailing
	// header follows (-1 otherwise).
	endAt int64
}

func (e *tarStructError) Error() string { return e.msg }

// digitValue is apk-tools' digit decoder (src/blob.c digitdecode): 0-9,
// a-f and A-F have their hex values, '=' decodes as 0 and '+' as 62, every
// other byte as 0xff. apk_blob_pull_uint stops at the first byte whose
// value is not below the radix.
func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	case c == '=':
		return 0
	case c == '+':
		return 62
	}
	return 0xff
}

// pullUint is apk_blob_pull_uint: the value of the leading digits of s in
// radix, stopping at a NUL or a non-digit, wrapping like C's unsigned
// arithmetic; n is the number of bytes used.
func pullUint(s []byte, radix int, bits uint) (v uint64, n int) {
	mask := uint64(1)<<bits - 1
	if bits == 64 {
		mask = ^uint64(0)
	}
	for n < len(s) && s[n] != 0 {
		d := digitValue(s[n])
		if d >= radix {
			break
		}
		v = (v*uint64(radix) + uint64(d)) & mask
		n++
	}
	return v, n
}

// headerOctal is apk-tools 2.14's get_octal: the field must hold octal
// digits followed only by NULs and spaces; anything else (a base-256 value,
// leading spaces) refuses the package with EAPKFORMAT. The value is an
// unsigned int, as in apk-tools.
func headerOctal(field []byte) (uint64, bool) {
	v, n := pullUint(field, 8, 32)
	for _, c := range field[n:] {
		if c != 0 && c != ' ' {
			return v, false
		}
	}
	return v, true
}

// cString returns b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// tarWalker reads the tar stream of a whole package (every gzip member
// decompressed as one stream, as apk reads it).
type tarWalker struct {
	r      io.Reader
	off    int64 // bytes consumed
	blk    [512]byte
	maxExt int64 // largest pax or GNU long-name record kept in memory
	buf    []byte
}

// readFull reads len(p) bytes; it returns the count read and the error of
// a short read (io.EOF only when nothing was read).
func (w *tarWalker) readFull(p []byte) (int, error) {
	n, err := io.ReadFull(w.r, p)
	w.off += int64(n)
	return n, err
}

// skip discards n bytes, failing on a short stream.
func (w *tarWalker) skip(n int64) error {
	for n > 0 {
		m := min(n, int64(len(w.buf)))
		k, err := w.readFull(w.buf[:m])
		n -= int64(k)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// numericFields are the header fields apk-tools 2.14 reads with get_octal,
// in its order, with their offsets in the header block.
var numericFields = []struct {
	name      string
	off, size int
}{
	{"size", 124, 12}, {"uid", 108, 8}, {"gid", 116, 8}, {"mode", 100, 8},
	{"mtime", 136, 12}, {"devmajor", 329, 8}, {"devminor", 337, 8},
}

// walk calls fn for every entry apk-tools hands to its parser (those whose
// typeflag gives a file type), with a reader of the entry's data. fn need
// not read the data: the rest is skipped, as apk's segment stream does.
func (w *tarWalker) walk(fn func(e *tarItem, body io.Reader) error) error {
	if w.buf == nil {
		w.buf = make([]byte, 32<<10)
	}
	var st walkState
	for {
		start := w.off
		n, err := w.readFull(w.blk[:])
		if err == io.EOF {
			return nil // a stream that ends on a block boundary is complete
		}
		if err == io.ErrUnexpectedEOF {
			return &tarStructError{fmt.Sprintf("the tar stream ends in the middle of a 512-byte block (%d bytes at byte %d)", n, start), -1}
		}
		if err != nil {
			return err
		}
		h := w.blk[:]
		// apk_tar_parse: a block whose name starts with NUL marks the end;
		// the second one stops the walk. A header with an empty name counts
		// as such a block (nfpm writes the root folder of a `dst: /` tree
		// that way; apk skips it).
		if h[0] == 0 {
			if st.end {
				return w.trailer(start)
			}
			st.end = true
			continue
		}
		e, err := st.decode(h, start)
		if err != nil {
			return err
		}
		if err := w.entry(&st, e, fn); err != nil {
			return err
		}
	}
}

// walkState is what a tar walk carries from one header to the next: the
// first end block seen, and the pax header or GNU long name that names the
// following entry.
type walkState struct {
	end      bool
	pax      []byte
	havePax  bool
	longname string
	haveLong bool
}

// tarHeader is one decoded tar header, before its type is applied.
type tarHeader struct {
	start    int64
	typeflag byte
	name     string
	link     string
	hasLink  bool
	mode     uint64
	size     uint64
	toskip   int64 // the bytes of data blocks after the header
}

// decode checks header h (at byte start of the stream) as apk_tar_parse
// does and returns its fields, with the name a pax header or GNU long name
// before it gave.
func (st *walkState) decode(h []byte, start int64) (*tarHeader, error) {
	if !bytes.Equal(h[257:262], []byte("ustar")) {
		return nil, &tarFormatError{fmt.Sprintf("tar entry %q (header at byte %d of the uncompressed stream) has no \"ustar\" magic: an old v7 tar header, which apk-tools 2.14 refuses (\"package file format error\")", cString(h[0:100]), start)}
	}
	e := &tarHeader{start: start, typeflag: h[156], name: cString(h[0:100])}
	for _, f := range numericFields {
		v, ok := headerOctal(h[f.off : f.off+f.size])
		if !ok {
			return nil, &tarFormatError{numericFieldMessage(h, f.name, f.off, f.size, start)}
		}
		switch f.name {
		case "size":
			e.size = v
		case "mode":
			e.mode = v & 0o7777
		}
	}
	if st.haveLong {
		e.name = st.longname
	}
	if h[345] != 0 && e.typeflag != 'x' && e.typeflag != 'g' {
		e.name = cString(h[345:500]) + "/" + cString(h[0:100])
	}
	if st.havePax {
		if p, ok := paxRecord(st.pax, "path"); ok {
			e.name = p
		}
		if l, ok := paxRecord(st.pax, "linkpath"); ok {
			e.link, e.hasLink = l, true
		}
	}
	e.toskip = (int64(e.size) + 511) &^ 511
	switch e.typeflag {
	case '1', '2':
		if !e.hasLink {
			e.link, e.hasLink = cString(h[157:257]), true
		}
	}
	return e, nil
}

// typeModes are the file type bits of each tar type apk-tools extracts.
var typeModes = map[byte]uint64{'0': sIFREG, '7': sIFREG, '1': sIFREG, '2': sIFLNK, '3': sIFCHR, '4': sIFBLK, '5': sIFDIR, '6': sIFIFO}

// entry applies e's type: a GNU long name or pax header is read for the
// entries after it, an entry with a file type is handed to fn with its
// data, and the rest of its data blocks are skipped.
func (w *tarWalker) entry(st *walkState, e *tarHeader, fn func(e *tarItem, body io.Reader) error) error {
	switch e.typeflag {
	case 'L': // GNU long name: names the following entries until one is handed over
		v, err := w.readExt(int64(e.size), "GNU long name", e.start)
		if err != nil {
			return err
		}
		st.longname, st.haveLong = cString(v), true
		e.name = st.longname
		e.toskip -= int64(e.size)
	case 'x': // pax extended header for the next entry
		v, err := w.readExt(int64(e.size), "pax extended header", e.start)
		if err != nil {
			return err
		}
		st.pax, st.havePax = v, true
		e.toskip -= int64(e.size)
	default:
		e.mode |= typeModes[e.typeflag]
	}
	if len(e.name) >= pathMax-10 || (e.hasLink && len(e.link) >= pathMax-10) {
		return &tarFormatError{fmt.Sprintf("the tar entry at byte %d has a name or link target of %d bytes or more (apk-tools: ENAMETOOLONG)", e.start, pathMax-10)}
	}
	if e.mode&sIFMT != 0 {
		item := &tarItem{name: e.name, typeflag: e.typeflag, mode: uint32(e.mode), size: int64(e.size), offset: e.start}
		if e.hasLink {
			item.link = e.link
		}
		body := &io.LimitedReader{R: countingReader{w}, N: item.size}
		if err := fn(item, body); err != nil {
			return err
		}
		if body.N > 0 {
			if err := w.skip(body.N); err != nil {
				return w.shortData(err, item.name)
			}
		}
		e.toskip -= item.size
		st.havePax, st.haveLong = false, false
	}
	if e.toskip > 0 {
		if err := w.skip(e.toskip); err != nil {
			return w.shortData(err, e.name)
		}
	}
	return nil
}

// shortData explains a stream that ends inside an entry.
func (w *tarWalker) shortData(err error, name string) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &tarStructError{fmt.Sprintf("the tar stream ends inside the data of entry %q", name), -1}
	}
	return err
}

// trailer reads what follows the second end-of-archive block as apk does:
// more blocks with an empty name are allowed, anything else (another
// entry, a partial block) is refused.
func (w *tarWalker) trailer(endAt int64) error {
	for {
		start := w.off
		n, err := w.readFull(w.blk[:])
		if err == io.EOF {
			return nil
		}
		if err == io.ErrUnexpectedEOF {
			return &tarStructError{fmt.Sprintf("%d bytes that are not a 512-byte block follow the tar end-of-archive blocks (at byte %d)", n, start), endAt}
		}
		if err != nil {
			return err
		}
		if w.blk[0] != 0 {
			return &tarStructError{fmt.Sprintf("the tar stream continues after its end-of-archive blocks (another header at byte %d)", start), endAt}
		}
	}
}

// readExt reads a pax or GNU long-name record. apk-tools keeps the whole
// record in memory; Pier keeps at most maxExt bytes of it.
func (w *tarWalker) readExt(size int64, what string, at int64) ([]byte, error) {
	if size > w.maxExt {
		return nil, &tarFormatError{fmt.Sprintf("the %s at byte %d is %d bytes, more than Pier's limit of %d (max_pkginfo_size)", what, at, size, w.maxExt)}
	}
	v := make([]byte, size)
	if _, err := w.readFull(v); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, &tarStructError{fmt.Sprintf("the tar stream ends inside the %s at byte %d", what, at), -1}
		}
		return nil, err
	}
	return v, nil
}

// countingReader reads through the walker, counting the offset.
type countingReader struct{ w *tarWalker }

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.w.r.Read(p)
	c.w.off += int64(n)
	if err == io.EOF {
		// The stream may end right after the entry's last byte (a
		// signature that fills its blocks exactly): only a read that gets
		// nothing is short.
		if n > 0 {
			return n, nil
		}
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// paxRecord finds key in pax extended header data the way apk-tools'
// handle_extended_header reads it ("LEN KEY=VALUE\n" records, stopping at
// the first malformed one); a later record wins. The value is a C string.
func paxRecord(hdr []byte, key string) (string, bool) {
	var val string
	found := false
	for len(hdr) > 0 {
		start := len(hdr)
		l, n := pullUint(hdr, 10, 32)
		hdr = hdr[n:]
		if len(hdr) == 0 || hdr[0] != ' ' {
			break
		}
		hdr = hdr[1:]
		eq := bytes.IndexByte(hdr, '=')
		if eq < 0 {
			break
		}
		name := hdr[:eq]
		hdr = hdr[eq+1:]
		used := uint64(start - len(hdr))
		if l < used+1 {
			break
		}
		l -= used + 1
		if uint64(len(hdr)) < l {
			break
		}
		value := hdr[:l]
		hdr = hdr[l:]
		if len(hdr) == 0 || hdr[0] != '\n' {
			break
		}
		hdr = hdr[1:]
		if string(name) == key {
			val, found = cString(value), true
		}
	}
	return val, found
}

// numericFieldMessage explains a numeric header field apk-tools cannot
// read, naming the usual cause when the field is Go's base-256 encoding of
// a mode with type bits (nfpm's `type: tree` contents).
func numericFieldMessage(h []byte, field string, off, size int, at int64) string {
	name := cString(h[0:100])
	raw := h[off : off+size]
	msg := fmt.Sprintf("tar entry %q (header at byte %d of the uncompressed stream): its %s field %q is not an octal number; apk-tools 2.14 reads every numeric tar header field as octal digits and refuses the package (\"package file format error\")", name, at, field, strings.TrimRight(string(raw), "\x00"))
	if raw[0]&0x80 != 0 {
		msg = fmt.Sprintf("tar entry %q (header at byte %d of the uncompressed stream): its %s field holds a base-256 number, which apk-tools 2.14 cannot read (\"package file format error\")", name, at, field)
		if field == "mode" {
			v := base256(raw)
			msg += fmt.Sprintf("; the mode is %#o: Go's os.ModeDir (or another Go file-type bit) leaked into the tar mode. nfpm's `type: tree` contents write every folder this way: list the files and folders in nfpm's contents instead of a `type: tree`", v)
		}
	}
	return msg
}

// base256 decodes a GNU base-256 number (the first byte's top bit set).
func base256(b []byte) uint64 {
	var v uint64
	for i, c := range b {
		if i == 0 {
			c &= 0x7f
		}
		v = v<<8 | uint64(c)
	}
	return v
}
