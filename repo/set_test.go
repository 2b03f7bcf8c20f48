package repo_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// srcDir holds the deb format's source package fixture (dpkg-source -b).
var srcDir = filepath.Join("deb", "testdata", "src")

// setOf returns a NextFile over the named files of srcDir, with replace
// giving other bytes for some names.
func setOf(t *testing.T, names []string, replace map[string][]byte) repo.NextFile {
	i := 0
	return func() (string, io.Reader, error) {
		if i == len(names) {
			return "", nil, io.EOF
		}
		n := names[i]
		i++
		b, ok := replace[n]
		if !ok {
			var err error
			if b, err = os.ReadFile(filepath.Join(srcDir, n)); err != nil {
				t.Fatal(err)
			}
		}
		return n, bytes.NewReader(b), nil
	}
}

var srcFiles = []string{"pier-src_1.0-1.dsc", "pier-src_1.0.orig.tar.gz", "pier-src_1.0-1.debian.tar.xz"}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestIngestSet: a source package is recorded with its files as Extra
// blobs; an incomplete or damaged set, a stray file and a set whose
// second package conflicts record nothing; garbage collection keeps every
// file of a live source package (published or not) and deletes them once
// the package is gone.
func TestIngestSet(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, repo.Options{})
	orig, _ := os.ReadFile(filepath.Join(srcDir, srcFiles[1]))
	for name, c := range map[string]struct {
		names   []string
		replace map[string][]byte
		want    error
		text    string
	}{
		"missing tarball": {srcFiles[:2], nil, repo.ErrBadPackage, "lists pier-src_1.0-1.debian.tar.xz, which the upload does not contain"},
		"damaged tarball": {srcFiles, map[string][]byte{srcFiles[1]: append(bytes.Clone(orig[:len(orig)-1]), orig[len(orig)-1]^1)},
			repo.ErrBadPackage, "pier-src_1.0.orig.tar.gz: md5 checksum mismatch"},
		"short tarball": {srcFiles, map[string][]byte{srcFiles[1]: orig[:10]}, repo.ErrBadPackage, "pier-src_1.0.orig.tar.gz: the file has 10 bytes"},
		"stray file":    {append(srcFiles, "notes.txt"), map[string][]byte{"notes.txt": []byte("x")}, repo.ErrBadPackage, "notes.txt is neither"},
		"two of a name": {append(srcFiles, srcFiles[1]), nil, repo.ErrInvalid, "two files named"},
		"path in name":  {[]string{"../x.dsc"}, map[string][]byte{"../x.dsc": []byte("x")}, repo.ErrInvalid, "plain file name"},
		"no package":    {srcFiles[1:], nil, repo.ErrBadPackage, "holds no deb package"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := svc.IngestSet(ctx, target, setOf(t, c.names, c.replace), repo.SetOptions{})
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("error %v, want %v with %q", err, c.want, c.text)
			}
		})
	}
	if ps, err := svc.Packages(ctx, target); err == nil && len(ps) != 0 {
		t.Fatalf("refused sets recorded %d packages", len(ps))
	}

	// A set with a binary package that conflicts records nothing.
	deb1, _ := debtest.Build(debtest.Options{Package: "pier-src", Version: "1.0-1", Arch: "all"})
	deb2, _ := debtest.Build(debtest.Options{Package: "pier-src", Version: "1.0-1", Arch: "all", Description: "other"})
	if _, err := svc.Ingest(ctx, target, bytes.NewReader(deb1), repo.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := svc.IngestSet(ctx, target, setOf(t, append(srcFiles, "pier-src_1.0-1_all.deb"), map[string][]byte{"pier-src_1.0-1_all.deb": deb2}),
		repo.SetOptions{})
	if !errors.Is(err, repo.ErrConflict) {
		t.Fatalf("a set with a conflicting package: %v", err)
	}
	if ps, _ := svc.Packages(ctx, target); len(ps) != 1 {
		t.Fatalf("a refused set changed the target: %d packages", len(ps))
	}

	res, err := svc.IngestSet(ctx, target, setOf(t, srcFiles, nil), repo.SetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Packages) != 1 || !res.Packages[0].Created || res.Packages[0].Package.Arch != "source" || len(res.Packages[0].Package.Extra) != 2 {
		t.Fatalf("result %+v", res.Packages)
	}
	uses := map[string]string{}
	for _, f := range res.Files {
		uses[f.Name] = f.Use + " " + f.Of
	}
	if uses[srcFiles[0]] != "package " || uses[srcFiles[1]] != "part "+srcFiles[0] {
		t.Errorf("file uses %v", uses)
	}
	extra := res.Packages[0].Package.Extra
	if extra[0].SHA256 != sum(orig) || extra[0].Size != int64(len(orig)) {
		t.Errorf("Extra %+v", extra)
	}
	again, err := svc.IngestSet(ctx, target, setOf(t, srcFiles, nil), repo.SetOptions{})
	if err != nil || again.Packages[0].Created {
		t.Fatalf("the same set again: %+v %v", again, err)
	}

	// A new revision without the orig tarball, which the target holds
	// (dak's -sd uploads): taken from the live 1.0-1.
	dsc, _ := os.ReadFile(filepath.Join(srcDir, srcFiles[0]))
	dsc2 := bytes.Replace(dsc, []byte("Version: 1.0-1"), []byte("Version: 1.0-2"), 1)
	res2, err := svc.IngestSet(ctx, target, setOf(t, []string{"pier-src_1.0-2.dsc", srcFiles[2]}, map[string][]byte{"pier-src_1.0-2.dsc": dsc2}),
		repo.SetOptions{})
	if err != nil {
		t.Fatalf("a revision without its orig tarball: %v", err)
	}
	if p2 := res2.Packages[0].Package; p2.Version != "1.0-2" || len(p2.Extra) != 2 || p2.Extra[0] != extra[0] {
		t.Errorf("the revision's files: %+v", p2.Extra)
	}
	// Another source name may not borrow it.
	other := bytes.Replace(dsc, []byte("Source: pier-src"), []byte("Source: pier-other"), 1)
	_, err = svc.IngestSet(ctx, target, setOf(t, []string{"pier-other_1.0-1.dsc", srcFiles[2]}, map[string][]byte{"pier-other_1.0-1.dsc": other}),
		repo.SetOptions{})
	if !errors.Is(err, repo.ErrBadPackage) || !strings.Contains(err.Error(), "which the upload does not contain") {
		t.Errorf("another source without the orig tarball: %v", err)
	}
	if err := svc.Delete(ctx, target, "pier-src", "1.0-2", "source"); err != nil {
		t.Fatal(err)
	}

	// Not published yet, no grace: the files stay while the row lives.
	if _, err := svc.CollectGarbage(ctx, repo.GCOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, b := range extra {
		if _, err := svc.Blobs().Size(ctx, b.SHA256); err != nil {
			t.Errorf("gc deleted a file of a live source package: %v", err)
		}
	}
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	p := res.Packages[0].Package
	if err := svc.Delete(ctx, target, p.Name, p.Version, p.Arch); err != nil {
		t.Fatal(err)
	}
	for range 3 { // push the generation that held it out of retention
		if _, err := svc.Publish(ctx, target); err != nil {
			t.Fatal(err)
		}
		ingest(t, svc, "filler"+strings.Repeat("x", int(svc.Publishes())))
	}
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CollectGarbage(ctx, repo.GCOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Blobs().Size(ctx, extra[0].SHA256); !errors.Is(err, os.ErrNotExist) && !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("gc kept the orig tarball of a collected source package: %v", err)
	}
}

// TestIngestSetFrozen: a source package travels into a snapshot with its
// files, and a set upload to the frozen snapshot is refused like any
// upload, recording nothing.
func TestIngestSetFrozen(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, repo.Options{})
	if _, err := svc.IngestSet(ctx, target, setOf(t, srcFiles, nil), repo.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := repo.Target{Stream: "5.8.1", Distro: "debian", Release: "bookworm"}
	if _, err := svc.Snapshot(ctx, target, dst); err != nil {
		t.Fatal(err)
	}
	ps, err := svc.Packages(ctx, dst)
	if err != nil || len(ps) != 1 || len(ps[0].Extra) != 2 {
		t.Fatalf("the snapshot's source package: %+v, %v", ps, err)
	}
	dsc, _ := os.ReadFile(filepath.Join(srcDir, srcFiles[0]))
	dsc2 := bytes.Replace(dsc, []byte("Version: 1.0-1"), []byte("Version: 1.0-2"), 1)
	_, err = svc.IngestSet(ctx, dst, setOf(t, append([]string{"pier-src_1.0-2.dsc"}, srcFiles[1:]...),
		map[string][]byte{"pier-src_1.0-2.dsc": dsc2}), repo.SetOptions{})
	if !errors.Is(err, repo.ErrFrozen) {
		t.Fatalf("a set upload to a snapshot: %v", err)
	}
	if ps, _ := svc.Packages(ctx, dst); len(ps) != 1 {
		t.Errorf("the refused upload changed the snapshot: %d packages", len(ps))
	}
}
