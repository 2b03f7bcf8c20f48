package deb

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Meta is the index fragment the deb format keeps in the catalog for each
// package (repo.Parsed.Meta): everything Index needs to write the package's
// Packages stanza without reading the .deb again or parsing its control
// file. A stanza is Head, then the generated Filename, Size, MD5sum, SHA1
// and SHA256 lines, then Tail.
//
// Its encoding (MarshalBinary) is text, so that it reads well in the
// catalog, and cheap to decode: one header line
//
//	deb1 <source> <md5 or -> <sha1 or -> <length of Head>\n
//
// followed by Head and Tail.
type Meta struct {
	// Source is the source package name: the pool directory.
	Source string
	// MD5 and SHA1 are the hex digests of the .deb ("" if unknown).
	MD5, SHA1 string
	// Head holds the rendered control fields that come before Filename in
	// apt-ftparchive's order (Package … Enhances), each ending in "\n".
	Head string
	// Tail holds the rendered fields after the checksums: Homepage,
	// Description, Description-md5, Tag, Task, then unknown fields in the
	// control file's order.
	Tail string
}

const metaMagic = "deb1"

// MarshalBinary encodes m.
func (m *Meta) MarshalBinary() ([]byte, error) {
	for _, s := range []string{m.Source, m.MD5, m.SHA1} {
		if strings.ContainsAny(s, " \n") || s == "-" {
			return nil, fmt.Errorf("deb: encode meta: bad header value %q", clip(s))
		}
	}
	b := make([]byte, 0, len(metaMagic)+len(m.Source)+len(m.MD5)+len(m.SHA1)+len(m.Head)+len(m.Tail)+16)
	b = append(b, metaMagic...)
	for _, s := range []string{m.Source, m.MD5, m.SHA1} {
		b = append(b, ' ')
		if s == "" {
			s = "-"
		}
		b = append(b, s...)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(m.Head)), 10)
	b = append(b, '\n')
	b = append(b, m.Head...)
	b = append(b, m.Tail...)
	return b, nil
}

// UnmarshalBinary decodes data written by MarshalBinary.
func (m *Meta) UnmarshalBinary(data []byte) error {
	v, err := decodeMeta(data)
	if err != nil {
		return err
	}
	*m = Meta{Source: string(v.source), MD5: string(v.md5), SHA1: string(v.sha1), Head: string(v.head), Tail: string(v.tail)}
	return nil
}

// metaView is a decoded Meta whose fields alias the encoded bytes.
type metaView struct {
	source, md5, sha1, head, tail []byte
}

var errMeta = errors.New("deb: malformed package meta")

// decodeMeta decodes an encoded Meta without copying.
func decodeMeta(data []byte) (metaView, error) {
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return metaView{}, errMeta
	}
	hdr, body := data[:nl], data[nl+1:]
	var parts [5][]byte
	for i := range parts {
		sp := bytes.IndexByte(hdr, ' ')
		if i == len(parts)-1 {
			if sp >= 0 {
				return metaView{}, errMeta
			}
			parts[i] = hdr
			break
		}
		if sp < 0 {
			return metaView{}, errMeta
		}
		parts[i], hdr = hdr[:sp], hdr[sp+1:]
	}
	if string(parts[0]) != metaMagic {
		return metaView{}, fmt.Errorf("%w: unknown encoding %q", errMeta, clip(string(parts[0])))
	}
	headLen, ok := atoi(parts[4])
	if !ok || headLen > len(body) {
		return metaView{}, errMeta
	}
	v := metaView{source: parts[1], md5: parts[2], sha1: parts[3], head: body[:headLen], tail: body[headLen:]}
	for _, p := range []*[]byte{&v.md5, &v.sha1} {
		if string(*p) == "-" {
			*p = nil
		}
	}
	if string(v.source) == "-" {
		v.source = nil
	}
	if !validFragment(v.head) || !validFragment(v.tail) {
		return metaView{}, fmt.Errorf("%w: a stanza fragment is not a run of whole field lines", errMeta)
	}
	return v, nil
}

// validFragment reports whether b can be pasted into a Packages stanza:
// empty, or whole lines that start with a field and hold no blank line.
func validFragment(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	return b[len(b)-1] == '\n' && b[0] != ' ' && b[0] != '\t' && b[0] != '\n' && !bytes.Contains(b, []byte("\n\n"))
}

// atoi parses a small non-negative decimal number.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
