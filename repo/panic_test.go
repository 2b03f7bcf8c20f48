package repo_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/panics"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// panicFormat is a format whose Read or Rewrite panics, as a reader or
// signer bug on a hostile file would.
type panicFormat struct {
	repo.Format
	read, rewrite, index bool
}

// Index panics in index mode, as an indexer bug would in the middle of a
// publish (on the publisher's goroutine).
func (p *panicFormat) Index(ctx context.Context, in *repo.IndexInput) ([]repo.File, error) {
	if p.index {
		var m map[string]bool
		m["indexer bug"] = true // assignment to entry in nil map
	}
	return p.Format.Index(ctx, in)
}

func (p *panicFormat) Read(ctx context.Context, r io.ReaderAt, size int64, sums repo.Sums) (*repo.Parsed, error) {
	if p.read {
		var s []int
		_ = s[:len(s)-1] // slice bounds out of range
	}
	return p.Format.Read(ctx, r, size, sums)
}

func (p *panicFormat) Rewrite(ctx context.Context, t repo.Target, r io.ReaderAt, size int64, w io.Writer) (bool, error) {
	if p.rewrite {
		panic("signer bug")
	}
	return false, nil
}

// TestFormatPanicIsBadPackage: a panic in a format's reader or in its
// rewriter (which runs on a goroutine of its own, outside any handler's
// recovery) fails that upload as a bad package, stores nothing, and the
// service goes on: the next upload lands.
func TestFormatPanicIsBadPackage(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name          string
		read, rewrite bool
		want          string
	}{
		{"reader", true, false, "reader failed on this file"},
		{"rewriter", false, true, "rewriting (signing) this package failed: signer bug"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pf := &panicFormat{read: tc.read, rewrite: tc.rewrite}
			svc := newNodeWith(t, t.TempDir(), repo.Options{Node: "a"}, loggedCatalog{},
				func(f repo.Format) repo.Format { pf.Format = f; return pf })
			b, err := debtest.Build(debtest.Options{Package: "boom", Version: "1.0", Arch: "amd64"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = svc.Ingest(ctx, target, bytes.NewReader(b), repo.IngestOptions{})
			if !errors.Is(err, repo.ErrBadPackage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a bad package naming %q", err, tc.want)
			}
			if pkgs, err := svc.Packages(ctx, target); len(pkgs) != 0 || (err != nil && !errors.Is(err, repo.ErrNotFound)) {
				t.Errorf("after the failed upload: %d packages, %v", len(pkgs), err)
			}
			pf.read, pf.rewrite = false, false
			if p := put(t, svc, target, "after", "1.0"); p == nil || p.Name != "after" {
				t.Errorf("the next upload: %+v", p)
			}
		})
	}
}

// TestPublishPanicFailsOnlyThatPublish: a panic in a format's indexer
// (which runs on the publisher's goroutine, outside any handler's
// recovery) fails that publish with an internal error that says so; the
// previous generation stays served, the service goes on, and the next
// publish lands.
func TestPublishPanicFailsOnlyThatPublish(t *testing.T) {
	ctx := context.Background()
	pf := &panicFormat{}
	svc := newNodeWith(t, t.TempDir(), repo.Options{Node: "a"}, loggedCatalog{},
		func(f repo.Format) repo.Format { pf.Format = f; return pf })
	put(t, svc, target, "before", "1.0")
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	pf.index = true
	put(t, svc, target, "after", "1.0")
	_, err := svc.Publish(ctx, target)
	var pe *panics.Error
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "internal error") || !strings.Contains(err.Error(), "nil map") {
		t.Fatalf("publish with a panicking indexer: err = %v, want an internal error naming the panic", err)
	}
	if idx := servedFile(t, svc, "deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages"); !strings.Contains(idx, "Package: before") || strings.Contains(idx, "Package: after") {
		t.Fatalf("after the failed publish the served Packages is not the previous one:\n%s", idx)
	}
	pf.index = false
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatalf("the next publish: %v", err)
	}
	if idx := servedFile(t, svc, "deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages"); !strings.Contains(idx, "Package: after") {
		t.Fatalf("the next publish does not serve the new package:\n%s", idx)
	}
}
