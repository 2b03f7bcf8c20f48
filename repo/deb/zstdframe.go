package deb

import (
	"encoding/binary"
	"fmt"
	"io"
)

// zstd frame layout (RFC 8878, section 3.1).
const (
	zstdMagic         = 0xFD2FB528
	zstdSkippableMask = 0xFFFFFFF0
	zstdSkippableBase = 0x184D2A50
	zstdMaxBlockSize  = 128 << 10
	// zstdReasonTooBig is the reason zstdFrameEnd gives for a frame that
	// declares more content than allowed.
	zstdReasonTooBig = "the zstd frame declares more uncompressed data than the limit"
	// zstdReasonTruncated is the reason for data that ends inside a frame.
	zstdReasonTruncated = "the zstd frame ends early (truncated upload?)"
)

// zstdFrameEnd walks the zstd frame at the start of r (size bytes) by its
// headers, without decoding, and returns the offset where it ends: dpkg's
// decoder stops at the end of the first frame and never reads what
// follows. A skippable frame counts as a frame (it decodes to nothing). A
// frame that declares a content size over maxOut gets zstdReasonTooBig.
// It returns a user-facing reason when the data is not a whole frame, or
// an error when reading r failed.
func zstdFrameEnd(r io.ReaderAt, size, maxOut int64) (int64, string, error) {
	var hdr [14]byte // magic, descriptor, window, dictionary id, content size
	n := min(int64(len(hdr)), size)
	if err := readAt(r, hdr[:n], 0); err != nil {
		return 0, "", err
	}
	if n < 4 {
		return 0, zstdReasonTruncated, nil
	}
	magic := binary.LittleEndian.Uint32(hdr[:4])
	if magic&zstdSkippableMask == zstdSkippableBase {
		if n < 8 {
			return 0, zstdReasonTruncated, nil
		}
		end := 8 + int64(binary.LittleEndian.Uint32(hdr[4:8]))
		if end > size {
			return 0, zstdReasonTruncated, nil
		}
		return end, "", nil
	}
	if magic != zstdMagic {
		return 0, fmt.Sprintf("not a zstd frame (magic %08x)", magic), nil
	}
	if n < 5 {
		return 0, zstdReasonTruncated, nil
	}
	desc := hdr[4]
	if desc&0x08 != 0 {
		return 0, "bad zstd frame header (reserved bit set)", nil
	}
	single := desc&0x20 != 0
	fcsLen := [4]int64{0, 2, 4, 8}[desc>>6]
	if fcsLen == 0 && single {
		fcsLen = 1
	}
	dictLen := [4]int64{0, 1, 2, 4}[desc&0x03]
	pos := int64(5)
	if !single {
		pos++ // window descriptor
	}
	pos += dictLen
	if pos+fcsLen > n {
		return 0, zstdReasonTruncated, nil
	}
	if fcsLen > 0 {
		var b [8]byte
		copy(b[:], hdr[pos:pos+fcsLen])
		fcs := binary.LittleEndian.Uint64(b[:])
		if fcsLen == 2 {
			fcs += 256
		}
		if fcs > uint64(maxOut) {
			return 0, zstdReasonTooBig, nil
		}
	}
	pos, reason, err := zstdBlocksEnd(r, pos+fcsLen, size)
	if reason != "" || err != nil {
		return 0, reason, err
	}
	if desc&0x04 != 0 { // content checksum
		pos += 4
		if pos > size {
			return 0, zstdReasonTruncated, nil
		}
	}
	return pos, "", nil
}

// zstdBlocksEnd walks the blocks of a zstd frame from pos (the end of its
// header) to the end of its last block, which it returns, with a reason
// when the blocks are cut short or malformed.
func zstdBlocksEnd(r io.ReaderAt, pos, size int64) (int64, string, error) {
	for {
		var bh [3]byte
		if pos+3 > size {
			return 0, zstdReasonTruncated, nil
		}
		if err := readAt(r, bh[:], pos); err != nil {
			return 0, "", err
		}
		pos += 3
		h := uint32(bh[0]) | uint32(bh[1])<<8 | uint32(bh[2])<<16
		last, typ, bsize := h&1 != 0, (h>>1)&3, int64(h>>3)
		switch typ {
		case 1: // RLE: one byte, repeated bsize times
			pos++
		case 3:
			return 0, "bad zstd block (reserved block type)", nil
		default: // raw or compressed
			if bsize > zstdMaxBlockSize {
				return 0, fmt.Sprintf("bad zstd block (%d bytes, at most %d are allowed)", bsize, zstdMaxBlockSize), nil
			}
			pos += bsize
		}
		if pos > size {
			return 0, zstdReasonTruncated, nil
		}
		if last {
			return pos, "", nil
		}
	}
}
