package catalog

import (
	"encoding/binary"
	"errors"
)

// idsVersion is the first byte of an encoded package id list.
const idsVersion = 1

// EncodeIDs encodes sorted package ids compactly, as every implementation
// stores a generation's package ids: a version byte, then the uvarint
// deltas between consecutive ids (about 2 bytes per package).
func EncodeIDs(ids []int64) []byte {
	b := make([]byte, 1, 1+2*len(ids))
	b[0] = idsVersion
	var last int64
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(id-last))
		last = id
	}
	return b
}

// DecodeIDs decodes what EncodeIDs wrote.
func DecodeIDs(b []byte) ([]int64, error) {
	if len(b) == 0 || b[0] != idsVersion {
		return nil, errors.New("decode generation package ids: unknown encoding")
	}
	b = b[1:]
	var out []int64
	var last int64
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("decode generation package ids: corrupt varint")
		}
		last += int64(d)
		out = append(out, last)
		b = b[n:]
	}
	return out, nil
}
