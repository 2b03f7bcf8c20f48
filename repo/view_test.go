package repo_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

// TestViewTargetsAndGenerations: with two targets sharing a pool and one
// of them published past its retained generations, each path is served as
// the newest generation holding it has it: a root only from the current
// generation, with that generation's time; other files of older retained
// generations still; files only in a forgotten generation no more; a pool
// file of both targets for both, one of a single target for it alone.
func TestViewTargetsAndGenerations(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { // two seconds a call: deb publishes never wait
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(2 * time.Second)
		return now
	}
	svc := newService(t, repo.Options{KeepGenerations: 3, Now: clock})
	ctx := context.Background()
	trixie := repo.Target{Stream: "5.8", Distro: "debian", Release: "trixie"}
	byHash := func(release string) []string {
		return slices.Collect(svc.ServedPaths("deb/5.8/debian/dists/" + release + "/main/binary-amd64/by-hash/SHA256/"))
	}
	ingest(t, svc, "shared")
	ingestTo(t, svc, trixie, "shared")
	ingestTo(t, svc, trixie, "only-trixie")
	var gens []*repo.Generation
	var hashes [][]string // by-hash paths after each bookworm publish
	for i, name := range []string{"pa", "pb", "pc", "pd"} {
		ingest(t, svc, name)
		g, err := svc.Publish(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		gens = append(gens, g)
		hashes = append(hashes, byHash("bookworm"))
		if i == 0 {
			if _, err := svc.Publish(ctx, trixie); err != nil {
				t.Fatal(err)
			}
		}
	}
	tg, err := svc.Publish(ctx, trixie) // nothing new: may be the same generation
	if err != nil {
		t.Fatal(err)
	}
	in, ok := svc.Lookup("deb/5.8/debian/dists/bookworm/InRelease")
	if !ok || !in.ModTime.Equal(gens[3].Created) || !slices.Equal(in.Targets, []repo.Target{target}) {
		t.Errorf("bookworm InRelease: %v %v %v, want generation 4's time %v", ok, in.ModTime, in.Targets, gens[3].Created)
	}
	// An index file at a stable path (not a root) is the current one too.
	if pk, ok := svc.Lookup("deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages.gz"); !ok || pk.Kind == repo.KindRoot || !pk.ModTime.Equal(gens[3].Created) {
		t.Errorf("bookworm Packages.gz: %v %v %v, want generation 4's time %v", ok, pk.Kind, pk.ModTime, gens[3].Created)
	}
	if tin, ok := svc.Lookup("deb/5.8/debian/dists/trixie/InRelease"); !ok || !tin.ModTime.Equal(tg.Created) {
		t.Errorf("trixie InRelease: %v %v, want %v", ok, tin.ModTime, tg.Created)
	}
	served := map[string]bool{}
	for _, p := range byHash("bookworm") {
		served[p] = true
	}
	// Generations 2–4 are retained: every by-hash file generation 2 added
	// is served; generation 1's own (the Packages of "shared" and "pa"
	// alone) is not.
	added := 0
	for _, p := range hashes[1] {
		if slices.Contains(hashes[0], p) {
			continue
		}
		added++
		if !served[p] {
			t.Errorf("%s of generation 2 is not served", p)
		}
	}
	if added == 0 {
		t.Error("generation 2 added no by-hash file")
	}
	gone := 0
	for _, p := range hashes[0] {
		if !served[p] {
			gone++
		}
	}
	if gone == 0 {
		t.Error("every by-hash file of the forgotten generation 1 is still served")
	}
	pools := map[string][]repo.Target{}
	for p := range svc.ServedPaths("deb/5.8/debian/pool/main/") {
		f, _ := svc.Lookup(p)
		pools[p] = f.Targets
	}
	var shared, alone int
	for p, ts := range pools {
		switch {
		case len(ts) == 2 && slices.Contains(ts, target) && slices.Contains(ts, trixie):
			shared++
		case len(ts) == 1:
			alone++
		default:
			t.Errorf("%s is served for %v", p, ts)
		}
	}
	if shared != 1 || alone != 5 { // shared; pa, pb, pc, pd; only-trixie
		t.Errorf("%d pool files of both targets and %d of one, want 1 and 5: %v", shared, alone, pools)
	}
}

// TestPreviousRoot: PreviousRoot gives the roots of the generation before
// the current one (what a client that read the other root of a pair just
// before a publish holds), follows each publish, and has nothing before a
// target's second generation or for a path that is not a root.
func TestPreviousRoot(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	svc := newService(t, repo.Options{KeepGenerations: 3, Now: func() time.Time { // deb publishes never wait
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(2 * time.Second)
		return now
	}})
	ctx := context.Background()
	const release = "deb/5.8/debian/dists/bookworm/Release"
	var roots []repo.Served // the current Release after each publish
	for _, name := range []string{"pa", "pb", "pc"} {
		ingest(t, svc, name)
		if _, err := svc.Publish(ctx, target); err != nil {
			t.Fatal(err)
		}
		cur, ok := svc.Lookup(release)
		if !ok {
			t.Fatal("no Release")
		}
		prev, ok := svc.PreviousRoot(release)
		if len(roots) == 0 {
			if ok {
				t.Errorf("after the first publish: a previous Release %v", prev)
			}
		} else if want := roots[len(roots)-1]; !ok || prev.SHA256 != want.SHA256 || prev.SHA256 == cur.SHA256 {
			t.Errorf("after publish %d: previous Release %v %v, want %s (current %s)", len(roots)+1, ok, prev.SHA256, want.SHA256, cur.SHA256)
		}
		if sig, ok := svc.PreviousRoot(release + ".gpg"); ok != (len(roots) > 0) {
			t.Errorf("after publish %d: previous Release.gpg %v %v", len(roots)+1, ok, sig)
		}
		roots = append(roots, cur)
	}
	if f, ok := svc.PreviousRoot("deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages.gz"); ok {
		t.Errorf("an index file that is not a root: %v", f)
	}
}

// TestViewBuiltOnFirstUse: a service that nothing asks for a file (a
// one-shot command) publishes without building the served view (OnChange,
// called after each view change, is not called); the first lookup builds
// it from the catalog and finds the published file; from then on every
// publish updates it at once.
func TestViewBuiltOnFirstUse(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	changes := 0
	svc := newService(t, repo.Options{OnChange: func() { mu.Lock(); changes++; mu.Unlock() }})
	count := func() int { mu.Lock(); defer mu.Unlock(); return changes }
	publish := func(name string) {
		t.Helper()
		put(t, svc, target, name, "1.0")
		if _, err := svc.Publish(ctx, target); err != nil {
			t.Fatal(err)
		}
	}
	publish("first")
	if n := count(); n != 0 {
		t.Fatalf("the view changed %d times before anything used it", n)
	}
	if got := served(t, svc, target); !strings.Contains(got, "Package: first\n") {
		t.Fatalf("first lookup: Packages\n%s", got)
	}
	if n := count(); n != 1 {
		t.Fatalf("after the first lookup the view changed %d times, want 1 (built)", n)
	}
	publish("second")
	if n := count(); n != 2 {
		t.Errorf("after a publish the built view changed %d times in all, want 2", n)
	}
	if got := served(t, svc, target); !strings.Contains(got, "Package: second\n") {
		t.Errorf("after the second publish: Packages\n%s", got)
	}
}

// headsCatalog counts Catalog.Heads calls (what building the view reads
// first) and fails them while fail is set.
type headsCatalog struct {
	repo.Catalog
	fail  atomic.Bool
	calls atomic.Int32
}

func (c *headsCatalog) Heads(ctx context.Context) ([]repo.TargetInfo, error) {
	c.calls.Add(1)
	if c.fail.Load() {
		return nil, errors.New("catalog down")
	}
	return c.Catalog.Heads(ctx)
}

// TestViewFirstUseFailsOnce: when building the view on first use fails,
// only that first use asked the catalog: later lookups answer from no view
// at once instead of each trying again (the server's poll retries), and a
// refresh then builds it.
func TestViewFirstUseFailsOnce(t *testing.T) {
	ctx := context.Background()
	var hc *headsCatalog
	svc := newServiceOn(t, repo.Options{}, func(c repo.Catalog) repo.Catalog { hc = &headsCatalog{Catalog: c}; return hc })
	put(t, svc, target, "first", "1.0")
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	const path = "deb/5.8/dists/bookworm/InRelease"
	hc.fail.Store(true)
	before := hc.calls.Load()
	for range 3 {
		if _, ok := svc.Lookup(path); ok {
			t.Fatal("a lookup found a file without a view")
		}
	}
	if n := hc.calls.Load() - before; n != 1 {
		t.Errorf("three lookups with the catalog down read its heads %d times, want 1", n)
	}
	hc.fail.Store(false)
	if err := svc.RefreshView(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := svc.Lookup(path); !ok {
		t.Errorf("%s not served after the refresh", path)
	}
}
