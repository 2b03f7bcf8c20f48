package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDogfood builds Pier's own packages with `make packages`, checks
// their trees (paths, conffiles, %config, units), pushes them into a Pier
// with `pier push`, and has apt-get, dnf and the apk client download and
// verify them.
func TestDogfood(t *testing.T) {
	need(t, "apt-get")
	need(t, "dnf")
	need(t, "dpkg-deb")
	rpmBin := need(t, "rpm")
	dist := t.TempDir()
	build := exec.Command("make", "-C", "..", "packages", "VERSION=0.0.1")
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make packages: %v\n%s", err, out)
	}
	for _, f := range []string{"pier_0.0.1_amd64.deb", "pier_0.0.1_arm64.deb", "pier-0.0.1.x86_64.rpm", "pier-0.0.1.aarch64.rpm",
		"x86_64/pier-0.0.1.apk", "aarch64/pier-0.0.1.apk"} {
		b, err := os.ReadFile(filepath.Join("..", "dist", f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dist, f)), 0o755)
		os.WriteFile(filepath.Join(dist, f), b, 0o644)
	}
	deb := filepath.Join(dist, "pier_0.0.1_amd64.deb")
	out, _ := exec.Command("dpkg-deb", "-c", deb).CombinedOutput()
	for _, p := range []string{"./usr/bin/pier", "./etc/pier/pier.yaml", "./lib/systemd/system/pier.service",
		"./lib/systemd/system/pier@.service", "./usr/lib/sysusers.d/pier.conf", "./usr/lib/tmpfiles.d/pier.conf", "./etc/default/pier"} {
		if !strings.Contains(string(out), p) {
			t.Errorf("deb lacks %s", p)
		}
	}
	if out, _ := exec.Command("dpkg-deb", "-I", deb, "conffiles").CombinedOutput(); !strings.Contains(string(out), "/etc/pier/pier.yaml") ||
		!strings.Contains(string(out), "/etc/default/pier") {
		t.Errorf("deb conffiles: %s", out)
	}
	rpmFile := filepath.Join(dist, "pier-0.0.1.x86_64.rpm")
	out, _ = exec.Command(rpmBin, "-qlp", rpmFile).CombinedOutput()
	for _, p := range []string{"/usr/bin/pier", "/usr/lib/systemd/system/pier.service", "/usr/lib/systemd/system/pier@.service", "/etc/sysconfig/pier"} {
		if !strings.Contains(string(out), p) {
			t.Errorf("rpm lacks %s:\n%s", p, out)
		}
	}
	if out, _ := exec.Command(rpmBin, "-qcp", rpmFile).CombinedOutput(); !strings.Contains(string(out), "/etc/pier/pier.yaml") {
		t.Errorf("rpm %%config files: %s", out)
	}

	s := startServer(t, "")
	for target, files := range map[string][]string{
		"pier/debian/bookworm": {"pier_0.0.1_amd64.deb", "pier_0.0.1_arm64.deb"},
		"pier/el/9":            {"pier-0.0.1.x86_64.rpm", "pier-0.0.1.aarch64.rpm"},
		"pier/alpine/v3.20":    {"x86_64/pier-0.0.1.apk", "aarch64/pier-0.0.1.apk"},
	} {
		args := []string{"push", "--server", s.url, "--token", testToken, target}
		for _, f := range files {
			args = append(args, filepath.Join(dist, f))
		}
		if out, err := exec.Command(pierBin, args...).CombinedOutput(); err != nil {
			t.Fatalf("pier push %s: %v\n%s", target, err, out)
		}
		s.publish(target)
	}

	// apt-get: the .deb Pier publishes for itself installs as packaged.
	apt := newApt(t, sourceLine(writeKey(t, s, t.TempDir()), s.url, "pier", "bookworm"))
	apt.update()
	got := apt.download("pier:amd64")
	want, _ := os.ReadFile(deb)
	if !bytes.Equal(got, want) {
		t.Error("apt-get: pier_0.0.1_amd64.deb differs")
	}
	dl := filepath.Join(t.TempDir(), "pier.deb")
	os.WriteFile(dl, got, 0o644)
	if out, err := exec.Command("dpkg-deb", "--info", dl).CombinedOutput(); err != nil || !strings.Contains(string(out), "Package: pier") {
		t.Errorf("dpkg-deb --info on the downloaded package: %v\n%s", err, out)
	}
	if out, _ := exec.Command("dpkg-deb", "-c", dl).CombinedOutput(); !strings.Contains(string(out), "pier.service") {
		t.Error("the downloaded .deb has no unit file")
	}

	// dnf with the repository signature checked.
	key, _ := rpmKeyring(t, s)
	dnf := newDnf(t, "pier", dnfRepo("pier", s.url+"/rpm/pier/el/9/"), key)
	dnf.must("makecache")
	files, dout, err := dnf.download("pier")
	wantRPM, _ := os.ReadFile(rpmFile)
	if err != nil || !bytes.Equal(files["pier-0.0.1-1.x86_64.rpm"], wantRPM) {
		t.Errorf("dnf download pier: %v (%d files)\n%s", err, len(files), dout)
	}

	// apk: go-apk plus the apk-tools checks.
	keyName, pubPEM := apkServerKey(t, s, "pier/alpine/v3.20")
	wantAPK, _ := os.ReadFile(filepath.Join(dist, "x86_64/pier-0.0.1.apk"))
	apkInstallOne(t, s.url+"/apk/pier/v3.20/main", keyName, pubPEM, wantAPK)
}
