package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
)

// rawEntry is one tar entry written byte by byte, so that a layout can be
// reproduced exactly (header magic, pax header names, the legacy abuild
// checksum in the link name field) and hostile names survive unchanged.
type rawEntry struct {
	name     string
	typeflag byte // '0', '2', '5', 'x'
	mode     int64
	data     []byte
	link     string
	// legacy, when set, is written into linkname[3:] as abuild-tar --hash
	// does for regular files.
	legacy []byte
	// patch, when set, edits the finished header block (checksum
	// included): a hostile or broken header. It calls fixChecksum when the
	// header must still have a valid checksum.
	patch func(h []byte)
}

// tarMagic selects the header magic: POSIX ustar ("ustar\x0000", what GNU
// tar --format=posix writes) or old GNU ("ustar  \x00", GNU tar's default
// format and apk-tools' own writer).
type tarMagic int

const (
	magicPOSIX tarMagic = iota
	magicGNU
)

// octal writes v into field as zero-padded octal digits and a NUL.
func octal(field []byte, v int64) {
	s := fmt.Sprintf("%0*o", len(field)-1, v)
	if len(s) > len(field)-1 {
		panic(fmt.Sprintf("%d does not fit a %d-byte tar field", v, len(field)))
	}
	copy(field, s)
	field[len(field)-1] = 0
}

// header returns the 512-byte tar header of e.
func (e rawEntry) header(magic tarMagic) []byte {
	h := make([]byte, 512)
	if len(e.name) > 100 {
		panic("tar name too long: " + e.name)
	}
	copy(h[0:100], e.name)
	octal(h[100:108], e.mode)
	octal(h[108:116], 0)
	octal(h[116:124], 0)
	octal(h[124:136], int64(len(e.data)))
	octal(h[136:148], epoch.Unix())
	h[156] = e.typeflag
	copy(h[157:257], e.link)
	if e.legacy != nil {
		copy(h[157+3:257], e.legacy)
	}
	switch magic {
	case magicPOSIX:
		copy(h[257:265], "ustar\x0000")
	case magicGNU:
		copy(h[257:265], "ustar  \x00")
	}
	copy(h[265:297], "root")
	copy(h[297:329], "root")
	if magic == magicPOSIX {
		octal(h[329:337], 0)
		octal(h[337:345], 0)
	}
	fixChecksum(h)
	if e.patch != nil {
		e.patch(h)
	}
	return h
}

// fixChecksum writes the checksum of header block h: six octal digits,
// NUL, space (GNU tar's way), over the block with the field as spaces.
func fixChecksum(h []byte) {
	for i := 148; i < 156; i++ {
		h[i] = ' '
	}
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

// writeTar writes entries as a tar stream. With cut, the end-of-archive
// blocks are left out (abuild-tar --cut); with record > 0, the stream is
// padded with zeros to a multiple of record bytes, as GNU tar pads to its
// 10240-byte records.
func writeTar(entries []rawEntry, magic tarMagic, cut bool, record int) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		b.Write(e.header(magic))
		b.Write(e.data)
		if pad := len(e.data) % 512; pad != 0 {
			b.Write(make([]byte, 512-pad))
		}
	}
	if !cut {
		b.Write(make([]byte, 1024))
		if record > 0 && b.Len()%record != 0 {
			b.Write(make([]byte, record-b.Len()%record))
		}
	}
	return b.Bytes()
}

// paxRecord formats one pax extended header record: "<len> key=value\n",
// where len counts the whole record.
func paxRecord(key, value string) []byte {
	body := " " + key + "=" + value + "\n"
	n := len(body)
	for {
		s := fmt.Sprintf("%d%s", n, body)
		if len(s) == n {
			return []byte(s)
		}
		n = len(s)
	}
}

// gz compresses data as one gzip member the way `gzip -n -9` does: no
// name, no time, the best compression, OS "Unix".
func gz(data []byte) []byte {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		panic(err)
	}
	zw.OS = 3
	if _, err := zw.Write(data); err != nil {
		panic(err)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}
