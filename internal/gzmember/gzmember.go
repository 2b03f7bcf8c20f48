// Package gzmember walks the members of a multi-member gzip file (RFC 1952
// §2.2) as Pier's writers cut them, handing each member's compressed bytes
// and what they decompress to: the formats read their previous indexes
// back this way to reuse the members that did not change.
package gzmember

import (
	"bytes"
	"io"

	"github.com/klauspost/compress/gzip"
)

// Member is one member of a gzip file and the bytes it decompresses to.
type Member struct {
	Data, Plain []byte
}

// Walk calls fn with each member of data, in order: its compressed bytes (a
// subslice of data) and the bytes it decompresses to, which stay valid only
// during the call (one buffer is reused for every member, so walking a file
// allocates little whatever its size). Members must have the plain 10-byte
// header Pier writes (no name, comment or extra field). Walk stops when fn
// returns false, and reports whether it reached the end of a well-formed
// file; members before a damaged one have already been handed to fn, each
// whole and checked (gzip's CRC-32 and size).
func Walk(data []byte, fn func(member, plain []byte) bool) bool {
	r := bytes.NewReader(data) // an io.ByteReader: the reader consumes exactly one member at a time
	zr, err := gzip.NewReader(r)
	if err != nil {
		return false
	}
	var plain bytes.Buffer
	for {
		zr.Multistream(false)
		start := len(data) - r.Len() - 10 // NewReader/Reset read the 10-byte header
		if zr.Header.Name != "" || zr.Header.Comment != "" || len(zr.Header.Extra) > 0 || start < 0 {
			return false
		}
		plain.Reset()
		if _, err := plain.ReadFrom(zr); err != nil {
			return false
		}
		end := len(data) - r.Len()
		if !fn(data[start:end:end], plain.Bytes()) {
			return false
		}
		if r.Len() == 0 {
			return true
		}
		if err := zr.Reset(r); err != nil {
			return false
		}
	}
}

// Split returns the members of data with their own copies of the
// decompressed bytes; false when data is not such a file.
func Split(data []byte) ([]Member, bool) {
	var out []Member
	ok := Walk(data, func(member, plain []byte) bool {
		out = append(out, Member{Data: member, Plain: bytes.Clone(plain)})
		return true
	})
	if !ok {
		return nil, false
	}
	return out, true
}

// One decompresses mem, which must be exactly one whole gzip member
// (nothing after it; gzip's CRC-32 and size checked) of at most max bytes
// decompressed; false otherwise.
func One(mem []byte, max int) ([]byte, bool) {
	r := bytes.NewReader(mem)
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, false
	}
	zr.Multistream(false)
	var plain bytes.Buffer
	n, err := plain.ReadFrom(io.LimitReader(zr, int64(max)+1))
	if err != nil || n > int64(max) { // (within max, the read reached the member's end and its checks)
		return nil, false
	}
	return plain.Bytes(), r.Len() == 0
}
