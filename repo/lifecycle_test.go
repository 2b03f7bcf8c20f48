package repo_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/apk"
	"github.com/pierhq/pier/repo/deb/debtest"
	"github.com/pierhq/pier/repo/rpm"
	"github.com/pierhq/pier/storage"
)

// clock is a fake clock that moves a minute forward at each reading, so
// that generations need not wait for the next second.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

// newClockedService starts the clock at the real time: garbage collection
// compares the clock with the blob store's modification times.
func newClockedService(t *testing.T, keep int) *repo.Service {
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	return newService(t, repo.Options{KeepGenerations: keep, Now: c.Now})
}

func put(t *testing.T, svc *repo.Service, tg repo.Target, name, version string) *repo.Package {
	t.Helper()
	b, err := debtest.Build(debtest.Options{Package: name, Version: version, Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Ingest(context.Background(), tg, bytes.NewReader(b), repo.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Package
}

// served returns the Packages index of tg's main/amd64 as served now.
func served(t *testing.T, svc *repo.Service, tg repo.Target) string {
	t.Helper()
	return servedFile(t, svc, "deb/"+tg.Stream+"/dists/"+tg.Release+"/main/binary-amd64/Packages")
}

// servedFile returns the bytes served now at path.
func servedFile(t *testing.T, svc *repo.Service, path string) string {
	t.Helper()
	f, ok := svc.Lookup(path)
	if !ok {
		t.Fatalf("nothing served at %s", path)
	}
	b, err := svc.Blobs().ReadAll(context.Background(), f.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func versions(t *testing.T, svc *repo.Service, tg repo.Target, name string) []string {
	t.Helper()
	ps, err := svc.Packages(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		if p.Name == name {
			out = append(out, p.Version)
		}
	}
	slices.Sort(out)
	return out
}

// TestRetention: 12 versions with keep_versions 5 leave the 5 highest by
// Debian's version order (epochs and tildes), plus the pinned and the
// promoted one; the others' blobs are collected once no retained
// generation holds them.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	svc := newClockedService(t, 1)
	nightly := repo.Target{Stream: "nightly", Distro: "debian", Release: "bookworm"}
	stable := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	all := []string{"1.0~rc1", "1:0.9", "1.0", "0.1", "1.0+b1", "2.0~a", "1.1~beta", "1:0.5", "1.1", "2.0~~a", "1:0.9~rc1", "0.9"}
	sums := map[string]string{}
	for _, v := range all {
		sums[v] = put(t, svc, nightly, "hello", v).SHA256
	}
	put(t, svc, nightly, "world", "1")
	put(t, svc, nightly, "world", "2")
	if _, err := svc.Publish(ctx, nightly); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetPin(ctx, nightly, "hello", "1.0", true); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Promote(ctx, nightly, stable, []repo.PackageSpec{{Name: "hello", Version: "0.9"}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetRetention([]repo.RetentionRule{{Targets: []string{"nightly/*/*"}, Retention: repo.Retention{KeepVersions: 5}}}); err != nil {
		t.Fatal(err)
	}
	dry, gen, err := svc.Prune(ctx, nightly, true)
	if err != nil || gen != nil {
		t.Fatalf("dry run: %v %v", gen, err)
	}
	var dryVers []string
	for _, p := range dry {
		dryVers = append(dryVers, p.Version)
	}
	if want := []string{"0.1", "1.0~rc1", "1.0+b1", "1.1~beta", "1.1"}; !slices.Equal(dryVers, want) {
		t.Errorf("dry run would remove %v, want %v (in version order)", dryVers, want)
	}
	if got := versions(t, svc, nightly, "hello"); len(got) != 12 {
		t.Errorf("dry run changed the target: %v", got)
	}
	if _, err := svc.Publish(ctx, nightly); err != nil {
		t.Fatal(err)
	}
	kept := []string{"0.9", "1.0", "1:0.5", "1:0.9", "1:0.9~rc1", "2.0~a", "2.0~~a"}
	slices.Sort(kept)
	if got := versions(t, svc, nightly, "hello"); !slices.Equal(got, kept) {
		t.Errorf("after publish: %v, want %v", got, kept)
	}
	if got := versions(t, svc, nightly, "world"); len(got) != 2 {
		t.Errorf("world: %v", got)
	}
	idx := served(t, svc, nightly)
	for _, v := range all {
		in := strings.Contains(idx, "\nVersion: "+v+"\n")
		if in != slices.Contains(kept, v) {
			t.Errorf("served Packages lists %s: %v", v, in)
		}
	}
	checkCollected(t, svc, sums, kept)
	// Unpinned, 1.0 goes at the next publish; 0.9 stays while 5.8 has it.
	if err := svc.SetPin(ctx, nightly, "hello", "1.0", false); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Publish(ctx, nightly); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, svc, nightly, "hello"); slices.Contains(got, "1.0") || !slices.Contains(got, "0.9") {
		t.Errorf("after unpin: %v", got)
	}
}

// checkCollected runs a collection after TestRetention's prune: the
// pruned versions' rows and blobs go (sums: sha256 by version), the kept
// ones and everything served stay, and a second collection finds nothing.
func checkCollected(t *testing.T, svc *repo.Service, sums map[string]string, kept []string) {
	t.Helper()
	ctx := context.Background()
	st, err := svc.CollectGarbage(ctx, repo.GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Generations < 1 || st.Packages != 5 || st.Blobs < 5 {
		t.Errorf("gc: %+v, want the first generation, 5 packages and their blobs", st)
	}
	for v := range sums {
		has, err := svc.Blobs().Has(ctx, sums[v])
		if err != nil {
			t.Fatal(err)
		}
		if has != slices.Contains(kept, v) {
			t.Errorf("blob of hello %s present: %v", v, has)
		}
	}
	// Everything still served is still there.
	for p := range svc.ServedPaths("deb/") {
		f, _ := svc.Lookup(p)
		if ok, err := svc.Blobs().Has(ctx, f.SHA256); err != nil || !ok {
			t.Errorf("served %s lost its blob: %v", p, err)
		}
	}
	st, err = svc.CollectGarbage(ctx, repo.GCOptions{})
	if err != nil || st.Blobs != 0 || st.Packages != 0 {
		t.Errorf("second gc: %+v %v", st, err)
	}
}

func TestPruneCandidatesKeepDays(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	pkgs := []repo.Package{
		{ID: 1, Name: "a", Arch: "x86_64", Version: "1.0-1", Uploaded: now.Add(-40 * day)},
		{ID: 2, Name: "a", Arch: "x86_64", Version: "1.1-1", Uploaded: now.Add(-35 * day)},
		{ID: 3, Name: "a", Arch: "x86_64", Version: "1.2-1", Uploaded: now.Add(-2 * day)},
		{ID: 4, Name: "b", Arch: "x86_64", Version: "3-1", Uploaded: now.Add(-400 * day)},
	}
	cmp := func(a, b string) int { return strings.Compare(a, b) }
	got := repo.PruneCandidates(pkgs, repo.Retention{KeepDays: 30}, cmp, func(*repo.Package) bool { return false }, now)
	var ids []int64
	for _, p := range got {
		ids = append(ids, p.ID)
	}
	// a 1.0 and 1.1 are too old; b 3 is old but the only (highest) version.
	if !slices.Equal(ids, []int64{1, 2}) {
		t.Errorf("keep_days 30 removes %v, want [1 2]", ids)
	}
	got = repo.PruneCandidates(pkgs, repo.Retention{KeepDays: 30}, cmp, func(p *repo.Package) bool { return p.ID == 1 }, now)
	if len(got) != 1 || got[0].ID != 2 {
		t.Errorf("with 1 kept: %+v", got)
	}
	if got := repo.PruneCandidates(pkgs, repo.Retention{}, cmp, func(*repo.Package) bool { return false }, now); got != nil {
		t.Errorf("no rule removes %v", got)
	}
}

// TestRollback: after generations 1..3, rolling back to 1 publishes
// generation 4 with generation 1's packages, and records what changed.
func TestRollback(t *testing.T) {
	ctx := context.Background()
	svc := newClockedService(t, 5)
	put(t, svc, target, "aa", "1")
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	put(t, svc, target, "bb", "1")
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, target, "aa", "1", "amd64"); err != nil {
		t.Fatal(err)
	}
	put(t, svc, target, "cc", "1")
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	gens, err := svc.Generations(ctx, target)
	if err != nil || len(gens) != 3 {
		t.Fatalf("generations: %v %v", gens, err)
	}
	if c := gens[0].Changes; c == nil || c.AddedCount != 1 || c.RemovedCount != 1 || c.Added[0] != "cc 1 amd64" || c.Removed[0] != "aa 1 amd64" {
		t.Errorf("generation 3 changes: %+v", gens[0].Changes)
	}
	g, err := svc.Rollback(ctx, target, 1)
	if err != nil {
		t.Fatal(err)
	}
	if g.Seq != 4 || g.Packages != 1 || g.Note != "rollback to generation 1" {
		t.Errorf("rollback generation: %+v", g)
	}
	if c := g.Changes; c == nil || c.AddedCount != 1 || c.RemovedCount != 2 {
		t.Errorf("rollback changes: %+v", g.Changes)
	}
	idx := served(t, svc, target)
	if !strings.Contains(idx, "Package: aa\n") || strings.Contains(idx, "Package: bb\n") || strings.Contains(idx, "Package: cc\n") {
		t.Errorf("served after rollback:\n%s", idx)
	}
	if _, err := svc.Rollback(ctx, target, 99); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("rollback to a missing generation: %v", err)
	}
	// And forward again to generation 3.
	if g, err := svc.Rollback(ctx, target, 3); err != nil || g.Packages != 2 {
		t.Fatalf("roll forward: %+v %v", g, err)
	}
	if got := versions(t, svc, target, "cc"); len(got) != 1 {
		t.Errorf("c after roll forward: %v", got)
	}
}

func TestPromoteRules(t *testing.T) {
	ctx := context.Background()
	svc := newClockedService(t, 3)
	nightly := repo.Target{Stream: "nightly", Distro: "debian", Release: "bookworm"}
	stable := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	p1 := put(t, svc, nightly, "hello", "1.0")
	put(t, svc, nightly, "hello", "1.1")
	if _, err := svc.Promote(ctx, nightly, stable, []repo.PackageSpec{{Name: "nope"}}); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("missing package: %v", err)
	}
	if _, err := svc.Promote(ctx, repo.Target{Stream: "x", Distro: "debian", Release: "bookworm"}, stable,
		[]repo.PackageSpec{{Name: "hello"}}); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("missing source target: %v", err)
	}
	if _, err := svc.Promote(ctx, nightly, nightly, []repo.PackageSpec{{Name: "hello"}}); !errors.Is(err, repo.ErrInvalid) {
		t.Errorf("promote to itself: %v", err)
	}
	// Without a version: the highest.
	res, err := svc.Promote(ctx, nightly, stable, []repo.PackageSpec{{Name: "hello"}})
	if err != nil || len(res) != 1 || res[0].Package.Version != "1.1" || !res[0].Added {
		t.Fatalf("promote hello: %+v %v", res, err)
	}
	// Same blob as the source; again is a no-op.
	res, err = svc.Promote(ctx, nightly, stable, []repo.PackageSpec{{Name: "hello", Version: "1.0"}})
	if err != nil || res[0].Package.SHA256 != p1.SHA256 {
		t.Fatalf("promote hello=1.0: %+v %v", res, err)
	}
	if res, err := svc.Promote(ctx, nightly, stable, []repo.PackageSpec{{Name: "hello", Version: "1.0"}}); err != nil || res[0].Added {
		t.Errorf("second promotion: %+v %v", res, err)
	}
	// A conflicting package in the destination refuses the whole promotion.
	other, err := debtest.Build(debtest.Options{Package: "hello", Version: "1.2", Arch: "amd64", Description: "other bytes"})
	if err != nil {
		t.Fatal(err)
	}
	put(t, svc, nightly, "hello", "1.2")
	if _, err := svc.Ingest(ctx, stable, bytes.NewReader(other), repo.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	put(t, svc, nightly, "extra", "1")
	if _, err := svc.Promote(ctx, nightly, stable, []repo.PackageSpec{{Name: "extra"}, {Name: "hello", Version: "1.2"}}); !errors.Is(err, repo.ErrConflict) {
		t.Errorf("conflicting promotion: %v", err)
	}
	if got := versions(t, svc, stable, "extra"); len(got) != 0 {
		t.Errorf("a refused promotion copied %v", got)
	}
}

// TestPackageCache: publishes read unchanged rows from the in-memory cache;
// with a cache too small for two targets, alternating publishes evict each
// other and still index exactly the live packages.
func TestPackageCache(t *testing.T) {
	ctx := context.Background()
	for _, limit := range []int64{0, 3000, -1} {
		c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		svc := newService(t, repo.Options{Now: c.Now, PackageCacheBytes: limit})
		t1 := repo.Target{Stream: "a", Distro: "debian", Release: "bookworm"}
		t2 := repo.Target{Stream: "b", Distro: "debian", Release: "bookworm"}
		for i := range 4 {
			for _, tg := range []repo.Target{t1, t2} {
				put(t, svc, tg, "pkg"+tg.Stream+string(rune('a'+i)), "1")
				if i == 2 {
					if err := svc.Delete(ctx, tg, "pkg"+tg.Stream+"a", "1", "amd64"); err != nil {
						t.Fatal(err)
					}
				}
				g, err := svc.Publish(ctx, tg)
				if err != nil {
					t.Fatal(err)
				}
				want := i + 1
				if i >= 2 {
					want--
				}
				idx := served(t, svc, tg)
				if g.Packages != want || strings.Count(idx, "Package: ") != want || (i >= 2 && strings.Contains(idx, "Package: pkg"+tg.Stream+"a\n")) {
					t.Errorf("limit %d, %s round %d: generation has %d packages, index:\n%s", limit, tg, i, g.Packages, idx)
				}
			}
		}
	}
}

// TestBatchAddLinked: a linked import stores the file itself (same inode,
// no copy), leaves its bytes alone, and a collection of the blob leaves
// the source file in place.
func TestBatchAddLinked(t *testing.T) {
	ctx := context.Background()
	svc := newClockedService(t, 1)
	dir := t.TempDir()
	b, err := debtest.Build(debtest.Options{Package: "linked", Version: "1.0", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "linked.deb")
	if err := os.WriteFile(src, b, 0o644); err != nil {
		t.Fatal(err)
	}
	batch := svc.NewBatch(target)
	if res, err := batch.AddLinked(ctx, src, repo.IngestOptions{}); err != nil || res != nil {
		t.Fatalf("AddLinked: %+v %v", res, err)
	}
	res, errs, err := batch.Commit(ctx)
	batch.Close()
	if err != nil || errs[0] != nil || !res[0].Created {
		t.Fatalf("commit: %v %v", err, errs)
	}
	obj, err := svc.Blobs().Open(ctx, res[0].Package.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := obj.(storage.Filer)
	if !ok {
		obj.Close()
		t.Fatalf("local blob %T is not a file", obj)
	}
	bi, err := f.File().Stat()
	obj.Close()
	if err != nil {
		t.Fatal(err)
	}
	si, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(bi, si) {
		t.Errorf("the blob is a copy, not the linked file")
	}
	if got, _ := os.ReadFile(src); !bytes.Equal(got, b) {
		t.Errorf("source bytes changed")
	}
	// Deleted, published and collected: the blob goes, the source stays.
	if err := svc.Delete(ctx, target, "linked", "1.0", "amd64"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CollectGarbage(ctx, repo.GCOptions{}); err != nil {
		t.Fatal(err)
	}
	if has, _ := svc.Blobs().Has(ctx, res[0].Package.SHA256); has {
		t.Errorf("blob not collected")
	}
	if got, err := os.ReadFile(src); err != nil || !bytes.Equal(got, b) {
		t.Errorf("source after collection: %v", err)
	}
}

// TestPruneCandidatesFormats: keep_versions orders by each format's own
// version rules: rpm epochs, tildes and carets; apk suffixes and -rN.
func TestPruneCandidatesFormats(t *testing.T) {
	now := time.Now()
	var rc rpm.Config
	rc.Defaults()
	for _, tc := range []struct {
		name string
		cmp  func(a, b string) int
		vers []string // shuffled
		keep []string // the 3 highest
	}{
		{"rpm", rpm.New(rc).Compare,
			[]string{"1.0-1", "1:0.1-1", "1.0~rc1-1", "1.0^git1-1", "2.0-1", "1.0-2", "2:0.0.1-1", "1.0-1.el9", "0.9-1"},
			[]string{"2:0.0.1-1", "1:0.1-1", "2.0-1"}},
		{"apk", apk.CompareVersions,
			[]string{"1.0-r0", "1.0_rc1-r0", "1.0-r1", "1.0_p1-r0", "1.1_alpha-r0", "0.9-r5", "1.1-r0", "1.0_beta2-r0"},
			[]string{"1.1-r0", "1.1_alpha-r0", "1.0_p1-r0"}},
	} {
		var pkgs []repo.Package
		for i, v := range tc.vers {
			pkgs = append(pkgs, repo.Package{ID: int64(i + 1), Name: "p", Arch: "x86_64", Version: v, Uploaded: now})
		}
		gone := repo.PruneCandidates(pkgs, repo.Retention{KeepVersions: 3}, tc.cmp, func(*repo.Package) bool { return false }, now)
		left := map[string]bool{}
		for _, v := range tc.vers {
			left[v] = true
		}
		for _, p := range gone {
			delete(left, p.Version)
		}
		var kept []string
		for v := range left {
			kept = append(kept, v)
		}
		slices.Sort(kept)
		want := slices.Clone(tc.keep)
		slices.Sort(want)
		if !slices.Equal(kept, want) {
			t.Errorf("%s: kept %v, want %v", tc.name, kept, want)
		}
	}
}

// countingCatalog counts the package rows read with their Meta.
type countingCatalog struct {
	repo.Catalog
	mu   sync.Mutex
	rows int
}

func (c *countingCatalog) Packages(ctx context.Context, target int64) ([]repo.Package, error) {
	ps, err := c.Catalog.Packages(ctx, target)
	c.add(len(ps))
	return ps, err
}

func (c *countingCatalog) PackagesByID(ctx context.Context, target int64, ids []int64) ([]repo.Package, error) {
	ps, err := c.Catalog.PackagesByID(ctx, target, ids)
	c.add(len(ps))
	return ps, err
}

func (c *countingCatalog) add(n int) {
	c.mu.Lock()
	c.rows += n
	c.mu.Unlock()
}

func (c *countingCatalog) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.rows
	c.rows = 0
	return n
}

// TestPackageCacheReadsOnlyNewRows: with the cache, a publish after one
// upload reads one package row; without it, every row.
func TestPackageCacheReadsOnlyNewRows(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		limit int64
		want  int
	}{{0, 1}, {-1, 6}} {
		cc := &countingCatalog{}
		c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		svc := newServiceOn(t, repo.Options{Now: c.Now, PackageCacheBytes: tc.limit}, func(cat repo.Catalog) repo.Catalog {
			cc.Catalog = cat
			return cc
		})
		for i := range 5 {
			put(t, svc, target, "cached"+string(rune('a'+i)), "1")
		}
		if _, err := svc.Publish(ctx, target); err != nil {
			t.Fatal(err)
		}
		put(t, svc, target, "cachedz", "1")
		cc.take()
		g, err := svc.Publish(ctx, target)
		if err != nil || g.Packages != 6 {
			t.Fatalf("publish: %+v %v", g, err)
		}
		if n := cc.take(); n != tc.want {
			t.Errorf("cache limit %d: the second publish read %d rows with Meta, want %d", tc.limit, n, tc.want)
		}
	}
}

// TestBatchConflict: a batch refuses a package whose name, version and
// architecture the target already holds with other bytes, and reports an
// identical one as unchanged.
func TestBatchConflict(t *testing.T) {
	ctx := context.Background()
	svc := newClockedService(t, 3)
	put(t, svc, target, "held", "1.0")
	same, err := debtest.Build(debtest.Options{Package: "held", Version: "1.0", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := debtest.Build(debtest.Options{Package: "held", Version: "1.0", Arch: "amd64", Description: "other bytes"})
	if err != nil {
		t.Fatal(err)
	}
	b := svc.NewBatch(target)
	defer b.Close()
	if res, err := b.Add(ctx, bytes.NewReader(same), repo.IngestOptions{}); err != nil || res == nil || res.Created || res.Path == "" {
		t.Errorf("identical package in a batch: %+v %v", res, err)
	}
	if _, err := b.Add(ctx, bytes.NewReader(other), repo.IngestOptions{}); !errors.Is(err, repo.ErrConflict) {
		t.Errorf("conflicting package in a batch: %v", err)
	}
	if b.Pending() != 0 {
		t.Errorf("%d packages staged", b.Pending())
	}
}
