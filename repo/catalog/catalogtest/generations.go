package catalogtest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// testGenerations: generations are numbered from 1 per target, the newest
// is current, listings are newest first without package ids, and one
// generation comes back with its ids, ascending.
func testGenerations(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("s/debian/r").ID
	other := e.target("s/debian/q").ID
	var ids []int64
	for i := range 3 {
		ids = append(ids, e.add(id, pkg(fmt.Sprint("p", i), "1", fmt.Sprint("s", i))).ID)
	}
	base := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := 1; i <= 4; i++ {
		g := &repo.Generation{Created: base.Add(time.Duration(i)*time.Second + 700*time.Millisecond), Revision: int64(10 + i),
			Manifest: fmt.Sprint("m", i), Files: 100 + i, Packages: 3, Note: fmt.Sprint("note ", i),
			PackageIDs: []int64{ids[2], ids[0], ids[1]}}
		if err := e.c.AddGeneration(ctx, id, g); err != nil {
			t.Fatal(err)
		}
		if g.Seq != int64(i) || g.ID == 0 {
			t.Errorf("generation %d: seq %d, id %d", i, g.Seq, g.ID)
		}
		if h := e.head(id); h.Current == nil || h.Current.ID != g.ID || h.Current.Seq != g.Seq {
			t.Errorf("current after generation %d: %+v", i, h.Current)
		}
		if i == 2 {
			og := &repo.Generation{Created: base, Manifest: "mo"}
			if err := e.c.AddGeneration(ctx, other, og); err != nil || og.Seq != 1 {
				t.Errorf("the other target's first generation: seq %d, %v", og.Seq, err)
			}
		}
	}
	gs, err := e.c.Generations(ctx, id, 3)
	if err != nil || len(gs) != 3 {
		t.Fatalf("Generations(3): %+v %v", gs, err)
	}
	for k, g := range gs {
		seq := int64(4 - k)
		if g.Seq != seq || g.Manifest != fmt.Sprint("m", seq) || g.Files != int(100+seq) || g.Packages != 3 || g.Revision != 10+seq ||
			g.Note != fmt.Sprint("note ", seq) || !g.Created.Equal(base.Add(time.Duration(seq)*time.Second)) ||
			g.Created.Location() != time.UTC || g.PackageIDs != nil {
			t.Errorf("Generations[%d]: %+v (want seq %d, created to the second, no package ids)", k, g, seq)
		}
	}
	if gs, err := e.c.Generations(ctx, id, 10); err != nil || len(gs) != 4 {
		t.Errorf("Generations(10): %d, %v", len(gs), err)
	}
	g, err := e.c.Generation(ctx, id, 2)
	sorted := slices.Sorted(slices.Values(ids))
	if err != nil || g.Seq != 2 || g.Manifest != "m2" || g.Note != "note 2" || !slices.Equal(g.PackageIDs, sorted) {
		t.Errorf("Generation(2): %+v %v, want package ids %v", g, err, sorted)
	}
	wantErr(t, "Generation(5)", errOf(e.c.Generation(ctx, id, 5)), repo.ErrNotFound)
	wantErr(t, "another target's generation 2", errOf(e.c.Generation(ctx, other, 2)), repo.ErrNotFound)
}

// testGenerationChanges: each generation says which packages came and went
// since the previous one, naming at most MaxChangesListed of each in order
// with complete counts; the events of ctx get the generation and its size.
func testGenerationChanges(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("s/debian/r").ID
	var first []int64
	for i := range repo.MaxChangesListed + 10 {
		first = append(first, e.add(id, pkg(fmt.Sprintf("p%03d", i), "1", fmt.Sprint("s", i))).ID)
	}
	g1 := e.generation(id, "m1", first...)
	c := g1.Changes
	if c == nil || c.AddedCount != len(first) || c.RemovedCount != 0 || len(c.Added) != repo.MaxChangesListed || len(c.Removed) != 0 ||
		c.Added[0] != "p000 1 amd64" || !slices.IsSorted(c.Added) {
		t.Fatalf("first generation's changes: %+v", c)
	}
	// Drop p001 and p003, add q 2.
	q := e.add(id, pkg("q", "2", "sq"))
	next := slices.DeleteFunc(slices.Clone(first), func(x int64) bool { return x == first[1] || x == first[3] })
	next = append(next, q.ID)
	g2 := e.generation(id, "m2", next...)
	want := &repo.Changes{Added: []string{"q 2 amd64"}, Removed: []string{"p001 1 amd64", "p003 1 amd64"}, AddedCount: 1, RemovedCount: 2}
	if fmt.Sprint(g2.Changes) != fmt.Sprint(want) {
		t.Errorf("changes: %+v, want %+v", g2.Changes, want)
	}
	gs, err := e.c.Generations(ctx, id, 1)
	if err != nil || len(gs) != 1 || fmt.Sprint(gs[0].Changes) != fmt.Sprint(want) {
		t.Errorf("Generations lists changes %+v (%v), want %+v", gs, err, want)
	}
	// The same set again: nothing changed.
	g3 := e.generation(id, "m3", next...)
	if g3.Changes == nil || g3.Changes.AddedCount != 0 || g3.Changes.RemovedCount != 0 {
		t.Errorf("changes of an unchanged set: %+v", g3.Changes)
	}
}

// testAliases: the first claim wins for ever, also among concurrent claims
// from two handles.
func testAliases(t *testing.T, e *env) {
	ctx := t.Context()
	a := e.target("5.8/debian/bookworm").ID
	b := e.target("5.8/ubuntu/bookworm").ID
	at := time.Unix(1_700_000_000, 0)
	if h, err := e.c.ClaimAlias(ctx, "deb/5.8/dists/bookworm", a, at); err != nil || h != a {
		t.Fatalf("first claim: %d %v", h, err)
	}
	for _, claimer := range []int64{b, a} {
		if h, err := e.c.ClaimAlias(ctx, "deb/5.8/dists/bookworm", claimer, at.Add(time.Hour)); err != nil || h != a {
			t.Errorf("claim by %d: holder %d %v, want %d", claimer, h, err, a)
		}
	}
	// Concurrent first claims on two handles agree.
	handles := []catalog.Store{e.c, e.open()}
	holders := make([]int64, 16)
	errs := make([]error, 16)
	var wg sync.WaitGroup
	for i := range holders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holders[i], errs[i] = handles[i%2].ClaimAlias(ctx, "apk/5.8/v3.20", []int64{a, b}[i%2], at)
		}()
	}
	wg.Wait()
	for i := range holders {
		if errs[i] != nil || holders[i] != holders[0] || (holders[0] != a && holders[0] != b) {
			t.Errorf("concurrent claim %d: holder %d (first %d), %v", i, holders[i], holders[0], errs[i])
		}
	}
	got, err := e.c.Aliases(ctx)
	want := map[string]int64{"deb/5.8/dists/bookworm": a, "apk/5.8/v3.20": holders[0]}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Aliases: %v %v, want %v", got, err, want)
	}
}
