package repo

import (
	"encoding/json"
	"strconv"
)

// encodeManifest returns the JSON of a generation's files, byte for byte
// what json.Marshal writes for them (readManifest decodes it with
// encoding/json), without reflection: a 10,000-package manifest is
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
