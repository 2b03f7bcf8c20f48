package rpm

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"
	nfpmrpm "github.com/goreleaser/nfpm/v2/rpm"
)

var (
	update   = flag.Bool("update", false, "rewrite the golden files in testdata/golden")
	fixtures = flag.Bool("fixtures", false, "rebuild the fixture rpms in testdata (needs rpmbuild)")
)

// fixtureFiles are the committed rpms, in testdata, that the golden files
// are made from. See testdata/README.md.
var fixtureFiles = []string{
	"hello-1.2.3-1.x86_64.rpm",
	"hello-1.2.3-1.aarch64.rpm",
	"hello-data-1.0-1.noarch.rpm",
	"greet-1.0-1.noarch.rpm",
	"greet-1.0-1.src.rpm",
}

// legacyFixture is an rpm shaped like rpm's own old-style signed test
// package hlinktest: a payload digest without PAYLOADDIGESTALGO (rpm then
// assumes SHA-256), no PAYLOADDIGESTALT, a SHA-256 header digest and
// neither SHA-1 nor MD5, and both a header and a header+payload signature.
// See buildLegacy and testdata/README.md.
const legacyFixture = "legacy-1.0-1.noarch.rpm"

// fixtureTime is the fixed clock of the fixtures and golden files.
var fixtureTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// realTool returns the path of a real packaging tool, or skips the test
// when it is missing, unless CI=true, where a missing tool fails.
func realTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func writeFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// nfpmInfo describes one nfpm-built test package; dir receives its sources.
func nfpmInfo(t testing.TB, dir, name, arch, epoch, version string) *nfpm.Info {
	t.Helper()
	src := filepath.Join(dir, name+"-"+arch)
	changelog := writeFile(t, filepath.Join(src, "changelog.yaml"), `
- semver: "1.2.3-1"
  date: "2025-01-01T10:00:00Z"
  packager: "Pier Tests <tests@example.org>"
  changes:
    - note: "Third & newest <entry>"
- semver: "1.2.2-1"
  date: "2024-12-01T10:00:00Z"
  packager: "Pier Tests <tests@example.org>"
  changes:
    - note: "Second entry, same time as the first"
- semver: "1.2.1-1"
  date: "2024-12-01T10:00:00Z"
  packager: "Pier Tests <tests@example.org>"
  changes:
    - note: "First entry"
`)
	info := &nfpm.Info{
		Name:          name,
		Arch:          arch,
		Platform:      "linux",
		Epoch:         epoch,
		Version:       version,
		VersionSchema: "none",
		Release:       "1",
		Maintainer:    "Pier Tests <tests@example.org>",
		Description:   "A test package for Pier.\nIt checks escaping: <tags> & \"quotes\".",
		Vendor:        "Pier",
		Homepage:      "https://example.org/" + name,
		License:       "MIT",
		Changelog:     changelog,
		MTime:         fixtureTime,
		Overridables: nfpm.Overridables{
			RPM: nfpm.RPM{
				Group:     "Applications/System",
				BuildHost: "builder.example.org",
				Summary:   "Says hello",
			},
		},
	}
	switch name {
	case "hello":
		info.Depends = []string{
			"bash >= 4.0", "/bin/sh", "libfoo.so.1()(64bit)",
			"/usr/bin/hello",            // own primary file: dropped
			"/usr/share/hello/data.txt", // own non-primary file: kept
			"hello-bin = 1.2.3",         // same as an own provide: dropped
			"rpmlib(CompressedFileNames) <= 3.0.4-1",
		}
		info.Provides = []string{"hello-bin = 1.2.3"}
		info.Conflicts = []string{"oldhello < 0.5"}
		info.Replaces = []string{"hello-legacy <= 0.9"}
		info.Recommends = []string{"hello-doc"}
		info.Suggests = []string{"hello-extras > 1"}
		info.Contents = files.Contents{
			{Source: writeFile(t, filepath.Join(src, "hello.sh"), "#!/bin/sh\necho hello\n"), Destination: "/usr/bin/hello",
				FileInfo: &files.ContentFileInfo{Mode: 0o755}},
			{Source: writeFile(t, filepath.Join(src, "hello.conf"), "greeting=hello\n"), Destination: "/etc/hello/hello.conf",
				Type: files.TypeConfigNoReplace},
			{Source: writeFile(t, filepath.Join(src, "data.txt"), "data\n"), Destination: "/usr/share/hello/data.txt"},
			{Destination: "/var/lib/hello", Type: files.TypeDir},
			{Destination: "/var/log/hello.log", Type: files.TypeRPMGhost},
		}
		info.Scripts.PreInstall = writeFile(t, filepath.Join(src, "pre.sh"), "#!/bin/sh\ntrue\n")
	default:
		info.RPM.Summary = "Data for hello"
		info.Depends = []string{"hello"}
		info.Contents = files.Contents{
			{Source: writeFile(t, filepath.Join(src, "words.txt"), "hello\nworld\n"), Destination: "/usr/share/hello-data/words.txt"},
			{Destination: "/usr/share/hello-data/empty", Type: files.TypeDir},
		}
	}
	return info
}

// buildNFPM packages info as an rpm (or, with srpm, a source rpm).
func buildNFPM(t testing.TB, info *nfpm.Info, srpm bool) []byte {
	t.Helper()
	p := nfpmrpm.DefaultRPM
	if srpm {
		p = nfpmrpm.DefaultSRPM
	}
	var buf bytes.Buffer
	if err := p.Package(nfpm.WithDefaults(info), &buf); err != nil {
		t.Fatalf("nfpm: %v", err)
	}
	return buf.Bytes()
}

// greetSpec is the spec file of the rpmbuild-made fixtures.
const greetSpec = `Name: greet
Epoch: 3
Version: 1.0
Release: 1
Summary: Greets the world
License: Apache-2.0
URL: https://example.org/greet
Group: Applications/Text
Vendor: Pier Tests
Packager: Pier Tests <tests@example.org>
BuildArch: noarch
Source0: greet.sh
BuildRequires: coreutils >= 8
Requires: bash >= 4.0
Requires: /usr/bin/greet
Requires: /usr/share/greet/words.txt
Requires: greeting = 1.0
Requires: libc.so.6()(64bit)
Requires: libc.so.6(GLIBC_2.3)(64bit)
Requires: libc.so.6(GLIBC_2.34)(64bit)
Requires: libc.so.6(GLIBC_2.17)(64bit)
Requires(pre): shadow-utils
Requires(post): coreutils
Requires(pretrans): pretrans-helper
Requires: with-release >= 2:1.5-3.el9
Provides: greeting = 1.0
Conflicts: ungreet < 2
Obsoletes: oldgreet <= 0.9
Recommends: greet-doc
Suggests: greet-extras
Supplements: greet-integration
Enhances: shell-fun

%description
Greet prints greetings. It checks escaping: <tags> & "quotes".

%prep
%build
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/greet %{buildroot}/etc/greet %{buildroot}/var/log %{buildroot}/opt/greet/sbin
install -m 755 %{SOURCE0} %{buildroot}/usr/bin/greet
install -m 755 %{SOURCE0} %{buildroot}/opt/greet/sbin/greetd
echo hello > %{buildroot}/usr/share/greet/words.txt
echo x=1 > %{buildroot}/etc/greet/greet.conf
touch %{buildroot}/var/log/greet.log

%pre
true
%post
true

%files
/usr/bin/greet
/opt/greet
%dir /usr/share/greet
/usr/share/greet/words.txt
%dir /etc/greet
%config(noreplace) /etc/greet/greet.conf
%ghost /var/log/greet.log

%changelog
* Tue Jan 07 2025 Pier Tests <tests@example.org> - 3:1.0-1
- Newest entry, same day as the next
* Tue Jan 07 2025 Pier Tests <tests@example.org> - 3:1.0-0
- Same day as the newest
* Mon Jan 06 2025 Pier Tests <tests@example.org> - 0.9-1
- Oldest entry
`

// buildRPMBuild builds greet's binary and source rpms with the real
// rpmbuild and returns them.
func buildRPMBuild(t testing.TB) (bin, src []byte) {
	t.Helper()
	tool := realTool(t, "rpmbuild")
	top := t.TempDir()
	writeFile(t, filepath.Join(top, "SOURCES", "greet.sh"), "#!/bin/sh\necho \"greetings, $1\"\n")
	spec := writeFile(t, filepath.Join(top, "SPECS", "greet.spec"), greetSpec)
	cmd := exec.Command(tool, "-ba", "--nodeps",
		"--define", "_topdir "+top,
		"--define", "_buildhost builder.example.org",
		"--define", "use_source_date_epoch_as_buildtime 1",
		"--define", "clamp_mtime_to_source_date_epoch 1",
		"--define", "_binary_payloadio w9.gzdio",
		"--define", "_source_payloadio w9.gzdio",
		spec)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1735790645", "HOME="+top)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	read := func(pattern string) []byte {
		m, _ := filepath.Glob(filepath.Join(top, pattern))
		if len(m) != 1 {
			t.Fatalf("rpmbuild: want one %s, got %v", pattern, m)
		}
		b, err := os.ReadFile(m[0])
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return read("RPMS/noarch/greet-1.0-1.noarch.rpm"), read("SRPMS/greet-1.0-1.src.rpm")
}

// legacySpec is the spec file of legacyFixture.
const legacySpec = `Name: legacy
Version: 1.0
Release: 1
Summary: Shaped like an rpm 4.14 package
License: MIT
BuildArch: noarch

%description
A package whose header names a payload digest but not its algorithm.

%install
mkdir -p %{buildroot}/usr/share/legacy
echo hello > %{buildroot}/usr/share/legacy/hello.txt

%files
/usr/share/legacy/hello.txt

%changelog
* Mon Jan 06 2025 Pier Tests <tests@example.org> - 1.0-1
- First build
`

// buildLegacy builds legacyFixture: rpmbuild makes the package, then the
// main header loses PAYLOADDIGESTALGO and PAYLOADDIGESTALT, the signature
// header loses its SHA-1 and MD5 digests, its SHA-256 digest and size are
// recomputed for the new main header, and a throwaway RSA key adds a
// header signature (tag 268) and a header+payload signature (tag 1002),
// taking their room from RESERVEDSPACE as rpmsign --addsign --rpmv3 does.
func buildLegacy(t testing.TB) []byte {
	t.Helper()
	tool := realTool(t, "rpmbuild")
	top := t.TempDir()
	spec := writeFile(t, filepath.Join(top, "SPECS", "legacy.spec"), legacySpec)
	cmd := exec.Command(tool, "-bb", "--nodeps",
		"--define", "_topdir "+top,
		"--define", "_buildhost builder.example.org",
		"--define", "use_source_date_epoch_as_buildtime 1",
		"--define", "clamp_mtime_to_source_date_epoch 1",
		"--define", "_binary_payloadio w9.gzdio",
		spec)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1735790645", "HOME="+top)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	built, err := os.ReadFile(filepath.Join(top, "RPMS", "noarch", "legacy-1.0-1.noarch.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	p := splitRPM(t, built)
	del(&p.main, tagPayloadDigestAlgo)
	del(&p.main, tagPayloadDigestAlt)
	del(&p.sig, sigTagSHA1)
	del(&p.sig, sigTagMD5)
	unsigned := p.bytes()
	key := newTestKeys(t).rsa
	mainHdr := p.mainHeaderBytes()
	headerSig := sigOver(t, key, mainHdr, nil)
	wholeSig := sigOver(t, key, append(bytes.Clone(mainHdr), p.payload...), nil)
	set(&p.sig, sigTagRSA, typeBin, uint32(len(headerSig)), headerSig)
	set(&p.sig, sigTagPGP, typeBin, uint32(len(wholeSig)), wholeSig)
	grow := len(p.bytes()) - len(unsigned)
	r := find(p.sig, sigTagReserved)
	if r == nil || int(r.count) <= grow {
		t.Fatalf("rpmbuild left no reserved space for the signatures")
	}
	r.count -= uint32(grow)
	r.data = r.data[:r.count]
	out := p.bytes()
	if len(out) != len(unsigned) {
		t.Fatalf("signing moved the main header: %d bytes, unsigned %d", len(out), len(unsigned))
	}
	return out
}

// readFixture returns a committed fixture rpm.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("fixture %s: %v (rebuild with go test -run TestGenerateFixtures -fixtures)", name, err)
	}
	return b
}

// TestGenerateFixtures rebuilds the committed fixture rpms; it only runs
// with -fixtures.
func TestGenerateFixtures(t *testing.T) {
	if !*fixtures {
		t.Skip("run with -fixtures to rebuild testdata/*.rpm")
	}
	dir := t.TempDir()
	out := map[string][]byte{
		"hello-1.2.3-1.x86_64.rpm":    buildNFPM(t, nfpmInfo(t, dir, "hello", "amd64", "", "1.2.3"), false),
		"hello-1.2.3-1.aarch64.rpm":   buildNFPM(t, nfpmInfo(t, dir, "hello", "arm64", "", "1.2.3"), false),
		"hello-data-1.0-1.noarch.rpm": buildNFPM(t, nfpmInfo(t, dir, "hello-data", "all", "2", "1.0"), false),
	}
	out["greet-1.0-1.noarch.rpm"], out["greet-1.0-1.src.rpm"] = buildRPMBuild(t)
	out[legacyFixture] = buildLegacy(t)
	for name, b := range out {
		if !strings.HasSuffix(name, ".rpm") {
			t.Fatalf("bad fixture name %s", name)
		}
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
