package rpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goreleaser/nfpm/v2/files"
	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/pierhq/pier/repo"
)

func newTestFormat() *Format { return New(Config{}) }

// parse runs the reader on b and returns the extracted package.
func parse(t testing.TB, b []byte) (*pkgInfo, error) {
	t.Helper()
	f := newTestFormat()
	l, err := readLayout(bytes.NewReader(b), int64(len(b)), f.cfg.MaxHeaderSize)
	if err != nil {
		return nil, err
	}
	if err := newIntegrity(l).check(context.Background(), bytes.NewReader(b), int64(len(b)), l); err != nil {
		return nil, err
	}
	return f.extract(l)
}

func mustParse(t testing.TB, b []byte) *pkgInfo {
	t.Helper()
	p, err := parse(t, b)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

func readBytes(t testing.TB, b []byte) (*repo.Parsed, error) {
	t.Helper()
	return newTestFormat().Read(context.Background(), bytes.NewReader(b), int64(len(b)), repo.Sums{repo.SHA256: strings.Repeat("0", 64)})
}

func TestSniff(t *testing.T) {
	f := newTestFormat()
	for _, tc := range []struct {
		head []byte
		want bool
	}{
		{readFixture(t, "hello-1.2.3-1.x86_64.rpm")[:512], true},
		{[]byte{0xed, 0xab, 0xee, 0xdb}, true},
		{[]byte{0xed, 0xab, 0xee}, false},
		{[]byte("!<arch>\ndebian-binary"), false},
		{nil, false},
	} {
		if got := f.Sniff(tc.head); got != tc.want {
			t.Errorf("Sniff(% x…) = %v, want %v", tc.head[:min(len(tc.head), 8)], got, tc.want)
		}
	}
}

func depNames(ds []dep) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}

func TestReadFixtures(t *testing.T) {
	for _, tc := range []struct {
		file                string
		name, version, arch string
		check               func(t *testing.T, p *pkgInfo)
	}{
		{"hello-1.2.3-1.x86_64.rpm", "hello", "1.2.3-1", "x86_64", func(t *testing.T, p *pkgInfo) {
			wantReq := []string{"bash", "/bin/sh", "libfoo.so.1()(64bit)", "/usr/share/hello/data.txt"}
			if got := depNames(p.Deps[depRequires]); !reflect.DeepEqual(got, wantReq) {
				t.Errorf("requires = %q, want %q", got, wantReq)
			}
			if d := p.Deps[depRequires][0]; d != (dep{Name: "bash", Flags: "GE", Epoch: "0", Ver: "4.0"}) {
				t.Errorf("requires[0] = %+v", d)
			}
			if got := depNames(p.Deps[depObsoletes]); !reflect.DeepEqual(got, []string{"hello-legacy"}) {
				t.Errorf("obsoletes = %q", got)
			}
			wantFiles := []fileEntry{
				{"/etc/hello/hello.conf", ""}, {"/usr/bin/hello", ""}, {"/usr/share/hello/data.txt", ""},
				{"/var/lib/hello", "dir"}, {"/var/log/hello.log", "ghost"},
			}
			if !reflect.DeepEqual(p.Files, wantFiles) {
				t.Errorf("files = %+v, want %+v", p.Files, wantFiles)
			}
			wantLog := []changelogEntry{
				{"Pier Tests <tests@example.org> - 1.2.1-1", 1733047200, "- First entry"},
				{"Pier Tests <tests@example.org> - 1.2.2-1", 1733047201, "- Second entry, same time as the first"},
				{"Pier Tests <tests@example.org> - 1.2.3-1", 1735725600, "- Third & newest <entry>"},
			}
			if !reflect.DeepEqual(p.Changelog, wantLog) {
				t.Errorf("changelog = %+v, want %+v", p.Changelog, wantLog)
			}
			if p.Summary != "Says hello" || p.License != "MIT" || p.Vendor != "Pier" || p.Group != "Applications/System" ||
				p.BuildHost != "builder.example.org" || p.URL != "https://example.org/hello" || p.SourceRPM != "hello-1.2.3-1.src.rpm" {
				t.Errorf("fields = %+v", p)
			}
			if p.BuildTime != uint64(fixtureTime.Unix()) || p.InstalledSize == 0 || p.ArchiveSize == 0 {
				t.Errorf("numbers: build %d installed %d archive %d", p.BuildTime, p.InstalledSize, p.ArchiveSize)
			}
		}},
		{"hello-1.2.3-1.aarch64.rpm", "hello", "1.2.3-1", "aarch64", nil},
		{"hello-data-1.0-1.noarch.rpm", "hello-data", "2:1.0-1", "noarch", func(t *testing.T, p *pkgInfo) {
			if p.Epoch != "2" {
				t.Errorf("epoch = %q", p.Epoch)
			}
		}},
		{"greet-1.0-1.noarch.rpm", "greet", "3:1.0-1", "noarch", func(t *testing.T, p *pkgInfo) {
			// rpmlib(), own primary file /usr/bin/greet, "greeting = 1.0" and
			// "config(greet) = 3:1.0-1" (own provides) and the repeated
			// /bin/sh of %post are dropped; the /bin/sh found by the
			// dependency generator (not pre) stays; only the highest
			// libc.so.6 stays, written last.
			want := []dep{
				{Name: "/bin/sh", Pre: true},
				{Name: "/bin/sh"},
				{Name: "/usr/share/greet/words.txt"},
				{Name: "bash", Flags: "GE", Epoch: "0", Ver: "4.0"},
				{Name: "coreutils", Pre: true},
				{Name: "pretrans-helper", Pre: true},
				{Name: "shadow-utils", Pre: true},
				{Name: "with-release", Flags: "GE", Epoch: "2", Ver: "1.5", Rel: "3.el9"},
				{Name: "libc.so.6(GLIBC_2.34)(64bit)"},
			}
			if !reflect.DeepEqual(p.Deps[depRequires], want) {
				t.Errorf("requires =\n%+v\nwant\n%+v", p.Deps[depRequires], want)
			}
			for kind, name := range map[depKind]string{depRecommends: "greet-doc", depSuggests: "greet-extras",
				depSupplements: "greet-integration", depEnhances: "shell-fun", depConflicts: "ungreet", depObsoletes: "oldgreet"} {
				if got := depNames(p.Deps[kind]); !reflect.DeepEqual(got, []string{name}) {
					t.Errorf("%s = %q, want [%s]", depTags[kind].elem, got, name)
				}
			}
			if len(p.Changelog) != 3 || p.Changelog[1].Date != p.Changelog[2].Date-1 {
				t.Errorf("changelog = %+v", p.Changelog)
			}
		}},
		{"greet-1.0-1.src.rpm", "greet", "3:1.0-1", "src", func(t *testing.T, p *pkgInfo) {
			if p.SourceRPM != "" {
				t.Errorf("sourcerpm = %q", p.SourceRPM)
			}
			if got := depNames(p.Deps[depRequires]); !reflect.DeepEqual(got, []string{"coreutils"}) {
				t.Errorf("requires = %q", got)
			}
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b := readFixture(t, tc.file)
			got, err := readBytes(t, b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tc.name || got.Version != tc.version || got.Arch != tc.arch {
				t.Errorf("got %s %s %s, want %s %s %s", got.Name, got.Version, got.Arch, tc.name, tc.version, tc.arch)
			}
			if _, err := decodeMeta(got.Meta); err != nil {
				t.Errorf("meta: %v", err)
			}
			p := mustParse(t, b)
			// header-range must match go-rpmutils' view of the file.
			h, err := rpmutils.ReadHeader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if r := h.GetRange(); int64(r.Start) != p.HeaderStart || int64(r.End) != p.HeaderEnd {
				t.Errorf("header range %d-%d, go-rpmutils says %d-%d", p.HeaderStart, p.HeaderEnd, r.Start, r.End)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

// TestReadNFPM reads packages freshly built by nfpm, including nfpm's
// source rpm flavour (SOURCEPACKAGE set, binary lead).
func TestReadNFPM(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, arch, epoch string
		srpm              bool
		wantArch, wantVer string
	}{
		{"hello", "amd64", "", false, "x86_64", "1.2.3-1"},
		{"hello", "arm64", "7", false, "aarch64", "7:1.2.3-1"},
		{"hello-data", "all", "", false, "noarch", "1.2.3-1"},
		{"hello", "amd64", "", true, "src", "1.2.3-1"},
	} {
		t.Run(tc.name+"-"+tc.arch, func(t *testing.T) {
			b := buildNFPM(t, nfpmInfo(t, filepath.Join(dir, t.Name()), tc.name, tc.arch, tc.epoch, "1.2.3"), tc.srpm)
			got, err := readBytes(t, b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tc.name || got.Arch != tc.wantArch || got.Version != tc.wantVer {
				t.Errorf("got %s %s %s", got.Name, got.Version, got.Arch)
			}
		})
	}
}

func TestReadBad(t *testing.T) {
	good := readFixture(t, "hello-1.2.3-1.x86_64.rpm")
	l, err := readLayout(bytes.NewReader(good), int64(len(good)), DefaultMaxHeaderSize)
	if err != nil {
		t.Fatal(err)
	}
	with := func(off int, patch ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[off:], patch)
		return b
	}
	flip := func(off int) []byte {
		b := bytes.Clone(good)
		b[off] ^= 0x01
		return b
	}
	// A byte inside the main header's data store (the summary, say), and
	// one in the SHA-256 the signature header records.
	summary := bytes.Index(good[l.start:], []byte("Says hello")) + int(l.start)
	sigSHA := bytes.Index(good[:l.start], []byte(hex.EncodeToString(sha256Of(good[l.start:l.end]))))
	// The main header's second index entry (the first is the region's).
	entry := int(l.start) + 16 + 16
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"lead only", good[:96], "too short"},
		{"truncated in signature header", good[:120], "truncated"},
		{"truncated at main header", good[:l.start+8], "truncated"},
		{"truncated in main header", good[:l.start+200], "truncated"},
		{"truncated at payload", good[:l.end], "payload SHA-256 digest (main header tag 5092) does not match the header: the payload is corrupt or truncated"},
		{"truncated in payload", good[:len(good)-10], "payload SHA-256 digest"},
		{"padded", append(bytes.Clone(good), 0, 0, 0), "payload SHA-256 digest"},
		{"one flipped payload byte", flip(int(l.end) + (len(good)-int(l.end))/2), "payload SHA-256 digest"},
		{"one flipped main header byte", flip(summary), "header SHA-256 digest (signature header tag 273) does not match the main header"},
		{"one flipped signature header byte", with(sigSHA, 'x'), "not a hex digest"},
		{"header digest of another header", with(sigSHA, '0', '0'), "header SHA-256 digest"},
		{"not an rpm", []byte(strings.Repeat("not an rpm at all ", 20)), "not an rpm"},
		{"deb", append([]byte("!<arch>\n"), make([]byte, 200)...), "not an rpm"},
		{"lead version 5", with(4, 5), "format version 5"},
		{"lead signature type 0", with(78, 0, 0), "signature type 0"},
		{"bad signature magic", with(96, 0, 0, 0, 0), "signature header: bad magic"},
		{"bad main magic", with(int(l.start), 0, 0, 0, 0), "main header: bad magic"},
		{"main header reserved bytes", with(int(l.start)+5, 1), "main header: bad magic"},
		{"33 signature header entries", with(96+8, 0, 0, 0, 33), "more than the 32 rpm allows"},
		{"huge signature entry count", with(96+8, 0x7f, 0xff, 0xff, 0xff), "entries"},
		{"huge signature data size", with(96+12, 0x7f, 0xff, 0xff, 0xff), "more than the 67108864 rpm allows"},
		{"huge main entry count", with(int(l.start)+8, 0x00, 0x01, 0x00, 0x00), "entries"},
		{"huge main data size", with(int(l.start)+12, 0xff, 0xff, 0xff, 0xff), "more than the 268435455 rpm allows"},
		{"zero entries", with(96+8, 0, 0, 0, 0), "no entries"},
		{"region outside the header", with(int(l.start)+16+8, 0x7f, 0, 0, 0), "region tag 63 points outside the data"},
		{"entry outside header", with(entry+8, 0x7f, 0, 0, 0), "points outside the header data"},
		{"entry with unknown type", with(entry+4, 0, 0, 0, 42), "unknown data type"},
		{"entry with count 0", with(entry+12, 0, 0, 0, 0), "count out of range"},
		{"entry with a tag below 100", with(entry, 0, 0, 0, 99), "tag below 100"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readBytes(t, tc.in)
			if !errors.Is(err, repo.ErrBadPackage) {
				t.Fatalf("err = %v, want a bad package error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

func sha256Of(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func TestReadBadHeaders(t *testing.T) {
	cases := []struct {
		name string
		spec rpmSpec
		want string
	}{
		{"no name", rpmSpec{main: []tv{{rpmutils.VERSION, "1"}, {rpmutils.RELEASE, "1"}, {rpmutils.ARCH, "x86_64"}}}, "no name"},
		{"slash in name", rpmSpec{main: basicMain("../../etc", "1", "1", "x86_64")}, "name"},
		{"dash in version", rpmSpec{main: basicMain("a", "1-2", "1", "x86_64")}, "version"},
		{"space in release", rpmSpec{main: basicMain("a", "1", "1 2", "x86_64")}, "release"},
		{"dot-dot arch", rpmSpec{main: basicMain("a", "1", "1", "..")}, "architecture"},
		{"name type", rpmSpec{main: append(basicMain("a", "1", "1", "x86_64")[1:], tv{rpmutils.NAME, []uint32{1}})}, "tag 1000"},
		{"dirindex out of range", rpmSpec{main: basicMain("a", "1", "1", "x86_64",
			tv{rpmutils.BASENAMES, []string{"x"}}, tv{rpmutils.DIRNAMES, []string{"/"}}, tv{rpmutils.DIRINDEXES, []uint32{5}},
			tv{rpmutils.FILEMODES, []uint16{0o100644}}, tv{rpmutils.FILEFLAGS, []uint32{0}})}, "out of range"},
		{"no file owners", rpmSpec{noOwners: true, main: basicMain("a", "1", "1", "x86_64",
			tv{rpmutils.BASENAMES, []string{"x"}}, tv{rpmutils.DIRNAMES, []string{"/"}}, tv{rpmutils.DIRINDEXES, []uint32{0}},
			tv{rpmutils.FILEMODES, []uint16{0o100644}}, tv{rpmutils.FILEFLAGS, []uint32{0}})}, "no FILEUSERNAME table (tag 1039)"},
		{"short mtime table", rpmSpec{main: basicMain("a", "1", "1", "x86_64",
			tv{rpmutils.BASENAMES, []string{"x", "y"}}, tv{rpmutils.DIRNAMES, []string{"/"}}, tv{rpmutils.DIRINDEXES, []uint32{0, 0}},
			tv{rpmutils.FILEMODES, []uint16{0o100644, 0o100644}}, tv{rpmutils.FILEFLAGS, []uint32{0, 0}},
			tv{rpmutils.FILEMTIMES, []uint32{0}})}, "FILEMTIMES (tag 1034) has 1 entries for 2 files"},
		{"short mode table", rpmSpec{main: basicMain("a", "1", "1", "x86_64",
			tv{rpmutils.BASENAMES, []string{"x", "y"}}, tv{rpmutils.DIRNAMES, []string{"/"}}, tv{rpmutils.DIRINDEXES, []uint32{0, 0}},
			tv{rpmutils.FILEMODES, []uint16{0o100644}}, tv{rpmutils.FILEFLAGS, []uint32{0, 0}})}, "do not match"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readBytes(t, tc.spec.build())
			if !errors.Is(err, repo.ErrBadPackage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a bad package error mentioning %q", err, tc.want)
			}
		})
	}
}

// TestReadMutations flips every byte of a fixture's headers in turn: the
// reader must never panic and must either succeed or report a bad package.
func TestReadMutations(t *testing.T) {
	good := readFixture(t, "greet-1.0-1.noarch.rpm")
	l, err := readLayout(bytes.NewReader(good), int64(len(good)), DefaultMaxHeaderSize)
	if err != nil {
		t.Fatal(err)
	}
	f := newTestFormat()
	for i := 0; i < int(l.end); i++ {
		for _, x := range []byte{0xff, 0x80, 0x01} {
			b := bytes.Clone(good)
			b[i] ^= x
			_, err := f.Read(context.Background(), bytes.NewReader(b), int64(len(b)), nil)
			if err != nil && !errors.Is(err, repo.ErrBadPackage) {
				t.Fatalf("byte %d ^ %#x: err = %v, want nil or a bad package", i, x, err)
			}
		}
	}
}

func TestReadCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := readFixture(t, "hello-1.2.3-1.x86_64.rpm")
	if _, err := newTestFormat().Read(ctx, bytes.NewReader(b), int64(len(b)), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestDependencyRules(t *testing.T) {
	const (
		lt, gt, eq  = 2, 4, 8
		prereq      = 1 << 6
		scriptPre   = 1 << 9
		interpOnly  = 1 << 8
		legacyLibc  = "libc.so.6"
		libcNoDigit = "libc.so.6(GLIBC_PRIVATE)(64bit)"
	)
	b := rpmSpec{main: basicMain("pkg", "1.0", "1", "x86_64",
		tv{rpmutils.BASENAMES, []string{"tool", "data", "sendmail", "x"}},
		tv{rpmutils.DIRNAMES, []string{"/opt/pkg/bin/", "/usr/share/pkg/", "/usr/lib/", "/etc/"}},
		tv{rpmutils.DIRINDEXES, []uint32{0, 1, 2, 3}},
		tv{rpmutils.FILEMODES, []uint16{0o100755, 0o100644, 0o100755, 0o040755}},
		tv{rpmutils.FILEFLAGS, []uint32{0, 0, 0, 0}},
		tv{rpmutils.PROVIDENAME, []string{"pkg", "cap", "cap2"}},
		tv{rpmutils.PROVIDEFLAGS, []uint32{eq, eq, 0}},
		tv{rpmutils.PROVIDEVERSION, []string{"1.0-1", "2", ""}},
		tv{rpmutils.REQUIRENAME, []string{
			"rpmlib(PayloadIsZstd)", // dropped: rpmlib
			"/opt/pkg/bin/tool",     // dropped: own file containing bin/
			"/usr/share/pkg/data",   // kept: own file, not primary
			"/usr/lib/sendmail",     // dropped: own primary file
			"/etc/x",                // dropped: own primary dir
			"/usr/bin/other",        // kept: not own
			"cap",                   // kept: flags differ from the provide
			"cap",                   // dropped: same as the provide "cap = 2"
			"cap2",                  // dropped: same as the provide "cap2"
			"dup", "dup",            // second dropped
			"dup",        // kept: pre differs
			"epochless",  // kept, epoch 0 added
			"badepoch",   // dropped: non-numeric epoch
			"emptyepoch", // kept, epoch defaults to 0
			legacyLibc, "libc.so.6(GLIBC_2.4)", "libc.so.6(GLIBC_2.28)(64bit)", libcNoDigit, "libc.so.6(GLIBC_2.3.4)",
			"interp", // flags with no sense bits: no flags attribute
		}},
		tv{rpmutils.REQUIREFLAGS, []uint32{lt | eq | 1<<24, 0, 0, 0, 0, 0, gt | eq, eq, 0, 0, 0, prereq, gt | eq, eq, lt, 0, 0, 0, 0, 0, interpOnly | scriptPre}},
		tv{rpmutils.REQUIREVERSION, []string{"5.4.18-1", "", "", "", "", "", "2", "2", "", "", "", "", "1.0-2", "x1:1", ":3", "", "", "", "", "", ""}},
		tv{5046, []string{"rec"}}, tv{5048, []uint32{gt}}, tv{5047, []string{"7:1"}},
	)}.build()
	p := mustParse(t, b)
	want := []dep{
		{Name: "/usr/share/pkg/data"},
		{Name: "/usr/bin/other"},
		{Name: "cap", Flags: "GE", Epoch: "0", Ver: "2"},
		{Name: "dup"},
		{Name: "dup", Pre: true},
		{Name: "epochless", Flags: "GE", Epoch: "0", Ver: "1.0", Rel: "2"},
		{Name: "emptyepoch", Flags: "LT", Epoch: "0", Ver: "3"},
		{Name: "interp", Pre: true},
		{Name: "libc.so.6(GLIBC_2.28)(64bit)"},
	}
	if !reflect.DeepEqual(p.Deps[depRequires], want) {
		t.Errorf("requires =\n%+v\nwant\n%+v", p.Deps[depRequires], want)
	}
	if want := []dep{{Name: "rec", Flags: "GT", Epoch: "7", Ver: "1"}}; !reflect.DeepEqual(p.Deps[depRecommends], want) {
		t.Errorf("recommends = %+v, want %+v", p.Deps[depRecommends], want)
	}
	wantFiles := []fileEntry{{"/opt/pkg/bin/tool", ""}, {"/usr/share/pkg/data", ""}, {"/usr/lib/sendmail", ""}, {"/etc/x", "dir"}}
	if !reflect.DeepEqual(p.Files, wantFiles) {
		t.Errorf("files = %+v", p.Files)
	}
	fr := render(p)
	for _, s := range []string{`<file>/opt/pkg/bin/tool</file>`, `<file>/usr/lib/sendmail</file>`, `<file type="dir">/etc/x</file>`,
		`<rpm:entry name="interp" pre="1"/>`, `<rpm:entry name="cap" flags="GE" epoch="0" ver="2"/>`} {
		if !strings.Contains(fr.PrimaryTail, s) {
			t.Errorf("primary lacks %s:\n%s", s, fr.PrimaryTail)
		}
	}
	if strings.Contains(fr.PrimaryTail, "/usr/share/pkg/data</file>") {
		t.Error("primary lists a non-primary file")
	}
}

// TestDependencyTables follows createrepo_c on malformed dependency
// tables (rpm installs such packages): a kind missing its FLAGS or
// VERSION tag has no entries, tables of different lengths are read up to
// the shortest. TestCompareCreaterepo runs the same packages through
// createrepo_c.
func TestDependencyTables(t *testing.T) {
	for _, tc := range []struct {
		name string
		tags []tv
		want []string
	}{
		{"flags shorter", []tv{{rpmutils.REQUIRENAME, []string{"x", "y"}}, {rpmutils.REQUIREFLAGS, []uint32{0}}, {rpmutils.REQUIREVERSION, []string{"", ""}}}, []string{"x"}},
		{"versions shorter", []tv{{rpmutils.REQUIRENAME, []string{"x", "y"}}, {rpmutils.REQUIREFLAGS, []uint32{0, 0}}, {rpmutils.REQUIREVERSION, []string{""}}}, []string{"x"}},
		{"names shorter", []tv{{rpmutils.REQUIRENAME, []string{"x"}}, {rpmutils.REQUIREFLAGS, []uint32{0, 0}}, {rpmutils.REQUIREVERSION, []string{"", ""}}}, []string{"x"}},
		{"no flags", []tv{{rpmutils.REQUIRENAME, []string{"x", "y"}}, {rpmutils.REQUIREVERSION, []string{"", ""}}}, nil},
		{"no versions", []tv{{rpmutils.REQUIRENAME, []string{"x", "y"}}, {rpmutils.REQUIREFLAGS, []uint32{0, 0}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, rpmSpec{main: basicMain("a", "1", "1", "x86_64", tc.tags...)}.build())
			if got := depNames(p.Deps[depRequires]); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("requires = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLibcNewer(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"libc.so.6(GLIBC_2.3)", "libc.so.6(GLIBC_2.34)", true},
		{"libc.so.6(GLIBC_2.34)", "libc.so.6(GLIBC_2.3)", false},
		{"libc.so.6(GLIBC_2.3.4)(64bit)", "libc.so.6(GLIBC_2.4)(64bit)", true},
		{"libc.so.6", "libc.so.6()(64bit)", true},
		{"libc.so.6()(64bit)", "libc.so.6(GLIBC_2.2.5)(64bit)", true},
		{"libc.so.6(GLIBC_PRIVATE)", "libc.so.6(GLIBC_2.2.5)", true},
		{"libc.so.6(GLIBC_2.2.5)", "libc.so.6(GLIBC_PRIVATE)", false},
		{"libc.so.6", "libc.so.6", false},
		{"libc.so.6(broken", "libc.so.6()", true},
		{"libc.so.6", "libc.so.6(broken", true},
	} {
		if got := libcNewer(tc.a, tc.b); got != tc.want {
			t.Errorf("libcNewer(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestChangelogLimitAndBump(t *testing.T) {
	// Header order is newest first. Twelve entries; the newest ten stay.
	times := []uint32{500, 400, 400, 400, 300, 300, 200, 150, 140, 130, 120, 110}
	var names, texts []string
	for i := range times {
		names = append(names, "Author "+string(rune('A'+i))+"   ")
		texts = append(texts, "- change "+string(rune('A'+i)))
	}
	p := mustParse(t, rpmSpec{main: basicMain("a", "1", "1", "noarch",
		tv{rpmutils.CHANGELOGTIME, times}, tv{rpmutils.CHANGELOGNAME, names}, tv{rpmutils.CHANGELOGTEXT, texts})}.build())
	var got []uint64
	for _, c := range p.Changelog {
		got = append(got, c.Date)
	}
	// Oldest first: J(130) I(140) H(150) G(200) F(300) E(301) D(400) C(401) B(402) A(500).
	want := []uint64{130, 140, 150, 200, 300, 301, 400, 401, 402, 500}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dates = %v, want %v", got, want)
	}
	if p.Changelog[0].Author != "Author J" || p.Changelog[9].Text != "- change A" {
		t.Errorf("first = %+v, last = %+v", p.Changelog[0], p.Changelog[9])
	}
}

func TestStringsSanitized(t *testing.T) {
	p := mustParse(t, rpmSpec{main: basicMain("a", "1", "1", "noarch",
		tv{rpmutils.SUMMARY, i18n("caf\xe9 \x01bell\x07 & <b>")},         // Latin-1 and control characters
		tv{rpmutils.DESCRIPTION, i18n("line1\r\nline2\ttab \"q\" \x0b")}, // CR, tab, quotes, vertical tab
		tv{rpmutils.URL, "https://x/?a=1&b=\"2\""},
	)}.build())
	fr := render(p)
	for _, s := range []string{
		"<summary>café bell &amp; &lt;b&gt;</summary>",
		"<description>line1&#13;\nline2\ttab \"q\" </description>",
		"<url>https://x/?a=1&amp;b=\"2\"</url>",
	} {
		if !strings.Contains(fr.PrimaryMid, s) {
			t.Errorf("primary lacks %q:\n%s", s, fr.PrimaryMid)
		}
	}
	if got := string(appendEscaped(nil, "a\"b\n\tc\uFFFEd\U0001F600", true)); got != "a&quot;b&#10;&#9;cd\U0001F600" {
		t.Errorf("attribute escape = %q", got)
	}
}

func TestOldFilenames(t *testing.T) {
	p := mustParse(t, rpmSpec{main: basicMain("old", "1", "1", "i386",
		tv{rpmutils.OLDFILENAMES, []string{"/usr/bin/old", "/usr/share/old"}},
		tv{rpmutils.FILEMODES, []uint16{0o100755, 0o040755}}, tv{rpmutils.FILEFLAGS, []uint32{0, 0}})}.build())
	want := []fileEntry{{"/usr/bin/old", ""}, {"/usr/share/old", "dir"}}
	if !reflect.DeepEqual(p.Files, want) {
		t.Errorf("files = %+v", p.Files)
	}
}

// TestSourceDetection follows rpm's applyRetrofits, as createrepo_c sees
// it: SOURCEPACKAGE decides; without it and without SOURCERPM, a package
// whose files all sit in one directory with an empty name is a source
// package and any other gets SOURCERPM "(none)"; the lead's package type
// counts for nothing.
func TestSourceDetection(t *testing.T) {
	files := func(dir string) []tv {
		return []tv{{rpmutils.BASENAMES, []string{"a.spec", "a.tar.gz"}}, {rpmutils.DIRNAMES, []string{dir}},
			{rpmutils.DIRINDEXES, []uint32{0, 0}}, {rpmutils.FILEMODES, []uint16{0o100644, 0o100644}},
			{rpmutils.FILEFLAGS, []uint32{0, 0}}}
	}
	for _, tc := range []struct {
		name     string
		spec     rpmSpec
		arch     string
		rpmField string
	}{
		{"lead says source, header does not", rpmSpec{source: true, main: basicMain("s", "1", "1", "x86_64",
			tv{rpmutils.SOURCERPM, "s-1-1.src.rpm"})}, "x86_64", "s-1-1.src.rpm"},
		{"SOURCEPACKAGE", rpmSpec{main: basicMain("s", "1", "1", "x86_64", tv{tagSourcePackage, []uint32{1}})}, "src", ""},
		{"neither tag, files in the empty directory", rpmSpec{main: basicMain("s", "1", "1", "x86_64", files("")...)}, "src", ""},
		{"neither tag, files elsewhere", rpmSpec{main: basicMain("s", "1", "1", "x86_64", files("/usr/")...)}, "x86_64", "(none)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.spec.build()
			got, err := readBytes(t, b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Arch != tc.arch {
				t.Errorf("arch = %q, want %q", got.Arch, tc.arch)
			}
			if p := mustParse(t, b); p.SourceRPM != tc.rpmField {
				t.Errorf("sourcerpm = %q, want %q", p.SourceRPM, tc.rpmField)
			}
		})
	}
}

func TestMaxFiles(t *testing.T) {
	f := New(Config{MaxFiles: 1})
	b := rpmSpec{main: basicMain("a", "1", "1", "noarch",
		tv{rpmutils.BASENAMES, []string{"x", "y"}}, tv{rpmutils.DIRNAMES, []string{"/"}}, tv{rpmutils.DIRINDEXES, []uint32{0, 0}},
		tv{rpmutils.FILEMODES, []uint16{0, 0}}, tv{rpmutils.FILEFLAGS, []uint32{0, 0}})}.build()
	_, err := f.Read(context.Background(), bytes.NewReader(b), int64(len(b)), nil)
	if !errors.Is(err, repo.ErrBadPackage) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("err = %v", err)
	}
}

func TestMetaRoundTrip(t *testing.T) {
	p := mustParse(t, readFixture(t, "greet-1.0-1.noarch.rpm"))
	b := encodeMeta(p)
	m, err := decodeMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "greet" || m.Epoch != "3" || m.Version != "1.0" || m.Release != "1" || m.Arch != "noarch" ||
		m.BuildTime != p.BuildTime {
		t.Errorf("round trip lost data: %+v", m)
	}
	fr := render(p)
	for i, want := range fr.list() {
		if string(m.Frag[i]) != want {
			t.Errorf("fragment %d = %q, want %q", i, m.Frag[i], want)
		}
	}
	for i := 0; i < len(b); i++ {
		if _, err := decodeMeta(b[:i]); err == nil {
			t.Fatalf("decodeMeta accepted a meta cut at %d", i)
		}
	}
	if _, err := decodeMeta(append(bytes.Clone(b), 0)); err == nil {
		t.Error("decodeMeta accepted trailing bytes")
	}
	if _, err := decodeMeta([]byte{9}); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("unknown version: err = %v", err)
	}
}

// bigPackage builds a realistic multi-MB rpm with nfpm: 24 MiB of files,
// half of them incompressible, zstd-compressed as current distributions
// ship them. With md5 it also carries the SHA-1 header digest and the MD5
// of header and payload that rpmbuild writes, so that Read hashes the
// payload twice over (SHA-256 and MD5) in its one pass.
func bigPackage(b testing.TB, md5 bool) []byte {
	b.Helper()
	dir := b.TempDir()
	info := nfpmInfo(b, dir, "hello-data", "amd64", "", "1.0")
	info.RPM.Compression = "zstd"
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 12 {
		data := make([]byte, 2<<20)
		if i%2 == 0 {
			for k := range data {
				data[k] = byte(r.Uint32())
			}
		} else {
			for k := range data {
				data[k] = "the quick brown fox "[k%20]
			}
		}
		src := filepath.Join(dir, fmt.Sprintf("blob%d", i))
		if err := os.WriteFile(src, data, 0o644); err != nil {
			b.Fatal(err)
		}
		info.Contents = append(info.Contents, &files.Content{Source: src, Destination: fmt.Sprintf("/usr/share/big/blob%d", i)})
	}
	pkg := buildNFPM(b, info, false)
	if !md5 {
		return pkg
	}
	p := splitRPM(b, pkg)
	set(&p.sig, sigTagSHA1, typeString, 1, str(strings.Repeat("0", 40)))
	set(&p.sig, sigTagMD5, typeBin, 16, make([]byte, 16))
	return p.bytes()
}

// BenchmarkRead reads (and so verifies) a multi-MB rpm, as every upload
// and every package of pier import is read: one pass over the payload.
func BenchmarkRead(b *testing.B) {
	for _, tc := range []struct {
		name string
		md5  bool
	}{{"sha256", false}, {"sha256+md5", true}} {
		b.Run(tc.name, func(b *testing.B) {
			pkg := bigPackage(b, tc.md5)
			f := newTestFormat()
			b.SetBytes(int64(len(pkg)))
			defer reportCPU(b)()
			for b.Loop() {
				if _, err := f.Read(context.Background(), bytes.NewReader(pkg), int64(len(pkg)), nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(pkg))/1e6, "MB-package")
		})
	}
}
