package catalogtest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

// testRemovePackages: the live rows named are removed at once (one revision
// bump); rows that are not live rows of the target are ignored, and a call
// that removes nothing changes nothing.
func testRemovePackages(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/debian/bookworm").ID
	other := e.target("5.8/debian/trixie").ID
	a := e.add(id, pkg("a", "1", "aa"))
	b := e.add(id, pkg("b", "1", "bb"))
	c := e.add(id, pkg("c", "1", "cc"))
	f := e.add(other, pkg("f", "1", "ff"))
	rev := e.revision(id)
	if err := e.c.RemovePackages(ctx, id, []int64{a.ID, c.ID, f.ID, c.ID + f.ID + 1000}); err != nil {
		t.Fatal(err)
	}
	if got := e.live(id); !slices.Equal(got, []string{"b 1 bb"}) {
		t.Errorf("live after removing a and c: %v", got)
	}
	if got := e.live(other); !slices.Equal(got, []string{"f 1 ff"}) {
		t.Errorf("another target's row was removed: %v", got)
	}
	if r := e.revision(id); r != rev+1 {
		t.Errorf("revision %d, want %d", r, rev+1)
	}
	for _, ids := range [][]int64{nil, {a.ID, c.ID}, {f.ID}} {
		if err := e.c.RemovePackages(ctx, id, ids); err != nil {
			t.Errorf("RemovePackages(%v) removing nothing: %v", ids, err)
		}
	}
	if r := e.revision(id); r != rev+1 {
		t.Errorf("revision %d after removing nothing, want %d", r, rev+1)
	}
	if got := e.live(id); !slices.Equal(got, []string{"b 1 bb"}) || b.ID == 0 {
		t.Errorf("live: %v", got)
	}
}

// testSetLivePackages: a rollback's restore makes exactly the given rows
// live (live or removed ones), and refuses rows that are gone or clash,
// changing nothing then.
func testSetLivePackages(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/debian/bookworm").ID
	other := e.target("5.8/debian/trixie").ID
	a1 := e.add(id, pkg("a", "1", "a-old"))
	b := e.add(id, pkg("b", "1", "bb"))
	if err := e.c.RemovePackages(ctx, id, []int64{a1.ID}); err != nil {
		t.Fatal(err)
	}
	a2 := e.add(id, pkg("a", "1", "a-new"))
	c := e.add(id, pkg("c", "1", "cc"))
	f := e.add(other, pkg("f", "1", "ff"))
	rev := e.revision(id)
	// Refusals first: nothing may change.
	for _, bad := range []struct {
		name string
		ids  []int64
		want error
	}{
		{"another target's row", []int64{a1.ID, f.ID}, repo.ErrNotFound},
		{"an unknown row", []int64{b.ID, f.ID + c.ID + 1000}, repo.ErrNotFound},
		{"two rows of a 1 amd64", []int64{a1.ID, a2.ID}, repo.ErrConflict},
	} {
		wantErr(t, bad.name, e.c.SetLivePackages(ctx, id, bad.ids), bad.want)
	}
	if got := e.live(id); !slices.Equal(got, []string{"b 1 bb", "a 1 a-new", "c 1 cc"}) || e.revision(id) != rev {
		t.Fatalf("refused restores changed the target: %v, revision %d (want %d)", got, e.revision(id), rev)
	}
	// Swap a's rows, drop c, keep b.
	if err := e.c.SetLivePackages(ctx, id, []int64{b.ID, a1.ID}); err != nil {
		t.Fatal(err)
	}
	if got := e.live(id); !slices.Equal(got, []string{"a 1 a-old", "b 1 bb"}) {
		t.Errorf("after the restore: %v", got)
	}
	if r := e.revision(id); r != rev+1 {
		t.Errorf("revision %d after the restore, want %d", r, rev+1)
	}
	p, err := e.c.FindPackage(ctx, id, "a", "1", "amd64")
	if err != nil || p.ID != a1.ID {
		t.Errorf("FindPackage after the restore: %+v %v", p, err)
	}
	// The same set again still counts as a change (a rollback publishes).
	if err := e.c.SetLivePackages(ctx, id, []int64{a1.ID, b.ID}); err != nil {
		t.Fatal(err)
	}
	if r := e.revision(id); r != rev+2 {
		t.Errorf("revision %d after restoring the live set, want %d", r, rev+2)
	}
	// The empty set empties the target.
	if err := e.c.SetLivePackages(ctx, id, nil); err != nil {
		t.Fatal(err)
	}
	if got := e.live(id); len(got) != 0 {
		t.Errorf("after restoring nothing: %v", got)
	}
	if got := e.live(other); !slices.Equal(got, []string{"f 1 ff"}) {
		t.Errorf("the other target changed: %v", got)
	}
}

// testPins: pins are listed in byte order of name and version, carry the
// catalog clock's time to the second, and pinning twice keeps the first.
func testPins(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/debian/bookworm").ID
	other := e.target("5.8/debian/trixie").ID
	t1 := time.Date(2024, 3, 4, 5, 6, 7, 800_000_000, time.UTC)
	e.clock.set(t1)
	for _, p := range [][2]string{{"b", "2"}, {"a", "10"}, {"a", "9"}, {"B", "1"}} {
		if err := e.c.SetPin(ctx, id, p[0], p[1], true); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.set(t1.Add(time.Hour))
	if err := e.c.SetPin(ctx, id, "a", "9", true); err != nil {
		t.Errorf("pinning again: %v", err)
	}
	if err := e.c.SetPin(ctx, other, "z", "1", true); err != nil {
		t.Fatal(err)
	}
	pins, err := e.c.Pins(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pins {
		got = append(got, p.Name+"="+p.Version)
		if !p.Created.Equal(t1.Truncate(time.Second)) || p.Created.Location() != time.UTC {
			t.Errorf("pin %s=%s created %v, want %v (the clock's, to the second, UTC)", p.Name, p.Version, p.Created, t1.Truncate(time.Second))
		}
	}
	if want := []string{"B=1", "a=10", "a=9", "b=2"}; !slices.Equal(got, want) {
		t.Errorf("pins %v, want %v", got, want)
	}
	if err := e.c.SetPin(ctx, id, "a", "10", false); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "unpinning twice", e.c.SetPin(ctx, id, "a", "10", false), repo.ErrNotFound)
	wantErr(t, "unpinning another target's pin", e.c.SetPin(ctx, id, "z", "1", false), repo.ErrNotFound)
	if pins, err := e.c.Pins(ctx, id); err != nil || len(pins) != 3 {
		t.Errorf("pins after unpinning: %+v %v", pins, err)
	}
	if pins, err := e.c.Pins(ctx, other); err != nil || len(pins) != 1 || pins[0].Name != "z" {
		t.Errorf("the other target's pins: %+v %v", pins, err)
	}
	if pins, err := e.c.Pins(ctx, id+other+1000); err != nil || len(pins) != 0 {
		t.Errorf("pins of an unknown target: %+v %v", pins, err)
	}
}

// testCollect: Collect forgets generations beyond the newest keep ones and
// the removed rows that no remaining generation holds; a restore of a
// collected row is then ErrNotFound.
func testCollect(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("s/debian/r").ID
	other := e.target("s/debian/q").ID
	a := e.add(id, pkg("a", "1", "s1"))
	b := e.add(id, pkg("b", "1", "s2"))
	g1 := e.generation(id, "m1", a.ID, b.ID)
	if err := e.c.RemovePackages(ctx, id, []int64{a.ID}); err != nil {
		t.Fatal(err)
	}
	a2 := e.add(id, pkg("a", "1", "s3"))
	e.generation(id, "m2", a2.ID, b.ID)
	// A removed row that no generation ever held.
	loose := e.add(id, pkg("loose", "1", "s4"))
	if err := e.c.DeletePackage(ctx, id, "loose", "1", "amd64"); err != nil {
		t.Fatal(err)
	}
	o := e.add(other, pkg("o", "1", "so"))
	e.generation(other, "mo", o.ID)
	// Keeping two: generations 1 and 2 stay, and so do a and a2; the
	// loose row goes.
	st, err := e.c.Collect(ctx, 2)
	if err != nil || st.Generations != 0 || st.Packages != 1 {
		t.Fatalf("Collect(2): %+v %v", st, err)
	}
	if rows, _ := e.c.PackagesByID(ctx, id, []int64{loose.ID}); len(rows) != 0 {
		t.Errorf("the loose removed row survived: %+v", rows)
	}
	// Restore generation 1: a is live again, a2 removed.
	if err := e.c.SetLivePackages(ctx, id, g1.PackageIDs); err != nil {
		t.Fatal(err)
	}
	g3 := e.generation(id, "m3", a.ID, b.ID)
	// Keeping one (keep < 1 counts as one): generations 1 and 2 go; a2 is
	// removed and no longer held, so it goes; the other target keeps its
	// only generation.
	st, err = e.c.Collect(ctx, 0)
	if err != nil || st.Generations != 2 || st.Packages != 1 {
		t.Fatalf("Collect(0): %+v %v", st, err)
	}
	gs, err := e.c.Generations(ctx, id, 10)
	if err != nil || len(gs) != 1 || gs[0].Seq != g3.Seq {
		t.Errorf("generations after Collect: %+v %v", gs, err)
	}
	if gs, err := e.c.Generations(ctx, other, 10); err != nil || len(gs) != 1 {
		t.Errorf("the other target's generations: %+v %v", gs, err)
	}
	wantErr(t, "Generation(1) after Collect", errOf(e.c.Generation(ctx, id, g1.Seq)), repo.ErrNotFound)
	wantErr(t, "restoring a collected row", e.c.SetLivePackages(ctx, id, []int64{a2.ID}), repo.ErrNotFound)
	if h := e.head(id); h.Current == nil || h.Current.Seq != g3.Seq {
		t.Errorf("current after Collect: %+v", h.Current)
	}
	// Nothing left to collect.
	if st, err := e.c.Collect(ctx, 1); err != nil || st.Generations != 0 || st.Packages != 0 {
		t.Errorf("a second Collect: %+v %v", st, err)
	}
}

// testReferences: every package row's sha256 (live or removed) and every
// remaining manifest is named, with the right flag; fn's error stops it.
func testReferences(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("s/debian/r").ID
	other := e.target("s/el/9").ID
	a := e.add(id, pkg("a", "1", "s-a"))
	e.add(id, pkg("b", "1", "s-b"))
	e.add(other, pkg("b", "1", "s-b"))
	e.generation(id, "m-1", a.ID)
	if err := e.c.DeletePackage(ctx, id, "a", "1", "amd64"); err != nil {
		t.Fatal(err)
	}
	e.generation(other, "m-2")
	got := map[string]bool{}
	if err := e.c.References(ctx, func(sum string, manifest bool) error {
		if m, ok := got[sum]; ok && m != manifest {
			t.Errorf("%s named both as a manifest and not", sum)
		}
		got[sum] = manifest
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"s-a": false, "s-b": false, "m-1": true, "m-2": true}
	if len(got) != len(want) {
		t.Errorf("References: %v, want %v", got, want)
	}
	for k, v := range want {
		if m, ok := got[k]; !ok || m != v {
			t.Errorf("References: %s: named %v, manifest %v; want manifest %v", k, ok, m, v)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := e.c.References(ctx, func(string, bool) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("References with fn failing: %v after %d calls", err, calls)
	}
}
