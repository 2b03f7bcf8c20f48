package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

// TestIDsRoundTrip: a generation's package ids survive their encoding, and
// corrupt encodings are refused.
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
	db := openAt(t, path, Options{})
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
	p := &repo.Package{Component: "main", Name: "hello", Version: "1.0", Arch: "amd64", SHA256: "bb", Size: 10,
		Sums: repo.Sums{repo.SHA256: "bb"}, Meta: []byte(`{}`), Uploaded: time.Unix(100, 0)}
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

// TestRemovedTimesFromClock: the removed time of a row (delete, removal,
// restore) is the catalog clock's, not the system's.
func TestRemovedTimesFromClock(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	db := openAt(t, filepath.Join(t.TempDir(), "catalog.db"), Options{Now: func() time.Time { return at }})
	ti, err := db.Target(ctx, repo.Target{Stream: "s", Distro: "debian", Release: "r"}, "deb")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, name := range []string{"deleted", "removed", "restored-away"} {
		p, _, err := db.AddPackage(ctx, ti.ID, &repo.Package{Component: "main", Name: name, Version: "1", Arch: "amd64",
			SHA256: name, Size: 1, Sums: repo.Sums{repo.SHA256: name}, Meta: []byte(`{}`), Uploaded: time.Unix(1, 0)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	if err := db.DeletePackage(ctx, ti.ID, "deleted", "1", "amd64"); err != nil {
		t.Fatal(err)
	}
	if err := db.RemovePackages(ctx, ti.ID, ids[1:2]); err != nil {
		t.Fatal(err)
	}
	if err := db.SetLivePackages(ctx, ti.ID, nil); err != nil {
		t.Fatal(err)
	}
	times, err := column[int64](ctx, db.db, `SELECT removed FROM packages ORDER BY id`)
	if err != nil || len(times) != 3 {
		t.Fatalf("removed times: %v %v", times, err)
	}
	for i, ns := range times {
		if ns != at.UnixNano() {
			t.Errorf("row %d removed at %v, want the clock's %v", ids[i], time.Unix(0, ns).UTC(), at)
		}
	}
}

// TestMigrateV1: a catalog whose packages table may reuse ids (before
// AUTOINCREMENT) is rebuilt with its rows, ids, indexes and triggers, and
// from then on an id whose row was collected is not given again.
func TestMigrateV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	v1 := openAt(t, path, Options{})
	for _, q := range []string{
		`DROP TABLE packages`,
		`CREATE TABLE packages (id INTEGER PRIMARY KEY, target_id INTEGER NOT NULL REFERENCES targets(id), component TEXT NOT NULL,
			name TEXT NOT NULL, version TEXT NOT NULL, arch TEXT NOT NULL, sha256 TEXT NOT NULL, orig_sha256 TEXT NOT NULL DEFAULT '',
			size INTEGER NOT NULL, sums TEXT NOT NULL, meta BLOB NOT NULL, uploaded INTEGER NOT NULL, removed INTEGER)`,
		`CREATE UNIQUE INDEX packages_live ON packages (target_id, name, version, arch) WHERE removed IS NULL`,
		`CREATE INDEX packages_sha256 ON packages (sha256)`,
		`CREATE TRIGGER no_zero BEFORE INSERT ON packages WHEN NEW.size = 0 BEGIN SELECT RAISE(ABORT, 'empty'); END`,
		`INSERT INTO targets (id, stream, distro, release, format) VALUES (1, 's', 'debian', 'r', 'deb')`,
		`INSERT INTO packages VALUES (5, 1, 'main', 'a', '1', 'amd64', 'aa', '', 10, '{"sha256":"aa"}', '{}', 5, NULL)`,
		`INSERT INTO packages VALUES (9, 1, 'main', 'b', '1', 'amd64', 'bb', '', 10, '{"sha256":"bb"}', '{}', 5, 7)`,
	} {
		if _, err := v1.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	v1.Close()
	db := openAt(t, path, Options{})
	schemas, err := column[string](ctx, db.db, `SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master
		WHERE tbl_name = 'packages' ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(schemas, "\n")
	for _, want := range []string{"AUTOINCREMENT", "index packages_live:", "index packages_sha256:", "trigger no_zero:"} {
		if !strings.Contains(joined, want) {
			t.Errorf("rebuilt schema lacks %q:\n%s", want, joined)
		}
	}
	ids, err := db.LivePackageIDs(ctx, 1)
	if err != nil || !slices.Equal(ids, []int64{5}) {
		t.Errorf("live ids after the rebuild: %v %v", ids, err)
	}
	if rows, err := db.PackagesByID(ctx, 1, []int64{9}); err != nil || len(rows) != 1 || rows[0].Name != "b" {
		t.Errorf("the removed row after the rebuild: %+v %v", rows, err)
	}
	// The unique index holds: a second live a 1 amd64 with other bytes is a conflict.
	if _, _, err := db.AddPackage(ctx, 1, &repo.Package{Component: "main", Name: "a", Version: "1", Arch: "amd64", SHA256: "zz",
		Size: 1, Sums: repo.Sums{repo.SHA256: "zz"}, Meta: []byte(`{}`)}); !errors.Is(err, repo.ErrConflict) {
		t.Errorf("a clashing package after the rebuild: %v", err)
	}
	// The trigger holds.
	if _, _, err := db.AddPackage(ctx, 1, &repo.Package{Component: "main", Name: "c", Version: "1", Arch: "amd64", SHA256: "cc",
		Size: 0, Sums: repo.Sums{repo.SHA256: "cc"}, Meta: []byte(`{}`)}); err == nil {
		t.Error("the table's trigger was lost in the rebuild")
	}
	// Row 9 goes; the next row still gets a new id.
	if st, err := db.Collect(ctx, 1); err != nil || st.Packages != 1 {
		t.Fatalf("collect: %+v %v", st, err)
	}
	p, _, err := db.AddPackage(ctx, 1, &repo.Package{Component: "main", Name: "d", Version: "1", Arch: "amd64", SHA256: "dd",
		Size: 1, Sums: repo.Sums{repo.SHA256: "dd"}, Meta: []byte(`{}`)})
	if err != nil || p.ID <= 9 {
		t.Errorf("a new row after collecting row 9: id %d, %v", p.ID, err)
	}
}
