package deb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The xz decoder allocates the dictionary a block header declares before
// it decodes a byte. xzStreamEnd walks the first xz stream of a member
// forward along the exact path the decoder takes (stream header, block
// headers, LZMA2 chunk headers, padding, checks, index, footer) without
// decoding, and refuses dictionaries over xzMaxDict, filters the decoder
// does not know, and data that declares more than the caller's limit of
// uncompressed bytes, before the decoder sees the data. It also finds where
// the stream ends: dpkg's liblzma decoder reads one stream and never looks
// at what follows. The decoder still verifies every CRC, the checks and
// the index.

const (
	xzHeaderSize  = 12
	xzFooterSize  = 12
	xzFilterLZMA2 = 0x21
	xzHeaderMagic = "\xFD7zXZ\x00"
	xzFooterMagic = "YZ"
	// xzReasonTooBig is the reason xzStreamEnd gives for a stream that
	// declares more output than allowed.
	xzReasonTooBig = "the xz stream declares more uncompressed data than the limit"
)

// xzPreFilter reports whether a filter may come before LZMA2 in a block:
// delta (0x03) and the branch converters 0x04-0x09, which the decoder
// (xz-embedded's port) and liblzma both know. liblzma 5.4 also knows ARM64
// (0x0A); the decoder does not, so Pier refuses it.
func xzPreFilter(id uint64) bool { return id >= 0x03 && id <= 0x09 }

// xzReason is a problem with the xz data, for the uploader.
type xzReason string

// xzReasonTruncated is the reason for data that ends inside the stream.
const xzReasonTruncated xzReason = "the xz stream ends early (truncated upload?)"

func (r xzReason) Error() string { return string(r) }

// xzWalker reads an xz file front to back.
type xzWalker struct {
	r     io.ReaderAt
	size  int64
	pos   int64
	ioErr error // the first error from r
}

func (w *xzWalker) read(n int64) ([]byte, error) {
	if n > w.size-w.pos {
		return nil, xzReasonTruncated
	}
	b := make([]byte, n)
	if err := readAt(w.r, b, w.pos); err != nil {
		w.ioErr = err
		return nil, err
	}
	w.pos += n
	return b, nil
}

func (w *xzWalker) ReadByte() (byte, error) {
	b, err := w.read(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (w *xzWalker) uvarint() (uint64, error) {
	v, err := binary.ReadUvarint(w)
	var reason xzReason
	switch {
	case err == nil:
		return v, nil
	case w.ioErr != nil:
		return 0, w.ioErr
	case errors.As(err, &reason):
		return 0, err
	}
	return 0, xzReason("bad xz integer")
}

// xzStreamEnd walks the xz stream at the start of r (size bytes). maxOut
// is the largest allowed uncompressed size. It returns the offset where
// the stream ends, or a user-facing reason when the data is not acceptable
// (xzReasonTooBig past maxOut), or an error when reading r failed.
func xzStreamEnd(r io.ReaderAt, size, maxOut int64) (int64, string, error) {
	w := &xzWalker{r: r, size: size}
	var total int64
	err := w.stream(&total, maxOut)
	var reason xzReason
	switch {
	case err == nil:
		return w.pos, "", nil
	case errors.As(err, &reason):
		return 0, string(reason), nil
	}
	return 0, "", err
}

// stream walks one xz stream, adding its uncompressed size to *total.
func (w *xzWalker) stream(total *int64, maxOut int64) error {
	start := w.pos
	h, err := w.read(xzHeaderSize)
	if err != nil {
		return err
	}
	if string(h[:6]) != xzHeaderMagic || h[6] != 0 || h[7]&0xF0 != 0 {
		return xzReason("not an xz stream (bad xz stream header)")
	}
	check := h[7] & 0x0F
	checkSize := int64(0)
	if check > 0 {
		checkSize = 4 << ((check - 1) / 3)
	}
	for blocks := uint64(0); ; blocks++ {
		b, err := w.ReadByte()
		if err != nil {
			return err
		}
		if b == 0 { // index indicator
			return w.indexAndFooter(blocks)
		}
		w.pos--
		if err := w.blockHeader(); err != nil {
			return err
		}
		if err := w.lzma2(total, maxOut); err != nil {
			return err
		}
		if pad := (4 - (w.pos-start)%4) % 4; pad > 0 {
			if _, err := w.read(pad); err != nil {
				return err
			}
		}
		if _, err := w.read(checkSize); err != nil {
			return err
		}
	}
}

// blockHeader checks a block header: LZMA2 only, with a dictionary of at
// most xzMaxDict.
func (w *xzWalker) blockHeader() error {
	sz, err := w.ReadByte()
	if err != nil {
		return err
	}
	w.pos--
	h, err := w.read((int64(sz) + 1) * 4)
	if err != nil {
		return err
	}
	flags := h[1]
	p := h[2 : len(h)-4]
	bad := xzReason("bad xz block header")
	for _, present := range []bool{flags&0x40 != 0, flags&0x80 != 0} { // compressed, uncompressed size
		if present {
			_, n := binary.Uvarint(p)
			if n <= 0 {
				return bad
			}
			p = p[n:]
		}
	}
	nfilters := int(flags&0x03) + 1
	for i := range nfilters {
		id, n := binary.Uvarint(p)
		if n <= 0 {
			return bad
		}
		p = p[n:]
		psize, n := binary.Uvarint(p)
		if n <= 0 || psize > uint64(len(p)-n) {
			return bad
		}
		props := p[n : n+int(psize)]
		p = p[n+int(psize):]
		if i < nfilters-1 {
			if !xzPreFilter(id) {
				return xzReason(fmt.Sprintf("unsupported xz filter 0x%x (Pier decodes LZMA2 after delta or a branch converter of x86, PowerPC, IA-64, ARM, ARM-Thumb or SPARC)", id))
			}
			continue
		}
		if id != xzFilterLZMA2 {
			return xzReason(fmt.Sprintf("unsupported xz filter 0x%x as the last filter (it must be LZMA2)", id))
		}
		if len(props) != 1 || props[0] > 40 {
			return xzReason("bad xz LZMA2 properties")
		}
		if dict := xzDictSize(props[0]); dict > xzMaxDict {
			return xzReason(fmt.Sprintf("the xz dictionary of %d bytes is larger than the %d Pier accepts (xz -9 uses 64 MiB)", dict, xzMaxDict))
		}
	}
	return nil
}

// lzma2 skips LZMA2 chunks up to and including the end marker, adding
// their declared uncompressed sizes to *total.
func (w *xzWalker) lzma2(total *int64, maxOut int64) error {
	for {
		c, err := w.ReadByte()
		if err != nil {
			return err
		}
		var unpacked, packed int64
		switch {
		case c == 0:
			return nil
		case c == 1 || c == 2: // uncompressed chunk
			h, err := w.read(2)
			if err != nil {
				return err
			}
			unpacked = int64(binary.BigEndian.Uint16(h)) + 1
			packed = unpacked
		case c >= 0x80: // LZMA chunk
			n := int64(4)
			if c >= 0xC0 { // new properties
				n = 5
			}
			h, err := w.read(n)
			if err != nil {
				return err
			}
			unpacked = int64(c&0x1F)<<16 + int64(binary.BigEndian.Uint16(h[0:2])) + 1
			packed = int64(binary.BigEndian.Uint16(h[2:4])) + 1
		default:
			return xzReason("bad LZMA2 chunk")
		}
		if *total += unpacked; *total > maxOut {
			return xzReason(xzReasonTooBig)
		}
		if packed > w.size-w.pos {
			return xzReasonTruncated
		}
		w.pos += packed
	}
}

// indexAndFooter skips the index (its indicator already read) and the
// stream footer.
func (w *xzWalker) indexAndFooter(blocks uint64) error {
	start := w.pos - 1
	count, err := w.uvarint()
	if err != nil {
		return err
	}
	if count != blocks {
		return xzReason("xz index does not match the blocks")
	}
	for range 2 * count {
		if _, err := w.uvarint(); err != nil {
			return err
		}
	}
	if pad := (4 - (w.pos-start)%4) % 4; pad > 0 {
		if _, err := w.read(pad); err != nil {
			return err
		}
	}
	if _, err := w.read(4); err != nil { // CRC32
		return err
	}
	f, err := w.read(xzFooterSize)
	if err != nil {
		return err
	}
	if string(f[10:12]) != xzFooterMagic {
		return xzReason("no xz stream footer")
	}
	return nil
}

// xzDictSize decodes the LZMA2 dictionary-size property.
func xzDictSize(p byte) int64 {
	if p == 40 {
		return 1<<32 - 1
	}
	return int64(2|(p&1)) << (p/2 + 11)
}
