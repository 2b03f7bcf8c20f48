package deb

import (
	"bytes"
	"errors"
	"path"
	"slices"
	"strconv"
	"strings"
)

// A package's file list is the set of paths it installs, as Debian's
// Contents indexes list them: every entry of the data member that is not a
// directory (regular files, hard links, symbolic links, device nodes and
// FIFOs), by the path dpkg installs it at, without the leading "./" or "/".
// dak (daklib/dbconn.py, DBBinary.scan_contents) keeps every tar member for
// which tarfile's isdir() is false; apt-ftparchive (ftparchive/contents.cc,
// GenContents::DoPrint) prints every entry whose name does not end in "/".
//
// The reader records the list in the package's Meta, sorted and front
// coded as text: one line per path, "<n> <rest>\n", where the path is the
// first n bytes of the previous path followed by rest. Paths share long
// prefixes (usr/share/doc/<pkg>/...), so a list takes about a third of its
// plain size, and the indexer merges the sorted lists without sorting or
// copying them.

// installedPath returns the path an entry named name is installed at,
// relative to the root ("" for the root itself): leading "./" and "/"
// dropped, "//" and "/./" collapsed, as dpkg resolves names against its
// root directory.
func installedPath(name string) string {
	return path.Clean("/" + name)[1:]
}

// isDirEntry reports whether a data entry is a directory, which Contents
// does not list: tar type '5', or any name that ends in "/" (a regular-file
// header with a trailing slash is a directory to dpkg and tar).
func isDirEntry(e *tarEntry) bool {
	return e.typ == '5' || strings.HasSuffix(e.name, "/")
}

// encodeFileList sorts and de-duplicates paths and front-codes them.
// Empty paths are dropped.
func encodeFileList(paths []string) []byte {
	slices.Sort(paths)
	paths = slices.Compact(paths)
	size := 0
	for _, p := range paths {
		size += len(p) + 4
	}
	b := make([]byte, 0, size/2)
	prev := ""
	for _, p := range paths {
		if p == "" {
			continue
		}
		n := commonPrefix(prev, p)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, ' ')
		b = append(b, p[n:]...)
		b = append(b, '\n')
		prev = p
	}
	return b
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

var errFileList = errors.New("deb: malformed file list in package meta")

// fileCursor walks an encoded file list in order. Its current path is
// held in a buffer that the next step overwrites.
type fileCursor struct {
	rest []byte
	cur  []byte
}

// next moves to the next path and reports whether there is one. It checks
// the encoding as it goes: every path non-empty and greater than the one
// before, so that a damaged list can never make the merge out of order.
func (c *fileCursor) next() (bool, error) {
	if len(c.rest) == 0 {
		return false, nil
	}
	nl := bytes.IndexByte(c.rest, '\n')
	sp := bytes.IndexByte(c.rest, ' ')
	if nl < 0 || sp < 0 || sp > nl {
		return false, errFileList
	}
	shared, ok := atoi(c.rest[:sp])
	suffix := c.rest[sp+1 : nl]
	switch {
	case !ok || shared > len(c.cur) || len(suffix) == 0:
		return false, errFileList
	case shared < len(c.cur) && suffix[0] <= c.cur[shared]:
		return false, errFileList // not after the previous path
	}
	c.cur = append(c.cur[:shared], suffix...)
	c.rest = c.rest[nl+1:]
	return true, nil
}

// decodeFileList returns the paths of an encoded file list.
func decodeFileList(b []byte) ([]string, error) {
	out := []string{}
	c := fileCursor{rest: b}
	for {
		ok, err := c.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return out, nil
		}
		out = append(out, string(c.cur))
	}
}
