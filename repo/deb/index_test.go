package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
	"github.com/ulikunitz/xz"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenTime is the publish time of golden output, given in a non-UTC zone
// on purpose: the Release must say UTC.
var goldenTime = time.Date(2025, 1, 4, 11, 0, 0, 0, time.FixedZone("CET", 3600))

// goldenDebs returns the fixed package set of the golden tests, keyed by
// component, as .deb bytes.
func goldenDebs(t testing.TB) map[string][][]byte {
	t.Helper()
	hello := map[string][]byte{"usr/bin/hello": []byte("#!/bin/sh\necho hello\n")}
	desc := "greets the world\n Hello prints a friendly greeting.\n .\n It is a test package."
	main := []debtest.Options{
		{Package: "hello", Version: "1.0-1", Arch: "amd64", Depends: "libc6 (>= 2.34)", Description: desc, Files: hello,
			Fields: []debtest.Field{{Name: "Homepage", Value: "https://example.org/hello"}, {Name: "Section", Value: "misc"}, {Name: "X-Pier-Test", Value: "kept last"}}},
		{Package: "hello", Version: "1.0~rc1-1", Arch: "amd64", Description: desc, Files: hello},
		{Package: "hello", Version: "1:0.9-1", Arch: "arm64", Description: desc, Files: hello},
		{Package: "hello-doc", Version: "1.0-1", Arch: "all", Files: map[string][]byte{"usr/share/doc/hello/README": []byte("read me\n")},
			Fields: []debtest.Field{{Name: "Source", Value: "hello (1.0-1)"}, {Name: "Multi-Arch", Value: "foreign"}}},
		{Package: "libfoo1", Version: "2.0-1", Arch: "amd64", Fields: []debtest.Field{{Name: "Source", Value: "foo"}}},
		{Package: "libbar0", Version: "0.1-1", Arch: "arm64", ControlCompression: "xz"},
	}
	contrib := []debtest.Options{
		{Package: "tool", Version: "3.0", Arch: "riscv64", ControlCompression: "zst"},
		{Package: "tool-data", Version: "3.0", Arch: "all", ControlCompression: "none"},
	}
	out := map[string][][]byte{}
	for comp, set := range map[string][]debtest.Options{"main": main, "contrib": contrib} {
		for _, o := range set {
			out[comp] = append(out[comp], build(t, o))
		}
	}
	return out
}

func goldenInput(t testing.TB, f *Format) *repo.IndexInput {
	t.Helper()
	in := &repo.IndexInput{
		Target: repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"},
		Time:   goldenTime,
		Signer: fakeSigner{},
	}
	debs := goldenDebs(t)
	for _, comp := range []string{"main", "contrib"} {
		for _, b := range debs[comp] {
			in.Packages = append(in.Packages, ingest(t, f, comp, b))
		}
	}
	return in
}

func goldenFormat() *Format { return New(Config{ValidDays: 7}) }

func index(t testing.TB, f *Format, in *repo.IndexInput) ([]repo.File, map[string]repo.File) {
	t.Helper()
	files, err := f.Index(context.Background(), in)
	if err != nil {
		t.Fatalf("Index: %v", err)
	}
	byPath := make(map[string]repo.File, len(files))
	for _, file := range files {
		if _, dup := byPath[file.Path]; dup {
			t.Fatalf("path %s listed twice", file.Path)
		}
		byPath[file.Path] = file
	}
	return files, byPath
}

// checkGolden compares got with testdata/golden/name, or rewrites it.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update and review the diff):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestIndexGolden(t *testing.T) {
	f := goldenFormat()
	files, byPath := index(t, f, goldenInput(t, f))
	const dists = "deb/5.8/debian/dists/bookworm/"
	for _, name := range []string{"Release", "InRelease", "Release.gpg"} {
		checkGolden(t, name, byPath[dists+name].Data)
	}
	var list bytes.Buffer
	for _, file := range files {
		sum, size := file.SHA256, file.Size
		if file.Data != nil {
			s := sha256.Sum256(file.Data)
			sum, size = hex.EncodeToString(s[:]), int64(len(file.Data))
		}
		fmt.Fprintf(&list, "%d %d %s %d %s\n", file.Kind, file.Order, sum, size, file.Path)
		if rel, ok := strings.CutPrefix(file.Path, dists); ok && strings.HasSuffix(rel, "/Packages") {
			checkGolden(t, strings.ReplaceAll(rel, "/", "_"), file.Data)
		}
		if rel, ok := strings.CutPrefix(file.Path, dists); ok && isContents(strings.TrimSuffix(rel, ".gz")) && strings.HasSuffix(rel, ".gz") {
			checkGolden(t, strings.ReplaceAll(strings.TrimSuffix(rel, ".gz"), "/", "_"), gunzip(t, file.Data))
		}
	}
	checkGolden(t, "files.txt", list.Bytes())
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// releaseEntry is one line of a Release file's SHA256 section.
type releaseEntry struct {
	sum  string
	size int64
	path string
}

// parseRelease returns a Release file's fields and SHA256 entries.
func parseRelease(t *testing.T, release []byte) (map[string]string, []releaseEntry) {
	t.Helper()
	fields, reason := parseStanza(release, 128)
	if reason != "" {
		t.Fatalf("Release does not parse: %s", reason)
	}
	m := map[string]string{}
	for _, f := range fields {
		m[f.Name] = f.Value
	}
	var entries []releaseEntry
	for _, line := range strings.Split(strings.TrimPrefix(m["SHA256"], "\n"), "\n") {
		parts := strings.Fields(line)
		if len(parts) != 3 {
			t.Fatalf("bad SHA256 line %q", line)
		}
		size, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, releaseEntry{parts[0], size, parts[2]})
	}
	return m, entries
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkRepository checks the invariants of an Index output: every file the
// Release lists exists with that hash and size, with a by-hash copy; the
// compressed variants decompress to the plain file; every Filename in a
// Packages file is a pool file with that SHA256 and Size.
func checkRepository(t *testing.T, files []repo.File, base, release string) {
	t.Helper()
	byPath := map[string]repo.File{}
	for _, file := range files {
		byPath[file.Path] = file
	}
	dists := base + "dists/" + release + "/"
	rel := byPath[dists+"Release"]
	if rel.Kind != repo.KindRoot || rel.Order != 1 {
		t.Fatalf("Release: kind %d order %d", rel.Kind, rel.Order)
	}
	fields, entries := parseRelease(t, rel.Data)
	if fields["Acquire-By-Hash"] != "yes" {
		t.Error("no Acquire-By-Hash: yes")
	}
	if _, err := time.Parse(dateLayout, fields["Date"]); err != nil {
		t.Errorf("Date: %v", err)
	}
	if strings.Contains(" "+fields["Architectures"]+" ", " all ") {
		t.Error(`Architectures lists "all"`)
	}
	listed := map[string]releaseEntry{}
	for _, e := range entries {
		listed[e.path] = e
	}
	for _, e := range entries {
		file, ok := byPath[dists+e.path]
		if isContents(e.path) {
			// Contents is served compressed only; the plain entry is for
			// apt's check of the decompressed bytes.
			if ok {
				t.Errorf("%s: the plain Contents file is served", e.path)
			}
			continue
		}
		if !ok {
			t.Errorf("Release lists %s, not in the output", e.path)
			continue
		}
		if file.Kind != repo.KindIndex {
			t.Errorf("%s: kind %d", e.path, file.Kind)
		}
		if got := sha256Hex(file.Data); got != e.sum || int64(len(file.Data)) != e.size {
			t.Errorf("%s: sha256 %s size %d, Release says %s %d", e.path, got, len(file.Data), e.sum, e.size)
		}
		hashed, ok := byPath[dists+path.Dir(e.path)+"/by-hash/SHA256/"+e.sum]
		if !ok || !bytes.Equal(hashed.Data, file.Data) || hashed.Kind != repo.KindHashed {
			t.Errorf("%s: by-hash copy missing or different", e.path)
		}
	}
	for _, comp := range strings.Fields(fields["Components"]) {
		for _, arch := range strings.Fields(fields["Architectures"]) {
			dir := comp + "/binary-" + arch + "/"
			for _, name := range packagesNames() {
				if _, ok := listed[dir+name]; !ok {
					t.Errorf("Release does not list %s", dir+name)
				}
			}
			checkContentsListed(t, byPath, dists, comp+"/Contents-"+arch, listed)
			plain := byPath[dists+dir+"Packages"].Data
			zr, err := gzip.NewReader(bytes.NewReader(byPath[dists+dir+"Packages.gz"].Data))
			if err != nil {
				t.Fatalf("%s: gzip: %v", dir, err)
			}
			if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, plain) {
				t.Errorf("%s: Packages.gz does not decompress to Packages: %v", dir, err)
			}
			xr, err := xz.NewReader(bytes.NewReader(byPath[dists+dir+"Packages.xz"].Data))
			if err != nil {
				t.Fatalf("%s: xz: %v", dir, err)
			}
			if got, err := io.ReadAll(xr); err != nil || !bytes.Equal(got, plain) {
				t.Errorf("%s: Packages.xz does not decompress to Packages: %v", dir, err)
			}
			checkPackages(t, byPath, base, dir, plain)
		}
	}
	for p, file := range byPath {
		if strings.HasPrefix(p, dists) || file.Kind == repo.KindPackage {
			continue
		}
		t.Errorf("%s is outside %s", p, dists)
	}
	in := byPath[dists+"InRelease"].Data
	if !bytes.HasSuffix(in, []byte("-----END PGP SIGNATURE-----\n")) {
		t.Errorf("InRelease does not end with exactly the END line and one newline: %q", in[max(0, len(in)-40):])
	}
}

// isContents reports whether a Release path is a plain Contents index.
func isContents(p string) bool {
	return strings.HasPrefix(path.Base(p), "Contents-") && path.Ext(p) != ".gz"
}

// checkContentsListed checks one Contents index of a Release: when listed,
// its .gz is listed too and decompresses to the plain size and sha256 the
// Release states, and its lines are well formed and sorted.
func checkContentsListed(t *testing.T, byPath map[string]repo.File, dists, name string, listed map[string]releaseEntry) {
	t.Helper()
	plain, ok := listed[name]
	if !ok {
		if _, gz := listed[name+".gz"]; gz {
			t.Errorf("Release lists %s.gz but not %s", name, name)
		}
		return
	}
	if _, ok := listed[name+".gz"]; !ok {
		t.Errorf("Release lists %s but not %s.gz", name, name)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(byPath[dists+name+".gz"].Data))
	if err != nil {
		t.Errorf("%s.gz: %v", name, err)
		return
	}
	data, err := io.ReadAll(zr)
	if err != nil || sha256Hex(data) != plain.sum || int64(len(data)) != plain.size {
		t.Errorf("%s.gz decompresses to %d bytes (sha256 %s, %v); Release says %d %s", name, len(data), sha256Hex(data), err, plain.size, plain.sum)
	}
	checkContentsLines(t, name, data)
}

// checkContentsLines checks the line format of a Contents file: "path",
// whitespace, a comma-separated list of [section/]name, sorted by path.
func checkContentsLines(t *testing.T, name string, data []byte) {
	t.Helper()
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("%s does not end in a newline", name)
	}
	prev := ""
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if l == "" && len(data) == 0 {
			break
		}
		i := strings.LastIndexAny(l, " \t")
		p, pkgs := strings.TrimRight(l[:max(i, 0)], " \t"), l[i+1:]
		if i <= 0 || p == "" || pkgs == "" || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "./") {
			t.Errorf("%s: bad line %q", name, l)
			continue
		}
		for _, pkg := range strings.Split(pkgs, ",") {
			if pkg == "" || strings.HasSuffix(pkg, "/") {
				t.Errorf("%s: bad package list in %q", name, l)
			}
		}
		if p <= prev {
			t.Errorf("%s: %q is not after %q", name, p, prev)
		}
		prev = p
	}
}

// checkPackages checks the stanzas of one Packages file.
func checkPackages(t *testing.T, byPath map[string]repo.File, base, dir string, plain []byte) {
	t.Helper()
	if len(plain) == 0 {
		return
	}
	if !bytes.HasSuffix(plain, []byte("\n")) || bytes.HasSuffix(plain, []byte("\n\n")) || bytes.Contains(plain, []byte("\n\n\n")) {
		t.Errorf("%s: stanzas are not separated by exactly one blank line", dir)
	}
	type key struct{ name, version, arch string }
	var prev *key
	for _, stanza := range strings.Split(strings.TrimSuffix(string(plain), "\n"), "\n\n") {
		fields, reason := parseStanza([]byte(stanza+"\n"), 128)
		if reason != "" {
			t.Fatalf("%s: stanza does not parse: %s\n%s", dir, reason, stanza)
		}
		get := func(name string) string { v, _ := lookup(fields, name); return v }
		k := key{get("Package"), get("Version"), get("Architecture")}
		if prev != nil {
			c := strings.Compare(prev.name, k.name)
			if c == 0 {
				c = compareVersions(prev.version, k.version)
			}
			if c == 0 {
				c = strings.Compare(prev.arch, k.arch)
			}
			if c > 0 {
				t.Errorf("%s: %v sorts after %v", dir, *prev, k)
			}
		}
		prev = &k
		if !strings.HasSuffix(dir, "binary-"+k.arch+"/") && k.arch != "all" {
			t.Errorf("%s: holds arch %s", dir, k.arch)
		}
		pool, ok := byPath[base+get("Filename")]
		if !ok || pool.Kind != repo.KindPackage {
			t.Errorf("%s: Filename %s is not a pool file", dir, get("Filename"))
			continue
		}
		if pool.SHA256 != get("SHA256") || strconv.FormatInt(pool.Size, 10) != get("Size") {
			t.Errorf("%s: %s: pool file %s/%d, stanza %s/%s", dir, k.name, pool.SHA256, pool.Size, get("SHA256"), get("Size"))
		}
		want := fmt.Sprintf("%s_%s_%s.deb", k.name, k.version[strings.IndexByte(k.version, ':')+1:], k.arch)
		if path.Base(get("Filename")) != want {
			t.Errorf("%s: Filename %s, want base name %s", dir, get("Filename"), want)
		}
		for _, f := range []string{"MD5sum", "SHA1", "SHA256"} {
			if get(f) == "" {
				t.Errorf("%s: %s: no %s", dir, k.name, f)
			}
		}
	}
}

func TestIndexConsistency(t *testing.T) {
	f := goldenFormat()
	files, _ := index(t, f, goldenInput(t, f))
	checkRepository(t, files, "deb/5.8/debian/", "bookworm")
}

func TestIndexDeterministic(t *testing.T) {
	f := goldenFormat()
	in := goldenInput(t, f)
	want, _ := index(t, f, in)
	rng := rand.New(rand.NewSource(1))
	for range 5 {
		rng.Shuffle(len(in.Packages), func(i, j int) { in.Packages[i], in.Packages[j] = in.Packages[j], in.Packages[i] })
		got, _ := index(t, f, in)
		if len(got) != len(want) {
			t.Fatalf("%d files, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i].Path != want[i].Path || !bytes.Equal(got[i].Data, want[i].Data) || got[i].SHA256 != want[i].SHA256 {
				t.Fatalf("file %d differs: %s vs %s", i, got[i].Path, want[i].Path)
			}
		}
	}
}

func TestIndexEmpty(t *testing.T) {
	f := New(Config{})
	in := &repo.IndexInput{Target: repo.Target{Stream: "nightly", Distro: "ubuntu", Release: "noble"}, Time: goldenTime, Signer: fakeSigner{}}
	files, byPath := index(t, f, in)
	checkRepository(t, files, "deb/nightly/ubuntu/", "noble")
	fields, entries := parseRelease(t, byPath["deb/nightly/ubuntu/dists/noble/Release"].Data)
	if fields["Components"] != "main" || fields["Architectures"] != "amd64 arm64" {
		t.Errorf("Components %q Architectures %q", fields["Components"], fields["Architectures"])
	}
	if fields["Description"] != "Pier repository for nightly ubuntu noble" {
		t.Errorf("Description %q", fields["Description"])
	}
	if _, ok := fields["Valid-Until"]; ok {
		t.Error("Valid-Until without valid_days")
	}
	if len(entries) != 13 {
		t.Errorf("%d Release entries, want 13 (Packages, .gz, .xz and Contents, .gz of two architectures, Sources, .gz, .xz)", len(entries))
	}
	for _, e := range entries {
		if (strings.HasSuffix(e.path, "/Packages") || strings.HasSuffix(e.path, "/Sources") || isContents(e.path)) && e.size != 0 {
			t.Errorf("%s has size %d", e.path, e.size)
		}
	}
}

func TestIndexArchAll(t *testing.T) {
	f := New(Config{Architectures: []string{"amd64"}})
	pkgs := []repo.Package{
		ingest(t, f, "main", build(t, debtest.Options{Package: "doc", Version: "1", Arch: "all"})),
		ingest(t, f, "main", build(t, debtest.Options{Package: "bin", Version: "1", Arch: "s390x"})),
	}
	in := &repo.IndexInput{Target: repo.Target{Stream: "1", Distro: "debian", Release: "trixie"}, Packages: pkgs, Time: goldenTime, Signer: fakeSigner{}}
	files, byPath := index(t, f, in)
	checkRepository(t, files, "deb/1/debian/", "trixie")
	fields, _ := parseRelease(t, byPath["deb/1/debian/dists/trixie/Release"].Data)
	if fields["Architectures"] != "amd64 s390x" {
		t.Errorf("Architectures %q", fields["Architectures"])
	}
	for _, arch := range []string{"amd64", "s390x"} {
		data := byPath["deb/1/debian/dists/trixie/main/binary-"+arch+"/Packages"].Data
		if !bytes.Contains(data, []byte("Package: doc\n")) {
			t.Errorf("binary-%s lacks the arch-all package", arch)
		}
	}
	if _, ok := byPath["deb/1/debian/dists/trixie/main/binary-all/Packages"]; ok {
		t.Error("binary-all written")
	}
}

// TestIndexPoolNoCollision: two releases of one stream share the pool; the
// same file name with different bytes gets two paths, the same bytes one.
func TestIndexPoolNoCollision(t *testing.T) {
	f := New(Config{})
	a := build(t, debtest.Options{Package: "hello", Version: "1.0", Arch: "amd64", Description: "built for bookworm"})
	b := build(t, debtest.Options{Package: "hello", Version: "1.0", Arch: "amd64", Description: "built for noble"})
	pool := func(release string, deb []byte) string {
		in := &repo.IndexInput{Target: repo.Target{Stream: "5.8", Distro: "debian", Release: release},
			Packages: []repo.Package{ingest(t, f, "main", deb)}, Time: goldenTime, Signer: fakeSigner{}}
		files, _ := index(t, f, in)
		for _, file := range files {
			if file.Kind == repo.KindPackage {
				return file.Path
			}
		}
		t.Fatal("no pool file")
		return ""
	}
	pa, pb := pool("bookworm", a), pool("noble", b)
	if pa == pb {
		t.Errorf("different bytes share pool path %s", pa)
	}
	if pool("noble", a) != pa {
		t.Error("the same bytes got different pool paths in two releases")
	}
	want := "deb/5.8/debian/pool/main/h/hello/" + sumsOf(a)[repo.SHA256][:12] + "/hello_1.0_amd64.deb"
	if pa != want {
		t.Errorf("pool path %s, want %s", pa, want)
	}
}

func TestPoolPath(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	tests := []struct {
		name, version, arch, source, want string
	}{
		{"hello", "1.0-1", "amd64", "hello", "pool/main/h/hello/abababababab/hello_1.0-1_amd64.deb"},
		{"hello", "2:1.0-1", "amd64", "hello", "pool/main/h/hello/abababababab/hello_1.0-1_amd64.deb"},
		{"libfoo1", "1", "all", "libfoo", "pool/main/libf/libfoo/abababababab/libfoo1_1_all.deb"},
		{"libfoo1", "1", "all", "foo", "pool/main/f/foo/abababababab/libfoo1_1_all.deb"},
		{"lib", "1", "all", "lib", "pool/main/l/lib/abababababab/lib_1_all.deb"},
	}
	for _, tt := range tests {
		p := &repo.Package{Component: "main", Name: tt.name, Version: tt.version, Arch: tt.arch, SHA256: sha}
		if got := poolPath(p, tt.source); got != tt.want {
			t.Errorf("poolPath(%s, %s) = %s, want %s", tt.name, tt.source, got, tt.want)
		}
	}
}

func TestIndexErrors(t *testing.T) {
	f := New(Config{})
	good := ingest(t, f, "main", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64"}))
	mod := func(fn func(p *repo.Package)) []repo.Package {
		p := good
		fn(&p)
		return []repo.Package{p}
	}
	tests := []struct {
		name    string
		in      repo.IndexInput
		wantErr error
		want    string
	}{
		{"release traversal", repo.IndexInput{Target: repo.Target{Stream: "5.8", Distro: "debian", Release: ".."}}, repo.ErrInvalid, "release"},
		{"stream slash", repo.IndexInput{Target: repo.Target{Stream: "a/b", Distro: "debian", Release: "x"}}, repo.ErrInvalid, "stream"},
		{"component slash", repo.IndexInput{Target: repo.Target{Stream: "1", Distro: "debian", Release: "x"}, Packages: mod(func(p *repo.Package) { p.Component = "../x" })}, repo.ErrInvalid, "component"},
		{"bad sha", repo.IndexInput{Target: repo.Target{Stream: "1", Distro: "debian", Release: "x"}, Packages: mod(func(p *repo.Package) { p.SHA256 = "xyz" })}, repo.ErrInvalid, "sha256"},
		{"bad name", repo.IndexInput{Target: repo.Target{Stream: "1", Distro: "debian", Release: "x"}, Packages: mod(func(p *repo.Package) { p.Name = "../../x" })}, repo.ErrInvalid, "package name"},
		{"bad meta", repo.IndexInput{Target: repo.Target{Stream: "1", Distro: "debian", Release: "x"}, Packages: mod(func(p *repo.Package) { p.Meta = []byte(`{"json":1}`) })}, nil, "malformed package meta"},
		{"bad source in meta", repo.IndexInput{Target: repo.Target{Stream: "1", Distro: "debian", Release: "x"}, Packages: mod(func(p *repo.Package) {
			p.Meta = []byte("deb1 ../x - - 0\n")
		})}, nil, "source name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Time = goldenTime
			tt.in.Signer = fakeSigner{}
			_, err := f.Index(context.Background(), &tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("error %v, want %v containing %q", err, tt.wantErr, tt.want)
			}
		})
	}
}

// signerFunc adapts functions to repo.Signer.
type signerFunc struct {
	clear, detach func([]byte) ([]byte, error)
}

func (s signerFunc) ClearSign(m []byte) ([]byte, error)  { return s.clear(m) }
func (s signerFunc) DetachSign(m []byte) ([]byte, error) { return s.detach(m) }
func (s signerFunc) PublicKey() []byte                   { return nil }

func TestIndexSignerOutput(t *testing.T) {
	f := New(Config{})
	clear := fakeSigner{}.ClearSign
	detach := fakeSigner{}.DetachSign
	suffix := func(s string) func([]byte) ([]byte, error) {
		return func(m []byte) ([]byte, error) { b, err := clear(m); return append(b, s...), err }
	}
	tests := []struct {
		name   string
		signer repo.Signer
		want   string // "" for success
	}{
		{"no newline", signerFunc{clear, detach}, ""},
		{"one newline", signerFunc{suffix("\n"), detach}, ""},
		{"blank lines", signerFunc{suffix("\n\n\r\n"), detach}, ""},
		{"garbage after", signerFunc{suffix("\nunsigned text\n"), detach}, "data after"},
		{"not clear-signed", signerFunc{func([]byte) ([]byte, error) { return []byte("hi"), nil }, detach}, "does not start"},
		{"binary detached", signerFunc{clear, func([]byte) ([]byte, error) { return []byte{0x88, 0x75}, nil }}, "not ASCII-armored"},
		{"sign error", signerFunc{func([]byte) ([]byte, error) { return nil, errors.New("hsm down") }, detach}, "hsm down"},
		{"nil signer", nil, "no signer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &repo.IndexInput{Target: repo.Target{Stream: "1", Distro: "debian", Release: "x"}, Time: goldenTime, Signer: tt.signer}
			files, err := f.Index(context.Background(), in)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(files, func(f repo.File) bool { return strings.HasSuffix(f.Path, "/InRelease") })
			if data := files[i].Data; !bytes.HasSuffix(data, []byte("-----END PGP SIGNATURE-----\n")) {
				t.Errorf("InRelease ends with %q", data[len(data)-30:])
			}
		})
	}
}

func TestIndexCanceled(t *testing.T) {
	f := goldenFormat()
	in := goldenInput(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Index(ctx, in); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// TestIndexXZTool checks every Packages.xz with the xz command (liblzma, as
// apt uses it) when it is installed: small, empty, and multi-block files.
func TestIndexXZTool(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		if isCI() {
			t.Fatal("xz is required when CI=true")
		}
		t.Skip("xz not installed")
	}
	f := goldenFormat()
	inputs := map[string]*repo.IndexInput{
		"golden": goldenInput(t, f),
		"empty":  {Target: repo.Target{Stream: "1", Distro: "debian", Release: "x"}, Time: goldenTime, Signer: fakeSigner{}},
		"large":  {Target: repo.Target{Stream: "1", Distro: "debian", Release: "x"}, Packages: syntheticPackages(t, 3000), Time: goldenTime, Signer: fakeSigner{}},
	}
	for name, in := range inputs {
		files, byPath := index(t, f, in)
		n := 0
		for _, file := range files {
			plainPath, ok := strings.CutSuffix(file.Path, ".xz")
			if !ok {
				continue
			}
			n++
			cmd := exec.Command("xz", "-dc")
			cmd.Stdin = bytes.NewReader(file.Data)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: xz -dc %s: %v", name, file.Path, err)
			}
			if !bytes.Equal(out, byPath[plainPath].Data) {
				t.Errorf("%s: xz -dc %s differs from Packages", name, file.Path)
			}
		}
		if n == 0 {
			t.Errorf("%s: no .xz files", name)
		}
	}
}
