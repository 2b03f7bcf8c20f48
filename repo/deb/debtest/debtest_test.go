package debtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildDeterministic(t *testing.T) {
	opts := Options{Package: "hello", Version: "1.0-1", Arch: "amd64", Files: map[string][]byte{"usr/bin/hello": []byte("x"), "etc/hello.conf": []byte("y")}}
	for _, c := range []string{"gz", "xz", "zst", "none"} {
		opts.ControlCompression = c
		a, err := Build(opts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Build(opts)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two builds differ", c)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	if _, err := Build(Options{Package: "x"}); err == nil {
		t.Error("Build without Version and Arch succeeded")
	}
	if _, err := Build(Options{Package: "x", Version: "1", Arch: "all", ControlCompression: "bz2"}); err == nil {
		t.Error("Build with an unknown compression succeeded")
	}
}

// TestBuildDpkgDeb checks the built packages with the real dpkg-deb.
func TestBuildDpkgDeb(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dpkg-deb is required when CI=true")
		}
		t.Skip("dpkg-deb not installed")
	}
	dir := t.TempDir()
	for _, c := range []string{"gz", "xz", "zst", "none"} {
		b, err := Build(Options{Package: "hello", Version: "1:1.0-1", Arch: "amd64", Depends: "libc6", Description: "hi\n long",
			Files: map[string][]byte{"usr/share/doc/hello/README": []byte("hi\n")}, ControlCompression: c,
			Fields: []Field{{Name: "Section", Value: "misc"}}})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, c+".deb")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("dpkg-deb", "--field", p, "Package", "Version", "Section").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: dpkg-deb --field: %v\n%s", c, err, out)
		}
		if want := "Package: hello\nVersion: 1:1.0-1\nSection: misc\n"; string(out) != want {
			t.Errorf("%s: dpkg-deb --field = %q, want %q", c, out, want)
		}
		out, err = exec.Command("dpkg-deb", "--contents", p).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "./usr/share/doc/hello/README") {
			t.Errorf("%s: dpkg-deb --contents: %v\n%s", c, err, out)
		}
	}
}
