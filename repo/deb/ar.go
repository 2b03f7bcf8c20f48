package deb

import (
	"bytes"
	"fmt"
	"io"
)

// The ar archive format of a .deb (deb(5), dpkg lib/dpkg/ar.c).
const (
	arMagic      = "!<arch>\n"
	arHeaderSize = 60
)

// arMember is one member of an ar archive: its name as dpkg reads it and
// where its data lies in the file.
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

// padded is the member's size with the padding byte that keeps the next
// header at an even offset.
func (m arMember) padded() int64 { return m.size + m.size%2 }

// readArMember reads the member header at off in r (a file of fileSize
// bytes). It returns the member and the offset of the next header. It does
// not check that the member's data lies within the file: dpkg-deb reads the
// members it needs and seeks past the others (see wholeMember).
func readArMember(r io.ReaderAt, fileSize, off int64) (arMember, int64, error) {
	if off+arHeaderSize > fileSize {
		return arMember{}, 0, badf("not a .deb: truncated ar member header at offset %d", off)
	}
	var h [arHeaderSize]byte
	if err := readAt(r, h[:], off); err != nil {
		return arMember{}, 0, readError("ar member header", off, err)
	}
	// dpkg_ar_member_is_illegal: the header must end in "`\n".
	if h[58] != '`' || h[59] != '\n' {
		return arMember{}, 0, badf("not a .deb: bad ar member header at offset %d (it does not end in \"`\\n\")", off)
	}
	name := arName(h[0:16])
	size, ok := arSize(h[48:58])
	if !ok {
		return arMember{}, 0, badf("not a .deb: bad size %q in the header of ar member %q at offset %d (decimal digits only)",
			string(bytes.TrimRight(h[48:58], " ")), clip(name), off)
	}
	m := arMember{name: name, header: off, offset: off + arHeaderSize, size: size}
	return m, m.offset + m.padded(), nil
}

// arName is a member name as dpkg reads it (dpkg_ar_normalize_name, then
// used as a C string): trailing spaces removed, then one trailing '/' (GNU
// ar), then everything from the first NUL byte on.
func arName(field []byte) string {
	name := bytes.TrimRight(field, " ")
	name = bytes.TrimSuffix(name, []byte("/"))
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return string(name)
}

// arSize parses an ar size field the way dpkg_ar_member_get_size does:
// leading spaces, then decimal digits up to the first space; any other
// character is an error. A field of spaces only is 0.
func arSize(field []byte) (int64, bool) {
	i := 0
	for i < len(field) && field[i] == ' ' {
		i++
	}
	var n int64
	for ; i < len(field) && field[i] != ' '; i++ {
		c := field[i]
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0') // ten digits cannot overflow
	}
	return n, true
}

// wholeMember checks that a member dpkg-deb reads (debian-binary, the
// control member, the data member) is in the file with its padding byte:
// dpkg-deb 1.21 reads debian-binary with its padding, and newer dpkg-deb
// (src/deb/extract.c, "archive '%s' is truncated or corrupt, expected more
// data than available") refuses a control or data member that the file
// does not hold with its padding.
func wholeMember(m arMember, fileSize int64) error {
	if avail := fileSize - m.offset; m.padded() > avail {
		what := "its data"
		if m.size <= avail {
			what = "the padding byte after its data"
		}
		return badf("not a .deb: ar member %q at offset %d is truncated: the file ends before %s (it needs %d bytes, the file has %d after the header; truncated upload?)",
			clip(m.name), m.header, what, m.padded(), avail)
	}
	return nil
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
