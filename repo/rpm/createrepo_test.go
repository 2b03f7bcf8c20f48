package rpm

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/pierhq/pier/repo"
)

// TestCompareCreaterepo runs createrepo_c on the same rpms and checks that
// Pier's primary, filelists and other say the same about every package:
// dependency lists (in order), files, changelog, sizes, header range and
// the descriptive fields. Only `time file` (Pier: upload time) and
// `location` (Pier: <arch>/ folders) may differ, and Pier may mark more
// requires pre="1" (it follows current createrepo_c, which also counts
// %pretrans and %posttrans; older createrepo_c does not).
func TestCompareCreaterepo(t *testing.T) {
	tool := realTool(t, "createrepo_c")
	dir := t.TempDir()
	f := newTestFormat()
	var pkgs []repo.Package
	add := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, catalogPackage(t, f, b, fixtureTime))
	}
	_, rpmbuildErr := exec.LookPath("rpmbuild")
	fresh := rpmbuildErr == nil || os.Getenv("CI") == "true"
	for _, name := range fixtureFiles {
		if fresh && strings.HasPrefix(name, "greet-") {
			continue // rebuilt below with the same NEVRA: one target cannot hold both
		}
		add(name, readFixture(t, name))
	}
	// Freshly built packages too, so that the comparison follows the tools
	// installed here rather than only the committed files.
	nfdir := t.TempDir()
	add("fresh-nfpm.rpm", buildNFPM(t, nfpmInfo(t, nfdir, "hello", "arm64", "4", "2.0~rc1"), false))
	add("fresh-nfpm.src.rpm", buildNFPM(t, nfpmInfo(t, nfdir, "hello-data", "amd64", "", "2.0^git1"), true))
	if fresh {
		bin, src := buildRPMBuild(t)
		add("fresh-greet.noarch.rpm", bin)
		add("fresh-greet.src.rpm", src)
	}
	// Packages rpm accepts though no common tool makes them so: Pier must
	// index them as createrepo_c does.
	add(legacyFixture, readFixture(t, legacyFixture))
	files := func(dir string) []tv {
		return []tv{{rpmutils.BASENAMES, []string{"a.spec", "a.tar.gz"}}, {rpmutils.DIRNAMES, []string{dir}},
			{rpmutils.DIRINDEXES, []uint32{0, 0}}, {rpmutils.FILEMODES, []uint16{0o100644, 0o100644}},
			{rpmutils.FILEFLAGS, []uint32{0, 0}}}
	}
	srpm := tv{rpmutils.SOURCERPM, "odd-1-1.src.rpm"}
	add("odd-reqflags.rpm", rpmSpec{main: basicMain("odd-reqflags", "1", "1", "x86_64", srpm,
		tv{rpmutils.REQUIRENAME, []string{"x", "y"}}, tv{rpmutils.REQUIREFLAGS, []uint32{8}}, tv{rpmutils.REQUIREVERSION, []string{"1", "2"}})}.build())
	add("odd-noversions.rpm", rpmSpec{main: basicMain("odd-noversions", "1", "1", "x86_64", srpm,
		tv{rpmutils.REQUIRENAME, []string{"x"}}, tv{rpmutils.REQUIREFLAGS, []uint32{0}},
		tv{rpmutils.PROVIDENAME, []string{"p"}}, tv{rpmutils.PROVIDEVERSION, []string{"1"}})}.build())
	add("odd-nosourcerpm.rpm", rpmSpec{main: basicMain("odd-nosourcerpm", "1", "1", "x86_64", files("/usr/")...)}.build())
	add("odd-sourceheuristic.rpm", rpmSpec{main: basicMain("odd-sourceheuristic", "1", "1", "x86_64", files("")...)}.build())
	add("odd-leadsource.rpm", rpmSpec{source: true, main: basicMain("odd-leadsource", "1", "1", "x86_64", srpm)}.build())
	sizes := splitRPM(t, rpmSpec{main: basicMain("odd-sizes", "1", "1", "x86_64", srpm)}.build())
	sizes.keepSigValues = true
	set(&sizes.sig, sigTagSize, typeInt32, 1, u32(12345))
	set(&sizes.sig, sigTagPayloadSize, typeInt32, 1, u32(99))
	add("odd-sizes.rpm", sizes.bytes())

	cmd := exec.Command(tool, "--no-database", "--workers", "1", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("createrepo_c: %v\n%s", err, out)
	}
	theirs := map[string][]byte{}
	for _, typ := range []string{"primary", "filelists", "other"} {
		m, _ := filepath.Glob(filepath.Join(dir, "repodata", "*-"+typ+".xml.*"))
		if len(m) != 1 {
			t.Fatalf("createrepo_c %s: %v", typ, m)
		}
		b, err := os.ReadFile(m[0])
		if err != nil {
			t.Fatal(err)
		}
		theirs[typ] = decompress(t, m[0], b)
	}
	// createrepo_c puts the source packages of a folder in the one
	// repository; Pier's go to the source repository: the two together
	// must say what createrepo_c says.
	published := index(t, f, pkgs)
	ours, ourSrc := open(t, published).xml, openAt(t, published, testBase+SourceDir).xml

	var pa, pas, pb primaryXML
	unmarshal(t, ours["primary"], &pa)
	unmarshal(t, ourSrc["primary"], &pas)
	for _, p := range pas.Packages {
		if p.Arch != "src" {
			t.Errorf("%s.%s in the source repository", p.Name, p.Arch)
		}
	}
	for _, p := range pa.Packages {
		if p.Arch == "src" {
			t.Errorf("%s.%s in the binary repository", p.Name, p.Arch)
		}
	}
	pa.Count, pa.Packages = pa.Count+pas.Count, append(pa.Packages, pas.Packages...)
	unmarshal(t, theirs["primary"], &pb)
	if pa.Count != pb.Count || len(pa.Packages) != len(pb.Packages) {
		t.Fatalf("primary: %d packages, createrepo_c %d", len(pa.Packages), len(pb.Packages))
	}
	byID := map[string]int{}
	for i, p := range pb.Packages {
		byID[p.Checksum.Value] = i
	}
	strip := func(es []xmlEntry) ([]xmlEntry, map[string]bool) {
		pre := map[string]bool{}
		out := make([]xmlEntry, len(es))
		for i, e := range es {
			if e.Pre == "1" {
				pre[e.Name+" "+e.Flags+" "+e.Ver] = true
			}
			e.Pre = ""
			out[i] = e
		}
		return out, pre
	}
	for _, a := range pa.Packages {
		i, ok := byID[a.Checksum.Value]
		if !ok {
			t.Errorf("%s %s: pkgid %s not in createrepo_c's primary", a.Name, a.Arch, a.Checksum.Value)
			continue
		}
		b := pb.Packages[i]
		id := a.Name + "." + a.Arch
		// Fields Pier sets differently on purpose.
		a.Time.File, b.Time.File = 0, 0
		a.Location.Href, b.Location.Href = "", ""
		reqA, preA := strip(a.Format.Requires.Entries)
		reqB, preB := strip(b.Format.Requires.Entries)
		a.Format.Requires.Entries, b.Format.Requires.Entries = reqA, reqB
		for k := range preB {
			if !preA[k] {
				t.Errorf("%s: createrepo_c marks require %q pre, Pier does not", id, k)
			}
		}
		if !reflect.DeepEqual(a.Format.Provides, b.Format.Provides) {
			t.Errorf("%s provides:\n pier %+v\n  c_r %+v", id, a.Format.Provides, b.Format.Provides)
		}
		if !reflect.DeepEqual(a.Format.Requires, b.Format.Requires) {
			t.Errorf("%s requires:\n pier %+v\n  c_r %+v", id, a.Format.Requires, b.Format.Requires)
		}
		if !reflect.DeepEqual(a.Format.Files, b.Format.Files) {
			t.Errorf("%s primary files:\n pier %+v\n  c_r %+v", id, a.Format.Files, b.Format.Files)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differs:\n pier %+v\n  c_r %+v", id, a, b)
		}
	}

	var fa, fas, fb filelistsXML
	unmarshal(t, ours["filelists"], &fa)
	unmarshal(t, ourSrc["filelists"], &fas)
	fa.Packages = append(fa.Packages, fas.Packages...)
	unmarshal(t, theirs["filelists"], &fb)
	fbByID := map[string]int{}
	for i, p := range fb.Packages {
		fbByID[p.PkgID] = i
	}
	for _, a := range fa.Packages {
		b := fb.Packages[fbByID[a.PkgID]]
		if !reflect.DeepEqual(a, b) {
			t.Errorf("filelists %s.%s:\n pier %+v\n  c_r %+v", a.Name, a.Arch, a, b)
		}
	}

	var oa, oas, ob otherXML
	unmarshal(t, ours["other"], &oa)
	unmarshal(t, ourSrc["other"], &oas)
	oa.Packages = append(oa.Packages, oas.Packages...)
	unmarshal(t, theirs["other"], &ob)
	obByID := map[string]int{}
	for i, p := range ob.Packages {
		obByID[p.PkgID] = i
	}
	for _, a := range oa.Packages {
		b := ob.Packages[obByID[a.PkgID]]
		if !reflect.DeepEqual(a, b) {
			t.Errorf("other %s.%s:\n pier %+v\n  c_r %+v", a.Name, a.Arch, a, b)
		}
	}
	if t.Failed() {
		t.Logf("createrepo_c primary:\n%s", firstLines(theirs["primary"], 80))
	}
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
