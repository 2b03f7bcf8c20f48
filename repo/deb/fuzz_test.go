package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
	"github.com/ulikunitz/xz"
	xi2 "github.com/xi2/xz"
)

// FuzzRead feeds arbitrary bytes to the reader: it must never panic, fail
// only with bad-package errors, and whatever it accepts must make a Packages
// stanza that parses back as one stanza of the same package.
func FuzzRead(f *testing.F) {
	seeds := []debtest.Options{
		{Package: "hello", Version: "1:1.0-1", Arch: "amd64", Depends: "libc6", Description: "d\n long\n .\n more",
			Files: map[string][]byte{"usr/bin/hello": []byte("hi")}, Fields: []debtest.Field{{Name: "Source", Value: "src (1)"}}},
		{Package: "hello", Version: "1", Arch: "all", ControlCompression: "xz"},
		{Package: "hello", Version: "1", Arch: "all", ControlCompression: "zst"},
		{Package: "hello", Version: "1", Arch: "all", ControlCompression: "none"},
		{Package: "hello", Version: "1", Arch: "all", ControlEntries: []debtest.Entry{{Name: "../evil"}}},
		{Control: "Package: x\n"},
		{Package: "hello", Version: "1", Arch: "all", DataCompression: "xz", Files: map[string][]byte{"usr/bin/x": []byte("x")}},
		{Package: "hello", Version: "1", Arch: "all", DataCompression: "zst", Files: map[string][]byte{"usr/bin/x": []byte("x")}},
		{Package: "hello", Version: "1", Arch: "all", DataCompression: "lzma", Files: map[string][]byte{"usr/bin/x": []byte("x")}},
		{Package: "hello", Version: "1", Arch: "all", DataCompression: "none", Files: map[string][]byte{"usr/bin/x": []byte("x")},
			DataEntries: []debtest.Entry{{Name: "./../evil"}, {Name: "./l", Type: tar.TypeSymlink, Linkname: "/"}}},
		{Package: "hello", Version: "1", Arch: "all", Members: []debtest.Member{{Name: "_extra", Data: []byte("x"), Before: "data"}}},
	}
	for _, o := range seeds {
		b, err := debtest.Build(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "*.deb"))
	for _, p := range fixtures {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	format := New(Config{Limits: Limits{ControlTar: 1 << 20, Control: 64 << 10, DataTar: 4 << 20}})
	f.Fuzz(func(t *testing.T, data []byte) {
		format.Sniff(data)
		sums := sumsOf(data)
		p, err := format.Read(context.Background(), bytes.NewReader(data), int64(len(data)), sums)
		if err != nil {
			if !errors.Is(err, repo.ErrBadPackage) {
				t.Fatalf("error does not wrap ErrBadPackage: %v", err)
			}
			return
		}
		pkg := repo.Package{Component: "main", Name: p.Name, Version: p.Version, Arch: p.Arch, Size: int64(len(data)),
			SHA256: sums[repo.SHA256], Sums: sums, Meta: p.Meta}
		if err := checkIndexPackage(&pkg); err != nil {
			t.Fatalf("accepted package fails the index checks: %v", err)
		}
		m, err := decodeMeta(p.Meta)
		if err != nil {
			t.Fatalf("meta: %v", err)
		}
		e := indexEntry{pkg: &pkg, meta: m, pool: poolPath(&pkg, string(m.source)), md5: sums[repo.MD5], sha1: sums[repo.SHA1]}
		stanza := appendStanza(nil, &e)
		if len(stanza) != stanzaSize(&e) {
			t.Fatalf("stanza is %d bytes, stanzaSize says %d", len(stanza), stanzaSize(&e))
		}
		fields, reason := parseStanza(append(stanza, '\n'), 1<<20) // a blank line ends it, as in a Packages file
		if reason != "" {
			t.Fatalf("stanza does not parse: %s\n%s", reason, stanza)
		}
		if v, _ := lookup(fields, "Package"); v != p.Name {
			t.Fatalf("stanza Package %q, want %q", v, p.Name)
		}
		if v, _ := lookup(fields, "SHA256"); v != pkg.SHA256 {
			t.Fatalf("stanza SHA256 %q", v)
		}
		// Its file list decodes, and its Contents lines read back as
		// apt-file reads them (Verify's check).
		if _, err := decodeFileList(m.files); err != nil || !m.hasFiles {
			t.Fatalf("file list: %v (recorded %v)", err, m.hasFiles)
		}
		e.arch = -1
		archs := []string{"amd64"}
		if p.Arch != "all" {
			e.arch, archs = 0, []string{p.Arch}
		}
		cf, err := buildContents(context.Background(), []indexEntry{e}, []string{"main"}, archs, nil)
		if err != nil {
			t.Fatalf("Contents: %v", err)
		}
		var lines contentsLines
		lines.Write(gunzip(t, cf[0].gz))
		if err := lines.finish(); err != nil {
			t.Fatalf("Contents: %v", err)
		}
	})
}

// FuzzControl checks the deb822 parser: no panics, and an accepted stanza
// renders back to the same fields, also after the Packages reordering.
func FuzzControl(f *testing.F) {
	for _, s := range []string{
		"Package: hello\nVersion: 1.0\nArchitecture: amd64\nDescription: d\n long\n .\n more\n",
		"Package: a\r\nversion: 1\r\n\r\n",
		"A:\n b\nC: d\n\n\n",
		"Filename: x\nSize: 1\nX-Y: z\n",
		" bad\n",
		"A: 1\n\nB: 2\n",
		"#c\nA: 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fields, reason := parseStanza(data, 128)
		if reason != "" {
			if fields != nil {
				t.Fatal("fields returned with an error")
			}
			return
		}
		// dpkg's parser refuses an empty value on the last line of a file:
		// end the rendering with a blank line, as a Packages file does.
		rendered := append(renderStanza(fields), '\n')
		again, reason := parseStanza(rendered, 128)
		if reason != "" || !reflect.DeepEqual(again, fields) {
			t.Fatalf("round trip of %q: %q %q", rendered, again, reason)
		}
		head, tail := splitStanza(fields)
		if head+tail == "" {
			return
		}
		split, reason := parseStanza([]byte(head+tail+"\n"), 128)
		if reason != "" {
			t.Fatalf("head+tail does not parse: %s", reason)
		}
		for _, f := range split {
			if rank, _ := fieldRank(strings.ToLower(f.Name)); rank == rankDrop {
				t.Fatalf("dropped field %q kept", f.Name)
			}
		}
	})
}

// FuzzXZStreamEnd checks the xz container walker: no panics, and when it
// accepts data that the decoder then decodes, the output stays within the
// limit the walker enforced and the decoder ends where the walker said.
func FuzzXZStreamEnd(f *testing.F) {
	for _, s := range []string{"", "hello", strings.Repeat("Package: x\n", 500)} {
		var b bytes.Buffer
		w, err := xz.WriterConfig{BlockSize: 1024}.NewWriter(&b)
		if err != nil {
			f.Fatal(err)
		}
		w.Write([]byte(s))
		w.Close()
		f.Add(b.Bytes())
	}
	const maxOut = 4096
	f.Fuzz(func(t *testing.T, data []byte) {
		end, reason, err := xzStreamEnd(bytes.NewReader(data), int64(len(data)), maxOut)
		if err != nil {
			t.Fatalf("error from a bytes.Reader: %v", err)
		}
		if reason != "" {
			return
		}
		if end <= 0 || end > int64(len(data)) {
			t.Fatalf("end %d outside the data (%d bytes)", end, len(data))
		}
		r, err := xi2.NewReader(bytes.NewReader(data[:end]), xzMaxDict)
		if err != nil {
			return
		}
		r.Multistream(false)
		out, err := io.ReadAll(io.LimitReader(r, maxOut+1))
		if len(out) > maxOut {
			t.Fatalf("decoded more than %d bytes after the walker accepted the data (err %v)", maxOut, err)
		}
	})
}

// FuzzZstdFrameEnd checks the zstd frame walker: no panics, an end inside
// the data, and a frame the decoder reads to that end when it decodes.
func FuzzZstdFrameEnd(f *testing.F) {
	for _, s := range []string{"", "hello", strings.Repeat("Package: x\n", 50000)} {
		b, err := debtest.Compress("zst", []byte(s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x50\x2a\x4d\x18\x04\x00\x00\x00abcd"))
	f.Fuzz(func(t *testing.T, data []byte) {
		end, reason, err := zstdFrameEnd(bytes.NewReader(data), int64(len(data)), 1<<20)
		if err != nil {
			t.Fatalf("error from a bytes.Reader: %v", err)
		}
		if reason != "" {
			return
		}
		if end <= 0 || end > int64(len(data)) {
			t.Fatalf("end %d outside the data (%d bytes)", end, len(data))
		}
	})
}

// FuzzDataTar feeds arbitrary bytes to the data.tar walker as an
// uncompressed data member: no panics, only bad-package errors, and an
// accepted archive is one archive/tar also reads without a header error
// up to where dpkg's reader stopped.
func FuzzDataTar(f *testing.F) {
	for _, o := range []debtest.Options{
		{Files: map[string][]byte{"usr/bin/x": []byte("hello"), "usr/share/" + strings.Repeat("y", 150): nil}},
		{DataEntries: []debtest.Entry{{Name: "./l", Type: tar.TypeSymlink, Linkname: "/etc"}, {Name: "./h", Type: tar.TypeLink, Linkname: "./l"}}},
		{DataFormat: "pax", DataEntries: []debtest.Entry{{Name: "./p", PAXRecords: map[string]string{"a": "b"}}}},
	} {
		b, err := debtest.DataTar(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		files, _, err := walkDataTar(bytes.NewReader(data), "data.tar", make([]byte, 4096), 1<<20)
		if err != nil {
			if !errors.Is(err, repo.ErrBadPackage) {
				t.Fatalf("error does not wrap ErrBadPackage: %v", err)
			}
			return
		}
		// Every recorded path is a clean relative path that the file list
		// encoding keeps as it is.
		for _, p := range files {
			if p == "" || p != path.Clean(p) || strings.HasPrefix(p, "/") || strings.Contains(p, "\n") || p == ".." || strings.HasPrefix(p, "../") {
				t.Fatalf("recorded path %q", p)
			}
		}
		want := slices.Compact(slices.Sorted(slices.Values(files)))
		got, err := decodeFileList(encodeFileList(slices.Clone(files)))
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("file list round trip: %q, %v; want %q", got, err, want)
		}
	})
}

// FuzzDataMember fuzzes the data member's bytes inside an otherwise valid
// package, under each member name: every decompressor and the tar walker
// see the fuzzed bytes. Only bad-package errors are allowed.
func FuzzDataMember(f *testing.F) {
	exts := []string{"", ".gz", ".xz", ".zst", ".bz2", ".lzma"}
	data, err := debtest.DataTar(debtest.Options{Files: map[string][]byte{"usr/bin/x": []byte("hello"), "usr/share/y": bytes.Repeat([]byte("y"), 3000)}})
	if err != nil {
		f.Fatal(err)
	}
	for i, c := range []string{"none", "gz", "xz", "zst", "", "lzma"} {
		if c == "" {
			continue // no bzip2 writer; the fixture seeds FuzzRead
		}
		z, err := debtest.Compress(c, data)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), z)
	}
	format := New(Config{Limits: Limits{DataTar: 1 << 20}})
	f.Fuzz(func(t *testing.T, which uint8, member []byte) {
		if len(member) == 0 {
			return
		}
		b, err := debtest.Build(debtest.Options{Package: "x", Version: "1", Arch: "all", DataName: "data.tar" + exts[int(which)%len(exts)], Data: member})
		if err != nil {
			t.Fatal(err)
		}
		_, err = format.Read(context.Background(), bytes.NewReader(b), int64(len(b)), nil)
		if err != nil && !errors.Is(err, repo.ErrBadPackage) {
			t.Fatalf("error does not wrap ErrBadPackage: %v", err)
		}
	})
}
