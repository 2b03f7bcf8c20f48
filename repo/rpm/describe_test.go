package rpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
)

// TestDescribe checks Describe against the real rpm's view of the same
// package: its file list (rpm -qpl), summary, license, url and packager.
func TestDescribe(t *testing.T) {
	b := readFixture(t, "greet-1.0-1.noarch.rpm")
	f := newTestFormat()
	parsed, err := f.Read(context.Background(), bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	p := &repo.Package{Name: parsed.Name, Version: parsed.Version, Arch: parsed.Arch, SHA256: hex.EncodeToString(sum[:]), Meta: parsed.Meta}
	d, err := f.Describe(p)
	if err != nil {
		t.Fatal(err)
	}
	rel := map[string][]string{}
	for _, r := range d.Relations {
		rel[r.Kind] = r.Entries
	}
	for _, want := range []string{"bash >= 4.0", "with-release >= 2:1.5-3.el9", "coreutils"} {
		if !slices.Contains(rel["Requires"], want) {
			t.Errorf("Requires %q lacks %q", rel["Requires"], want)
		}
	}
	if !slices.Contains(rel["Provides"], "greeting = 1.0") {
		t.Errorf("Provides %q lacks greeting = 1.0", rel["Provides"])
	}
	if d.InstalledSize <= 0 || !d.FilesKnown {
		t.Errorf("installed size %d, files known %v", d.InstalledSize, d.FilesKnown)
	}
	if got := f.InstallCommand(p); got != "sudo dnf install greet-"+p.Version {
		t.Errorf("install command %q", got)
	}
	rpmBin := realTool(t, "rpm")
	cmd := exec.Command(rpmBin, "-qp", "--qf", "%{summary}|%{license}|%{url}|%{packager}\n", "testdata/greet-1.0-1.noarch.rpm")
	head, err := cmd.Output()
	if err != nil {
		t.Fatalf("rpm -qp: %v", err)
	}
	if got := strings.Join([]string{d.Summary, d.License, d.Homepage, d.Maintainer}, "|"); got != strings.TrimSpace(string(head)) {
		t.Errorf("summary|license|url|packager = %q, rpm says %q", got, strings.TrimSpace(string(head)))
	}
	list, err := exec.Command(rpmBin, "-qpl", "testdata/greet-1.0-1.noarch.rpm").Output()
	if err != nil {
		t.Fatalf("rpm -qpl: %v", err)
	}
	want := strings.Fields(string(list))
	slices.Sort(want)
	if !slices.Equal(d.Files, want) {
		t.Errorf("files %q, rpm -qpl lists %q", d.Files, want)
	}
}

func TestDescribeCorrupt(t *testing.T) {
	f := newTestFormat()
	for _, bad := range [][]byte{nil, {9}, {metaVersion, 200}} {
		if _, err := f.Describe(&repo.Package{Meta: bad}); err == nil {
			t.Errorf("Describe(%v) = nil error", bad)
		}
	}
}

// FuzzDescribe: Describe decodes a Meta (made at ingest from the uploaded
// header) and its XML fragments and must never panic, whatever the bytes.
func FuzzDescribe(f *testing.F) {
	fm := newTestFormat()
	b := readFixture(f, "greet-1.0-1.noarch.rpm")
	parsed, err := fm.Read(context.Background(), bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(parsed.Meta)
	f.Add([]byte{metaVersion, 1, 'a'})
	f.Fuzz(func(t *testing.T, meta []byte) {
		d, err := fm.Describe(&repo.Package{Meta: meta, SHA256: "00"})
		if err == nil && d == nil {
			t.Fatal("nil details without an error")
		}
	})
}
