package rpm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/pierhq/pier/repo"
)

// keyedTarget is a target's rows as a catalog holds them, for an Index
// from keys: ids from 1, a few source packages.
func keyedTarget(n int) []repo.Package {
	pkgs := make([]repo.Package, n)
	for i := range pkgs {
		info := syntheticInfo(fmt.Sprintf("package-%05d", i), i)
		if i%97 == 5 {
			info.Arch = "src"
		}
		pkgs[i] = syntheticRecord(info, i)
		pkgs[i].ID = int64(i + 1)
	}
	return pkgs
}

// rowSource hands out whole rows by id and counts them.
type rowSource struct {
	mu   sync.Mutex
	byID map[int64]repo.Package
	read int
}

func newRowSource(pkgs []repo.Package) *rowSource {
	s := &rowSource{byID: map[int64]repo.Package{}}
	for _, p := range pkgs {
		s.byID[p.ID] = p
	}
	return s
}

func (s *rowSource) rows(_ context.Context, ids []int64) ([]repo.Package, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]repo.Package, 0, len(ids))
	for _, id := range ids {
		p, ok := s.byID[id]
		if !ok {
			return nil, fmt.Errorf("no row %d", id)
		}
		out = append(out, p)
	}
	s.read += len(ids)
	return out, nil
}

// keysOf returns pkgs as PackageKeys gives them: no Meta, Sums or Extra.
func keysOf(pkgs []repo.Package) []repo.Package {
	out := make([]repo.Package, len(pkgs))
	for i, p := range pkgs {
		out[i] = repo.Package{ID: p.ID, Component: p.Component, Name: p.Name, Version: p.Version, Arch: p.Arch,
			SHA256: p.SHA256, OrigSHA256: p.OrigSHA256, Size: p.Size, Uploaded: p.Uploaded}
	}
	return out
}

func idsOf(pkgs []repo.Package) []int64 {
	ids := make([]int64, len(pkgs))
	for i := range pkgs {
		ids[i] = pkgs[i].ID
	}
	slices.Sort(ids)
	return ids
}

// TestIndexFromKeys: a new process (empty caches) given keys only, the
// previous generation and a way to read rows writes exactly what a full
// rebuild from whole rows writes, for additions, removals, a package
// re-uploaded under a new id, source packages, many new packages and a
// previous generation it has not read ahead; and for the small changes it
// reads a few rows, not the target's.
func TestIndexFromKeys(t *testing.T) {
	ctx := context.Background()
	const n = 3000
	base := keyedTarget(n)
	extra := func(i int) repo.Package {
		info := syntheticInfo(fmt.Sprintf("package-%05d-new", i), i)
		if i%2 == 1 {
			info.Arch = "src"
		}
		p := syntheticRecord(info, n+i)
		p.ID = int64(n + 1 + i)
		return p
	}
	without := func(pkgs []repo.Package, idx ...int) []repo.Package {
		out := slices.Clone(pkgs)
		slices.Sort(idx)
		for k := len(idx) - 1; k >= 0; k-- {
			out = slices.Delete(out, idx[k], idx[k]+1)
		}
		return out
	}
	reupload := slices.Clone(base[:n-1])
	again := base[1234]
	again.ID, again.Uploaded = n+500, again.Uploaded.Add(3600e9)
	reupload = append(without(reupload, 1234), again)
	many := slices.Clone(base)
	for i := range maxKeyedNew + 1 {
		many = append(many, extra(i))
	}
	cases := []struct {
		name     string
		next     []repo.Package
		prepare  bool
		maxReads int // rows read; 0: every row (a fallback)
	}{
		{"add one", append(slices.Clone(base), extra(0)), true, 400},
		{"add a source package", append(slices.Clone(base), extra(1)), true, 400},
		{"remove one", without(base, 1500), true, 400},
		{"remove the first and the last", without(base, 0, n-1), true, 600},
		{"add five, remove three", append(without(base, 10, 2000, 2999), extra(2), extra(3), extra(4), extra(5), extra(6)), true, 2000},
		{"nothing changed", slices.Clone(base), true, 8},
		{"re-uploaded under a new id", reupload, true, 400},
		{"many new packages", many, true, 0},
		{"not read ahead", append(slices.Clone(base), extra(0)), false, 0},
	}
	first, err := New(Config{}).Index(ctx, &repo.IndexInput{Target: testTarget, Packages: base, Time: fixtureTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	prev := previousOf(first)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, err := New(Config{IndexCacheSize: -1}).Index(ctx, &repo.IndexInput{Target: testTarget, Packages: c.next, Time: fixtureTime, Signer: fakeSigner{}})
			if err != nil {
				t.Fatal(err)
			}
			src := newRowSource(append(slices.Clone(base), c.next...))
			fresh := New(Config{})
			if c.prepare {
				fresh.Prepare(ctx, testTarget, prev)
			}
			in := &repo.IndexInput{Target: testTarget, Packages: keysOf(c.next), Time: fixtureTime, Signer: fakeSigner{},
				Previous: prev, Rows: src.rows,
				PreviousIDs: func(context.Context) ([]int64, error) { return idsOf(base), nil }}
			got, err := fresh.Index(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			sameAsFullRebuild(t, got, want)
			switch {
			case c.maxReads == 0 && src.read < len(c.next):
				t.Errorf("read %d rows, want all %d (this change needs every row)", src.read, len(c.next))
			case c.maxReads > 0 && src.read > c.maxReads:
				t.Errorf("read %d rows, want at most %d", src.read, c.maxReads)
			}
			t.Logf("%d rows read", src.read)
			if len(fresh.prev.m) != 0 {
				t.Errorf("%d seeded files still held after Index", len(fresh.prev.m))
			}
		})
	}
}

// TestIndexFromKeysErrors: a row that cannot be read fails the Index with
// that error (it is not taken for a reason to read every row).
func TestIndexFromKeysErrors(t *testing.T) {
	ctx := context.Background()
	base := keyedTarget(500)
	first, err := New(Config{}).Index(ctx, &repo.IndexInput{Target: testTarget, Packages: base, Time: fixtureTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	prev := previousOf(first)
	next := append(slices.Clone(base), syntheticPackage("package-new", 9))
	next[len(next)-1].ID = 9999
	broken := errors.New("catalog unreachable")
	fresh := New(Config{})
	fresh.Prepare(ctx, testTarget, prev)
	_, err = fresh.Index(ctx, &repo.IndexInput{Target: testTarget, Packages: keysOf(next), Time: fixtureTime, Signer: fakeSigner{},
		Previous: prev, Rows: func(context.Context, []int64) ([]repo.Package, error) { return nil, broken },
		PreviousIDs: func(context.Context) ([]int64, error) { return idsOf(base), nil }})
	if !errors.Is(err, broken) {
		t.Fatalf("Index with unreadable rows: %v, want %v", err, broken)
	}
}

// TestSeedingKeepsCopiesBeforeFirstIndex: seeding keeps the decompressed
// members for an Index from keys only until the process has indexed the
// target (the publisher hands keys only to a target's first publish in a
// process); later seedings (another process published meanwhile) keep
// none.
func TestSeedingKeepsCopiesBeforeFirstIndex(t *testing.T) {
	ctx := context.Background()
	base := keyedTarget(300)
	other, err := New(Config{}).Index(ctx, &repo.IndexInput{Target: testTarget, Packages: base, Time: fixtureTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	prev := previousOf(other)
	f := New(Config{})
	f.Prepare(ctx, testTarget, prev)
	if n := len(f.prev.m); n != 6 {
		t.Fatalf("first seeding kept %d files, want 6 (three per repository)", n)
	}
	if _, err := f.Index(ctx, &repo.IndexInput{Target: testTarget, Packages: base, Time: fixtureTime, Signer: fakeSigner{}, Previous: prev}); err != nil {
		t.Fatal(err)
	}
	// Another process publishes; this one seeds from that generation.
	next, err := New(Config{}).Index(ctx, &repo.IndexInput{Target: testTarget, Packages: base[1:], Time: fixtureTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	f.Prepare(ctx, testTarget, previousOf(next))
	if n := len(f.prev.m); n != 0 {
		t.Errorf("seeding after an Index kept %d files, want none", n)
	}
}

// TestIndexFromKeysOtherRendering: a previous generation whose entries
// read otherwise than this Pier renders the same rows (written by another
// version) is not carried on: the Index reads every row and writes what a
// full rebuild writes.
func TestIndexFromKeysOtherRendering(t *testing.T) {
	ctx := context.Background()
	base := keyedTarget(1000)
	older := slices.Clone(base)
	for i := range older {
		info := syntheticInfo(fmt.Sprintf("package-%05d", i), i)
		if i%97 == 5 {
			info.Arch = "src"
		}
		info.Summary = "Rendered by another version"
		older[i].Meta = encodeMeta(info)
	}
	first, err := New(Config{}).Index(ctx, &repo.IndexInput{Target: testTarget, Packages: older, Time: fixtureTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	prev := previousOf(first)
	next := append(slices.Clone(base), syntheticPackage("package-new", 7))
	next[len(next)-1].ID = 5000
	want, err := New(Config{IndexCacheSize: -1}).Index(ctx, &repo.IndexInput{Target: testTarget, Packages: next, Time: fixtureTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	src := newRowSource(next)
	fresh := New(Config{})
	fresh.Prepare(ctx, testTarget, prev)
	got, err := fresh.Index(ctx, &repo.IndexInput{Target: testTarget, Packages: keysOf(next), Time: fixtureTime, Signer: fakeSigner{},
		Previous: prev, Rows: src.rows, PreviousIDs: func(context.Context) ([]int64, error) { return idsOf(base), nil }})
	if err != nil {
		t.Fatal(err)
	}
	sameAsFullRebuild(t, got, want)
}
