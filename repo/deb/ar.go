package deb

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The ar archive format of a .deb (deb(5), dpkg lib/dpkg/ar.c).
const (
	arMagic      = "!<arch>\n"
	arHeaderSize = 60
)

// arMember is one member of an ar archive: its name (trailing spaces and
// GNU '/' removed) and where its data lies in the file.
type arMember struct {
	name   string
	header int64 // offset of the member's header
	offset int64 // offset of the member's data
	size   int64
}

// section returns a reader of the member's data.
func (m arMember) section(r io.ReaderAt) *io.SectionReader {
	return io.NewSectionReader(r, m.offset, m.size)
}

// readArMember reads the member header at off in r (a file of fileSize
// bytes) and checks that its data lies within the file. It returns the
// member and the offset of the next header.
func readArMember(r io.ReaderAt, fileSize, off int64) (arMember, int64, error) {
	if off+arHeaderSize > fileSize {
		return arMember{}, 0, badf("not a .deb: truncated ar member header at offset %d", off)
	}
	var h [arHeaderSize]byte
	if err := readAt(r, h[:], off); err != nil {
		return arMember{}, 0, readError("ar member header", off, err)
	}
	if h[58] != '`' || h[59] != '\n' {
		return arMember{}, 0, badf("not a .deb: bad ar member header at offset %d", off)
	}
	name := string(bytes.TrimRight(h[0:16], " "))
	if len(name) > 1 {
		name = strings.TrimSuffix(name, "/")
	}
	sizeField := string(bytes.TrimRight(h[48:58], " "))
	size, err := strconv.ParseInt(sizeField, 10, 64)
	if err != nil || size < 0 || sizeField == "" || sizeField[0] == '+' || sizeField[0] == '-' {
		return arMember{}, 0, badf("not a .deb: bad size %q in ar member header at offset %d", sizeField, off)
	}
	m := arMember{name: name, header: off, offset: off + arHeaderSize, size: size}
	if size > fileSize-m.offset {
		return arMember{}, 0, badf("not a .deb: ar member %q at offset %d is truncated: it needs %d bytes, the file has %d after its header",
			clip(name), off, size, fileSize-m.offset)
	}
	return m, m.offset + size + size%2, nil
}

// readError turns an error from an io.ReaderAt into a package error when it
// is about the data ending early, and wraps it otherwise (an I/O failure).
func readError(what string, off int64, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return badf("not a .deb: truncated %s at offset %d", what, off)
	}
	return fmt.Errorf("read %s at offset %d: %w", what, off, err)
}

// readAt fills buf from r at off. Unlike r.ReadAt it accepts io.EOF when
// buf was filled.
func readAt(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return err
}
