package repo

import (
	"encoding/json"
	"strconv"
	"strings"
)

// encodeManifest returns the JSON of a generation's files, byte for byte
// what json.Marshal writes for them (decodeManifest reads it back),
// without reflection: a 10,000-package manifest is
// encoded in every publish, and json.Marshal took ~15 ms of it.
func encodeManifest(files []File) ([]byte, error) {
	b := make([]byte, 0, len(files)*160+2)
	b = append(b, '[')
	for i, f := range files {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"p":`...)
		var err error
		if b, err = appendJSONString(b, f.Path); err != nil {
			return nil, err
		}
		b = append(b, `,"h":`...)
		if b, err = appendJSONString(b, f.SHA256); err != nil {
			return nil, err
		}
		b = append(b, `,"s":`...)
		b = strconv.AppendInt(b, f.Size, 10)
		b = append(b, `,"k":`...)
		b = strconv.AppendInt(b, int64(f.Kind), 10)
		if f.Order != 0 {
			b = append(b, `,"o":`...)
			b = strconv.AppendInt(b, int64(f.Order), 10)
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// appendJSONString appends s as json.Marshal writes a string: plain
// printable ASCII as it is, anything else (quotes, backslashes, control
// bytes, the HTML-escaped <, > and &, non-ASCII) through json.Marshal.
func appendJSONString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			return append(b, q...), err
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}

// decodeManifest decodes a manifest: what json.Unmarshal gives for data
// (FuzzDecodeManifest), faster for what encodeManifest writes. Plain
// ASCII strings without escapes, the keys in encodeManifest's order and
// no white space are read by hand, every string a slice of one copy of
// data (a 10,000-package manifest took ~60 ms to unmarshal, in every new
// process that publishes); anything else goes to json.Unmarshal.
func decodeManifest(data []byte) ([]File, error) {
	if files, ok := decodeManifestFast(data); ok {
		return files, nil
	}
	var files []File
	if err := json.Unmarshal(data, &files); err != nil {
		return nil, err
	}
	return files, nil
}

// decodeManifestFast is decodeManifest's hand-read path; false when data
// is not in its narrow shape.
func decodeManifestFast(data []byte) ([]File, bool) {
	s := string(data)
	if len(s) < 2 || s[0] != '[' {
		return nil, false
	}
	files := make([]File, 0, len(s)/160+1)
	i := 1
	if s[i] == ']' {
		return files, i+1 == len(s)
	}
	// str reads `"key":"value"` at i.
	str := func(key string) (string, bool) {
		if !strings.HasPrefix(s[i:], key) {
			return "", false
		}
		i += len(key)
		start := i
		for ; i < len(s); i++ {
			c := s[i]
			if c == '"' {
				v := s[start:i]
				i++
				return v, true
			}
			if c < 0x20 || c >= 0x7f || c == '\\' {
				return "", false
			}
		}
		return "", false
	}
	// num reads `"key":integer` at i, as JSON spells integers.
	num := func(key string, bits int) (int64, bool) {
		if !strings.HasPrefix(s[i:], key) {
			return 0, false
		}
		i += len(key)
		start := i
		if i < len(s) && s[i] == '-' {
			i++
		}
		digits := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == digits || (s[digits] == '0' && i-digits > 1) {
			return 0, false // no digits, or a leading zero
		}
		v, err := strconv.ParseInt(s[start:i], 10, bits)
		return v, err == nil
	}
	for {
		var f File
		var ok bool
		var n int64
		if f.Path, ok = str(`{"p":"`); !ok {
			return nil, false
		}
		if f.SHA256, ok = str(`,"h":"`); !ok {
			return nil, false
		}
		if f.Size, ok = num(`,"s":`, 64); !ok {
			return nil, false
		}
		if n, ok = num(`,"k":`, strconv.IntSize); !ok {
			return nil, false
		}
		f.Kind = Kind(n)
		if strings.HasPrefix(s[i:], `,"o":`) {
			if n, ok = num(`,"o":`, strconv.IntSize); !ok {
				return nil, false
			}
			f.Order = int(n)
		}
		if i >= len(s) || s[i] != '}' {
			return nil, false
		}
		i++
		files = append(files, f)
		if i >= len(s) {
			return nil, false
		}
		switch s[i] {
		case ',':
			i++
		case ']':
			return files, i+1 == len(s)
		default:
			return nil, false
		}
	}
}
