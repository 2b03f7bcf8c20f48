package rpm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

// writeRepo writes an Index result under dir, taking package bytes from
// blobs (sha256 → bytes).
func writeRepo(t *testing.T, dir string, files []repo.File, blobs map[string][]byte) {
	t.Helper()
	for _, f := range files {
		data := f.Data
		if f.Kind == repo.KindPackage {
			data = blobs[f.SHA256]
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDNFReadsRepo points a real, isolated dnf at a published repository
// and checks what libsolv makes of it: every package with its epoch, a
// file provide that only primary.xml carries, and a versioned require.
func TestDNFReadsRepo(t *testing.T) {
	dnf := realTool(t, "dnf")
	f := newTestFormat()
	blobs := map[string][]byte{}
	var pkgs []repo.Package
	for _, name := range fixtureFiles {
		b := readFixture(t, name)
		p := catalogPackage(t, f, b, fixtureTime)
		blobs[p.SHA256] = b
		pkgs = append(pkgs, p)
	}
	dir := t.TempDir()
	writeRepo(t, filepath.Join(dir, "www"), index(t, f, pkgs), blobs)
	root := filepath.Join(dir, "root")
	conf := writeFile(t, filepath.Join(dir, "dnf.conf"), "[main]\ngpgcheck=0\ninstallonly_limit=3\n")
	writeFile(t, filepath.Join(dir, "repos", "pier.repo"), "[pier]\nname=pier\nbaseurl=file://"+
		filepath.Join(dir, "www", testBase)+"\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=0\nmetadata_expire=0\nskip_if_unavailable=False\n"+
		"[pier-source]\nname=pier source\nbaseurl=file://"+filepath.Join(dir, "www", testBase, SourceDir)+
		"\nenabled=0\ngpgcheck=0\nrepo_gpgcheck=0\nmetadata_expire=0\nskip_if_unavailable=False\n")
	query := func(args ...string) []string {
		t.Helper()
		cmd := exec.Command(dnf, append([]string{"--installroot=" + root, "--config=" + conf,
			"--setopt=reposdir=" + filepath.Join(dir, "repos"), "--disablerepo=*", "--enablerepo=pier", "--enablerepo=pier-source",
			"--releasever=9", "-q", "repoquery"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("dnf repoquery %v: %v\n%s", args, err, out)
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
		sort.Strings(lines)
		return lines
	}
	got := query("--arch=x86_64,aarch64,noarch,src", "--qf", "%{name}|%{epoch}|%{version}|%{release}|%{arch}")
	want := []string{"greet|3|1.0|1|noarch", "greet|3|1.0|1|src", "hello-data|2|1.0|1|noarch", "hello|0|1.2.3|1|aarch64", "hello|0|1.2.3|1|x86_64"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dnf sees %q, want %q", got, want)
	}
	if got := query("--whatprovides", "/opt/greet/sbin/greetd", "--qf", "%{name}.%{arch}"); !reflect.DeepEqual(got, []string{"greet.noarch"}) {
		t.Errorf("whatprovides /opt/greet/sbin/greetd = %q", got)
	}
	if got := query("--requires", "hello.x86_64"); !contains(got, "bash >= 4.0") || contains(got, "/usr/bin/hello") {
		t.Errorf("requires of hello = %q", got)
	}
	if got := query("--location", "hello.x86_64"); len(got) != 1 || !strings.HasSuffix(got[0], "/"+testBase+"x86_64/hello-1.2.3-1.x86_64.rpm") {
		t.Errorf("location = %q", got)
	}
	// The source package comes from the source repository, the binary one
	// from the binary repository.
	if got := query("--qf", "%{name}.%{arch} %{repoid}", "greet"); !reflect.DeepEqual(got, []string{"greet.noarch pier", "greet.src pier-source"}) {
		t.Errorf("greet's repositories = %q", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestZypperReadsRepo does the same with a real, isolated zypper, which
// reads only repomd.xml and primary.
func TestZypperReadsRepo(t *testing.T) {
	zypper := realTool(t, "zypper")
	f := newTestFormat()
	blobs := map[string][]byte{}
	var pkgs []repo.Package
	for _, name := range fixtureFiles {
		b := readFixture(t, name)
		p := catalogPackage(t, f, b, fixtureTime)
		blobs[p.SHA256] = b
		pkgs = append(pkgs, p)
	}
	dir := t.TempDir()
	writeRepo(t, filepath.Join(dir, "www"), index(t, f, pkgs), blobs)
	root := filepath.Join(dir, "root")
	env := append(os.Environ(), "HOME="+dir,
		"ZYPP_CONF="+writeFile(t, filepath.Join(dir, "zypp.conf"), "[main]\n"),
		"ZYPP_LOGFILE="+filepath.Join(dir, "zypp.log"))
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(zypper, append([]string{"--root", root, "--non-interactive", "--no-gpg-checks"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("zypper %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("addrepo", "--no-gpgcheck", "file://"+filepath.Join(dir, "www", testBase), "pier")
	run("addrepo", "--no-gpgcheck", "file://"+filepath.Join(dir, "www", testBase, SourceDir), "pier-source")
	run("refresh")
	out := run("--no-refresh", "search", "-s")
	for _, want := range []string{"greet      | package    | 3:1.0-1", "greet      | srcpackage | 3:1.0-1",
		"hello      | package    | 1.2.3-1 | x86_64", "hello-data | package    | 2:1.0-1 | noarch"} {
		if !strings.Contains(out, want) {
			t.Errorf("zypper search lacks %q:\n%s", want, out)
		}
	}
	if out := run("--no-refresh", "info", "--requires", "hello"); !strings.Contains(out, "bash >= 4.0") || strings.Contains(out, "/usr/bin/hello") {
		t.Errorf("zypper info --requires hello:\n%s", out)
	}
	if out := run("--no-refresh", "what-provides", "/opt/greet/sbin/greetd"); !strings.Contains(out, "greet") {
		t.Errorf("zypper what-provides /opt/greet/sbin/greetd:\n%s", out)
	}
}

// TestClientsReadMembers publishes 700 packages (repodata in several
// blocks, so several gzip members or zstd frames per file) and has every
// real reader here take them: dnf (librepo + libsolv) through all three
// files, zypper, createrepo_c --update (which must reuse Pier's metadata
// rather than re-read the rpms), GNU gzip, Python's gzip and zstd.
func TestClientsReadMembers(t *testing.T) {
	for _, c := range []string{CompressionGzip, CompressionZstd} {
		t.Run(c, func(t *testing.T) {
			f := New(Config{Compression: c})
			const n = 700
			pkgs, blobs := blockPackages(t, f, n)
			files := index(t, f, pkgs)
			p := open(t, files)
			if c == CompressionGzip {
				for typ, href := range p.hrefs {
					if m := gzipMembers(t, p.files[testBase+href].Data); len(m) < 5 {
						t.Fatalf("%s: %d members, want several blocks", typ, len(m))
					}
				}
			}
			dir := t.TempDir()
			www := filepath.Join(dir, "www")
			writeRepo(t, www, files, blobs)
			base := filepath.Join(www, testBase)
			last := fmt.Sprintf("blk-%04d", n-1)

			t.Run("decompressors", func(t *testing.T) {
				for typ, href := range p.hrefs {
					path := filepath.Join(base, href)
					var cmds [][]string
					if c == CompressionGzip {
						cmds = [][]string{{"gzip", "-dc", path},
							{"python3", "-c", "import gzip,sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())", path}}
					} else {
						cmds = [][]string{{"zstd", "-dcq", path}}
					}
					for _, args := range cmds {
						tool := realTool(t, args[0])
						out, err := exec.Command(tool, args[1:]...).Output()
						if err != nil {
							t.Fatalf("%v: %v", args, err)
						}
						if !bytes.Equal(out, p.xml[typ]) {
							t.Errorf("%s through %s: %d bytes, want the %d Pier's repomd describes", typ, args[0], len(out), len(p.xml[typ]))
						}
					}
				}
			})

			t.Run("dnf", func(t *testing.T) {
				dnf := realTool(t, "dnf")
				conf := writeFile(t, filepath.Join(dir, "dnf.conf"), "[main]\ngpgcheck=0\n")
				writeFile(t, filepath.Join(dir, "repos", "pier.repo"), "[pier]\nname=pier\nbaseurl=file://"+base+
					"\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=0\nmetadata_expire=0\nskip_if_unavailable=False\n")
				query := func(args ...string) string {
					t.Helper()
					cmd := exec.Command(dnf, append([]string{"--installroot=" + filepath.Join(dir, "dnfroot"), "--config=" + conf,
						"--setopt=reposdir=" + filepath.Join(dir, "repos"), "--disablerepo=*", "--enablerepo=pier",
						"--releasever=9", "-q", "repoquery"}, args...)...)
					cmd.Env = append(os.Environ(), "HOME="+dir)
					out, err := cmd.CombinedOutput()
					if err != nil {
						t.Fatalf("dnf repoquery %v: %v\n%s", args, err, out)
					}
					return string(out)
				}
				if got := strings.Count(query("--arch=x86_64,noarch", "--qf", "%{name}\n", "blk-*"), "blk-"); got != n {
					t.Errorf("dnf sees %d packages, want %d", got, n)
				}
				if out := query("-l", last); !strings.Contains(out, "/usr/share/doc/"+last+"/README") { // filelists
					t.Errorf("dnf repoquery -l %s:\n%s", last, out)
				}
				if out := query("--changelogs", last); !strings.Contains(out, "entry for "+last) { // other
					t.Errorf("dnf repoquery --changelogs %s:\n%s", last, out)
				}
			})

			t.Run("zypper", func(t *testing.T) {
				zypper := realTool(t, "zypper")
				zdir := filepath.Join(dir, "zypper")
				env := append(os.Environ(), "HOME="+zdir,
					"ZYPP_CONF="+writeFile(t, filepath.Join(zdir, "zypp.conf"), "[main]\n"),
					"ZYPP_LOGFILE="+filepath.Join(zdir, "zypp.log"))
				run := func(args ...string) string {
					t.Helper()
					cmd := exec.Command(zypper, append([]string{"--root", filepath.Join(zdir, "root"), "--non-interactive", "--no-gpg-checks"}, args...)...)
					cmd.Env = env
					out, err := cmd.CombinedOutput()
					if err != nil {
						t.Fatalf("zypper %v: %v\n%s", args, err, out)
					}
					return string(out)
				}
				run("addrepo", "--no-gpgcheck", "file://"+base, "pier")
				run("refresh")
				if got := strings.Count(run("--no-refresh", "search", "blk-"), "| blk-"); got != n {
					t.Errorf("zypper finds %d packages, want %d", got, n)
				}
			})

			t.Run("createrepo_c --update", func(t *testing.T) {
				tool := realTool(t, "createrepo_c")
				later := time.Now().Add(-time.Hour) // not Pier's upload times
				filepath.WalkDir(base, func(path string, d os.DirEntry, err error) error {
					if err == nil && strings.HasSuffix(path, ".rpm") {
						os.Chtimes(path, later, later)
					}
					return err
				})
				args := []string{"--update", "--skip-stat", "--no-database", "--workers", "1", "-v", base}
				out, err := exec.Command(tool, args...).CombinedOutput()
				if err != nil {
					t.Fatalf("createrepo_c %v: %v\n%s", args, err, out)
				}
				if c == CompressionZstd && strings.Contains(string(out), "Cannot detect compression type") {
					t.Skip("this createrepo_c has no zstd support: it cannot open any .zst repodata")
				}
				theirs := map[string][]byte{}
				for _, typ := range []string{"primary", "filelists", "other"} {
					m, _ := filepath.Glob(filepath.Join(base, "repodata", "*-"+typ+".xml.*"))
					for _, path := range m {
						if filepath.Base(path) != filepath.Base(p.hrefs[typ]) {
							b, err := os.ReadFile(path)
							if err != nil {
								t.Fatal(err)
							}
							theirs[typ] = decompress(t, path, b)
						}
					}
					if theirs[typ] == nil {
						t.Fatalf("no new %s from createrepo_c in %v\n%s", typ, m, out)
					}
				}
				var pa, pb primaryXML
				unmarshal(t, p.xml["primary"], &pa)
				unmarshal(t, theirs["primary"], &pb)
				if len(pb.Packages) != len(pa.Packages) {
					t.Fatalf("createrepo_c --update lists %d packages, want %d", len(pb.Packages), len(pa.Packages))
				}
				// Reused metadata keeps Pier's `time file` (the upload time);
				// a package createrepo_c read again would carry the file's mtime.
				times := map[string]int64{}
				for _, x := range pa.Packages {
					times[x.Checksum.Value] = x.Time.File
				}
				for _, x := range pb.Packages {
					if times[x.Checksum.Value] != x.Time.File {
						t.Fatalf("%s: time file %d, Pier's %d: createrepo_c did not reuse Pier's metadata\n%s", x.Name, x.Time.File, times[x.Checksum.Value], out)
					}
				}
				// The files and changelogs it wrote back came from Pier's
				// filelists and other.
				var fa, fb filelistsXML
				unmarshal(t, p.xml["filelists"], &fa)
				unmarshal(t, theirs["filelists"], &fb)
				var oa, ob otherXML
				unmarshal(t, p.xml["other"], &oa)
				unmarshal(t, theirs["other"], &ob)
				fbByID := map[string]int{}
				for i, x := range fb.Packages {
					fbByID[x.PkgID] = i
				}
				for _, x := range fa.Packages {
					if y := fb.Packages[fbByID[x.PkgID]]; !reflect.DeepEqual(x, y) {
						t.Errorf("filelists %s: createrepo_c %+v, Pier %+v", x.Name, y, x)
					}
				}
				obByID := map[string]int{}
				for i, x := range ob.Packages {
					obByID[x.PkgID] = i
				}
				for _, x := range oa.Packages {
					if y := ob.Packages[obByID[x.PkgID]]; !reflect.DeepEqual(x, y) {
						t.Errorf("other %s: createrepo_c %+v, Pier %+v", x.Name, y, x)
					}
				}
			})
		})
	}
}
