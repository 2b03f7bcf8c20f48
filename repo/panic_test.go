package repo_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// panicFormat is a format whose Read or Rewrite panics, as a reader or
// signer bug on a hostile file would.
type panicFormat struct {
	repo.Format
	read, rewrite bool
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
