package deb

import (
	"encoding/binary"
	"fmt"
	"io"
)

// The xz decoder allocates the dictionary size a block header declares (up
// to 4 GiB) before it decodes a byte. checkXZ walks the container of an
// uploaded .xz member from its end, the way `xz --list` does, and rejects
// dictionaries over xzMaxDict and declared sizes over the caller's limit
// before the decoder sees the data. It does not decode anything; the
// decoder still verifies checksums and the index.

const (
	xzMaxDict       = 64 << 20 // xz -9 uses 64 MiB
	xzMaxIndex      = 1 << 20
	xzHeaderSize    = 12
	xzFooterSize    = 12
	xzFilterLZMA2   = 0x21
	xzMaxStreams    = 1024
	xzMaxBlockCount = 1 << 16
)

const (
	xzHeaderMagic = "\xFD7zXZ\x00"
	xzFooterMagic = "YZ"
)

// checkXZ checks the .xz data in r (size bytes). maxOut is the largest
// allowed total uncompressed size. It returns a user-facing reason, or ""
// when the container is acceptable, or an error when reading r failed.
func checkXZ(r io.ReaderAt, size, maxOut int64) (string, error) {
	pos := size
	var total int64
	for streams := 0; ; streams++ {
		// Stream padding: multiples of four zero bytes between and after streams.
		var pad [4]byte
		for pos >= 4 {
			if err := readAt(r, pad[:], pos-4); err != nil {
				return "", err
			}
			if pad != [4]byte{} {
				break
			}
			pos -= 4
		}
		if pos == 0 && streams > 0 {
			return "", nil
		}
		if streams >= xzMaxStreams {
			return "too many xz streams", nil
		}
		if pos < xzHeaderSize+xzFooterSize {
			return "truncated xz stream", nil
		}
		var footer [xzFooterSize]byte
		if err := readAt(r, footer[:], pos-xzFooterSize); err != nil {
			return "", err
		}
		if string(footer[10:12]) != xzFooterMagic {
			return "no xz stream footer", nil
		}
		check := footer[9] & 0x0F
		indexSize := (int64(binary.LittleEndian.Uint32(footer[4:8])) + 1) * 4
		indexStart := pos - xzFooterSize - indexSize
		if indexSize > xzMaxIndex || indexStart < xzHeaderSize {
			return "bad xz index size", nil
		}
		index := make([]byte, indexSize)
		if err := readAt(r, index, indexStart); err != nil {
			return "", err
		}
		blocks, reason := parseXZIndex(index)
		if reason != "" {
			return reason, nil
		}
		var blocksSize int64
		for _, b := range blocks {
			padded := (b.unpadded + 3) &^ 3
			if b.unpadded <= 0 || padded > indexStart || b.uncompressed < 0 {
				return "bad xz index record", nil
			}
			blocksSize += padded
			total += b.uncompressed
			if blocksSize > indexStart || total < 0 {
				return "bad xz index record", nil
			}
			if total > maxOut {
				return fmt.Sprintf("control.tar expands beyond %d bytes", maxOut), nil
			}
		}
		streamStart := indexStart - blocksSize - xzHeaderSize
		if streamStart < 0 {
			return "bad xz index", nil
		}
		var header [xzHeaderSize]byte
		if err := readAt(r, header[:], streamStart); err != nil {
			return "", err
		}
		if string(header[:6]) != xzHeaderMagic || header[7]&0x0F != check {
			return "bad xz stream header", nil
		}
		off := streamStart + xzHeaderSize
		for _, b := range blocks {
			if reason, err := checkXZBlockHeader(r, off); reason != "" || err != nil {
				return reason, err
			}
			off += (b.unpadded + 3) &^ 3
		}
		pos = streamStart
		if pos == 0 {
			return "", nil
		}
	}
}

type xzRecord struct{ unpadded, uncompressed int64 }

// parseXZIndex parses an xz index (indicator, count, records, padding, CRC).
func parseXZIndex(b []byte) ([]xzRecord, string) {
	if len(b) < 8 || b[0] != 0 {
		return nil, "bad xz index"
	}
	p := b[1 : len(b)-4]
	count, n := binary.Uvarint(p)
	if n <= 0 || count > xzMaxBlockCount {
		return nil, "bad xz index"
	}
	p = p[n:]
	records := make([]xzRecord, 0, count)
	for range count {
		u, n1 := binary.Uvarint(p)
		if n1 <= 0 || u > 1<<62 {
			return nil, "bad xz index"
		}
		p = p[n1:]
		c, n2 := binary.Uvarint(p)
		if n2 <= 0 || c > 1<<62 {
			return nil, "bad xz index"
		}
		p = p[n2:]
		records = append(records, xzRecord{int64(u), int64(c)})
	}
	return records, ""
}

// checkXZBlockHeader checks the filters of the block header at off: only
// LZMA2 (what dpkg and the decoder use) with a dictionary of at most
// xzMaxDict.
func checkXZBlockHeader(r io.ReaderAt, off int64) (string, error) {
	var sz [1]byte
	if err := readAt(r, sz[:], off); err != nil {
		return "", err
	}
	if sz[0] == 0 {
		return "bad xz block header", nil
	}
	h := make([]byte, (int(sz[0])+1)*4)
	if err := readAt(r, h, off); err != nil {
		return "", err
	}
	flags := h[1]
	p := h[2 : len(h)-4]
	if flags&0x40 != 0 { // compressed size
		_, n := binary.Uvarint(p)
		if n <= 0 {
			return "bad xz block header", nil
		}
		p = p[n:]
	}
	if flags&0x80 != 0 { // uncompressed size
		_, n := binary.Uvarint(p)
		if n <= 0 {
			return "bad xz block header", nil
		}
		p = p[n:]
	}
	filters := int(flags&0x03) + 1
	for range filters {
		id, n := binary.Uvarint(p)
		if n <= 0 {
			return "bad xz block header", nil
		}
		p = p[n:]
		psize, n := binary.Uvarint(p)
		if n <= 0 || psize > uint64(len(p)-n) {
			return "bad xz block header", nil
		}
		props := p[n : n+int(psize)]
		p = p[n+int(psize):]
		if id != xzFilterLZMA2 {
			return fmt.Sprintf("unsupported xz filter 0x%x (only LZMA2 is accepted)", id), nil
		}
		if len(props) != 1 || props[0] > 40 {
			return "bad xz LZMA2 properties", nil
		}
		if dict := xzDictSize(props[0]); dict > xzMaxDict {
			return fmt.Sprintf("xz dictionary of %d bytes is larger than the %d accepted", dict, xzMaxDict), nil
		}
	}
	return "", nil
}

// xzDictSize decodes the LZMA2 dictionary-size property.
func xzDictSize(p byte) int64 {
	if p == 40 {
		return 1<<32 - 1
	}
	return int64(2|(p&1)) << (p/2 + 11)
}
