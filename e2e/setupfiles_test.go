package e2e

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// This file proves the one-file setup downloads with the real clients: a
// .repo added by URL with `dnf config-manager --add-repo` and with `zypper
// addrepo`, a deb822 .sources whose Signed-By embeds the key dropped into
// apt's sources.list.d with nothing else, and apk's repositories lines.

// setupFileYAML names the 5.8 EL targets in .repo files; 5.7 keeps the
// default names.
const setupFileYAML = `rpm:
  repos:
    - targets: ["5.8/el/*"]
      id: "kamailio-{stream}-el{release}"
      name: "Kamailio {stream} for EL {release}"
`

// dnfConfigManager returns a folder holding dnf 4's config-manager and
// download plugins and the PYTHONPATH entry of the module it imports, unpacked into dir
// (inside the sandbox: the sandbox hides the host's /tmp) from Debian's
// dnf-plugins-core (which cannot be installed next to zypper: it
// declares Breaks: zypper). PIER_DNF_PLUGINS_CORE_DEB names the .deb;
// without it `apt-get download` fetches it. Outside CI a failure skips the
// test; in CI it fails it.
func dnfConfigManager(t *testing.T, dir string) (pluginDir, pythonPath string) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	need(t, "dpkg-deb")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	deb := os.Getenv("PIER_DNF_PLUGINS_CORE_DEB")
	if deb == "" {
		need(t, "apt-get")
		cmd := exec.Command("apt-get", "download", "dnf-plugins-core")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			fail("apt-get download dnf-plugins-core: %v\n%s", err, out)
		}
		m, _ := filepath.Glob(filepath.Join(dir, "dnf-plugins-core_*.deb"))
		if len(m) != 1 {
			fail("apt-get download dnf-plugins-core left %v", m)
		}
		deb = m[0]
	}
	root := filepath.Join(dir, "root")
	if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
		fail("dpkg-deb -x %s: %v\n%s", deb, err, out)
	}
	pythonPath = filepath.Join(root, "usr/lib/python3/dist-packages")
	// Only config-manager and download: the other plugins import modules
	// dnf does not need (dbus, dateutil).
	pluginDir = filepath.Join(dir, "plugins")
	if err := os.MkdirAll(pluginDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"config_manager.py", "download.py"} {
		plugin, err := os.ReadFile(filepath.Join(pythonPath, "dnf-plugins", name))
		if err != nil {
			fail("dnf-plugins-core has no %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(pluginDir, name), plugin, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return pluginDir, pythonPath
}

// fetchText GETs path of s and fails the test unless it is 200 text/plain.
func fetchText(t *testing.T, s *server, path string) []byte {
	t.Helper()
	code, body, h := s.get(path)
	if code != http.StatusOK || h.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("GET %s: %d %s\n%s", path, code, h.Get("Content-Type"), body)
	}
	return body
}

// TestSetupFileDnf: `dnf config-manager --add-repo URL` (dnf 4 with its
// plugin) adds two targets from their id-named .repo URLs, each saved
// under its own name with the served bytes; dnf then imports Pier's key
// from the gpgkey URL, verifies the signed metadata and downloads each
// target's package. The fixed pier.repo URL works the same way. rpm.repos
// names the 5.8 repository; 5.7 keeps the default id and name.
func TestSetupFileDnf(t *testing.T) {
	need(t, "dnf")
	sb := newRpmSandbox(t)
	pluginDir, pythonPath := dnfConfigManager(t, sb.path("dnf-plugins-core"))
	s := configServer(t, setupFileYAML)
	pkg58 := mkrpm(t, "pier-hello", "", "5.8", "amd64", "el9 5.8")
	pkg57 := mkrpm(t, "pier-hello", "", "5.7", "amd64", "el9 5.7")
	for target, pkg := range map[string][]byte{"5.8/el/9": pkg58, "5.7/el/9": pkg57} {
		if code, r := s.upload(target, pkg, "?publish=false"); code != http.StatusCreated {
			t.Fatalf("upload to %s: %d %v", target, code, r)
		}
		s.publish(target)
	}
	_, kr := rpmKeyring(t, s)
	fpr := strings.ToUpper(hex.EncodeToString(kr[0].PrimaryKey.Fingerprint))

	sb.write("dnf.conf", []byte("[main]\ncachedir="+sb.path("cache")+"\nlogdir="+sb.path("log")+"\npersistdir="+
		sb.path("persist")+"\ngpgcheck=0\ninstall_weak_deps=0\nkeepcache=0\n"))
	if err := os.MkdirAll(sb.path("repos"), 0o755); err != nil {
		t.Fatal(err)
	}
	dnf := func(repo string, args ...string) (string, error) {
		base := []string{"dnf", "--installroot=" + sb.path("root"), "--config=" + sb.path("dnf.conf"),
			"--setopt=reposdir=" + sb.path("repos"), "--setopt=pluginpath=" + pluginDir, "--releasever=9", "-y"}
		if repo != "" {
			base = append(base, "--disablerepo=*", "--enablerepo="+repo)
		}
		return sb.run([]string{"PYTHONPATH=" + pythonPath}, append(base, args...)...)
	}
	for _, c := range []struct{ target, id, name string }{
		{"5.8/el/9", "kamailio-5.8-el9", "Kamailio 5.8 for EL 9"},
		{"5.7/el/9", "pier-5.7-el-9", "Pier 5.7 el 9"},
	} {
		path := "/rpm/" + c.target + "/" + c.id + ".repo"
		served := fetchText(t, s, path)
		if out, err := dnf("", "config-manager", "--add-repo", s.url+path); err != nil {
			t.Fatalf("dnf config-manager --add-repo %s: %v\n%s", path, err, out)
		}
		saved, err := os.ReadFile(sb.path("repos/" + c.id + ".repo"))
		if err != nil || !bytes.Equal(saved, served) {
			t.Fatalf("dnf config-manager saved %s as %v:\n%s\n--- served\n%s", path, err, saved, served)
		}
		if !strings.Contains(string(served), "["+c.id+"]\nname="+c.name+"\nbaseurl="+s.url+"/rpm/"+c.target+"/\n") {
			t.Errorf("%s: id or name not as configured:\n%s", path, served)
		}
	}
	ents, _ := os.ReadDir(sb.path("repos"))
	if len(ents) != 2 {
		t.Errorf("reposdir holds %d files after adding two targets, want 2", len(ents))
	}
	for id, want := range map[string][]byte{"kamailio-5.8-el9": pkg58, "pier-5.7-el-9": pkg57} {
		out, err := dnf(id, "makecache")
		if err != nil || !strings.Contains(strings.ReplaceAll(out, " ", ""), fpr) {
			t.Fatalf("dnf makecache --enablerepo=%s: %v; Pier's key %s imported?\n%s", id, err, fpr, out)
		}
		dl := sb.path("dl-" + id)
		out, err = dnf(id, "install", "--downloadonly", "--downloaddir="+dl, "pier-hello")
		m, _ := filepath.Glob(filepath.Join(dl, "pier-hello-*.rpm"))
		var got []byte
		if len(m) == 1 {
			got, _ = os.ReadFile(m[0])
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("dnf install --downloadonly from %s: %v, files %v\n%s", id, err, m, out)
		}
	}

	// The fixed name: dnf saves it as pier.repo; the repository is the
	// same.
	if out, err := dnf("", "config-manager", "--add-repo", s.url+"/rpm/5.8/el/9/pier.repo"); err != nil {
		t.Fatalf("dnf config-manager --add-repo pier.repo: %v\n%s", err, out)
	}
	saved, _ := os.ReadFile(sb.path("repos/pier.repo"))
	named, _ := os.ReadFile(sb.path("repos/kamailio-5.8-el9.repo"))
	if !bytes.Equal(saved, named) {
		t.Errorf("pier.repo and kamailio-5.8-el9.repo differ:\n%s\n---\n%s", saved, named)
	}
}

// TestSetupFileZypper: `zypper addrepo URL` adds an openSUSE target from
// its .repo URL (the section's id as alias), `zypper
// --gpg-auto-import-keys refresh` imports the key the repository names and
// verifies the signed metadata, and zypper downloads the package.
func TestSetupFileZypper(t *testing.T) {
	need(t, "zypper")
	s := startServer(t, "")
	pkg := mkrpm(t, "pier-hello", "", "1.0", "amd64", "suse x86_64")
	if code, r := s.upload("5.8/opensuse/15.6", pkg, "?publish=false"); code != http.StatusCreated {
		t.Fatalf("upload: %d %v", code, r)
	}
	s.publish("5.8/opensuse/15.6")
	_, kr := rpmKeyring(t, s)
	fpr := strings.ToLower(hex.EncodeToString(kr[0].PrimaryKey.Fingerprint))

	for _, name := range []string{"pier.repo", "pier-5.8-opensuse-15.6.repo"} {
		sb := newRpmSandbox(t)
		z := &zypperClient{sb: sb, root: sb.path("root"), env: []string{"ZYPP_CONF=" + sb.write("zypp.conf", []byte("[main]\n")),
			"ZYPP_LOGFILE=" + sb.path("zypper.log"), "ZYPPTMPDIR=" + sb.path("ztmp")}}
		url := s.url + "/rpm/5.8/opensuse/15.6/" + name
		fetchText(t, s, "/rpm/5.8/opensuse/15.6/"+name)
		if out, err := z.run("addrepo", url); err != nil {
			t.Fatalf("zypper addrepo %s: %v\n%s", url, err, out)
		}
		alias := "pier-5.8-opensuse-15.6"
		if _, err := os.Stat(filepath.Join(z.root, "etc/zypp/repos.d", alias+".repo")); err != nil {
			t.Fatalf("zypper addrepo %s did not add alias %s: %v", url, alias, err)
		}
		out, err := z.run("--gpg-auto-import-keys", "refresh")
		if err != nil || !strings.Contains(out, "All repositories have been refreshed") ||
			!strings.Contains(strings.ToLower(strings.ReplaceAll(out, " ", "")), fpr) {
			t.Fatalf("zypper refresh after addrepo %s (key %s): %v\n%s", name, fpr, err, out)
		}
		if got, out := z.download(alias, "pier-hello", "x86_64/pier-hello-1.0-1.x86_64.rpm"); !bytes.Equal(got, pkg) {
			t.Errorf("zypper download after addrepo %s: no file or other bytes than the upload:\n%s", name, out)
		}
	}
}

// TestSetupFileApt: the served pier.sources, saved into sources.list.d and
// nothing else (no keyring file: the key is embedded in Signed-By), lets
// the real apt-get verify the repository and download a package without a
// warning; with another key in Signed-By apt refuses it. A private
// target's file needs a read token (401 without), and with the auth.conf
// entry its comment describes apt reads the target.
func TestSetupFileApt(t *testing.T) {
	need(t, "apt-get")
	s := privateServer(t, "secret/*/*")
	deb := mkdeb(t, "hello", "1.0-1", "amd64", "amd64 binary")
	secret := mkdeb(t, "secret-hello", "1.0-1", "amd64", "secret payload")
	for target, pkg := range map[string][]byte{"5.8/debian/bookworm": deb, "secret/debian/bookworm": secret} {
		if code, r := s.upload(target, pkg, "?publish=false"); code != http.StatusCreated {
			t.Fatalf("upload to %s: %d %v", target, code, r)
		}
		s.publish(target)
	}
	saveAs := regexp.MustCompile(`(?m)^# Save it as /etc/apt/sources\.list\.d/(\S+\.sources) `)
	sources := fetchText(t, s, "/deb/5.8/debian/dists/bookworm/pier.sources")
	m := saveAs.FindSubmatch(sources)
	if m == nil || !bytes.Contains(sources, []byte("\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n")) {
		t.Fatalf("pier.sources names no file to save it as, or embeds no key:\n%s", sources)
	}
	apt := newApt(t, "")
	if err := os.WriteFile(filepath.Join(apt.dir, "etc/sources.list.d", string(m[1])), sources, 0o644); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(apt.dir, "etc/trusted.gpg.d")); len(ents) != 0 {
		t.Fatalf("apt has keys besides the embedded one: %v", ents)
	}
	apt.update()
	if got := apt.download("hello"); !bytes.Equal(got, deb) {
		t.Errorf("apt-get download hello: other bytes than the upload")
	}
	// Another key (a fingerprint no keyring holds) in Signed-By: apt
	// refuses the repository.
	bad := regexp.MustCompile(`(?s)Signed-By:.*`).ReplaceAll(sources, []byte("Signed-By: "+strings.Repeat("AB", 20)+"\n"))
	wrong := newApt(t, "")
	os.WriteFile(filepath.Join(wrong.dir, "etc/sources.list.d", string(m[1])), bad, 0o644)
	if out, _ := wrong.run("update"); len(problems(out)) == 0 {
		t.Errorf("apt-get update with another key in Signed-By reported nothing:\n%s", out)
	}

	// The private target: 401 without a token; with one, the file's
	// comment names the auth.conf entry apt needs.
	const private = "/deb/secret/debian/dists/bookworm/pier.sources"
	if code, body, _ := s.get(private); code != http.StatusUnauthorized || bytes.Contains(body, []byte("Types:")) {
		t.Fatalf("GET %s without a token: %d\n%s", private, code, body)
	}
	reader := createToken(t, s, "sources-reader", "--scope", "read:secret/*/*")
	code, psources := s.getBasic(private, reader)
	pm := regexp.MustCompile(`(?m)^# "(machine \S+ login pier password) <token>" \(mode 0600\)\.$`).FindSubmatch(psources)
	if code != http.StatusOK || saveAs.FindSubmatch(psources) == nil || pm == nil || bytes.Contains(psources, []byte(reader)) {
		t.Fatalf("GET %s with a token: %d\n%s", private, code, psources)
	}
	papt := newApt(t, "")
	os.WriteFile(filepath.Join(papt.dir, "etc/sources.list.d", string(saveAs.FindSubmatch(psources)[1])), psources, 0o644)
	papt.auth(string(pm[1]) + " " + reader + "\n")
	papt.update()
	if got := papt.download("secret-hello"); !bytes.Equal(got, secret) {
		t.Errorf("apt-get download secret-hello: other bytes than the upload")
	}
}

// TestSetupFileApk: the served pier.repositories names the key to install
// and holds the repository line /setup adds; go-apk, with that key under
// that name, verifies the index of the line and downloads the package.
func TestSetupFileApk(t *testing.T) {
	s := startServer(t, "")
	pkg := apkBuild(t, "hello-doc", "noarch", "the manual", nil)
	if code, r := s.upload(apkTarget, pkg, "?publish=false"); code != http.StatusCreated {
		t.Fatalf("upload: %d %v", code, r)
	}
	s.publish(apkTarget)
	text := string(fetchText(t, s, "/apk/5.8/alpine/v3.20/pier.repositories"))
	m := regexp.MustCompile(`(?m)^#   wget -O /etc/apk/keys/(\S+\.rsa\.pub) (\S+)$`).FindStringSubmatch(text)
	if m == nil || m[2] != s.url+"/keys/"+m[1] {
		t.Fatalf("pier.repositories names no key to install:\n%s", text)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || lines[0] != s.url+apkRepo {
		t.Fatalf("pier.repositories lines %q, want [%s]", lines, s.url+apkRepo)
	}
	code, pubPEM, _ := s.get("/keys/" + m[1])
	if code != http.StatusOK {
		t.Fatalf("GET /keys/%s: %d", m[1], code)
	}
	apkInstallOne(t, lines[0], m[1], pubPEM, pkg)
}
