package rpm

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pierhq/pier/repo"
)

// TestDecodeEntriesMemo: over a run of publishes that add, remove and
// re-add packages (several versions of one name among them, a source
// package, two rows sharing one Meta array), the memo's entries are those
// a full decode, sort and href assignment give, in the same order.
func TestDecodeEntriesMemo(t *testing.T) {
	ctx := context.Background()
	pool := syntheticPackages(300)
	for i := range 40 { // more versions of a few names: rpm order matters
		p := syntheticInfo(fmt.Sprintf("package-%05d", i%5), 1000+i)
		p.Version = fmt.Sprintf("1.%d~rc%d", i%9, i%3)
		pool = append(pool, syntheticRecord(p, 1000+i))
	}
	src := syntheticInfo("package-src", 7)
	src.Arch = "src"
	pool = append(pool, syntheticRecord(src, 7))
	for i := range pool {
		pool[i].ID = int64(i + 1)
		if i > 0 && pool[i].SHA256 == pool[i-1].SHA256 {
			t.Fatal("synthetic packages repeat a sha256")
		}
	}
	// Two rows of one Meta array (distinct sums): both must be placed.
	twin := pool[3]
	twin.ID, twin.SHA256 = 9999, fmt.Sprintf("%064x", 12345)
	pool = append(pool, twin)

	f := New(Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	in := map[int]bool{}
	var memoHits int
	for round := range 60 {
		switch {
		case round == 0:
			for i := range 200 {
				in[i] = true
			}
		case round == 1: // the twin of a package published in round 0
			in[len(pool)-1] = true
		case round%10 == 9: // a bigger change
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
		shuffled := round%7 == 6
		if shuffled {
			rng.Shuffle(len(pkgs), func(i, j int) { pkgs[i], pkgs[j] = pkgs[j], pkgs[i] })
		} else if f.entries.Match("t/", pkgs).Any() {
			memoHits++
		}
		got, err := f.decodeEntriesMemo(ctx, "t/", pkgs)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeEntries(ctx, pkgs)
		if err != nil {
			t.Fatal(err)
		}
		assignHrefs(want)
		if len(got) != len(want) {
			t.Fatalf("round %d: %d entries, want %d", round, len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.sum != w.sum || g.href != w.href || g.ends != w.ends || g.pkg.ID != w.pkg.ID ||
				!bytes.Equal(appendPrimary(nil, g), appendPrimary(nil, w)) {
				t.Fatalf("round %d, entry %d: got %s %s, want %s %s", round, i, g.m.Name, g.href, w.m.Name, w.href)
			}
		}
	}
	if memoHits < 50 {
		t.Errorf("the memo served %d of 51 publishes in id order", memoHits)
	}
	// A row with a remembered id and sha256 but other Meta bytes (another
	// catalog, or a Meta written anew) is decoded again.
	first := []repo.Package{pool[0], pool[1]}
	if _, err := f.decodeEntriesMemo(ctx, "u/", first); err != nil {
		t.Fatal(err)
	}
	info := syntheticInfo("package-00001", 1)
	info.Summary = "Another summary"
	changed := pool[1]
	changed.Meta = encodeMeta(info)
	got, err := f.decodeEntriesMemo(ctx, "u/", []repo.Package{pool[0], changed})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(appendPrimary(nil, got[1]), []byte("Another summary")) {
		t.Error("a changed Meta under a remembered id and sha256 was not decoded again")
	}
	// A bad Meta is still refused.
	bad := pool[0]
	bad.Meta = []byte{0xff}
	if _, err := f.decodeEntriesMemo(ctx, "t/", []repo.Package{pool[1], bad}); err == nil {
		t.Error("a corrupt Meta was accepted")
	}
}

// BenchmarkDecodeEntries10k: decoding and sorting 10,000 packages, cold
// and with the memo of a publish that had one package fewer.
func BenchmarkDecodeEntries10k(b *testing.B) {
	ctx := context.Background()
	pkgs := syntheticPackages(10000)
	for i := range pkgs {
		pkgs[i].ID = int64(i + 1) // in id order, as the publisher hands them
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			if _, err := New(Config{}).decodeEntriesMemo(ctx, "t/", pkgs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("memo", func(b *testing.B) {
		f := New(Config{})
		for b.Loop() {
			b.StopTimer()
			if _, err := f.decodeEntriesMemo(ctx, "t/", pkgs[1:]); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := f.decodeEntriesMemo(ctx, "t/", pkgs); err != nil {
				b.Fatal(err)
			}
		}
	})
}
