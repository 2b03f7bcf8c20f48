package e2e

import (
	"archive/tar"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo/deb/debtest"
)

// aptTool runs another apt program (apt-file, apt-cache) with the
// client's isolated configuration.
func (a *aptClient) aptTool(tool string, args ...string) (string, error) {
	cmd := exec.Command(tool, args...)
	cmd.Env = append(os.Environ(), "APT_CONFIG="+a.conf, "LC_ALL=C")
	cmd.Dir = filepath.Join(a.dir, "out")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// withAptFile adds apt-file's index targets to the client's configuration,
// as installing apt-file does (/etc/apt/apt.conf.d/50apt-file.conf), so
// that apt-get update fetches Contents files.
func (a *aptClient) withAptFile() {
	a.t.Helper()
	conf, err := os.ReadFile("/etc/apt/apt.conf.d/50apt-file.conf")
	if err != nil {
		a.t.Fatalf("apt-file's apt configuration: %v", err)
	}
	if err := os.WriteFile(filepath.Join(a.dir, "etc/apt.conf.d/50apt-file.conf"), conf, 0o644); err != nil {
		a.t.Fatal(err)
	}
}

func buildDeb(t *testing.T, o debtest.Options) []byte {
	t.Helper()
	b, err := debtest.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAptFileContents: the real apt-file, fed by the real apt-get update
// through Pier's Contents-<arch>.gz (by-hash, checked against Release),
// finds packages by the files they ship: regular files, symlinks, arch-all
// packages in every architecture, only the newest version of a package.
func TestAptFileContents(t *testing.T) {
	need(t, "apt-get")
	need(t, "apt-file")
	s := startServer(t, "")
	section := []debtest.Field{{Name: "Section", Value: "net"}}
	debs := [][]byte{
		buildDeb(t, debtest.Options{Package: "kamailio", Version: "5.8.2-1", Arch: "amd64", Fields: section,
			Files: map[string][]byte{"usr/sbin/kamailio": []byte("old"), "usr/sbin/kamailio-old-tool": []byte("gone in 5.8.3")}}),
		buildDeb(t, debtest.Options{Package: "kamailio", Version: "5.8.3-1", Arch: "amd64", Fields: section,
			Files:       map[string][]byte{"usr/sbin/kamailio": []byte("new"), "usr/lib/x86_64-linux-gnu/kamailio/modules/tm.so": []byte("tm")},
			DataEntries: []debtest.Entry{{Name: "./usr/sbin/kamctl", Type: tar.TypeSymlink, Linkname: "kamailio"}}}),
		buildDeb(t, debtest.Options{Package: "kamailio-doc", Version: "5.8.3-1", Arch: "all",
			Files: map[string][]byte{"usr/share/doc/kamailio-doc/README.modules": []byte("doc")}}),
		buildDeb(t, debtest.Options{Package: "kamailio-arm-helper", Version: "1", Arch: "arm64",
			Files: map[string][]byte{"usr/bin/kamailio-arm-helper": []byte("arm")}}),
	}
	for _, b := range debs {
		if code, reply := s.upload("5.8/debian/bookworm", b, ""); code != http.StatusCreated {
			t.Fatalf("upload: %d %v", code, reply)
		}
	}
	s.publish("5.8/debian/bookworm")
	// A second release whose arm64 Contents is empty (listed with size 0,
	// which apt skips) and whose only package installs no file.
	if code, reply := s.upload("5.8/debian/trixie", buildDeb(t, debtest.Options{Package: "meta-only", Version: "1", Arch: "amd64"}), ""); code != http.StatusCreated {
		t.Fatalf("upload: %d %v", code, reply)
	}
	s.publish("5.8/debian/trixie")

	dir := t.TempDir()
	key := writeKey(t, s, dir)
	a := newApt(t, sourceLine(key, s.url, "5.8", "bookworm")+sourceLine(key, s.url, "5.8", "trixie"))
	a.withAptFile()
	a.update()
	for _, arch := range []string{"amd64", "arm64"} {
		found := false
		ents, _ := os.ReadDir(filepath.Join(a.dir, "state/lists"))
		for _, e := range ents {
			found = found || strings.Contains(e.Name(), "main_Contents-"+arch)
		}
		if !found {
			t.Fatalf("apt-get update stored no Contents-%s list: %v", arch, ents)
		}
	}

	search := func(args ...string) string {
		t.Helper()
		out, err := a.aptTool("apt-file", args...)
		if err != nil {
			t.Fatalf("apt-file %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	for _, tt := range []struct{ args, want []string }{
		{[]string{"search", "/usr/sbin/kamailio"}, []string{"kamailio: /usr/sbin/kamailio"}},
		{[]string{"search", "kamctl"}, []string{"kamailio: /usr/sbin/kamctl"}},
		{[]string{"search", "modules/tm.so"}, []string{"kamailio: /usr/lib/x86_64-linux-gnu/kamailio/modules/tm.so"}},
		{[]string{"search", "README.modules"}, []string{"kamailio-doc: /usr/share/doc/kamailio-doc/README.modules"}},
		{[]string{"list", "kamailio"}, []string{"kamailio: /usr/lib/x86_64-linux-gnu/kamailio/modules/tm.so", "kamailio: /usr/sbin/kamailio", "kamailio: /usr/sbin/kamctl"}},
		{[]string{"-a", "arm64", "search", "kamailio-arm-helper"}, []string{"kamailio-arm-helper: /usr/bin/kamailio-arm-helper"}},
		{[]string{"-a", "arm64", "search", "README.modules"}, []string{"kamailio-doc: /usr/share/doc/kamailio-doc/README.modules"}},
	} {
		got := strings.Split(strings.TrimSpace(search(tt.args...)), "\n")
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("apt-file %s:\n%s\nwant:\n%s", strings.Join(tt.args, " "), strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
	// Only the newest version of a package is listed, and an architecture
	// lists only its own packages (and arch-all ones).
	for _, args := range [][]string{{"search", "kamailio-old-tool"}, {"search", "kamailio-arm-helper"}} {
		if out, err := a.aptTool("apt-file", args...); err == nil || strings.TrimSpace(out) != "" {
			t.Errorf("apt-file %s found something (err %v):\n%s", strings.Join(args, " "), err, out)
		}
	}

	// The Release lists the uncompressed Contents with the hash of the
	// decompressed .gz, which is the only form served.
	code, rel, _ := s.get("/deb/5.8/debian/dists/bookworm/Release")
	if code != 200 || !regexp.MustCompile(`(?m)^ [0-9a-f]{64} +\d+ main/Contents-amd64$`).Match(rel) ||
		!regexp.MustCompile(`(?m)^ [0-9a-f]{64} +\d+ main/Contents-amd64\.gz$`).Match(rel) {
		t.Fatalf("Release (%d) does not list main/Contents-amd64 and .gz:\n%s", code, rel)
	}
	if code, _, _ := s.get("/deb/5.8/debian/dists/bookworm/main/Contents-amd64"); code != http.StatusNotFound {
		t.Errorf("plain Contents-amd64: %d, want 404 (served compressed only)", code)
	}
}

// TestAptReleaseMetadata: deb.release rules give targets their Release
// fields; the real apt-get and apt-cache see the Label, pin a NotAutomatic
// target at 1 (and at 100 with ButAutomaticUpgrades), and pick the
// candidate from the target left automatic.
func TestAptReleaseMetadata(t *testing.T) {
	need(t, "apt-get")
	need(t, "apt-cache")
	s := configServer(t, `
deb:
  release:
    - targets: "nightly/*/*"
      label: Kamailio nightly
      suite: nightly
      not_automatic: true
    - targets: ["backports/*/*"]
      label: Kamailio backports
      not_automatic: true
      but_automatic_upgrades: true
    - targets: "*/*/*"
      origin: kamailio.org
      label: Kamailio {stream}
`)
	for target, version := range map[string]string{"5.8/debian/bookworm": "5.8.3-1", "nightly/debian/bookworm": "6.0.0~dev1", "backports/debian/bookworm": "5.9.0-1"} {
		b := buildDeb(t, debtest.Options{Package: "kamailio", Version: version, Arch: "amd64", Files: map[string][]byte{"usr/sbin/kamailio": []byte(version)}})
		if code, reply := s.upload(target, b, ""); code != http.StatusCreated {
			t.Fatalf("upload to %s: %d %v", target, code, reply)
		}
		s.publish(target)
	}
	_, rel, _ := s.get("/deb/nightly/debian/dists/bookworm/Release")
	for _, want := range []string{"Origin: Pier\n", "Label: Kamailio nightly\n", "Suite: nightly\n", "Codename: bookworm\n", "NotAutomatic: yes\n"} {
		if !strings.Contains(string(rel), want) {
			t.Errorf("nightly Release lacks %q:\n%s", want, rel)
		}
	}

	dir := t.TempDir()
	key := writeKey(t, s, dir)
	a := newApt(t, sourceLine(key, s.url, "5.8", "bookworm")+sourceLine(key, s.url, "nightly", "bookworm")+sourceLine(key, s.url, "backports", "bookworm"))
	a.update()
	out, err := a.aptTool("apt-cache", "policy")
	if err != nil {
		t.Fatalf("apt-cache policy: %v\n%s", err, out)
	}
	// Each source is a priority line with the URL, then a "release" line.
	for stream, want := range map[string]string{
		"5.8":       `500 \S+/deb/5\.8/debian bookworm/main amd64 Packages\n\s+release o=kamailio\.org,a=bookworm,n=bookworm,l=Kamailio 5\.8,c=main,b=amd64\n`,
		"nightly":   `\b1 \S+/deb/nightly/debian bookworm/main amd64 Packages\n\s+release o=Pier,a=nightly,n=bookworm,l=Kamailio nightly,c=main,b=amd64\n`,
		"backports": `100 \S+/deb/backports/debian bookworm/main amd64 Packages\n\s+release o=Pier,a=bookworm,n=bookworm,l=Kamailio backports,c=main,b=amd64\n`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("apt-cache policy: no %s source matching %q:\n%s", stream, want, out)
		}
	}
	out, err = a.aptTool("apt-cache", "policy", "kamailio")
	if err != nil {
		t.Fatalf("apt-cache policy kamailio: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Candidate: 5.8.3-1\n") || !regexp.MustCompile(`6\.0\.0~dev1 1\n`).MatchString(out) {
		t.Errorf("apt-cache policy kamailio: want candidate 5.8.3-1 and the nightly version at pin 1:\n%s", out)
	}
	// apt-get -t nightly (the nightly target's suite) takes it.
	out, err = a.aptTool("apt-cache", "-t", "nightly", "policy", "kamailio")
	if err != nil || !strings.Contains(out, "Candidate: 6.0.0~dev1\n") {
		t.Errorf("apt-cache -t nightly policy kamailio: want candidate 6.0.0~dev1 (%v):\n%s", err, out)
	}
	// Asked for explicitly, the nightly version is there.
	if out, err := a.run("download", "kamailio=6.0.0~dev1"); err != nil || len(problems(out)) > 0 {
		t.Fatalf("apt-get download kamailio=6.0.0~dev1: %v\n%s", err, out)
	}
	got, err := filepath.Glob(filepath.Join(a.dir, "out", "kamailio_6.0.0*dev1_amd64.deb"))
	if err != nil || len(got) != 1 {
		t.Fatalf("apt-get download kamailio=6.0.0~dev1 wrote %v", got)
	}
}
