package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/pgtest"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
	"github.com/pierhq/pier/repo/catalog/catalogtest"
)

// TestConformance runs the catalog conformance suite against a real
// PostgreSQL server: each subtest gets a new database, and every handle is
// another connection pool on it, as another node would open it.
func TestConformance(t *testing.T) {
	srv := pgtest.Start(t)
	catalogtest.Run(t, catalogtest.Impl{
		New: func(t *testing.T, now func() time.Time) func() catalog.Store {
			dsn := srv.NewDatabase(t)
			return func() catalog.Store {
				return openAt(t, dsn, Options{Now: now})
			}
		},
		BreakAudit: func(t *testing.T, s catalog.Store) {
			if _, err := s.(*DB).pool.Exec(t.Context(), `
CREATE FUNCTION no_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
CREATE TRIGGER no_audit BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION no_audit();`); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// openAt opens the catalog at dsn, closed when t ends.
func openAt(t *testing.T, dsn string, opts Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestMigrations: a new database gets every version once (nodes opening
// it at once included); a database at a newer version than the binary
// knows is refused; a database at an older version gets the missing ones.
func TestMigrations(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := t.Context()
	dsn := srv.NewDatabase(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := Open(ctx, dsn, Options{})
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	db := openAt(t, dsn, Options{})
	if v, err := db.SchemaVersion(ctx); err != nil || v != len(migrations()) {
		t.Fatalf("schema version %d %v, want %d", v, err, len(migrations()))
	}
	var rows int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM pier_schema`).Scan(&rows); err != nil || rows != len(migrations()) {
		t.Errorf("%d versions recorded (%v), want each once: %d", rows, err, len(migrations()))
	}
	// A newer Pier was here.
	if _, err := db.pool.Exec(ctx, `INSERT INTO pier_schema (version, applied) VALUES ($1, 0)`, len(migrations())+1); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, dsn, Options{}); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("opening a newer schema: %v, want ErrNewerSchema", err)
	}
	// An older one: only version 1 applied.
	old := srv.NewDatabase(t)
	oldDB, err := Open(ctx, old, Options{})
	if err != nil {
		t.Fatal(err)
	}
	oldDB.Close()
	if err := srv.Exec(ctx, pgtest.DatabaseOf(old), `DROP TABLE frozen_targets; DROP TABLE cluster_keys; DROP TABLE publish_log; DROP TABLE mirror_state;
		ALTER TABLE packages DROP COLUMN extra; DROP INDEX packages_target_live; DROP TABLE sessions; DROP TABLE search_files; DROP TABLE search_name_set;
		DROP TABLE search_state; DELETE FROM pier_schema WHERE version > 1`); err != nil {
		t.Fatal(err)
	}
	up := openAt(t, old, Options{})
	if v, err := up.SchemaVersion(ctx); err != nil || v != len(migrations()) {
		t.Errorf("after upgrading: version %d %v", v, err)
	}
	for _, table := range []string{"cluster_keys", "frozen_targets", "sessions", "search_files", "search_name_set", "search_state"} {
		if _, err := up.pool.Exec(ctx, `SELECT count(*) FROM `+table); err != nil {
			t.Errorf("upgrade did not create %s: %v", table, err)
		}
	}
	if _, err := up.pool.Exec(ctx, `SELECT extra FROM packages`); err != nil {
		t.Errorf("upgrade did not add packages.extra: %v", err)
	}
	var ix int
	if err := up.pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE indexname = 'packages_target_live'`).Scan(&ix); err != nil || ix != 1 {
		t.Errorf("upgrade made %d indexes packages_target_live (%v), want 1", ix, err)
	}
}

// TestOpenBadDSN: a DSN that does not parse is refused without quoting it
// (it may hold a password).
func TestOpenBadDSN(t *testing.T) {
	_, err := Open(t.Context(), "postgres://pier:s3cret@127.0.0.1:badport/x", Options{})
	if err == nil || regexp.MustCompile(`s3cret`).MatchString(err.Error()) {
		t.Errorf("bad DSN: %v", err)
	}
}

// TestGlobRegexp: the audit log's target globs match as SQLite's GLOB does.
func TestGlobRegexp(t *testing.T) {
	for _, c := range []struct {
		glob, s string
		want    bool
	}{
		{"5.8/*", "5.8/debian/bookworm", true},
		{"5.8/*", "5x8/debian/bookworm", false},
		{"*/bookworm", "5.7/debian/bookworm", true},
		{"5.[78]/debian/?ookworm", "5.7/debian/bookworm", true},
		{"5.[78]/debian/?ookworm", "5.9/debian/bookworm", false},
		{"5.[^78]/*", "5.9/a", true},
		{"5.[^78]/*", "5.8/a", false},
		{"[]x]", "]", true},
		{"a+b(c)", "a+b(c)", true},
		{"a+b", "aab", false},
		{"[abc", "[abc", true},
		{"A*", "a", false},
	} {
		re := regexp.MustCompile(globRegexp(c.glob))
		if got := re.MatchString(c.s); got != c.want {
			t.Errorf("%q ~ %q (%s): %v, want %v", c.s, c.glob, globRegexp(c.glob), got, c.want)
		}
	}
}

// TestMirrorState: a mirror's state is nil before the first save, then
// the last saved bytes.
func TestMirrorState(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := t.Context()
	db := openAt(t, srv.NewDatabase(t), Options{})
	if got, err := db.LoadMirrorState(ctx, "s3"); got != nil || err != nil {
		t.Fatalf("before any save: %q %v", got, err)
	}
	for _, v := range []string{`{"a":1}`, `{"a":2}`} {
		if err := db.SaveMirrorState(ctx, "s3", []byte(v)); err != nil {
			t.Fatal(err)
		}
		if got, err := db.LoadMirrorState(ctx, "s3"); string(got) != v || err != nil {
			t.Errorf("after saving %s: %q %v", v, got, err)
		}
	}
	if got, _ := db.LoadMirrorState(ctx, "other"); got != nil {
		t.Errorf("another mirror's state: %q", got)
	}
}

// TestImport: rows copied into an empty catalog keep their ids, new ids
// continue after LastID (never reusing a collected package's id), text
// stored as bytes is converted, and a catalog that is not empty is refused.
func TestImport(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := t.Context()
	db := openAt(t, srv.NewDatabase(t), Options{})
	rows := func(rs ...[]any) iter.Seq2[[]any, error] {
		return func(yield func([]any, error) bool) {
			for _, r := range rs {
				if !yield(r, nil) {
					return
				}
			}
		}
	}
	tables := []ImportTable{
		{Name: "targets", Cols: []string{"id", "stream", "distro", "release", "format", "revision"}, LastID: 7,
			Rows: rows([]any{int64(7), "5.8", "debian", "bookworm", "deb", int64(1)})},
		{Name: "packages", Cols: []string{"id", "target_id", "component", "name", "version", "arch", "sha256", "size", "sums", "meta", "uploaded"},
			LastID: 50, Rows: rows([]any{int64(40), int64(7), "main", "a", "1", "amd64", "aa", int64(2), []byte(`{"sha256":"aa"}`), []byte("{}"), int64(5)})},
	}
	counts, err := db.Import(ctx, tables)
	if err != nil || counts["targets"] != 1 || counts["packages"] != 1 {
		t.Fatalf("Import: %v %v", counts, err)
	}
	p, err := db.FindPackage(ctx, 7, "a", "1", "amd64")
	if err != nil || p.ID != 40 || p.Sums["sha256"] != "aa" {
		t.Fatalf("imported package: %+v %v", p, err)
	}
	got, added, err := db.AddPackage(ctx, 7, &repo.Package{Component: "main", Name: "b", Version: "1", Arch: "amd64", SHA256: "bb",
		Sums: repo.Sums{repo.SHA256: "bb"}, Meta: []byte("{}")})
	if err != nil || !added || got.ID <= 50 {
		t.Errorf("a package added after the import got id %d (%v %v), want one after 50", got.ID, added, err)
	}
	ti, err := db.Target(ctx, repo.Target{Stream: "5.9", Distro: "debian", Release: "bookworm"}, "deb")
	if err != nil || ti.ID <= 7 {
		t.Errorf("a target made after the import got id %d (%v)", ti.ID, err)
	}
	if _, err := db.Import(ctx, tables); err == nil {
		t.Error("an import into a catalog that is not empty succeeded")
	}
}

// TestSnapshotRacesUpload: a Snapshot into an existing empty target and an
// upload into it from another node (another pool), at once, never both
// succeed (PostgreSQL has no trigger: the target's row lock orders them).
// Either the snapshot wins and the upload is refused with a
// *repo.FrozenError, or the upload wins and the snapshot is refused with
// ErrConflict; the target then holds only the winner's rows.
func TestSnapshotRacesUpload(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := t.Context()
	dsn := srv.NewDatabase(t)
	a, b := openAt(t, dsn, Options{}), openAt(t, dsn, Options{})
	src, err := a.Target(ctx, repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}, "deb")
	if err != nil {
		t.Fatal(err)
	}
	p := &repo.Package{Component: "main", Name: "a", Version: "1", Arch: "amd64", SHA256: "aa", Size: 1,
		Meta: []byte("{}"), Uploaded: time.Unix(1, 0)}
	if _, _, err := a.AddPackage(ctx, src.ID, p); err != nil {
		t.Fatal(err)
	}
	if err := a.AddGeneration(ctx, src.ID, &repo.Generation{Created: time.Unix(2, 0), Manifest: "m", PackageIDs: []int64{p.ID}}); err != nil {
		t.Fatal(err)
	}
	wins := map[string]int{}
	for i := range 20 {
		dst, err := b.Target(ctx, repo.Target{Stream: fmt.Sprintf("5.8.%d", i+1), Distro: "debian", Release: "bookworm"}, "deb")
		if err != nil {
			t.Fatal(err)
		}
		snapErr, addErr := make(chan error, 1), make(chan error, 1)
		go func() {
			_, err := a.Snapshot(ctx, src.ID, 1, dst.Target, "deb", time.Unix(3, 0))
			snapErr <- err
		}()
		go func() {
			up := &repo.Package{Component: "main", Name: "new", Version: "1", Arch: "amd64", SHA256: "nn", Size: 1,
				Meta: []byte("{}"), Uploaded: time.Unix(4, 0)}
			_, _, err := b.AddPackage(ctx, dst.ID, up)
			addErr <- err
		}()
		se, ae := <-snapErr, <-addErr
		live, err := a.Packages(ctx, dst.ID)
		if err != nil {
			t.Fatal(err)
		}
		var fe *repo.FrozenError
		switch {
		case se == nil && errors.As(ae, &fe) && fe.Target == dst.Target:
			wins["snapshot"]++
			if len(live) != 1 || live[0].Name != "a" {
				t.Errorf("round %d: the snapshot won but %s holds %v", i, dst.Target, live)
			}
		case ae == nil && errors.Is(se, repo.ErrConflict) && !repo.IsFrozen(se):
			wins["upload"]++
			if len(live) != 1 || live[0].Name != "new" {
				t.Errorf("round %d: the upload won but %s holds %v", i, dst.Target, live)
			}
		default:
			t.Errorf("round %d: snapshot %v, upload %v: want exactly one to win", i, se, ae)
		}
	}
	t.Logf("wins: %v", wins)
}

// TestFrozenWhileWaiting: a writer that waited for the row lock of a
// transaction freezing its target is refused once that transaction
// commits: lockUnfrozen reads the frozen state after the lock, never with
// the snapshot the locking statement started with.
func TestFrozenWhileWaiting(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := t.Context()
	dsn := srv.NewDatabase(t)
	a, b := openAt(t, dsn, Options{}), openAt(t, dsn, Options{})
	dst, err := a.Target(ctx, repo.Target{Stream: "5.8.1", Distro: "debian", Release: "bookworm"}, "deb")
	if err != nil {
		t.Fatal(err)
	}
	// What Snapshot does to an existing empty target: lock its row, freeze
	// it, commit.
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rollback(tx)
	if err := lockTarget(ctx, tx, dst.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO frozen_targets (target_id, source_stream, source_distro, source_release,
		source_generation, created) VALUES ($1, '5.8', 'debian', 'bookworm', 1, 0)`, dst.ID); err != nil {
		t.Fatal(err)
	}
	addErr := make(chan error, 1)
	go func() {
		up := &repo.Package{Component: "main", Name: "new", Version: "1", Arch: "amd64", SHA256: "nn", Size: 1,
			Meta: []byte("{}"), Uploaded: time.Unix(4, 0)}
		_, _, err := b.AddPackage(ctx, dst.ID, up)
		addErr <- err
	}()
	for waiting := 0; waiting == 0; {
		if err := a.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-addErr:
			t.Fatalf("the upload did not wait for the target's lock: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var fe *repo.FrozenError
	if err := <-addErr; !errors.As(err, &fe) || fe.Target != dst.Target {
		t.Errorf("upload after waiting for the freeze: %v, want a *repo.FrozenError", err)
	}
	if live, err := a.Packages(ctx, dst.ID); err != nil || len(live) != 0 {
		t.Errorf("the frozen target holds %v (%v)", live, err)
	}
}
