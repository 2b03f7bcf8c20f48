package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// TestReadFileList: the reader records every non-directory entry of the
// data member by the path dpkg installs it at, sorted, once.
func TestReadFileList(t *testing.T) {
	long := "usr/share/" + strings.Repeat("l", 150) + "/file"
	deb := build(t, debtest.Options{Package: "p", Version: "1", Arch: "amd64",
		Files: map[string][]byte{"usr/bin/p": []byte("#!/bin/sh\n"), "usr/share/doc/p/README": []byte("r\n")},
		DataEntries: []debtest.Entry{
			{Name: "./usr/lib/", Type: tar.TypeDir},
			{Name: "./usr/lib/x", Type: tar.TypeDir}, // a directory without a trailing slash
			{Name: "./usr/lib/libp.so", Type: tar.TypeSymlink, Linkname: "libp.so.1"},
			{Name: "./usr/lib/libp.so.1", Data: []byte("elf")},
			{Name: "./usr/bin/p2", Type: tar.TypeLink, Linkname: "./usr/bin/p"},
			{Name: "./run/p.fifo", Type: tar.TypeFifo},
			{Name: "./dev/p0", Type: tar.TypeChar},
			{Name: "./dev/p1", Type: tar.TypeBlock},
			{Name: "/etc/p.conf", Data: []byte("abs\n")},
			{Name: "usr//share/./p/x", Data: []byte("x")},
			{Name: "./usr/share/doc/p/README", Data: []byte("again\n")},
			{Name: "./" + long, Data: []byte("l")},
			{Name: "./etc/with space", Data: []byte("s")},
		}})
	p, err := read(New(Config{}), deb)
	if err != nil {
		t.Fatal(err)
	}
	var m Meta
	if err := m.UnmarshalBinary(p.Meta); err != nil {
		t.Fatal(err)
	}
	want := []string{"dev/p0", "dev/p1", "etc/p.conf", "etc/with space", "run/p.fifo", "usr/bin/p", "usr/bin/p2",
		"usr/lib/libp.so", "usr/lib/libp.so.1", "usr/share/doc/p/README", "usr/share/p/x", long}
	slices.Sort(want)
	if m.Legacy || !slices.Equal(m.Files, want) {
		t.Errorf("files %q (legacy %v), want %q", m.Files, m.Legacy, want)
	}

	// A package without files records an empty list, not a missing one.
	p, err = read(New(Config{}), build(t, debtest.Options{Package: "empty", Version: "1", Arch: "all"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.UnmarshalBinary(p.Meta); err != nil || m.Legacy || len(m.Files) != 0 {
		t.Errorf("empty package: files %q legacy %v err %v", m.Files, m.Legacy, err)
	}
}

// TestReadFileListLimit: limits.file_list bounds the recorded paths.
func TestReadFileListLimit(t *testing.T) {
	files := map[string][]byte{}
	for i := range 10 {
		files[fmt.Sprintf("usr/share/p/file%d", i)] = nil // 18 bytes each with the newline
	}
	deb := build(t, debtest.Options{Package: "p", Version: "1", Arch: "all", Files: files})
	if _, err := read(New(Config{Limits: Limits{FileList: 180}}), deb); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	_, err := read(New(Config{Limits: Limits{FileList: 179}}), deb)
	if !errors.Is(err, repo.ErrBadPackage) || !strings.Contains(err.Error(), "limits.file_list") {
		t.Fatalf("over the limit: %v", err)
	}
}

// contentsOf publishes pkgs with f and returns the decompressed Contents
// files by "<component>/Contents-<arch>", and the Release fields.
func contentsOf(t *testing.T, f *Format, pkgs []repo.Package) (map[string]string, map[string]string) {
	t.Helper()
	in := &repo.IndexInput{Target: repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}, Packages: pkgs, Time: goldenTime, Signer: fakeSigner{}}
	files, byPath := index(t, f, in)
	const dists = "deb/5.8/debian/dists/bookworm/"
	checkRepository(t, files, "deb/5.8/debian/", "bookworm")
	out := map[string]string{}
	for p, file := range byPath {
		if rel, ok := strings.CutPrefix(p, dists); ok && strings.HasSuffix(rel, ".gz") && strings.Contains(rel, "/Contents-") {
			out[strings.TrimSuffix(rel, ".gz")] = string(gunzip(t, file.Data))
		}
	}
	fields, _ := parseRelease(t, byPath[dists+"Release"].Data)
	return out, fields
}

// legacy turns p into a package recorded before file lists.
func legacy(t *testing.T, p repo.Package) repo.Package {
	t.Helper()
	var m Meta
	if err := m.UnmarshalBinary(p.Meta); err != nil {
		t.Fatal(err)
	}
	m.Legacy, m.Files = true, nil
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("deb1 ")) {
		t.Fatalf("legacy meta %q", b)
	}
	p.Meta = b
	return p
}

// TestContents: which packages and paths each Contents file lists, and
// how the lines look.
func TestContents(t *testing.T) {
	f := New(Config{Architectures: []string{"amd64", "arm64"}})
	sect := func(s string) []debtest.Field { return []debtest.Field{{Name: "Section", Value: s}} }
	long := "usr/share/" + strings.Repeat("x", 60)
	pkg := func(comp string, o debtest.Options) repo.Package { return ingest(t, f, comp, build(t, o)) }
	pkgs := []repo.Package{
		// Only the highest version of a name counts.
		pkg("main", debtest.Options{Package: "hello", Version: "1.0", Arch: "amd64", Fields: sect("misc"),
			Files: map[string][]byte{"usr/bin/hello": nil, "usr/share/doc/hello/old": nil}}),
		pkg("main", debtest.Options{Package: "hello", Version: "2.0", Arch: "amd64", Fields: sect("misc"),
			Files: map[string][]byte{"usr/bin/hello": nil, "usr/share/doc/hello/new": nil}}),
		// The same version for all: arm64 lists it, amd64 keeps its own.
		pkg("main", debtest.Options{Package: "hello", Version: "2.0", Arch: "all", Fields: sect("misc"),
			Files: map[string][]byte{"usr/bin/hello": nil, "usr/share/doc/hello/all-only": nil}}),
		// Two packages with one path; the list is in name order.
		pkg("main", debtest.Options{Package: "alt", Version: "1", Arch: "all", Fields: sect("utils"),
			Files: map[string][]byte{"usr/bin/hello": nil}}),
		// No section, and a section that the line format cannot carry.
		pkg("main", debtest.Options{Package: "nosect", Version: "1", Arch: "amd64",
			Files: map[string][]byte{"usr/bin/nosect": nil, long: nil}}),
		pkg("main", debtest.Options{Package: "oddsect", Version: "1", Arch: "amd64", Fields: sect("a,b"),
			Files: map[string][]byte{"usr/bin/oddsect": nil}}),
		// A legacy newest version hides the older one's files.
		pkg("main", debtest.Options{Package: "gone", Version: "1", Arch: "amd64", Files: map[string][]byte{"usr/bin/gone": nil}}),
		legacy(t, pkg("main", debtest.Options{Package: "gone", Version: "2", Arch: "amd64", Files: map[string][]byte{"usr/bin/gone": nil}})),
		// Paths of whitespace only cannot be written as apt-file reads
		// lines; other odd paths are written as they are.
		pkg("main", debtest.Options{Package: "blank", Version: "1", Arch: "amd64",
			Files: map[string][]byte{" ": nil, "\t\r": nil, " lead": nil, "usr/share/blank/with space": nil}}),
		// Another component has its own file.
		pkg("contrib", debtest.Options{Package: "extra", Version: "1", Arch: "arm64", Fields: sect("contrib/net"),
			Files: map[string][]byte{"usr/bin/extra": nil}}),
	}
	got, fields := contentsOf(t, f, pkgs)
	pad := func(p string) string { return p + strings.Repeat(" ", max(0, contentsPadding-len(p))) + " " }
	want := map[string]string{
		"main/Contents-amd64": pad(" lead") + "blank\n" +
			pad("usr/bin/hello") + "utils/alt,misc/hello\n" +
			pad("usr/bin/nosect") + "nosect\n" +
			pad("usr/bin/oddsect") + "oddsect\n" +
			pad("usr/share/blank/with space") + "blank\n" +
			pad("usr/share/doc/hello/new") + "misc/hello\n" +
			pad(long) + "nosect\n",
		"main/Contents-arm64": pad("usr/bin/hello") + "utils/alt,misc/hello\n" +
			pad("usr/share/doc/hello/all-only") + "misc/hello\n",
		"contrib/Contents-amd64": "",
		"contrib/Contents-arm64": pad("usr/bin/extra") + "contrib/net/extra\n",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s:\n%s\nwant:\n%s", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Contents files %v", slices.Sorted(func(yield func(string) bool) {
			for k := range got {
				if !yield(k) {
					return
				}
			}
		}))
	}
	if fields["Architectures"] != "amd64 arm64" {
		t.Errorf("Architectures %q", fields["Architectures"])
	}
}

// TestContentsOff: with deb.contents false nothing about Contents is
// written, and the rest is what it is with Contents on.
func TestContentsOff(t *testing.T) {
	on := goldenFormat()
	off := New(Config{ValidDays: 7, Contents: SwitchOff})
	in := goldenInput(t, on)
	filesOn, _ := index(t, on, in)
	filesOff, byPath := index(t, off, in)
	var kept []string
	for _, file := range filesOn {
		if !strings.Contains(file.Path, "/Contents-") && !strings.Contains(file.Path, "/main/by-hash/") && !strings.Contains(file.Path, "/contrib/by-hash/") && file.Kind != repo.KindRoot {
			kept = append(kept, file.Path)
		}
	}
	var gotOff []string
	for _, file := range filesOff {
		if strings.Contains(file.Path, "Contents") {
			t.Errorf("%s written with contents off", file.Path)
		}
		if file.Kind != repo.KindRoot {
			gotOff = append(gotOff, file.Path)
		}
	}
	if !slices.Equal(kept, gotOff) {
		t.Errorf("files with contents off:\n%q\nwant\n%q", gotOff, kept)
	}
	if bytes.Contains(byPath["deb/5.8/debian/dists/bookworm/Release"].Data, []byte("Contents")) {
		t.Error("Release lists Contents with contents off")
	}
	checkRepository(t, filesOff, "deb/5.8/debian/", "bookworm")
}

// TestContentsGolden: a package set with every kind of entry, shared
// paths, sections and versions, against testdata/golden.
func TestContentsGolden(t *testing.T) {
	f := New(Config{Architectures: []string{"amd64"}})
	var pkgs []repo.Package
	for _, o := range contentsGoldenDebs() {
		pkgs = append(pkgs, ingest(t, f, "main", build(t, o)))
	}
	got, _ := contentsOf(t, f, pkgs)
	checkGolden(t, "contents-rich_main_Contents-amd64", []byte(got["main/Contents-amd64"]))
}

// contentsGoldenDebs is the package set of TestContentsGolden and
// TestContentsAptFtparchive: one version per name, entries of every kind
// that Contents lists (and directories, which it does not).
func contentsGoldenDebs() []debtest.Options {
	sect := func(s string) []debtest.Field { return []debtest.Field{{Name: "Section", Value: s}} }
	return []debtest.Options{
		{Package: "kamailio", Version: "5.8.3-1", Arch: "amd64", Fields: sect("net"),
			Files: map[string][]byte{"usr/sbin/kamailio": nil, "etc/kamailio/kamailio.cfg": nil, "usr/share/doc/kamailio/copyright": nil,
				"usr/lib/x86_64-linux-gnu/kamailio/modules/tm.so": nil, "usr/lib/x86_64-linux-gnu/kamailio/modules/sl.so": nil},
			DataEntries: []debtest.Entry{
				{Name: "./usr/lib/x86_64-linux-gnu/kamailio/modules/", Type: tar.TypeDir},
				{Name: "./usr/sbin/kamctl", Type: tar.TypeSymlink, Linkname: "kamailio"},
				{Name: "./usr/sbin/kamcmd", Type: tar.TypeLink, Linkname: "./usr/sbin/kamailio"},
			}},
		{Package: "kamailio-mysql-modules", Version: "5.8.3-1", Arch: "amd64", Fields: sect("net"),
			Files: map[string][]byte{"usr/lib/x86_64-linux-gnu/kamailio/modules/db_mysql.so": nil, "usr/share/doc/kamailio/copyright": nil}},
		{Package: "kamailio-doc", Version: "5.8.3-1", Arch: "all", Fields: sect("doc"),
			Files: map[string][]byte{"usr/share/doc/kamailio-doc/" + strings.Repeat("a", 50) + ".html": nil, "usr/share/doc/kamailio/copyright": nil}},
		{Package: "libfoo1", Version: "2.0-1", Arch: "amd64",
			Files:       map[string][]byte{"usr/lib/x86_64-linux-gnu/libfoo.so.1.0.0": nil},
			DataEntries: []debtest.Entry{{Name: "./usr/lib/x86_64-linux-gnu/libfoo.so.1", Type: tar.TypeSymlink, Linkname: "libfoo.so.1.0.0"}}},
		{Package: "empty", Version: "1", Arch: "amd64"},
	}
}

// TestContentsAptFtparchive compares Pier's Contents with the real
// apt-ftparchive's for the same packages: the same paths, each with the
// same packages (apt-ftparchive writes bare names, Pier section/name as
// dak does; apt-file reads the name after the last slash).
func TestContentsAptFtparchive(t *testing.T) {
	tool, err := exec.LookPath("apt-ftparchive")
	if err != nil {
		if isCI() {
			t.Fatal("apt-ftparchive is required when CI=true")
		}
		t.Skip("apt-ftparchive not installed")
	}
	f := New(Config{Architectures: []string{"amd64"}})
	dir := t.TempDir()
	var pkgs []repo.Package
	for i, o := range contentsGoldenDebs() {
		b := build(t, o)
		pkgs = append(pkgs, ingest(t, f, "main", b))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.deb", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(tool, "contents", dir).Output()
	if err != nil {
		t.Fatalf("apt-ftparchive contents: %v", err)
	}
	got, _ := contentsOf(t, f, pkgs)
	parse := func(text string) map[string]string {
		m := map[string]string{}
		for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			i := strings.LastIndexAny(l, " \t")
			var names []string
			for _, p := range strings.Split(l[i+1:], ",") {
				names = append(names, path.Base(p))
			}
			slices.Sort(names)
			m[strings.TrimRight(l[:i], " \t")] = strings.Join(names, ",")
		}
		return m
	}
	ours, theirs := parse(got["main/Contents-amd64"]), parse(string(out))
	for p, names := range theirs {
		if ours[p] != names {
			t.Errorf("%s: Pier lists %q, apt-ftparchive %q", p, ours[p], names)
		}
	}
	for p, names := range ours {
		if _, ok := theirs[p]; !ok {
			t.Errorf("%s: Pier lists %q, apt-ftparchive nothing", p, names)
		}
	}
}

// TestContentsDamagedMeta: a file list that is out of order fails the
// publish instead of producing a wrong Contents.
func TestContentsDamagedMeta(t *testing.T) {
	f := New(Config{})
	p := ingest(t, f, "main", build(t, debtest.Options{Package: "pp", Version: "1", Arch: "amd64", Files: map[string][]byte{"usr/bin/pp": nil}}))
	p.Meta = append(bytes.Clone(p.Meta), "0 a\n"...) // "a" after "usr/bin/pp"
	in := &repo.IndexInput{Target: repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}, Packages: []repo.Package{p}, Time: goldenTime, Signer: fakeSigner{}}
	_, err := f.Index(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "malformed file list") || !strings.Contains(err.Error(), "pp_1_amd64") {
		t.Fatalf("Index: %v", err)
	}
}

// TestContentsLongLine: a path that thousands of packages ship makes one
// long line, which the generation's Verify accepts.
func TestContentsLongLine(t *testing.T) {
	f := New(Config{Architectures: []string{"amd64"}})
	var pkgs []repo.Package
	for i := range 4000 {
		name := fmt.Sprintf("common-user-%04d", i)
		m := Meta{Source: name, Head: "Package: " + name + "\nVersion: 1\nArchitecture: amd64\nSection: utils\n",
			Files: []string{"usr/share/common/README", "usr/share/doc/" + name + "/copyright"}}
		meta, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		sums := sumsOf([]byte(name))
		pkgs = append(pkgs, repo.Package{Component: "main", Name: name, Version: "1", Arch: "amd64", Size: 1000, SHA256: sums[repo.SHA256],
			Sums: sums, Meta: meta})
	}
	in := &repo.IndexInput{Target: repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}, Packages: pkgs, Time: goldenTime, Signer: signerOf(t, "A")}
	g := publish(t, f, in)
	if err := f.Verify(context.Background(), g.input(t, "A")); err != nil {
		t.Fatal(err)
	}
	got, _ := contentsOf(t, f, pkgs)
	first, _, _ := strings.Cut(got["main/Contents-amd64"], "\n")
	if !strings.HasPrefix(first, "usr/share/common/README ") || strings.Count(first, ",") != 3999 || len(first) < 4000*len("utils/common-user-0000") {
		t.Errorf("first line: %d bytes, %d commas: %.200s", len(first), strings.Count(first, ","), first)
	}
}
