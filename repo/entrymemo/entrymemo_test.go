package entrymemo

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pierhq/pier/repo"
)

// TestMemo: over publishes that add and remove packages, a package is
// known (with the value remembered for it) exactly when its row was in the
// last publish, and Sort gives what sorting everything gives; packages out
// of id order, or a row read again (another Meta array), are not known.
func TestMemo(t *testing.T) {
	pool := make([]repo.Package, 200)
	for i := range pool {
		pool[i] = repo.Package{ID: int64(i + 1), Name: fmt.Sprintf("p%03d", (i*37)%200), Meta: []byte{byte(i), 1}}
	}
	byName := func(a, b *repo.Package) int { return cmp.Compare(a.Name, b.Name) }
	m := New[string]()
	rng := rand.New(rand.NewPCG(5, 6))
	in := map[int]bool{}
	last := map[int64]bool{}
	for round := range 40 {
		for range 1 + rng.IntN(20) {
			k := rng.IntN(len(pool))
			in[k] = !in[k]
		}
		var pkgs []repo.Package
		for i := range pool {
			if in[i] {
				pkgs = append(pkgs, pool[i])
			}
		}
		match := m.Match("t", pkgs)
		items := make([]*repo.Package, len(pkgs))
		for i := range pkgs {
			items[i] = &pkgs[i]
			v, ok := match.Known(i)
			if ok != last[pkgs[i].ID] || (ok && v != pkgs[i].Name) {
				t.Fatalf("round %d: %s known %v (%q), in the last publish %v", round, pkgs[i].Name, ok, v, last[pkgs[i].ID])
			}
		}
		got := Sort(match, items, byName)
		want := slices.SortedFunc(slices.Values(slices.Clone(items)), byName)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: Sort differs from a full sort", round)
		}
		order := make([]int, len(got))
		for r, p := range got {
			order[r] = slices.IndexFunc(pkgs, func(q repo.Package) bool { return q.ID == p.ID })
		}
		m.Remember("t", pkgs, order, func(r int) string { return got[r].Name })
		last = map[int64]bool{}
		for _, p := range pkgs {
			last[p.ID] = true
		}
	}
	// Out of id order: nothing known, nothing remembered.
	rev := []repo.Package{pool[2], pool[1]}
	if m.Match("t", rev).Any() {
		t.Error("packages out of id order were matched")
	}
	m.Remember("u", rev, []int{0, 1}, func(int) string { return "x" })
	if m.Match("u", []repo.Package{pool[1], pool[2]}).Any() {
		t.Error("packages out of id order were remembered")
	}
	// The same row read again (its own Meta array) is not known.
	m.Remember("v", pool[:1], []int{0}, func(int) string { return "x" })
	again := pool[0]
	again.Meta = slices.Clone(again.Meta)
	if _, ok := m.Match("v", []repo.Package{again}).Known(0); ok {
		t.Error("a row with another Meta array was known")
	}
	if _, ok := m.Match("v", pool[:1]).Known(0); !ok {
		t.Error("the remembered row was not known")
	}
}
