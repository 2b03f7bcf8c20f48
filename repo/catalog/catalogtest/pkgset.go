package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

// testAddPackageSet: all or nothing. A set with a conflict (with a live
// package or within the set) changes nothing: no row, no revision, no
// event; a set without one adds every new package in one revision, and a
// member that is already there as the same upload is a result with Added
// false.
func testAddPackageSet(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/debian/bookworm").ID
	old := e.add(id, pkg("old", "1", "o"))
	rev := e.revision(id)
	events := func() int {
		evs, err := e.c.AuditEvents(ctx, audit.Query{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	before := events()
	for _, set := range [][]*repo.Package{
		{pkg("a", "1", "a1"), pkg("old", "1", "o2")},                    // conflicts with a live row
		{pkg("a", "1", "a1"), pkg("b", "1", "b1"), pkg("a", "1", "aX")}, // conflicts within the set
	} {
		ev := &audit.Event{Action: audit.Upload, Actor: "t"}
		_, err := e.c.AddPackageSet(audit.WithEvent(ctx, ev), id, set)
		wantErr(t, "AddPackageSet with a conflict", err, repo.ErrConflict)
		if ev.Recorded() {
			t.Error("a refused set recorded its event")
		}
		for _, p := range set {
			if p.ID != 0 {
				t.Errorf("%s %s keeps id %d after the set was refused", p.Name, p.SHA256, p.ID)
			}
		}
	}
	if got := e.live(id); !slices.Equal(got, []string{"old 1 o"}) {
		t.Errorf("live packages after refused sets: %v", got)
	}
	if r := e.revision(id); r != rev {
		t.Errorf("revision %d after refused sets, want %d", r, rev)
	}
	if n := events(); n != before {
		t.Errorf("%d audit events after refused sets, want %d", n, before)
	}
	ev := &audit.Event{Action: audit.Upload, Actor: "t"}
	set := []*repo.Package{pkg("a", "1", "a1"), pkg("old", "1", "o"), pkg("b", "1", "b1")}
	res, err := e.c.AddPackageSet(audit.WithEvent(ctx, ev), id, set)
	if err != nil || len(res) != 3 {
		t.Fatalf("AddPackageSet: %+v, %v", res, err)
	}
	if !res[0].Added || res[1].Added || !res[2].Added || res[1].Package.ID != old.ID || res[0].Package.ID == 0 {
		t.Errorf("results %+v, want a and b added, old the same upload", res)
	}
	if !ev.Recorded() {
		t.Error("the set's event was not recorded")
	}
	if r := e.revision(id); r != rev+1 {
		t.Errorf("revision %d after one set, want %d", r, rev+1)
	}
	if got := e.live(id); !slices.Equal(got, []string{"old 1 o", "a 1 a1", "b 1 b1"}) {
		t.Errorf("live packages: %v", got)
	}
	if _, err := e.c.AddPackageSet(ctxDone(t), id, []*repo.Package{pkg("c", "1", "c1")}); !errors.Is(err, context.Canceled) {
		t.Errorf("AddPackageSet with a done ctx: %v", err)
	}
}

// testExtraBlobs: a package's Extra blobs round-trip through every read
// with Meta, survive a removal while the row exists, and References names
// each of them until Collect deletes the row.
func testExtraBlobs(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/debian/bookworm").ID
	p := pkg("hello", "1.0-1", "dsc")
	p.Arch = "source"
	p.Extra = []repo.Blob{{SHA256: "orig", Size: 100}, {SHA256: "debian", Size: 7}}
	got := e.add(id, p)
	for _, read := range []func() (*repo.Package, error){
		func() (*repo.Package, error) { return e.c.FindPackage(ctx, id, "hello", "1.0-1", "source") },
		func() (*repo.Package, error) {
			ps, err := e.c.Packages(ctx, id)
			if err != nil || len(ps) != 1 {
				return nil, errors.Join(err, errors.New("not one package"))
			}
			return &ps[0], nil
		},
		func() (*repo.Package, error) {
			ps, err := e.c.PackagesByID(ctx, id, []int64{got.ID})
			if err != nil || len(ps) != 1 {
				return nil, errors.Join(err, errors.New("not one package"))
			}
			return &ps[0], nil
		},
	} {
		q, err := read()
		if err != nil {
			t.Fatal(err)
		}
		if d := samePackage(q, got); d != "" {
			t.Errorf("read back: %s", d)
		}
	}
	refs := func() map[string]bool {
		out := map[string]bool{}
		if err := e.c.References(ctx, func(sum string, manifest bool) error {
			out[sum] = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	g := e.generation(id, "m-1", got.ID)
	// A snapshot's copy of the row keeps the Extra blobs.
	snap, err := e.c.Snapshot(ctx, id, g.Seq, tg("5.8.1/debian/bookworm"), "deb", e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	sp, err := e.c.Packages(ctx, snap.ID)
	if err != nil || len(sp) != 1 || fmt.Sprint(sp[0].Extra) != fmt.Sprint(p.Extra) {
		t.Errorf("the snapshot's copy: %+v, %v", sp, err)
	}
	if _, err := e.c.RemoveTarget(ctx, snap.ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.c.DeletePackage(ctx, id, "hello", "1.0-1", "source"); err != nil {
		t.Fatal(err)
	}
	if r := refs(); !r["dsc"] || !r["orig"] || !r["debian"] || !r[g.Manifest] {
		t.Errorf("References while a generation holds the removed row: %v", r)
	}
	e.generation(id, "m-2")
	if _, err := e.c.Collect(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if r := refs(); r["dsc"] || r["orig"] || r["debian"] {
		t.Errorf("References after the row was collected: %v", r)
	}
}
