package deb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The data member's tar archive is read here block by block, the way
// dpkg's own tar reader reads it when it unpacks a package
// (lib/dpkg/tarfn.c, tar_extractor, with src/main/archives.c, tarobject),
// rather than through archive/tar, which accepts things dpkg refuses (pax
// headers) and parses numbers differently.

const tarBlock = 512

// tarMaxPath bounds GNU long names and links: a path longer than PATH_MAX
// (4096 bytes with its NUL) cannot be created by dpkg, and the bound keeps
// a hostile long-name record from taking memory.
const tarMaxPath = 4096

// Tar header fields (offset, length), POSIX ustar and GNU.
const (
	tarName     = 0
	tarMode     = 100
	tarUID      = 108
	tarGID      = 116
	tarSize     = 124
	tarMtime    = 136
	tarChksum   = 148
	tarTypeflag = 156
	tarLinkname = 157
	tarMagic    = 257
	tarPrefix   = 345
)

// tarEntry is one decoded header.
type tarEntry struct {
	name     string
	linkname string
	typ      byte
	size     int64
}

// dataTarWalker checks a data.tar stream.
type dataTarWalker struct {
	r      io.Reader
	member string
	blk    [tarBlock]byte
	buf    []byte // for skipping file contents
	// pending GNU long name and link ('L' and 'K' records) for the next entry
	longName, longLink *string
	// files collects the installed paths of non-directory entries (see
	// filelist.go); fileBytes counts their bytes against fileLimit.
	files     []string
	fileBytes int64
	fileLimit int64
}

// walkDataTar reads the tar archive of member from r to its end, checking
// every header and that every file's contents are there. It returns the
// paths the package installs (every entry but directories, see
// filelist.go; at most fileLimit bytes of them, counting a newline each)
// and reports whether the archive ended with an end-of-archive block
// (rather than at the end of the data, which dpkg also accepts). Errors
// about the data are bad-package errors naming member; errors of r are
// returned as they are.
func walkDataTar(r io.Reader, member string, buf []byte, fileLimit int64) (files []string, ended bool, err error) {
	w := &dataTarWalker{r: r, member: member, buf: buf, fileLimit: fileLimit}
	for {
		n, err := io.ReadFull(w.r, w.blk[:])
		switch {
		case n == 0 && err == io.EOF:
			return w.files, false, nil // the end of the data at a block boundary
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, false, w.bad("the tar archive ends inside a header block (dpkg: \"partially read tar header\")", "")
		case err != nil:
			return nil, false, err
		}
		e, problem := decodeTarHeader(&w.blk)
		if problem != "" {
			if e.name == "" {
				// dpkg takes a header that fails to decode and has an
				// empty name as the end of the archive (the zero blocks).
				return w.files, true, nil
			}
			return nil, false, w.bad(problem, e.name)
		}
		if err := w.entry(&e); err != nil {
			return nil, false, err
		}
	}
}

// entry checks one decoded header and reads what follows it.
func (w *dataTarWalker) entry(e *tarEntry) error {
	if e.typ != 'L' && e.typ != 'K' {
		if w.longName != nil {
			e.name, w.longName = *w.longName, nil
		}
		if w.longLink != nil {
			e.linkname, w.longLink = *w.longLink, nil
		}
	}
	if e.name == "" {
		return w.bad("a tar header has an empty name field", "")
	}
	switch e.typ {
	case '0', 0: // a regular file; with a name ending in '/', a directory
		if err := w.checkName(e); err != nil {
			return err
		}
		if strings.HasSuffix(e.name, "/") {
			return nil
		}
		if err := w.record(e); err != nil {
			return err
		}
		return w.skip(e, e.size+(tarBlock-e.size%tarBlock)%tarBlock)
	case '1', '2', '3', '4', '5', '6':
		// Hard link, symlink, devices, directory, FIFO: dpkg reads no
		// contents for them, whatever the size field says.
		if err := w.checkName(e); err != nil {
			return err
		}
		return w.record(e)
	case 'L', 'K':
		return w.long(e)
	case 'V', 'M', 'S', 'D':
		return w.bad(fmt.Sprintf("unsupported GNU tar header type '%c' (dpkg cannot unpack it)", e.typ), e.name)
	case 'X', 'A':
		return w.bad(fmt.Sprintf("unsupported Solaris tar header type '%c' (dpkg cannot unpack it)", e.typ), e.name)
	case 'g', 'x':
		return w.bad(fmt.Sprintf("unsupported PAX tar header type '%c'; dpkg's unpacker reads GNU and ustar headers only (usual cause: a tar writer in PAX mode, such as Go's archive/tar with PAX records or bsdtar)", e.typ), e.name)
	}
	return w.bad(fmt.Sprintf("unknown tar header type %q (dpkg cannot unpack it)", string(e.typ)), e.name)
}

// checkName applies dpkg's rule on entry names and Pier's rule on paths
// that leave the package's root.
func (w *dataTarWalker) checkName(e *tarEntry) error {
	if strings.Contains(e.name, "\n") {
		return w.bad("a newline in an entry name (dpkg: \"newline not allowed in archive object name\")", e.name)
	}
	if hasDotDot(e.name) {
		return w.bad("the entry name has a \"..\" component: it would be unpacked outside the package's root (dpkg --root/--instdir writes outside the root; dpkg-deb --extract refuses it)", e.name)
	}
	if e.typ == '1' && hasDotDot(e.linkname) {
		return w.bad(fmt.Sprintf("hard link to %q, which has a \"..\" component and leaves the package's root", clip(e.linkname)), e.name)
	}
	return nil
}

// record adds the installed path of a checked entry to the file list,
// unless it is a directory.
func (w *dataTarWalker) record(e *tarEntry) error {
	if isDirEntry(e) {
		return nil
	}
	p := installedPath(e.name)
	if p == "" {
		return nil
	}
	if w.fileBytes += int64(len(p)) + 1; w.fileBytes > w.fileLimit {
		return w.bad(fmt.Sprintf("the package installs more than %d bytes of file paths, the most Pier records for the Contents index (limits.file_list); raise the limit for packages with that many files", w.fileLimit), "")
	}
	w.files = append(w.files, p)
	return nil
}

// hasDotDot reports whether a slash-separated path has a ".." component.
func hasDotDot(p string) bool {
	for p != "" {
		var elem string
		elem, p, _ = strings.Cut(p, "/")
		if elem == ".." {
			return true
		}
	}
	return false
}

// long reads a GNU long name or link record.
func (w *dataTarWalker) long(e *tarEntry) error {
	if e.size > tarMaxPath {
		return w.bad(fmt.Sprintf("a GNU long name record of %d bytes; dpkg cannot create paths longer than %d bytes (PATH_MAX)", e.size, tarMaxPath-1), e.name)
	}
	data := make([]byte, 0, e.size)
	for left := e.size; left > 0; left -= tarBlock {
		if _, err := io.ReadFull(w.r, w.blk[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
				return w.bad("the tar archive ends inside a GNU long name record", e.name)
			}
			return err
		}
		data = append(data, w.blk[:min(left, tarBlock)]...)
	}
	s := cString(data)
	if e.typ == 'L' {
		w.longName = &s
	} else {
		w.longLink = &s
	}
	return nil
}

// skip reads n bytes of contents (with their padding) of e.
func (w *dataTarWalker) skip(e *tarEntry, n int64) error {
	for n > 0 {
		k, err := w.r.Read(w.buf[:min(n, int64(len(w.buf)))])
		n -= int64(k)
		if n > 0 && err == io.EOF {
			return w.bad("the tar archive ends inside the contents of this file (dpkg: \"unexpected end of file or stream\")", e.name)
		}
		if err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

// bad returns a bad-package error about the data member's tar.
func (w *dataTarWalker) bad(problem, entry string) error {
	if entry != "" {
		return badf("%s: entry %q: %s", w.member, clip(entry), problem)
	}
	return badf("%s: %s", w.member, problem)
}

// decodeTarHeader decodes a header block as dpkg's tar_header_decode does.
// It returns the entry and, if the header is not valid, why; the entry's
// name is set either way (an invalid header with an empty name ends the
// archive).
func decodeTarHeader(b *[tarBlock]byte) (tarEntry, string) {
	var e tarEntry
	magic := b[tarMagic : tarMagic+6]
	ustar := bytes.Equal(magic, []byte("ustar\x00"))
	if prefix := cString(b[tarPrefix : tarPrefix+155]); ustar && prefix != "" {
		e.name = prefix + "/" + cString(b[tarName:tarName+100])
	} else {
		e.name = cString(b[tarName : tarName+100])
	}
	e.linkname = cString(b[tarLinkname : tarLinkname+100])
	e.typ = b[tarTypeflag]
	size, ok := tarNumber(b[tarSize:tarSize+12], false, 1<<63-1)
	if !ok {
		return e, "invalid tar header size field"
	}
	e.size = int64(size)
	if _, ok := tarNumber(b[tarMtime:tarMtime+12], true, 0); !ok {
		return e, "invalid tar header mtime field"
	}
	if _, ok := tarNumber(b[tarUID:tarUID+8], false, 1<<32-1); !ok {
		return e, "invalid tar header uid field"
	}
	if _, ok := tarNumber(b[tarGID:tarGID+8], false, 1<<32-1); !ok {
		return e, "invalid tar header gid field"
	}
	want, ok := tarOctal(b[tarChksum : tarChksum+8])
	if !ok {
		return e, "invalid tar header checksum field"
	}
	var sum uint64 = 8 * ' '
	for i, c := range b {
		if i < tarChksum || i >= tarChksum+8 {
			sum += uint64(c)
		}
	}
	if sum != want {
		return e, "invalid tar header checksum (corrupt data)"
	}
	return e, ""
}

// tarNumber parses a numeric header field as dpkg's tar_atoul (signed
// false, at most max) or tar_atosl (signed true, any 64-bit value) do:
// octal, or base-256 when the first byte is 0x80 or 0xff.
func tarNumber(f []byte, signed bool, max uint64) (uint64, bool) {
	var n uint64
	if f[0] == 0x80 || f[0] == 0xff {
		var ok bool
		if n, ok = tarBase256(f); !ok {
			return 0, false
		}
	} else {
		var ok bool
		if n, ok = tarOctal(f); !ok {
			return 0, false
		}
	}
	if !signed && n > max {
		return 0, false
	}
	return n, true
}

// tarOctal parses an octal field like dpkg's tar_atol8: leading spaces,
// octal digits up to a NUL or a space, then only NULs and spaces. A field
// of spaces only is invalid; one that starts with a NUL is 0.
func tarOctal(f []byte) (uint64, bool) {
	i := 0
	for i < len(f) && f[i] == ' ' {
		i++
	}
	if i == len(f) {
		return 0, false
	}
	var n uint64
	for ; i < len(f) && f[i] != 0 && f[i] != ' '; i++ {
		if f[i] < '0' || f[i] > '7' {
			return 0, false
		}
		n = n*8 + uint64(f[i]-'0')
	}
	for ; i < len(f); i++ {
		if f[i] != 0 && f[i] != ' ' {
			return 0, false
		}
	}
	return n, true
}

// tarBase256 parses a base-256 field like dpkg's tar_atol256: the first
// byte is 0x80 (positive) or 0xff (negative, two's complement), and the
// value must fit in 64 bits.
func tarBase256(f []byte) (uint64, bool) {
	var n uint64
	c := f[0]
	if c == 0x80 {
		c = 0
	} else {
		n = ^uint64(0)
	}
	sign := c
	size, i := len(f), 1
	for ; size > 8; size-- {
		if c != sign {
			return 0, false
		}
		c = f[i]
		i++
	}
	if c&0x80 != sign&0x80 {
		return 0, false
	}
	for {
		n = n<<8 | uint64(c)
		if size--; size == 0 {
			return n, true
		}
		c = f[i]
		i++
	}
}

// cString returns b up to its first NUL byte.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
