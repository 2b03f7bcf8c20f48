package e2e

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rpmbuildPair builds, with the real rpmbuild, the source package
// (rpmbuild -bs) and the noarch binary package (rpmbuild -bb) of one small
// spec named name, and returns their bytes.
func rpmbuildPair(t *testing.T, name, version string) (src, bin []byte) {
	t.Helper()
	need(t, "rpmbuild")
	top := t.TempDir()
	for _, d := range []string{"SOURCES", "SPECS", "BUILD", "RPMS", "SRPMS", "BUILDROOT"} {
		if err := os.MkdirAll(filepath.Join(top, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(top, "SOURCES", name+".txt"), []byte("hello from "+name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(top, "SPECS", name+".spec")
	text := `Name: ` + name + `
Version: ` + version + `
Release: 1
Summary: Pier source repository test package
License: MIT
BuildArch: noarch
Source0: ` + name + `.txt

%description
A package whose source rpm Pier publishes in the source repository.

%prep

%build

%install
mkdir -p %{buildroot}/usr/share/` + name + `
install -m 0644 %{SOURCE0} %{buildroot}/usr/share/` + name + `/` + name + `.txt

%files
/usr/share/` + name + `/` + name + `.txt
`
	if err := os.WriteFile(spec, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"-bs", "-bb"} {
		cmd := exec.Command("rpmbuild", "--define", "_topdir "+top, "--define", "dist %{nil}", mode, spec)
		cmd.Env = append(os.Environ(), "HOME="+top)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rpmbuild %s: %v\n%s", mode, err, out)
		}
	}
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join(top, p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	nvr := name + "-" + version + "-1"
	return read("SRPMS/" + nvr + ".src.rpm"), read("RPMS/noarch/" + nvr + ".noarch.rpm")
}

// TestRpmSourceRepository: a .src.rpm built by rpmbuild -bs goes to the
// target's source repository (rpm/5.8/el/9/source/, its own signed
// repodata), not to the binary one; the .repo file served for the target
// carries a disabled [<id>-source] section, and the real
// `dnf download --source NAME` (dnf 4's download plugin, which enables
// "<id>-source" for every enabled <id>) fetches the uploaded bytes through
// it after verifying the source repository's signed metadata.
func TestRpmSourceRepository(t *testing.T) {
	need(t, "dnf")
	sb := newRpmSandbox(t)
	pluginDir, pythonPath := dnfConfigManager(t, sb.path("dnf-plugins-core"))
	src, bin := rpmbuildPair(t, "pier-srcdemo", "2.1")
	s := startServer(t, "")
	for _, p := range [][]byte{bin, src} {
		if code, r := s.upload("5.8/el/9", p, "?publish=false"); code != http.StatusCreated {
			t.Fatalf("upload: %d %v", code, r)
		}
	}
	s.publish("5.8/el/9")

	_, kr := rpmKeyring(t, s)
	rpmCheckServed(t, s, "rpm/5.8/el/9/", kr, []rpmUpload{
		{bin, "pier-srcdemo", "2.1-1", "noarch", "pier-srcdemo-2.1-1.noarch.rpm"},
		{src, "pier-srcdemo", "2.1-1", "src", "pier-srcdemo-2.1-1.src.rpm"},
	})

	id := "pier-5.8-el-9"
	repoText := fetchText(t, s, "/rpm/5.8/el/9/pier.repo")
	if !bytes.Contains(repoText, []byte("\n["+id+"-source]\nname=Pier 5.8 el 9 - Source\nbaseurl="+s.url+"/rpm/5.8/el/9/source/\nenabled=0\n")) {
		t.Fatalf("pier.repo has no disabled source section:\n%s", repoText)
	}
	sb.write("repos/"+id+".repo", repoText)
	sb.write("dnf.conf", []byte("[main]\ncachedir="+sb.path("cache")+"\nlogdir="+sb.path("log")+"\npersistdir="+
		sb.path("persist")+"\ngpgcheck=0\ninstall_weak_deps=0\nkeepcache=0\n"))
	dnf := func(args ...string) (string, error) {
		base := []string{"dnf", "--installroot=" + sb.path("root"), "--config=" + sb.path("dnf.conf"),
			"--setopt=reposdir=" + sb.path("repos"), "--setopt=pluginpath=" + pluginDir, "--releasever=9", "-y",
			"--disablerepo=*", "--enablerepo=" + id}
		return sb.run([]string{"PYTHONPATH=" + pythonPath}, append(base, args...)...)
	}
	// Without the source repository, dnf sees no source package.
	if out, err := dnf("-q", "repoquery", "--arch=src", "pier-srcdemo"); err != nil || strings.Contains(out, "pier-srcdemo") {
		t.Errorf("the binary repository lists a source package: %v\n%s", err, out)
	}
	dest := sb.path("dl")
	out, err := dnf("download", "--source", "--destdir="+dest, "pier-srcdemo")
	if err != nil {
		t.Fatalf("dnf download --source pier-srcdemo: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dest, "pier-srcdemo-2.1-1.src.rpm"))
	if err != nil || !bytes.Equal(got, src) {
		ents, _ := os.ReadDir(dest)
		t.Fatalf("dnf download --source left %v (%v), want the uploaded src.rpm\n%s", ents, err, out)
	}
	// dnf verified the source repository's signed metadata: it imported
	// Pier's key for it.
	if !strings.Contains(out, id+"-source") {
		t.Errorf("dnf did not use %s-source:\n%s", id, out)
	}
}
