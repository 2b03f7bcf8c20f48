package sqlite

import (
	"bytes"
	"encoding/json"

	"github.com/pierhq/pier/repo"
)

// decodeSums decodes a package's sums column, the JSON object json.Marshal
// wrote for its repo.Sums. The usual form (an object of plain ASCII strings,
// no spaces or escapes) is read by hand: a publish of a 10,000-package
// target reads every row, and encoding/json took a tenth of that; anything
// else goes through encoding/json, so the result is always what
// json.Unmarshal gives (FuzzDecodeSums).
func decodeSums(b []byte) (repo.Sums, error) {
	if s, ok := decodeSumsFast(b); ok {
		return s, nil
	}
	var s repo.Sums
	err := json.Unmarshal(b, &s)
	return s, err
}

// decodeSumsFast reads {"k":"v",...} with keys and values of printable
// ASCII other than '"' and '\'; false for anything else.
func decodeSumsFast(b []byte) (repo.Sums, bool) {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, false
	}
	b = b[1 : len(b)-1]
	s := make(repo.Sums, 4)
	for len(b) > 0 {
		k, rest, ok := plainString(b)
		if !ok || len(rest) == 0 || rest[0] != ':' {
			return nil, false
		}
		v, rest, ok := plainString(rest[1:])
		if !ok {
			return nil, false
		}
		s[repo.Digest(k)] = v
		switch {
		case len(rest) == 0:
			return s, true
		case rest[0] == ',' && len(rest) > 1:
			b = rest[1:]
		default:
			return nil, false
		}
	}
	return s, true
}

// plainString reads a JSON string of printable ASCII without escapes at
// the start of b.
func plainString(b []byte) (string, []byte, bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", nil, false
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 {
		return "", nil, false
	}
	for _, c := range b[1 : 1+end] {
		if c < 0x20 || c > 0x7e || c == '\\' {
			return "", nil, false
		}
	}
	return string(b[1 : 1+end]), b[2+end:], true
}
