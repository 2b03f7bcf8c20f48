package main

import (
	"bytes"
	"crypto/rsa"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
)

// arMember is one member of an ar archive.
type arMember struct {
	name string
	data []byte
}

// writeAr writes members as dpkg-deb does: the "!<arch>\n" magic, 60-byte
// headers (name, SOURCE_DATE_EPOCH, uid 0, gid 0, mode 100644, size), data
// padded with "\n" to an even length.
func writeAr(members []arMember) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", m.name, epoch.Unix(), 0, 0, 0o100644, len(m.data))
		b.Write(m.data)
		if len(m.data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// debControl is the control file of a hand-made deb.
func debControl(name, what string) []byte {
	return []byte(strings.Join([]string{
		"Package: " + name,
		"Version: 1.0-1",
		"Architecture: amd64",
		"Maintainer: Pier corpus <corpus-test-only@example.org>",
		"Installed-Size: 1",
		"Section: misc",
		"Priority: optional",
		"Homepage: https://example.org/pier-corpus",
		"Description: Pier conformance corpus package " + name,
		" Hand-made by testdata/gen: " + what + ".",
		"",
	}, "\n"))
}

// debTree returns the data.tar entries of package name: its folder with
// payload.txt, as dpkg-deb writes them ("./" names, GNU tar headers).
func debTree(name string) []rawEntry {
	dir := "./usr/share/" + name + "/"
	return []rawEntry{
		{name: "./", typeflag: '5', mode: 0o755},
		{name: "./usr/", typeflag: '5', mode: 0o755},
		{name: "./usr/share/", typeflag: '5', mode: 0o755},
		{name: dir, typeflag: '5', mode: 0o755},
		{name: dir + "payload.txt", typeflag: '0', mode: 0o644, data: payloadOf(name)},
	}
}

// craftedDeb is a hand-made .deb: control.tar.gz and data.tar.gz (or the
// given data member) built from entries.
type craftedDeb struct {
	file    string
	name    string
	what    string
	control []rawEntry // extra control.tar entries after ./control
	data    []rawEntry // extra data.tar entries after the package's tree
	// dataMember replaces data.tar.gz when set.
	dataMember *arMember
	// controlFile, when set, edits the control file's text; a nil result
	// leaves the ./control entry out.
	controlFile func(text string) []byte
	// dataTar, when set, is the uncompressed data.tar instead of the
	// package's tree and data.
	dataTar []byte
	// members, when set, edits the list of ar members (debian-binary,
	// control.tar.gz, data) before they are written.
	members func(ms []arMember) []arMember
	// patch, when set, edits the finished file in place.
	patch func(b []byte)
}

func (d craftedDeb) build() []byte {
	control := []rawEntry{{name: "./", typeflag: '5', mode: 0o755}}
	text := debControl(d.name, d.what)
	if d.controlFile != nil {
		text = d.controlFile(string(text))
	}
	if text != nil {
		control = append(control, rawEntry{name: "./control", typeflag: '0', mode: 0o644, data: text})
	}
	control = append(control, d.control...)
	dataTar := d.dataTar
	if dataTar == nil {
		dataTar = writeTar(append(debTree(d.name), d.data...), magicGNU, false, 10240)
	}
	data := arMember{name: "data.tar.gz", data: gz(dataTar)}
	if d.dataMember != nil {
		data = *d.dataMember
	}
	ms := []arMember{
		{name: "debian-binary", data: []byte("2.0\n")},
		{name: "control.tar.gz", data: gz(writeTar(control, magicGNU, false, 10240))},
		data,
	}
	if d.members != nil {
		ms = d.members(ms)
	}
	b := writeAr(ms)
	if d.patch != nil {
		d.patch(b)
	}
	return b
}

// evil is a file a hostile entry would write outside the package's tree.
func evil(name string) rawEntry {
	return rawEntry{name: name, typeflag: '0', mode: 0o644, data: []byte("written outside the package's tree\n")}
}

// craftedDebs writes the hand-made debs: hostile names and bombs.
func craftedDebs(dir string, _ *rsa.PrivateKey) error {
	bombName := "corpus-deb-bomb-data"
	debs := []craftedDeb{
		{file: "crafted/deb/data-traversal.deb", name: "corpus-deb-traversal",
			what: "a data.tar entry whose name climbs out of the tree with ..",
			data: []rawEntry{evil("./usr/share/corpus-deb-traversal/../../../../tmp/pier-corpus-evil")}},
		{file: "crafted/deb/data-leading-dotdot.deb", name: "corpus-deb-dotdot",
			what: "a data.tar entry whose name starts with ../",
			data: []rawEntry{evil("../../../tmp/pier-corpus-evil")}},
		{file: "crafted/deb/data-absolute-name.deb", name: "corpus-deb-absolute",
			what: "a data.tar entry with an absolute name",
			data: []rawEntry{evil("/tmp/pier-corpus-evil")}},
		{file: "crafted/deb/control-traversal.deb", name: "corpus-deb-ctltraversal",
			what:    "a control.tar entry whose name climbs out of the archive with ..",
			control: []rawEntry{evil("./../pier-corpus-evil")}},
		{file: "crafted/deb/bomb-control.deb", name: "corpus-deb-bomb-control",
			what:    "a control.tar that expands to 32 MiB",
			control: []rawEntry{{name: "./corpus-padding", typeflag: '0', mode: 0o644, data: make([]byte, 32<<20)}}},
		{file: "crafted/deb/bomb-data-zstd.deb", name: bombName,
			what:       "a 560 KB data.tar.zst that expands to 16.5 GiB",
			dataMember: &arMember{name: "data.tar.zst", data: zstdBomb(bombName, 3, 5632<<20)}},
	}
	for _, c := range debCases() {
		debs = append(debs, c.deb)
	}
	for _, d := range debs {
		if err := writeFile(filepath.Join(dir, d.file), d.build()); err != nil {
			return err
		}
	}
	return nil
}

// zstdBomb returns a valid zstd frame (RFC 8878) holding a data.tar with
// the tree of package name and n files of size zero bytes each, written as
// raw blocks (tar headers) and RLE blocks (the zeros), so that it is a
// few bytes per 128 KiB of output. The frame declares its content size; it
// has no content checksum.
func zstdBomb(name string, n int, size int64) []byte {
	const maxBlock = 128 << 10
	var b bytes.Buffer
	var total int64
	block := func(typ int, size int, last bool, content []byte) {
		h := uint32(size)<<3 | uint32(typ)<<1
		if last {
			h |= 1
		}
		b.Write([]byte{byte(h), byte(h >> 8), byte(h >> 16)})
		b.Write(content)
	}
	raw := func(p []byte) {
		for len(p) > 0 {
			k := min(len(p), maxBlock)
			block(0, k, false, p[:k])
			p = p[k:]
			total += int64(k)
		}
	}
	zeros := func(k int64, last bool) {
		for k > 0 {
			c := min(k, maxBlock)
			k -= c
			block(1, int(c), last && k == 0, []byte{0})
			total += c
		}
	}
	// Content: the tree's headers, then per file a header and its zeros
	// (a multiple of 512, so no padding), then the two end blocks.
	entries := debTree(name)[:4]
	var content []func()
	for _, e := range entries {
		h := e.header(magicGNU)
		content = append(content, func() { raw(h) })
	}
	for i := 1; i <= n; i++ {
		h := rawEntry{name: fmt.Sprintf("./usr/share/%s/zeros-%d", name, i), typeflag: '0', mode: 0o644}.header(magicGNU)
		octal(h[124:136], size)
		fixChecksum(h) // the size field changed
		content = append(content, func() { raw(h) }, func() { zeros(size, false) })
	}
	content = append(content, func() { zeros(1024, true) })
	declared := int64(4*512+n*512) + int64(n)*size + 1024
	// Frame header: magic, descriptor (8-byte content size, no single
	// segment, no checksum, no dictionary), window 128 KiB, content size.
	var hdr bytes.Buffer
	hdr.Write([]byte{0x28, 0xB5, 0x2F, 0xFD, 0xC0, 0x38})
	hdr.Write(binary.LittleEndian.AppendUint64(nil, uint64(declared)))
	for _, f := range content {
		f()
	}
	if total != declared {
		panic(fmt.Sprintf("zstd bomb: wrote %d bytes of content, declared %d", total, declared))
	}
	return append(hdr.Bytes(), b.Bytes()...)
}
