package deb

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pierhq/pier/repo"
)

// TestEntriesMemo: over a run of publishes that add, remove and re-add
// packages (several versions of one name and one package in two
// components among them, and a row that shares another's Meta array),
// entries with the memo returns what a Format without one returns, in
// the same order, with the same components and architectures.
func TestEntriesMemo(t *testing.T) {
	pool := syntheticPackagesFiles(t, 300, 3)
	for i := range 30 { // more versions of a few names
		p := pool[i%4]
		p.Version = fmt.Sprintf("%d:1.%d~rc%d-1", i%2, i%7, i%3)
		p.SHA256 = fmt.Sprintf("%064x", 1000+i)
		pool = append(pool, p)
	}
	other := pool[5] // the same package in another component
	other.Component, other.SHA256 = "contrib", fmt.Sprintf("%064x", 7)
	pool = append(pool, other)
	twin := pool[6] // shares pool[6]'s Meta array: must not take its place
	twin.Name, twin.SHA256 = "twin", fmt.Sprintf("%064x", 8)
	pool = append(pool, twin)
	for i := range pool {
		pool[i].ID = int64(i + 1)
	}
	f := New(Config{})
	rng := rand.New(rand.NewPCG(3, 4))
	in := map[int]bool{}
	memoHits := 0
	for round := range 60 {
		switch {
		case round == 0:
			for i := range 200 {
				in[i] = true
			}
		case round == 1:
			in[len(pool)-1], in[len(pool)-2] = true, true
		case round%10 == 9:
			for range 30 {
				k := rng.IntN(len(pool))
				in[k] = !in[k]
			}
		default:
			for range 1 + rng.IntN(3) {
				k := rng.IntN(len(pool))
				in[k] = !in[k]
			}
		}
		var pkgs []repo.Package
		for i := range pool {
			if in[i] {
				pkgs = append(pkgs, pool[i])
			}
		}
		// In id order, as the publisher hands them; now and then shuffled,
		// which must give the same entries (decoded in full).
		if round%7 == 6 {
			rng.Shuffle(len(pkgs), func(i, j int) { pkgs[i], pkgs[j] = pkgs[j], pkgs[i] })
		} else if f.entryMemo.Match("t", pkgs).Any() {
			memoHits++
		}
		got, gotComps, gotArchs, err := f.entries("t", pkgs)
		if err != nil {
			t.Fatal(err)
		}
		want, wantComps, wantArchs, err := New(Config{}).entries("t", pkgs)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(gotComps, gotArchs) != fmt.Sprint(wantComps, wantArchs) || len(got) != len(want) {
			t.Fatalf("round %d: %v %v %d entries, want %v %v %d", round, gotComps, gotArchs, len(got), wantComps, wantArchs, len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.pkg.ID != w.pkg.ID || g.pool != w.pool || g.md5 != w.md5 || g.sha1 != w.sha1 ||
				g.comp != w.comp || g.arch != w.arch || g.size != w.size || string(g.meta.head) != string(w.meta.head) {
				t.Fatalf("round %d, entry %d: got %d %s, want %d %s", round, i, g.pkg.ID, g.pool, w.pkg.ID, w.pool)
			}
		}
	}
	if memoHits < 50 {
		t.Errorf("the memo served %d of 51 publishes in id order", memoHits)
	}
	bad := pool[0]
	bad.Meta = []byte("garbage")
	if _, _, _, err := f.entries("t", []repo.Package{pool[1], bad}); err == nil {
		t.Error("a corrupt Meta was accepted")
	}
}
