package sqlite

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

// TestFrozenTriggers: a statement that changes a frozen target's package
// rows without the write methods' check (a future writer, a hand-made
// query) is refused by the triggers, and frozenTrigger maps the abort to
// repo.ErrFrozen; deleting the rows (target removal) is not refused.
func TestFrozenTriggers(t *testing.T) {
	ctx := t.Context()
	d := openAt(t, filepath.Join(t.TempDir(), "catalog.db"), Options{})
	src, err := d.Target(ctx, repo.Target{Stream: "5.8", Distro: "el", Release: "9"}, "rpm")
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := d.AddPackage(ctx, src.ID, &repo.Package{Component: "main", Name: "a", Version: "1-1", Arch: "x86_64",
		SHA256: "aa", Size: 1, Sums: repo.Sums{repo.SHA256: "aa"}, Meta: []byte{1}, Uploaded: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.AddGeneration(ctx, src.ID, &repo.Generation{Created: time.Now(), Revision: 1, Manifest: "m", PackageIDs: []int64{p.ID}}); err != nil {
		t.Fatal(err)
	}
	snap, err := d.Snapshot(ctx, src.ID, 1, repo.Target{Stream: "5.8.1", Distro: "el", Release: "9"}, "rpm", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE packages SET removed = 1 WHERE target_id = ?`,
		`INSERT INTO packages (target_id, component, name, version, arch, sha256, size, sums, meta, uploaded)
			VALUES (?, 'main', 'b', '1', 'x86_64', 'bb', 1, '{}', x'01', 0)`,
	} {
		_, err := d.db.ExecContext(ctx, q, snap.ID)
		if err == nil || !errors.Is(frozenTrigger(err), repo.ErrFrozen) {
			t.Errorf("%s on the frozen target: %v", q, err)
		}
	}
	// Moving a row of another target into the frozen one is refused too.
	if _, err := d.db.ExecContext(ctx, `UPDATE packages SET target_id = ? WHERE target_id = ?`, snap.ID, src.ID); !errors.Is(frozenTrigger(err), repo.ErrFrozen) {
		t.Errorf("moving a row into the frozen target: %v", err)
	}
	if _, err := d.RemoveTarget(ctx, snap.ID, time.Now()); err != nil {
		t.Errorf("removing the frozen target: %v", err)
	}
}

// BenchmarkSnapshot10k: one snapshot of a 10,000-package generation (the
// rows are copied inside SQLite with INSERT … SELECT; Meta of 2 KiB each).
func BenchmarkSnapshot10k(b *testing.B) {
	ctx := b.Context()
	d, err := Open(ctx, filepath.Join(b.TempDir(), "catalog.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	src, err := d.Target(ctx, repo.Target{Stream: "5.8", Distro: "el", Release: "9"}, "rpm")
	if err != nil {
		b.Fatal(err)
	}
	const n = 10000
	meta := bytes.Repeat([]byte{7}, 2048)
	ps := make([]*repo.Package, n)
	for i := range ps {
		sum := fmt.Sprintf("%064x", i)
		ps[i] = &repo.Package{Component: "main", Name: fmt.Sprintf("p%05d", i), Version: "1-1", Arch: "x86_64", SHA256: sum,
			Size: 1000, Sums: repo.Sums{repo.SHA256: sum}, Meta: meta, Uploaded: time.Now()}
	}
	res, err := d.AddPackages(ctx, src.ID, ps)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int64, n)
	for i, r := range res {
		ids[i] = r.Package.ID
	}
	if err := d.AddGeneration(ctx, src.ID, &repo.Generation{Created: time.Now(), Revision: 1, Manifest: "m", PackageIDs: ids}); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		if _, err := d.Snapshot(ctx, src.ID, 1, repo.Target{Stream: fmt.Sprintf("5.8.%d", i), Distro: "el", Release: "9"}, "rpm", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
