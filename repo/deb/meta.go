package deb

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Meta is the index fragment the deb format keeps in the catalog for each
// package (repo.Parsed.Meta): everything Index needs to write the package's
// Packages stanza and its Contents lines without reading the .deb again or
// parsing its control file. A stanza is Head, then the generated Filename,
// Size, MD5sum, SHA1 and SHA256 lines, then Tail.
//
// Its encoding (MarshalBinary) is text, so that it reads well in the
// catalog, and cheap to decode: one header line
//
//	deb2 <source> <md5 or -> <sha1 or -> <length of Head> <length of Tail>\n
//
// followed by Head, Tail and the file list (see filelist.go). Packages
// ingested before Pier recorded file lists carry the older encoding
//
//	deb1 <source> <md5 or -> <sha1 or -> <length of Head>\n
//
// followed by Head and Tail; they decode with Legacy set.
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
	// Files are the paths the package installs, as Contents lists them
	// (see filelist.go): sorted, without duplicates.
	Files []string
	// Legacy is set when the Meta was recorded before Pier kept file
	// lists (encoding deb1): Files is unknown, and the package is missing
	// from Contents indexes until it is uploaded again.
	Legacy bool
}

// Encodings of Meta: metaMagic is written, metaMagicV1 still read.
const (
	metaMagic   = "deb2"
	metaMagicV1 = "deb1"
)

// MarshalBinary encodes m (a Legacy m in the deb1 encoding, without
// files).
func (m *Meta) MarshalBinary() ([]byte, error) {
	for _, s := range []string{m.Source, m.MD5, m.SHA1} {
		if strings.ContainsAny(s, " \n") || s == "-" {
			return nil, fmt.Errorf("deb: encode meta: bad header value %q", clip(s))
		}
	}
	var files []byte
	if !m.Legacy {
		for _, p := range m.Files {
			if p == "" || strings.Contains(p, "\n") {
				return nil, fmt.Errorf("deb: encode meta: bad file path %q", clip(p))
			}
		}
		files = encodeFileList(slices.Clone(m.Files))
	}
	b := make([]byte, 0, len(metaMagic)+len(m.Source)+len(m.MD5)+len(m.SHA1)+len(m.Head)+len(m.Tail)+len(files)+24)
	magic := metaMagic
	if m.Legacy {
		magic = metaMagicV1
	}
	b = append(b, magic...)
	for _, s := range []string{m.Source, m.MD5, m.SHA1} {
		b = append(b, ' ')
		if s == "" {
			s = "-"
		}
		b = append(b, s...)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(m.Head)), 10)
	if !m.Legacy {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(m.Tail)), 10)
	}
	b = append(b, '\n')
	b = append(b, m.Head...)
	b = append(b, m.Tail...)
	return append(b, files...), nil
}

// UnmarshalBinary decodes data written by MarshalBinary.
func (m *Meta) UnmarshalBinary(data []byte) error {
	v, err := decodeMeta(data)
	if err != nil {
		return err
	}
	*m = Meta{Source: string(v.source), MD5: string(v.md5), SHA1: string(v.sha1), Head: string(v.head), Tail: string(v.tail), Legacy: !v.hasFiles}
	if v.hasFiles {
		if m.Files, err = decodeFileList(v.files); err != nil {
			return err
		}
	}
	return nil
}

// metaView is a decoded Meta whose fields alias the encoded bytes.
type metaView struct {
	source, md5, sha1, head, tail []byte
	// files is the encoded file list; hasFiles is false for a deb1 Meta,
	// which has none. The list is checked as it is read (fileCursor).
	files    []byte
	hasFiles bool
}

var errMeta = errors.New("deb: malformed package meta")

// decodeMeta decodes an encoded Meta without copying.
func decodeMeta(data []byte) (metaView, error) {
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return metaView{}, errMeta
	}
	hdr, body := data[:nl], data[nl+1:]
	parts := bytes.Split(hdr, []byte(" "))
	var v metaView
	switch {
	case len(parts) == 5 && string(parts[0]) == metaMagicV1:
		headLen, ok := atoi(parts[4])
		if !ok || headLen > len(body) {
			return metaView{}, errMeta
		}
		v.head, v.tail = body[:headLen], body[headLen:]
	case len(parts) == 6 && string(parts[0]) == metaMagic:
		headLen, ok1 := atoi(parts[4])
		tailLen, ok2 := atoi(parts[5])
		if !ok1 || !ok2 || headLen > len(body) || tailLen > len(body)-headLen {
			return metaView{}, errMeta
		}
		v.head, v.tail, v.files = body[:headLen], body[headLen:headLen+tailLen], body[headLen+tailLen:]
		v.hasFiles = true
	case string(parts[0]) != metaMagic && string(parts[0]) != metaMagicV1:
		return metaView{}, fmt.Errorf("%w: unknown encoding %q", errMeta, clip(string(parts[0])))
	default:
		return metaView{}, errMeta
	}
	v.source, v.md5, v.sha1 = parts[1], parts[2], parts[3]
	for _, p := range []*[]byte{&v.source, &v.md5, &v.sha1} {
		if string(*p) == "-" {
			*p = nil
		}
	}
	if !validFragment(v.head) || !validFragment(v.tail) {
		return metaView{}, fmt.Errorf("%w: a stanza fragment is not a run of whole field lines", errMeta)
	}
	if len(v.files) > 0 && v.files[len(v.files)-1] != '\n' {
		return metaView{}, fmt.Errorf("%w: the file list does not end in a newline", errMeta)
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
