package rpm

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

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
		filepath.Join(dir, "www", testBase)+"\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=0\nmetadata_expire=0\nskip_if_unavailable=False\n")
	query := func(args ...string) []string {
		t.Helper()
		cmd := exec.Command(dnf, append([]string{"--installroot=" + root, "--config=" + conf,
			"--setopt=reposdir=" + filepath.Join(dir, "repos"), "--disablerepo=*", "--enablerepo=pier",
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
