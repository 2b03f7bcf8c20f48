package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

func TestIDsRoundTrip(t *testing.T) {
	for _, ids := range [][]int64{{}, {1}, {1, 2, 3, 1000, 1 << 40}} {
		got, err := decodeIDs(encodeIDs(ids))
		if err != nil || !slices.Equal(got, ids) && len(ids) > 0 {
			t.Errorf("%v -> %v %v", ids, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {9}, {1, 0x80}} {
		if _, err := decodeIDs(bad); err == nil {
			t.Errorf("decodeIDs(%v) accepted", bad)
		}
	}
}

// TestMigrateV0: a catalog written before removed packages were kept opens,
// keeps its packages and generations, and then allows a deleted version to
// come back with other bytes.
func TestMigrateV0(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE targets (id INTEGER PRIMARY KEY, stream TEXT NOT NULL, distro TEXT NOT NULL, release TEXT NOT NULL,
			format TEXT NOT NULL, revision INTEGER NOT NULL DEFAULT 0, current_gen INTEGER, UNIQUE (stream, distro, release))`,
		`CREATE TABLE packages (id INTEGER PRIMARY KEY, target_id INTEGER NOT NULL REFERENCES targets(id), component TEXT NOT NULL,
			name TEXT NOT NULL, version TEXT NOT NULL, arch TEXT NOT NULL, sha256 TEXT NOT NULL, orig_sha256 TEXT NOT NULL DEFAULT '',
			size INTEGER NOT NULL, sums TEXT NOT NULL, meta BLOB NOT NULL, uploaded INTEGER NOT NULL, UNIQUE (target_id, name, version, arch))`,
		`CREATE INDEX packages_sha256 ON packages (sha256)`,
		`CREATE TABLE generations (id INTEGER PRIMARY KEY, target_id INTEGER NOT NULL REFERENCES targets(id), seq INTEGER NOT NULL,
			created INTEGER NOT NULL, revision INTEGER NOT NULL, manifest TEXT NOT NULL, files INTEGER NOT NULL, packages INTEGER NOT NULL,
			UNIQUE (target_id, seq))`,
		`INSERT INTO targets (id, stream, distro, release, format, revision, current_gen) VALUES (1, '5.8', 'debian', 'bookworm', 'deb', 1, 1)`,
		`INSERT INTO packages VALUES (7, 1, 'main', 'hello', '1.0', 'amd64', 'aa', '', 10, '{"sha256":"aa"}', '{}', 5)`,
		`INSERT INTO generations VALUES (1, 1, 1, 1700000000, 1, 'mm', 3, 1)`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ps, err := db.Packages(ctx, 1)
	if err != nil || len(ps) != 1 || ps[0].ID != 7 || ps[0].SHA256 != "aa" {
		t.Fatalf("packages after migration: %+v %v", ps, err)
	}
	gens, err := db.Generations(ctx, 1, 10)
	if err != nil || len(gens) != 1 || gens[0].Manifest != "mm" || gens[0].Changes != nil {
		t.Fatalf("generations after migration: %+v %v", gens, err)
	}
	if _, err := db.Generation(ctx, 1, 1); !errors.Is(err, repo.ErrInvalid) {
		t.Errorf("restoring a generation without package ids: %v", err)
	}
	if err := db.DeletePackage(ctx, 1, "hello", "1.0", "amd64"); err != nil {
		t.Fatal(err)
	}
	p := pkg("hello", "1.0", "bb")
	if _, added, err := db.AddPackage(ctx, 1, p); err != nil || !added {
		t.Fatalf("re-add after delete: %v %v", added, err)
	}
	// A second open is a no-op.
	db2, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db2.Close()
}

func TestRemoveRestoreCollect(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	ti, err := db.Target(ctx, repo.Target{Stream: "s", Distro: "debian", Release: "r"}, "deb")
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := db.AddPackage(ctx, ti.ID, pkg("a", "1", "s1"))
	b, _, _ := db.AddPackage(ctx, ti.ID, pkg("b", "1", "s2"))
	gen := func(ids ...int64) *repo.Generation {
		g := &repo.Generation{Created: time.Unix(1, 0), Manifest: "m", PackageIDs: ids}
		if err := db.AddGeneration(ctx, ti.ID, g); err != nil {
			t.Fatal(err)
		}
		return g
	}
	g1 := gen(a.ID, b.ID)
	if g1.Changes.AddedCount != 2 {
		t.Errorf("first generation changes: %+v", g1.Changes)
	}
	if err := db.RemovePackages(ctx, ti.ID, []int64{a.ID}); err != nil {
		t.Fatal(err)
	}
	a2, _, err := db.AddPackage(ctx, ti.ID, pkg("a", "1", "s3"))
	if err != nil {
		t.Fatal(err)
	}
	gen(a2.ID, b.ID)
	// Restoring generation 1 swaps a's two rows.
	if err := db.SetLivePackages(ctx, ti.ID, g1.PackageIDs); err != nil {
		t.Fatal(err)
	}
	p, err := db.FindPackage(ctx, ti.ID, "a", "1", "amd64")
	if err != nil || p.SHA256 != "s1" {
		t.Fatalf("after restore: %+v %v", p, err)
	}
	// Generation 2 still holds a2: a collection keeping two keeps it.
	if st, err := db.Collect(ctx, 2); err != nil || st.Generations != 0 || st.Packages != 0 {
		t.Fatalf("collect keeping 2: %+v %v", st, err)
	}
	gen(a.ID, b.ID)
	// Keeping one generation (the third) forgets generations 1 and 2: a2
	// is removed and no longer held, so it goes.
	st, err := db.Collect(ctx, 1)
	if err != nil || st.Generations != 2 || st.Packages != 1 {
		t.Fatalf("collect: %+v %v", st, err)
	}
	var sums []string
	if err := db.References(ctx, func(s string, m bool) error { sums = append(sums, s); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(sums)
	if !slices.Equal(sums, []string{"m", "s1", "s2"}) {
		t.Errorf("references: %v", sums)
	}
	if err := db.SetLivePackages(ctx, ti.ID, []int64{a2.ID}); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("restoring a collected row: %v", err)
	}
	elsewhere, err := db.LiveElsewhere(ctx, ti.ID+1, []string{"s1", "zz"})
	if err != nil || !elsewhere["s1"] || elsewhere["zz"] {
		t.Errorf("live elsewhere: %v %v", elsewhere, err)
	}
}
