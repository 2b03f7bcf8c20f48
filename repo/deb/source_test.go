package deb

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// srcFixture is the source package testdata/src holds (made by
// make-source-fixture.sh with dpkg-source -b).
const srcFixture = "pier-src_1.0-1.dsc"

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ingestSource reads the .dsc in dir as the core does and returns the
// catalog record with Extra filled from the files it lists.
func ingestSource(t testing.TB, f *Format, component, dir, name string) repo.Package {
	t.Helper()
	p := ingest(t, f, component, readFile(t, filepath.Join(dir, name)))
	parsed, err := read(f, readFile(t, filepath.Join(dir, name)))
	if err != nil {
		t.Fatal(err)
	}
	for _, need := range parsed.Needs {
		b := readFile(t, filepath.Join(dir, need.Name))
		sums := sumsOf(b)
		p.Extra = append(p.Extra, repo.Blob{SHA256: sums[repo.SHA256], Size: int64(len(b))})
	}
	return p
}

func TestReadSourceFixture(t *testing.T) {
	f := New(Config{})
	dir := filepath.Join("testdata", "src")
	parsed, err := read(f, readFile(t, filepath.Join(dir, srcFixture)))
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Name != "pier-src" || parsed.Version != "1.0-1" || parsed.Arch != SourceArch || len(parsed.Needs) != 2 {
		t.Fatalf("parsed %s %s %s with %d files", parsed.Name, parsed.Version, parsed.Arch, len(parsed.Needs))
	}
	for _, need := range parsed.Needs {
		b := readFile(t, filepath.Join(dir, need.Name))
		sums := sumsOf(b)
		if need.Size != int64(len(b)) || len(need.Sums) != 3 {
			t.Errorf("%s: size %d (file %d), sums %v", need.Name, need.Size, len(b), need.Sums)
		}
		for d, v := range need.Sums {
			if sums[d] != v {
				t.Errorf("%s: %s %s, the file's is %s", need.Name, d, v, sums[d])
			}
		}
	}
	if !f.Sniff(readFile(t, filepath.Join(dir, srcFixture))) {
		t.Error("Sniff does not recognise the .dsc")
	}
	for _, other := range []string{"pier-src_1.0.orig.tar.gz", "pier-src_1.0-1.debian.tar.xz"} {
		if f.Sniff(readFile(t, filepath.Join(dir, other))) {
			t.Errorf("Sniff takes %s for a package", other)
		}
	}
}

// TestSourcesGolden publishes the fixture source package beside a binary
// package and compares the Sources index with the golden file; the
// generation passes Verify, and Verify catches a source file that does not
// match its stanza.
func TestSourcesGolden(t *testing.T) {
	f := goldenFormat()
	src := ingestSource(t, f, "main", filepath.Join("testdata", "src"), srcFixture)
	bin := ingest(t, f, "main", build(t, debtest.Options{Package: "pier-src", Version: "1.0-1", Arch: "all"}))
	in := &repo.IndexInput{Target: repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"},
		Packages: []repo.Package{src, bin}, Time: goldenTime, Signer: fakeSigner{}}
	_, byPath := index(t, f, in)
	dists := "deb/5.8/debian/dists/bookworm/"
	sources := byPath[dists+"main/source/Sources"]
	checkGolden(t, "main_source_Sources", sources.Data)
	release := string(byPath[dists+"Release"].Data)
	for _, name := range []string{"main/source/Sources", "main/source/Sources.gz", "main/source/Sources.xz"} {
		if !strings.Contains(release, " "+name+"\n") {
			t.Errorf("Release does not list %s", name)
		}
	}
	dir := "deb/5.8/debian/pool/main/p/pier-src/" + src.SHA256[:12] + "/"
	for _, name := range []string{"pier-src_1.0-1.dsc", "pier-src_1.0.orig.tar.gz", "pier-src_1.0-1.debian.tar.xz"} {
		if fp, ok := byPath[dir+name]; !ok || fp.Kind != repo.KindPackage {
			t.Errorf("pool file %s missing", dir+name)
		}
	}
	if got := f.PackagePath(in.Target, &src); got != dir+"pier-src_1.0-1.dsc" {
		t.Errorf("PackagePath %s", got)
	}
	if bytes.Contains(byPath[dists+"main/binary-amd64/Packages"].Data, []byte("Package: pier-src\nBinary:")) {
		t.Error("the source package is in Packages")
	}

	s := signerOf(t, "A")
	in.Signer = s
	g := publish(t, f, in)
	if err := f.Verify(context.Background(), g.input(t, "A")); err != nil {
		t.Fatalf("a good generation fails: %v", err)
	}
	// A pool file whose size differs from the stanza's.
	g.file(t, dir+"pier-src_1.0.orig.tar.gz").Size++
	err := f.Verify(context.Background(), g.input(t, "A"))
	if err == nil || !strings.Contains(err.Error(), "pier-src_1.0.orig.tar.gz") {
		t.Errorf("Verify with a wrong orig tarball: %v", err)
	}
	g.file(t, dir+"pier-src_1.0.orig.tar.gz").Size--
	g.remove(t, dir+"pier-src_1.0-1.debian.tar.xz")
	if err := f.Verify(context.Background(), g.input(t, "A")); err == nil || !strings.Contains(err.Error(), "debian.tar.xz is not in the generation") {
		t.Errorf("Verify without the debian tarball: %v", err)
	}
}

// dscCase is one .dsc for the parser, with the verdict of dpkg-source -x
// where dpkg decides it.
type dscCase struct {
	name string
	dsc  string
	// reason is a part of the refusal; "" means accepted.
	reason string
	// dpkg is false when the rule is not dpkg-source's (dak's or apt's,
	// see parseDSC): dpkg-source -x is not asked.
	dpkg bool
}

// fixtureDSC returns the fixture .dsc with edit applied.
func fixtureDSC(t testing.TB, edit func(string) string) string {
	return edit(string(readFile(t, filepath.Join("testdata", "src", srcFixture))))
}

func dscCases(t testing.TB) []dscCase {
	same := func(s string) string { return s }
	repl := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("fixture has no %q", old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	sig := "-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEE\n-----END PGP SIGNATURE-----\n"
	signed := func(s string) string {
		return "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + s + "\n" + sig
	}
	return []dscCase{
		{"as built", fixtureDSC(t, same), "", true},
		{"clear-signed", fixtureDSC(t, signed), "", true},
		{"comment lines", fixtureDSC(t, func(s string) string { return "# made by hand\n" + s }), "", true},
		{"second stanza ignored", fixtureDSC(t, func(s string) string { return s + "\nOther: stanza\n" }), "", true},
		{"lower-case field names", fixtureDSC(t, repl("Checksums-Sha256:", "checksums-sha256:")), "", true},
		{"no Format means 1.0 (and 3.0 files)", fixtureDSC(t, repl("Format: 3.0 (quilt)\n", "")), "", false},
		{"no Source", fixtureDSC(t, repl("Source: pier-src\n", "")), "missing critical source control field Source", true},
		{"no Version", fixtureDSC(t, repl("Version: 1.0-1\n", "")), "missing critical source control field Version", true},
		{"no Files", fixtureDSC(t, func(s string) string { return s[:strings.Index(s, "Files:")] }), "missing critical source control field Files", true},
		{"format 4.0", fixtureDSC(t, repl("3.0 (quilt)", "4.0")), "not supported", true},
		{"format 3.0 without variant", fixtureDSC(t, repl("3.0 (quilt)", "3.0")), "not supported", true},
		{"format garbage", fixtureDSC(t, repl("3.0 (quilt)", "three")), "invalid", true},
		{"upper-case hex", fixtureDSC(t, repl("7ef7a0a94cda17ae7e264919d7ef36c3", "7EF7A0A94CDA17AE7E264919D7EF36C3")), "invalid line in Files", true},
		{"conflicting sizes", fixtureDSC(t, repl("7ef7a0a94cda17ae7e264919d7ef36c3 209", "7ef7a0a94cda17ae7e264919d7ef36c3 210")), "conflicting file sizes", true},
		{"file name with a slash", fixtureDSC(t, repl(" 7ef7a0a94cda17ae7e264919d7ef36c3 209 pier-src_1.0.orig.tar.gz", " 7ef7a0a94cda17ae7e264919d7ef36c3 209 ../x.tar.gz")), "invalid line in Files", true},
		{"duplicate field", fixtureDSC(t, repl("Binary: pier-src\n", "Binary: pier-src\nbinary: x\n")), "duplicate field", true},
		{"field starting with a hyphen", fixtureDSC(t, repl("Binary: pier-src\n", "Binary: pier-src\n-X: y\n")), "hyphen", true},
		{"unfinished signature", fixtureDSC(t, func(s string) string { return "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + s }), "unfinished OpenPGP signature", true},
		{"no signature after the stanza", fixtureDSC(t, func(s string) string {
			return "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + s + "\nNot: a signature\n"
		}), "expected an OpenPGP signature", true},
		{"upper-case Source", fixtureDSC(t, repl("Source: pier-src", "Source: Pier-src")), "not a source package name", false},
		{"bad version", fixtureDSC(t, repl("Version: 1.0-1", "Version: a1.0-1")), "version", false},
		{"^Z in a value", fixtureDSC(t, repl("Standards-Version: 4.6.", "Standards-Version: 4.6.\x1a")), "^Z byte", false},
		{"^Z in a field name", fixtureDSC(t, repl("Binary: pier-src\n", "Binary: pier-src\nX-\x1a: y\n")), "^Z byte", false},
		{"line without a colon", fixtureDSC(t, repl("Binary: pier-src\n", "Binary: pier-src\nnocolon\n")), "unknown format", false},
	}
}

func TestDSCRules(t *testing.T) {
	f := New(Config{})
	for _, c := range dscCases(t) {
		t.Run(c.name, func(t *testing.T) {
			parsed, err := read(f, []byte(c.dsc))
			switch {
			case c.reason == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.reason != "" && err == nil:
				t.Fatalf("accepted %s %s, want a refusal with %q", parsed.Name, parsed.Version, c.reason)
			case c.reason != "" && (!strings.Contains(err.Error(), c.reason) || !isBad(err)):
				t.Fatalf("error %v, want a bad-package error with %q", err, c.reason)
			}
		})
	}
}

func isBad(err error) bool {
	var bp *repo.BadPackageError
	return errors.As(err, &bp)
}

// TestDSCRulesMatchDpkgSource runs dpkg-source -x on every case dpkg
// decides, beside the fixture's files, and requires its verdict to be
// Pier's.
func TestDSCRulesMatchDpkgSource(t *testing.T) {
	if _, err := exec.LookPath("dpkg-source"); err != nil {
		if isCI() {
			t.Fatal("dpkg-source is not installed")
		}
		t.Skip("dpkg-source is not installed")
	}
	for _, c := range dscCases(t) {
		if !c.dpkg {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, n := range []string{"pier-src_1.0.orig.tar.gz", "pier-src_1.0-1.debian.tar.xz"} {
				if err := os.WriteFile(filepath.Join(dir, n), readFile(t, filepath.Join("testdata", "src", n)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "x.dsc"), []byte(c.dsc), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("dpkg-source", "-x", "x.dsc", "out")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if (err == nil) != (c.reason == "") {
				t.Errorf("dpkg-source -x: %v\n%s\nPier's verdict: %q", err, out, c.reason)
			}
		})
	}
}

// TestOutdated: a generation without Sources (an older Pier's) is
// outdated; one written now is not.
func TestOutdated(t *testing.T) {
	f := goldenFormat()
	in := goldenInput(t, f)
	files, _ := index(t, f, in)
	if f.Outdated(in.Target, files) {
		t.Error("a generation written now is outdated")
	}
	var old []repo.File
	for _, file := range files {
		if !strings.Contains(file.Path, "/source/") {
			old = append(old, file)
		}
	}
	if !f.Outdated(in.Target, old) {
		t.Error("a generation without Sources is not outdated")
	}
	if f.Outdated(in.Target, nil) {
		t.Error("an empty generation is outdated")
	}
}
