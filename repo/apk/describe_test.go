package apk

import (
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/apk/apktest"
)

func TestDescribe(t *testing.T) {
	f := newTestFormat(t, Config{})
	b, err := apktest.Build(apktest.Options{Name: "hello", Version: "1.2-r0", Description: "says hello", URL: "https://example.org/h",
		License: "MIT", Maintainer: "Pier Test <t@example.org>", Depends: []string{"so:libc.musl-x86_64.so.1", "!oldhello"},
		Provides: []string{"cmd:hello=1.2-r0"}, Files: map[string][]byte{"/usr/bin/hello": []byte("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	p := readPackage(t, f, "main", b)
	d, err := f.Describe(&p)
	if err != nil {
		t.Fatal(err)
	}
	rel := map[string]string{}
	for _, r := range d.Relations {
		rel[r.Kind] = strings.Join(r.Entries, ";")
	}
	for _, c := range []struct{ what, got, want string }{
		{"summary", d.Summary, "says hello"},
		{"homepage", d.Homepage, "https://example.org/h"},
		{"license", d.License, "MIT"},
		{"maintainer", d.Maintainer, "Pier Test <t@example.org>"},
		{"depends", rel["depends"], "so:libc.musl-x86_64.so.1"},
		{"conflicts", rel["conflicts"], "oldhello"},
		{"provides", rel["provides"], "cmd:hello=1.2-r0"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if d.FilesKnown || d.FilesNote == "" {
		t.Errorf("files known %v, note %q: an index stanza has no file list", d.FilesKnown, d.FilesNote)
	}
	if d.InstalledSize <= 0 {
		t.Errorf("installed size %d", d.InstalledSize)
	}
	if got := f.InstallCommand(&p); got != "apk add hello=1.2-r0" {
		t.Errorf("install command %q", got)
	}
	if _, err := f.Describe(&repo.Package{Meta: []byte("P:x\n")}); err == nil {
		t.Error("a stanza without C: described")
	}
}

// FuzzDescribe: Describe reads a Meta (the APKINDEX stanza made at ingest
// from the uploaded .PKGINFO) and must never panic, whatever the bytes.
func FuzzDescribe(f *testing.F) {
	fm := newTestFormat(f, Config{})
	f.Add([]byte("C:Q1abc=\nP:x\nV:1-r0\nD:a !b\np:c\nI:12\n"))
	f.Add([]byte("C:\nI:-1\nD:\n"))
	f.Fuzz(func(t *testing.T, meta []byte) {
		d, err := fm.Describe(&repo.Package{Meta: meta})
		if err == nil && d == nil {
			t.Fatal("nil details without an error")
		}
	})
}
