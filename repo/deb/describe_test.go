package deb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

func TestDescribe(t *testing.T) {
	f := New(Config{})
	b := build(t, debtest.Options{Package: "hello", Version: "1:2.0-1", Arch: "amd64",
		Description: "says hello\n a longer text\n .\n second paragraph",
		Depends:     "libc6 (>= 2.36), foo | bar",
		Fields: []debtest.Field{{Name: "Homepage", Value: "https://example.org/hello"},
			{Name: "Conflicts", Value: "oldhello"}, {Name: "Provides", Value: "greeter"}},
		Files: map[string][]byte{"usr/bin/hello": []byte("x"), "usr/share/doc/hello/copyright": []byte("c")}})
	p := ingest(t, f, "main", b)
	d, err := f.Describe(&p)
	if err != nil {
		t.Fatal(err)
	}
	rel := map[string][]string{}
	for _, r := range d.Relations {
		rel[r.Kind] = r.Entries
	}
	for _, c := range []struct{ what, got, want string }{
		{"summary", d.Summary, "says hello"},
		{"description", d.Description, "a longer text\n\nsecond paragraph"},
		{"maintainer", d.Maintainer, "Pier Test <test@example.org>"},
		{"homepage", d.Homepage, "https://example.org/hello"},
		{"depends", strings.Join(rel["Depends"], ";"), "libc6 (>= 2.36);foo | bar"},
		{"conflicts", strings.Join(rel["Conflicts"], ";"), "oldhello"},
		{"provides", strings.Join(rel["Provides"], ";"), "greeter"},
		{"files", strings.Join(d.Files, ";"), "/usr/bin/hello;/usr/share/doc/hello/copyright"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if d.InstalledSize != 1024 || !d.FilesKnown {
		t.Errorf("installed size %d, files known %v; want 1024, true", d.InstalledSize, d.FilesKnown)
	}
	if got := f.InstallCommand(&p); got != "sudo apt-get install hello=1:2.0-1" {
		t.Errorf("install command %q", got)
	}
}

func TestDescribeLegacyAndCorrupt(t *testing.T) {
	f := New(Config{})
	m := Meta{Source: "hello", Head: "Package: hello\nVersion: 1\n", Tail: "Description: hi\n", Legacy: true}
	enc, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.Describe(&repo.Package{Name: "hello", Meta: enc})
	if err != nil {
		t.Fatal(err)
	}
	if d.FilesKnown || d.FilesNote == "" || d.Summary != "hi" {
		t.Errorf("legacy meta: files known %v, note %q, summary %q", d.FilesKnown, d.FilesNote, d.Summary)
	}
	for _, bad := range [][]byte{nil, []byte("deb9 x"), []byte("deb2 s - - 999 0\nPackage")} {
		if _, err := f.Describe(&repo.Package{Meta: bad}); err == nil {
			t.Errorf("Describe(%q) = nil error", bad)
		}
	}
	if slices.Contains(relationFields, "Description") {
		t.Error("Description listed as a relation")
	}
}

// FuzzDescribe: Describe reads a Meta (made at ingest from the uploaded
// control file and data member) and must never panic, whatever the bytes.
func FuzzDescribe(f *testing.F) {
	fm := New(Config{})
	p := ingest(f, fm, "main", build(f, debtest.Options{Package: "hello", Version: "1.0", Arch: "amd64",
		Description: "hi\n there\n .\n x", Depends: "a (>= 1) | b, c", Files: map[string][]byte{"usr/bin/hello": []byte("x")}}))
	f.Add(p.Meta)
	f.Add([]byte("deb1 s - - 3\nabc"))
	f.Fuzz(func(t *testing.T, meta []byte) {
		d, err := fm.Describe(&repo.Package{Meta: meta})
		if err == nil && d == nil {
			t.Fatal("nil details without an error")
		}
	})
}

// TestDescribeMatchesDpkgDeb checks Describe against dpkg-deb's view of the
// same .deb: the fields it prints (dpkg-deb -f) and the non-directory
// entries it lists (dpkg-deb -c), which is what Contents lists.
func TestDescribeMatchesDpkgDeb(t *testing.T) {
	tool, err := exec.LookPath("dpkg-deb")
	if err != nil {
		if isCI() {
			t.Fatal("dpkg-deb is required when CI=true")
		}
		t.Skip("dpkg-deb not installed")
	}
	f := New(Config{})
	b := build(t, debtest.Options{Package: "hello", Version: "2.0-1", Arch: "amd64", Description: "hi\n long text",
		Fields: []debtest.Field{{Name: "Homepage", Value: "https://example.org/h"}},
		Files:  map[string][]byte{"usr/bin/hello": []byte("x"), "etc/hello.conf": []byte("y"), "usr/share/doc/hello/README": nil}})
	path := filepath.Join(t.TempDir(), "hello.deb")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	p := ingest(t, f, "main", b)
	d, err := f.Describe(&p)
	if err != nil {
		t.Fatal(err)
	}
	fields, err := exec.Command(tool, "-f", path, "Maintainer", "Homepage", "Installed-Size").Output()
	if err != nil {
		t.Fatalf("dpkg-deb -f: %v", err)
	}
	want := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(fields)), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		want[k] = v
	}
	if d.Maintainer != want["Maintainer"] || d.Homepage != want["Homepage"] || fmt.Sprint(d.InstalledSize/1024) != want["Installed-Size"] {
		t.Errorf("maintainer %q, homepage %q, installed size %d; dpkg-deb -f says %q", d.Maintainer, d.Homepage, d.InstalledSize, want)
	}
	list, err := exec.Command(tool, "-c", path).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v", err)
	}
	var files []string
	for _, l := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		fs := strings.Fields(l)
		name := fs[5] // perms owner size date time name
		if !strings.HasSuffix(name, "/") {
			files = append(files, strings.TrimPrefix(name, "."))
		}
	}
	slices.Sort(files)
	if !slices.Equal(d.Files, files) {
		t.Errorf("files %q; dpkg-deb -c lists %q", d.Files, files)
	}
}
