package apk

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	goapk "github.com/chainguard-dev/go-apk/pkg/apk"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/apk/apktest"
)

// These tests hold Pier to apk-tools 2.14: what apk-tools installs is
// accepted and indexed as apk reads it, what it refuses is refused with a
// message naming the part at fault. docs/acceptance/apk.md lists the rules.

// dataHeaders returns the raw tar headers of the last gzip member (the
// data stream of a package without extra members).
func dataHeaders(t *testing.T, pkg []byte) [][]byte {
	t.Helper()
	m := gzipMembers(t, pkg)
	zr, err := gzip.NewReader(bytes.NewReader(m[len(m)-1]))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for off := 0; off+512 <= len(raw); {
		h := raw[off : off+512]
		if bytes.Equal(h, make([]byte, 512)) {
			break
		}
		out = append(out, h)
		size, _ := pullUint(bytes.TrimLeft(h[124:136], " "), 8, 64)
		off += 512 + int((size+511)&^511)
	}
	return out
}

func readErr(t *testing.T, f *Format, data []byte) error {
	t.Helper()
	_, err := f.Read(context.Background(), bytes.NewReader(data), int64(len(data)), nil)
	if err != nil && !errors.Is(err, repo.ErrBadPackage) {
		t.Fatalf("error %v does not wrap ErrBadPackage", err)
	}
	return err
}

// TestReadNfpmTree: nfpm v2.45.2's `type: tree` writes folders with Go's
// os.ModeDir bit in the tar mode, which Go's archive/tar can only write as
// a base-256 number: apk-tools 2.14 reads header numbers as octal only and
// refuses the package ("package file format error"). The root of a
// `dst: /` tree is a header with an empty name, which apk takes for an
// end-of-archive block and skips: with the tree's mode set (no ModeDir
// bits) the package installs, and Pier accepts it.
func TestReadNfpmTree(t *testing.T) {
	f := newTestFormat(t, Config{})
	tree := map[string][]byte{"usr/bin/hello": []byte("#!/bin/sh\necho hi\n"), "usr/share/hello/README": []byte("hi\n")}
	tests := []struct {
		name      string
		opts      apktest.Options
		emptyRoot bool
		want      string // "" = accepted
	}{
		{name: "tree at /", opts: apktest.Options{Tree: tree, TreeDst: "/"}, emptyRoot: true,
			want: "list the files and folders in nfpm's contents instead of a `type: tree`"},
		{name: "tree at /opt/hello", opts: apktest.Options{Tree: tree, TreeDst: "/opt/hello"},
			want: "list the files and folders in nfpm's contents instead of a `type: tree`"},
		{name: "tree at / with file_info mode", opts: apktest.Options{Tree: tree, TreeDst: "/", TreeMode: 0o755}, emptyRoot: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Name, tt.opts.Version = "hello-tree", "1.0-r0"
			data, err := apktest.Build(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			// The fixture really has what the test is about.
			hdrs := dataHeaders(t, data)
			var sawEmpty, sawBase256 bool
			for _, h := range hdrs {
				sawEmpty = sawEmpty || h[0] == 0
				sawBase256 = sawBase256 || h[100]&0x80 != 0
			}
			if sawEmpty != tt.emptyRoot {
				t.Fatalf("empty-name root entry: %v, want %v", sawEmpty, tt.emptyRoot)
			}
			if sawBase256 != (tt.want != "") {
				t.Fatalf("base-256 mode in a header: %v", sawBase256)
			}
			err = readErr(t, f, data)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
			for _, w := range []string{tt.want, "base-256", "os.ModeDir", `"package file format error"`, "mode"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q", w)
				}
			}
		})
	}
}

// TestReadNfpmPlainContents: nfpm packages of `file`, `dir` and `symlink`
// contents install with apk-tools 2.14 and are accepted, with the same
// identity go-apk computes.
func TestReadNfpmPlainContents(t *testing.T) {
	f := newTestFormat(t, Config{})
	data, err := apktest.Build(apktest.Options{Name: "plain", Version: "2.0-r1",
		Files:    map[string][]byte{"/usr/bin/plain": []byte("#!/bin/sh\n"), "/etc/plain.conf": []byte("a=1\n")},
		Dirs:     []string{"/var/lib/plain"},
		Symlinks: map[string]string{"/usr/bin/plain2": "plain"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Read(context.Background(), bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	gp, err := goapk.ParsePackage(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if c := stanzaField(got.Meta, "C"); c != gp.ChecksumString() {
		t.Errorf("C:%s, go-apk says %s", c, gp.ChecksumString())
	}
	var types []byte
	for _, h := range dataHeaders(t, data) {
		types = append(types, h[156])
	}
	for _, want := range []byte{'0', '2', '5'} {
		if !bytes.Contains(types, []byte{want}) {
			t.Errorf("fixture has no typeflag %q entry (%q)", want, types)
		}
	}
}

// melangeProvides is the .PKGINFO of a real melange-built package whose
// provides version apk-tools 2.14 cannot parse.
const melangeProvides = "pkgname = libfoo\npkgver = 1.2.3-r0\narch = x86_64\nsize = 1024\npkgdesc = foo library\n" +
	"provides = so:libfoo.so.0unstable=0unstable\n"

// TestReadRefusesWhatApkRefuses: packages apk-tools 2.14 refuses, with the
// part at fault named.
func TestReadRefusesWhatApkRefuses(t *testing.T) {
	f := newTestFormat(t, Config{})
	patched := func(patch func(hdr []byte)) []byte {
		return rawTar(t, false, withDirs(file("usr/share/raw/file", []byte("hello"))), func(i int, h []byte) {
			if i == 3 { // the file, after its three folders
				patch(h)
			}
		})
	}
	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{"melange provides version", rawPkg{pkginfo: melangeProvides}.build(t),
			[]string{`provides "so:libfoo.so.0unstable=0unstable"`, `"0unstable" is not a valid apk version`, "package file format error"}},
		{"depend version with a commit hash", rawPkg{pkginfo: basePkgInfo + "depend = foo>=1.0~abc\n"}.build(t),
			[]string{`depend "foo>=1.0~abc"`, "apk-tools 2.14"}},
		{"operator without version", rawPkg{pkginfo: basePkgInfo + "install_if = foo=\n"}.build(t),
			[]string{`install_if "foo="`, "no version"}},
		{"datahash of other data", rawPkg{dataHash: strings.Repeat("0", 64)}.build(t),
			[]string{"datahash", "does not match the data stream", "BAD signature"}},
		{"datahash too short", rawPkg{dataHash: strings.Repeat("a", 40)}.build(t),
			[]string{"does not match the data stream"}},
		{"v7 tar header", rawPkg{dataTar: patched(func(h []byte) { copy(h[257:265], make([]byte, 8)); fixChecksum(h) })}.build(t),
			[]string{`no "ustar" magic`}},
		{"octal with leading spaces", rawPkg{dataTar: patched(func(h []byte) { copy(h[100:108], "   644 \x00"); fixChecksum(h) })}.build(t),
			[]string{`mode field "   644 "`, "not an octal number"}},
		{"base-256 uid", rawPkg{dataTar: patched(func(h []byte) { copy(h[108:116], []byte{0x80, 0, 0, 0, 0, 0, 0, 1}); fixChecksum(h) })}.build(t),
			[]string{"uid field holds a base-256 number"}},
		{"data before the control member ends", append(tgz(t, true, file(".PKGINFO", []byte(basePkgInfo)), file("usr/bin/x", []byte("x"))),
			tgz(t, false, file("usr/share/y", nil))...), []string{`tar entry "usr/bin/x" is in the control part`}},
		{"hard link to a missing file", rawPkg{data: []rawEntry{{hdr: tar.Header{Name: "usr/x", Typeflag: tar.TypeLink,
			Linkname: "usr/y", Format: tar.FormatUSTAR}}}}.build(t), []string{`hard link to "usr/y"`}},
		{"data after the end of the tar", rawPkg{dataTar: append(rawTar(t, false, withDirs(file("usr/a", nil)), nil),
			rawTar(t, true, []rawEntry{file("usr/b", nil)}, nil)...)}.build(t), []string{"continues after its end-of-archive blocks"}},
		{"a file whose folder has no entry", rawPkg{dataTar: rawTar(t, false, []rawEntry{dir("usr/"), file("usr/share/a", nil)}, nil)}.build(t),
			[]string{`"usr/share/a"`, `folder "usr/share" has no entry`, "no dirent in archive"}},
		{"a folder listed after its file", rawPkg{dataTar: rawTar(t, false, []rawEntry{file("usr/a", nil), dir("usr/")}, nil)}.build(t),
			[]string{`folder "usr" has no entry`}},
		{"partial block", rawPkg{dataTar: append(rawTar(t, false, withDirs(file("usr/a", nil)), nil), 1, 2, 3)}.build(t),
			[]string{"not a 512-byte block"}},
		{"truncated entry data", rawPkg{dataTar: rawTar(t, true, withDirs(file("usr/a", make([]byte, 1000))), nil)[:1536]}.build(t),
			[]string{`ends inside the data of entry "usr/a"`}},
		{"pkgver invalid for apk 2 and 3", rawPkg{pkginfo: strings.Replace(basePkgInfo, "1.0-r0", "1.0-1", 1)}.build(t),
			[]string{`pkgver "1.0-1"`}},
		{"no arch", rawPkg{pkginfo: strings.Replace(basePkgInfo, "arch = x86_64\n", "", 1)}.build(t), []string{"no arch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := readErr(t, f, tt.data)
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q", w)
				}
			}
		})
	}
}

// TestReadAcceptsWhatApkAccepts: packages Pier refused before although
// apk-tools 2.14 installs them; each is indexed as apk reads it.
func TestReadAcceptsWhatApkAccepts(t *testing.T) {
	f := newTestFormat(t, Config{})
	dataMember := func(data []byte) []byte { return gz(t, data) }
	good := rawPkg{}.build(t)
	goodMembers := gzipMembers(t, good)
	emptyMember := gz(t, nil)
	// Signature and control entries in one member: the identity covers
	// that whole member.
	mixedCtl := tgz(t, true, file(".SIGN.RSA.k.rsa.pub", []byte("sig")), file(".PKGINFO", []byte(basePkgInfo+"datahash = "+sha256hex(goodMembers[1])+"\n")))
	mixed := append(bytes.Clone(mixedCtl), goodMembers[1]...)
	// A control member ending with one zero block: apk counts it as the
	// first end-of-archive block and reads on.
	ctlOneZero := append(rawTar(t, true, []rawEntry{file(".PKGINFO", []byte(basePkgInfo+"datahash = "+sha256hex(goodMembers[1])+"\n"))}, nil), make([]byte, 512)...)
	oneZero := append(dataMember(ctlOneZero), goodMembers[1]...)
	// Data in two gzip members: the datahash covers both.
	split := rawTar(t, false, withDirs(file("usr/a", []byte("aaaa")), file("usr/b", []byte("bbbb"))), nil)
	d1, d2 := gz(t, split[:1024]), gz(t, split[1024:])
	twoData := append(tgz(t, true, file(".PKGINFO", []byte(basePkgInfo+"datahash = "+sha256hex(append(bytes.Clone(d1), d2...))+"\n"))), d1...)
	twoData = append(twoData, d2...)

	tests := []struct {
		name    string
		data    []byte
		fields  map[string]string // index fields; "" = absent
		cMember int               // member whose sha1 is C: (-1: do not check)
	}{
		{name: "repeated keys: the last one wins", data: rawPkg{pkginfo: basePkgInfo + "pkgname = other\npkgdesc = second\n"}.build(t),
			fields: map[string]string{"P": "other", "T": "second"}, cMember: 0},
		{name: "control characters in a description", data: rawPkg{pkginfo: basePkgInfo + "pkgdesc = a\rb\x01c\n"}.build(t),
			fields: map[string]string{"T": "a\rb\x01c"}, cMember: 0},
		{name: "NUL in a description (a C string to apk)", data: rawPkg{pkginfo: basePkgInfo + "pkgdesc = ab\x00cd\n"}.build(t),
			fields: map[string]string{"T": "ab"}, cMember: 0},
		{name: "numbers read as far as they are digits", data: rawPkg{pkginfo: basePkgInfo + "size = -1\nbuilddate = 1700000000x\nprovider_priority = 7a\n"}.build(t),
			fields: map[string]string{"I": "0", "t": "1700000000", "k": "7"}, cMember: 0},
		{name: "any run of comparison operators", data: rawPkg{pkginfo: basePkgInfo + "depend = foo>>1 bar=<2.0 baz<>Q1junk !qux\n"}.build(t),
			fields: map[string]string{"D": "foo>>1 bar=<2.0 baz<>Q1junk !qux"}, cMember: 0},
		{name: "provides with any operator, a tag, odd names", data: rawPkg{pkginfo: basePkgInfo + "provides = foo>1 cmd:x@edge=1.0 lib#odd\n"}.build(t),
			fields: map[string]string{"p": "foo>1 cmd:x@edge=1.0 lib#odd"}, cMember: 0},
		{name: "a leading space makes an empty first dependency", data: rawPkg{pkginfo: basePkgInfo + "depend =  foo\n"}.build(t),
			fields: map[string]string{"D": " foo"}, cMember: 0},
		{name: "apk 2.14 version forms", data: rawPkg{pkginfo: strings.Replace(basePkgInfo, "1.0-r0", "1.0_", 1) + "depend = a>=1. b>=2-r\n"}.build(t),
			fields: map[string]string{"V": "1.0_", "D": "a>=1. b>=2-r"}, cMember: 0},
		{name: "apk 3 commit hash in pkgver", data: rawPkg{pkginfo: strings.Replace(basePkgInfo, "1.0-r0", "1.0~abc123-r0", 1)}.build(t),
			fields: map[string]string{"V": "1.0~abc123-r0"}, cMember: 0},
		{name: "unknown keys and lines", data: rawPkg{pkginfo: basePkgInfo + "triggers = /usr/lib/x\nX-Custom = 1\nno equals here\n"}.build(t),
			fields: map[string]string{"P": "raw"}, cMember: 0},
		{name: "datahash in upper case with trailing bytes", data: rawPkg{dataHash: strings.ToUpper(sha256hex(goodMembers[1])) + " trailing"}.build(t),
			fields: map[string]string{"P": "raw"}, cMember: 0},
		{name: "two .PKGINFO entries", data: rawPkg{control: []rawEntry{file(".PKGINFO", []byte("pkgdesc = from the second\n"))}}.build(t),
			fields: map[string]string{"P": "raw", "T": "from the second"}, cMember: 0},
		{name: "signature and control in one member", data: mixed, fields: map[string]string{"P": "raw"}, cMember: 0},
		{name: "empty gzip member before the signature", data: append(bytes.Clone(emptyMember), rawPkg{sig: []rawEntry{file(".SIGN.RSA.k.rsa.pub", []byte("s"))}}.build(t)...),
			fields: map[string]string{"P": "raw"}, cMember: 2},
		{name: "control member ending with one zero block", data: oneZero, fields: map[string]string{"P": "raw"}, cMember: 0},
		{name: "data in two gzip members", data: twoData, fields: map[string]string{"P": "raw"}, cMember: 0},
		{name: "data tar without end-of-archive blocks", data: rawPkg{dataTar: rawTar(t, true, withDirs(file("usr/a", []byte("a"))), nil)}.build(t),
			fields: map[string]string{"P": "raw"}, cMember: 0},
		{name: "header checksums are not checked", data: rawPkg{dataTar: rawTar(t, false, withDirs(file("usr/a", []byte("a"))),
			func(_ int, h []byte) { copy(h[148:156], "0000000\x00") })}.build(t), fields: map[string]string{"P": "raw"}, cMember: 0},
		{name: "an empty-name header is an end-of-archive block", data: rawPkg{dataTar: rawTar(t, false, []rawEntry{
			{hdr: tar.Header{Name: "x/", Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatUSTAR}}, dir("usr/"), file("usr/a", []byte("a"))},
			func(i int, h []byte) {
				if i == 0 {
					h[0], h[1] = 0, 0
				}
			})}.build(t), fields: map[string]string{"P": "raw"}, cMember: 0},
		{name: "names starting with a dot are skipped by apk", data: rawPkg{data: []rawEntry{file("../../etc/passwd", []byte("x")),
			file("./usr/bin/x", []byte("x")), file(".hidden", nil)}}.build(t), fields: map[string]string{"P": "raw"}, cMember: 0},
		{name: "hard link to an earlier file", data: rawPkg{data: []rawEntry{file("usr/a", []byte("a")), {hdr: tar.Header{Name: "usr/b",
			Typeflag: tar.TypeLink, Linkname: "usr/a", Format: tar.FormatUSTAR}}}}.build(t), fields: map[string]string{"P": "raw"}, cMember: 0},
		{name: "a file at the root needs no folder", data: rawPkg{dataTar: rawTar(t, false, []rawEntry{file("top", []byte("a"))}, nil)}.build(t),
			fields: map[string]string{"P": "raw"}, cMember: 0},
		{name: ".keep_ files are skipped before the folder check", data: rawPkg{dataTar: rawTar(t, false,
			[]rawEntry{file("var/lib/x/.keep_raw", nil)}, nil)}.build(t), fields: map[string]string{"P": "raw"}, cMember: 0},
		{name: "unknown typeflags are skipped", data: rawPkg{data: []rawEntry{{hdr: tar.Header{Name: "/abs/ignored", Typeflag: 'V',
			Format: tar.FormatUSTAR}}, file("usr/a", nil)}}.build(t), fields: map[string]string{"P": "raw"}, cMember: 0},
		{name: "GNU long names and pax paths", data: rawPkg{data: []rawEntry{
			{hdr: tar.Header{Name: "usr/" + strings.Repeat("l", 120), Typeflag: tar.TypeReg, Format: tar.FormatGNU}},
			{hdr: tar.Header{Name: "usr/" + strings.Repeat("p", 120), Typeflag: tar.TypeReg, Format: tar.FormatPAX}}}}.build(t),
			fields: map[string]string{"P": "raw"}, cMember: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.Read(context.Background(), bytes.NewReader(tt.data), int64(len(tt.data)), nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.fields {
				if g := stanzaField(got.Meta, k); g != v {
					t.Errorf("%s:%q, want %q", k, g, v)
				}
			}
			if tt.cMember >= 0 {
				sum := sha1.Sum(gzipMembers(t, tt.data)[tt.cMember])
				if c, want := stanzaField(got.Meta, "C"), "Q1"+base64.StdEncoding.EncodeToString(sum[:]); c != want {
					t.Errorf("C:%s, want %s (sha1 of gzip member %d)", c, want, tt.cMember)
				}
			}
			p := repo.Package{Component: "main", Name: got.Name, Version: got.Version, Arch: got.Arch, Meta: got.Meta}
			if err := checkPackage(&p); err != nil {
				t.Errorf("stanza does not pass the index check: %v", err)
			}
		})
	}
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestReadControlBomb: decompression stays bounded in the control part.
func TestReadControlBomb(t *testing.T) {
	f := newTestFormat(t, Config{MaxPkgInfoSize: 1 << 10, MaxControlSize: 64 << 10})
	data := append(tgz(t, true, file(".PKGINFO", []byte(basePkgInfo)), file(".post-install", make([]byte, 1<<20))), gz(t, nil)...)
	err := readErr(t, f, data)
	if err == nil || !strings.Contains(err.Error(), "max_control_size") {
		t.Fatalf("got %v", err)
	}
	big := rawPkg{pkginfo: basePkgInfo + strings.Repeat("# padding\n", 200)}.build(t)
	if err := readErr(t, f, big); err == nil || !strings.Contains(err.Error(), "max_pkginfo_size") {
		t.Fatalf("large .PKGINFO: got %v", err)
	}
	pax := rawPkg{data: []rawEntry{{hdr: tar.Header{Name: "usr/a", Typeflag: tar.TypeReg, Format: tar.FormatPAX,
		PAXRecords: map[string]string{"comment": strings.Repeat("x", 4<<10)}}}}}.build(t)
	if err := readErr(t, f, pax); err == nil || !strings.Contains(err.Error(), "pax extended header") {
		t.Fatalf("large pax header: got %v", err)
	}
}

// seedPackages are the hand-made and nfpm packages of the tests above, as
// fuzz seeds: every path of the reader starts from one of them.
func seedPackages(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	tree := map[string][]byte{"usr/bin/hello": []byte("hi\n")}
	for _, o := range []apktest.Options{
		{Tree: tree, TreeDst: "/"}, {Tree: tree, TreeDst: "/", TreeMode: 0o755},
		{Files: map[string][]byte{"/usr/bin/p": []byte("p")}, Dirs: []string{"/var/lib/p"}, Symlinks: map[string]string{"/usr/bin/q": "p"}},
	} {
		o.Name, o.Version = "seed", "1.0-r0"
		data, err := apktest.Build(o)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, data)
	}
	patched := func(patch func(hdr []byte)) []byte {
		return rawTar(tb, false, []rawEntry{file("usr/a", []byte("a"))}, func(_ int, h []byte) { patch(h) })
	}
	good := gzipMembers(tb, rawPkg{}.build(tb))
	out = append(out,
		rawPkg{pkginfo: melangeProvides}.build(tb),
		rawPkg{pkginfo: basePkgInfo + "depend =  a>>1 b<>Q1x !c@tag d>=1.\nsize = 12x\ndatahash = short\n"}.build(tb),
		rawPkg{dataTar: patched(func(h []byte) { copy(h[257:265], make([]byte, 8)) })}.build(tb),
		rawPkg{dataTar: patched(func(h []byte) { copy(h[100:108], []byte{0x80, 0, 0, 0, 0x80, 0, 0x1, 0xed}) })}.build(tb),
		rawPkg{dataTar: patched(func(h []byte) { h[0] = 0 })}.build(tb),
		rawPkg{data: []rawEntry{file("usr/a", []byte("a")), {hdr: tar.Header{Name: "usr/b", Typeflag: tar.TypeLink, Linkname: "usr/a", Format: tar.FormatUSTAR}},
			{hdr: tar.Header{Name: "usr/" + strings.Repeat("l", 120), Typeflag: tar.TypeReg, Format: tar.FormatGNU}},
			{hdr: tar.Header{Name: "usr/" + strings.Repeat("p", 120), Typeflag: tar.TypeSymlink, Linkname: strings.Repeat("t", 120), Format: tar.FormatPAX}}}}.build(tb),
		append(tgz(tb, true, file(".SIGN.RSA.k.rsa.pub", []byte("s")), file(".PKGINFO", []byte(basePkgInfo))), good[1]...),
		append(append(gz(tb, nil), good[0]...), gz(tb, rawTar(tb, true, []rawEntry{file("usr/x", []byte("x"))}, nil))...),
	)
	return out
}

// FuzzPkgInfo feeds .PKGINFO text to the parser: it must not panic, and
// whatever passes the checks must make an index stanza that passes the
// index's own check and has one line per field.
func FuzzPkgInfo(f *testing.F) {
	f.Add([]byte(basePkgInfo))
	f.Add([]byte(melangeProvides))
	f.Add([]byte(basePkgInfo + "depend =  a>>1 b<>Q1x !c@tag d>=1.\nsize = 12x\ndatahash = " + strings.Repeat("A", 64) + "\npkgdesc = a\x00b\rc\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var info pkgInfo
		if err := info.add(data); err != nil {
			return
		}
		if info.check(128) != nil {
			return
		}
		meta := info.stanza("Q1"+base64.StdEncoding.EncodeToString(make([]byte, 20)), 1)
		p := repo.Package{Component: "main", Name: info.name, Version: info.version, Arch: info.arch, Meta: meta}
		if err := checkPackage(&p); err != nil {
			t.Fatalf("accepted .PKGINFO makes a bad stanza: %v\n%q", err, meta)
		}
	})
}

// FuzzTarWalk feeds raw tar bytes to the apk-style walker: it must not
// panic, must hand over only entries whose data it can bound, and must
// keep at most maxExt bytes of any extended header.
func FuzzTarWalk(f *testing.F) {
	f.Add(rawTar(f, false, []rawEntry{file("usr/a", []byte("a"))}, nil))
	f.Add(rawTar(f, true, []rawEntry{{hdr: tar.Header{Name: "usr/" + strings.Repeat("p", 120), Typeflag: tar.TypeReg, Format: tar.FormatPAX,
		PAXRecords: map[string]string{"path": "x", "linkpath": "y"}}}}, nil))
	f.Add(rawTar(f, true, []rawEntry{{hdr: tar.Header{Name: "usr/" + strings.Repeat("l", 120), Typeflag: tar.TypeLink, Linkname: strings.Repeat("t", 120), Format: tar.FormatGNU}}}, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		w := &tarWalker{r: bytes.NewReader(data), maxExt: 4 << 10}
		_ = w.walk(func(e *tarItem, body io.Reader) error {
			if e.size < 0 || len(e.name) >= pathMax-10 {
				t.Fatalf("entry %q of size %d handed over", e.name, e.size)
			}
			_, err := io.Copy(io.Discard, body)
			return err
		})
		if w.off > int64(len(data)) {
			t.Fatalf("walked %d bytes of %d", w.off, len(data))
		}
	})
}
