package deb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The xz decoder allocates the dictionary a block header declares (up to
// 4 GiB) before it decodes a byte. checkXZ walks an uploaded .xz member
// forward along the exact path the decoder takes (stream header, block
// headers, LZMA2 chunk headers, padding, checks, index, footer) without
// decoding, and rejects dictionaries over xzMaxDict, filters other than
// LZMA2, and data that declares more than the caller's limit of
// uncompressed bytes, before the decoder sees the data. The decoder still
// verifies checksums and the index.

const (
	xzMaxDict     = 64 << 20 // xz -9 uses 64 MiB
	xzHeaderSize  = 12
	xzFooterSize  = 12
	xzFilterLZMA2 = 0x21
	xzHeaderMagic = "\xFD7zXZ\x00"
	xzFooterMagic = "YZ"
)

// xzReason is a problem with the xz data, for the uploader.
type xzReason string

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
		return nil, xzReason("truncated xz data")
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

// checkXZ checks the .xz data in r (size bytes). maxOut is the largest
// allowed total uncompressed size. It returns a user-facing reason, or ""
// when the data is acceptable, or an error when reading r failed.
func checkXZ(r io.ReaderAt, size, maxOut int64) (string, error) {
	w := &xzWalker{r: r, size: size}
	var total int64
	err := func() error {
		for streams := 0; ; streams++ {
			if streams > 0 {
				// Stream padding: groups of four zero bytes.
				for w.size-w.pos >= 4 {
					b, err := w.read(4)
					if err != nil {
						return err
					}
					if string(b) != "\x00\x00\x00\x00" {
						w.pos -= 4
						break
					}
				}
				if w.pos == w.size {
					return nil
				}
			}
			if err := w.stream(&total, maxOut); err != nil {
				return err
			}
		}
	}()
	var reason xzReason
	if errors.As(err, &reason) {
		return string(reason), nil
	}
	return "", err
}

// stream walks one xz stream, adding its uncompressed size to *total.
func (w *xzWalker) stream(total *int64, maxOut int64) error {
	start := w.pos
	h, err := w.read(xzHeaderSize)
	if err != nil {
		return err
	}
	if string(h[:6]) != xzHeaderMagic || h[6] != 0 || h[7]&0xF0 != 0 {
		return xzReason("bad xz stream header")
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
	for range int(flags&0x03) + 1 {
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
		if id != xzFilterLZMA2 {
			return xzReason(fmt.Sprintf("unsupported xz filter 0x%x (only LZMA2 is accepted)", id))
		}
		if len(props) != 1 || props[0] > 40 {
			return xzReason("bad xz LZMA2 properties")
		}
		if dict := xzDictSize(props[0]); dict > xzMaxDict {
			return xzReason(fmt.Sprintf("xz dictionary of %d bytes is larger than the %d accepted", dict, xzMaxDict))
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
			return xzReason(fmt.Sprintf("control.tar expands beyond %d bytes", maxOut))
		}
		if packed > w.size-w.pos {
			return xzReason("truncated xz data")
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
