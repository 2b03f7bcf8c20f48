package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

func open(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func pkg(name, version, sum string) *repo.Package {
	return &repo.Package{Component: "main", Name: name, Version: version, Arch: "amd64", SHA256: sum, Size: 10,
		Sums: repo.Sums{repo.SHA256: sum}, Meta: []byte(`{"x":1}`), Uploaded: time.Unix(100, 5).UTC()}
}

func TestPackagesAndConflicts(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	tg := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	ti, err := db.Target(ctx, tg, "deb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Target(ctx, tg, "rpm"); !errors.Is(err, repo.ErrInvalid) {
		t.Errorf("same target with another format: %v", err)
	}
	got, added, err := db.AddPackage(ctx, ti.ID, pkg("a", "1", "aa"))
	if err != nil || !added || got.ID == 0 {
		t.Fatalf("add: %v %v %+v", err, added, got)
	}
	if _, added, err := db.AddPackage(ctx, ti.ID, pkg("a", "1", "aa")); err != nil || added {
		t.Errorf("identical re-add: added=%v err=%v", added, err)
	}
	if _, _, err := db.AddPackage(ctx, ti.ID, pkg("a", "1", "bb")); !errors.Is(err, repo.ErrConflict) {
		t.Errorf("conflicting add: %v", err)
	}
	if _, err := db.FindPackage(ctx, ti.ID, "a", "2", "amd64"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("find missing: %v", err)
	}
	p, err := db.FindPackage(ctx, ti.ID, "a", "1", "amd64")
	if err != nil || p.SHA256 != "aa" || string(p.Meta) != `{"x":1}` || p.Sums[repo.SHA256] != "aa" || !p.Uploaded.Equal(time.Unix(100, 5)) {
		t.Errorf("find: %v %+v", err, p)
	}
	ts, err := db.Targets(ctx)
	if err != nil || len(ts) != 1 || ts[0].Packages != 1 || ts[0].Revision != 1 || ts[0].Current != nil {
		t.Errorf("targets: %v %+v", err, ts)
	}
}

func TestGenerations(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	ti, _ := db.Target(ctx, repo.Target{Stream: "s", Distro: "debian", Release: "r"}, "deb")
	for i := 1; i <= 4; i++ {
		g := &repo.Generation{Created: time.Unix(int64(1000+i), 0), Manifest: "m", Files: i, Packages: i}
		if err := db.AddGeneration(ctx, ti.ID, g); err != nil {
			t.Fatal(err)
		}
		if g.Seq != int64(i) {
			t.Errorf("seq %d, want %d", g.Seq, i)
		}
	}
	gs, err := db.Generations(ctx, ti.ID, 3)
	if err != nil || len(gs) != 3 || gs[0].Seq != 4 || gs[2].Seq != 2 {
		t.Fatalf("generations: %v %+v", err, gs)
	}
	ts, _ := db.Targets(ctx)
	if ts[0].Current == nil || ts[0].Current.Seq != 4 || ts[0].Current.Created.Unix() != 1004 {
		t.Errorf("current: %+v", ts[0].Current)
	}
}

// TestConcurrentWriters checks that two connections (two processes share
// one file the same way) add packages at once without "database is locked".
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	var dbs []*DB
	for range 2 {
		db, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs = append(dbs, db)
	}
	ti, _ := dbs[0].Target(ctx, repo.Target{Stream: "s", Distro: "debian", Release: "r"}, "deb")
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := string(rune('a'+i%26)) + string(rune('a'+i/26))
			if _, _, err := dbs[i%2].AddPackage(ctx, ti.ID, pkg(name, "1", "s"+name)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ps, err := dbs[1].Packages(ctx, ti.ID)
	if err != nil || len(ps) != 100 {
		t.Errorf("packages: %v %d", err, len(ps))
	}
}
