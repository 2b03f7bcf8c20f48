package repo_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog/sqlite"
	"github.com/pierhq/pier/repo/deb"
	"github.com/pierhq/pier/storage/local"
)

// loggedCatalog is a catalog with a publish log in memory.
type loggedCatalog struct {
	repo.Catalog
	mu   *sync.Mutex
	recs *[]repo.PublishRecord
}

func (c loggedCatalog) LogPublish(_ context.Context, r repo.PublishRecord) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	*c.recs = append(*c.recs, r)
	return nil
}

// newNode returns a service on the catalog, blob store and locks of dir,
// as another process (node) would open them, its catalog wrapped in lc
// when lc.mu is set.
func newNode(t *testing.T, dir string, opts repo.Options, lc loggedCatalog) *repo.Service {
	t.Helper()
	return newNodeWith(t, dir, opts, lc, func(f repo.Format) repo.Format { return f })
}

// newNodeWith is newNode with the deb format wrapped by wrapFormat.
func newNodeWith(t *testing.T, dir string, opts repo.Options, lc loggedCatalog, wrapFormat func(repo.Format) repo.Format) *repo.Service {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "catalog.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := local.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg deb.Config
	cfg.Defaults()
	formats := []repo.FormatSpec{{Format: wrapFormat(deb.New(cfg)), Digests: deb.Digests, Distros: []string{"debian"}}}
	var cat repo.Catalog = db
	if lc.mu != nil {
		lc.Catalog = db
		cat = lc
	}
	opts.TmpDir = filepath.Join(dir, "tmp-"+opts.Node)
	opts.LockDir = filepath.Join(dir, "locks")
	svc, err := repo.NewService(cat, repo.NewBlobs(b), testSigner(t), formats, opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	return svc
}

// TestFollowCatalog: a node asked for a file of a generation another node
// just made serves it at once with FollowCatalog (it reads the catalog on
// the miss), and the roots it serves are the catalog's current ones even
// before its next view poll; without the option it serves its last view.
func TestFollowCatalog(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a := newNode(t, dir, repo.Options{Node: "a"}, loggedCatalog{})
	ingest(t, a, "first")
	if _, err := a.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	const root = "deb/5.8/debian/dists/bookworm/InRelease"
	old, ok := a.Lookup(root)
	if !ok {
		t.Fatalf("no %s", root)
	}
	fresh := newNode(t, dir, repo.Options{Node: "fresh", FollowCatalog: true}, loggedCatalog{})
	stale := newNode(t, dir, repo.Options{Node: "stale"}, loggedCatalog{})
	for _, n := range []*repo.Service{fresh, stale} {
		if err := n.RefreshView(ctx); err != nil { // a poll before the next publish
			t.Fatal(err)
		}
	}
	res := ingest(t, a, "late")
	if _, err := a.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	cur, _ := a.Lookup(root)
	if cur.SHA256 == old.SHA256 {
		t.Fatal("the second publish kept the root: the test proves nothing")
	}
	if _, ok := fresh.Lookup(res.Path); !ok {
		t.Errorf("with FollowCatalog another node does not serve %s", res.Path)
	}
	if got, _ := fresh.Lookup(root); got.SHA256 != cur.SHA256 {
		t.Errorf("with FollowCatalog another node serves the old root")
	}
	if _, ok := stale.Lookup(res.Path); ok {
		t.Errorf("without FollowCatalog a node that never polled serves %s: the test proves nothing", res.Path)
	}
	if got, _ := stale.Lookup(root); got.SHA256 != old.SHA256 {
		t.Errorf("without FollowCatalog a node that never polled serves the new root: the test proves nothing")
	}
}

// TestTwoServicesShareTargets: two services on one catalog, blob store and
// lock space (two nodes, here two processes on one data directory) never
// publish a target at the same time, number its generations in the order
// they publish, and coalesce: an upload-triggered publish of a target the
// other already published finds nothing to do.
func TestTwoServicesShareTargets(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var recs []repo.PublishRecord
	node := func(name string) *repo.Service {
		return newNode(t, dir, repo.Options{Node: name}, loggedCatalog{nil, &mu, &recs})
	}
	a, b := node("a"), node("b")
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 12 {
		svc := []*repo.Service{a, b}[i%2]
		ingest(t, svc, fmt.Sprintf("p%02d", i))
		wg.Go(func() {
			if _, err := svc.Publish(ctx, target); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	log := append([]repo.PublishRecord(nil), recs...)
	mu.Unlock()
	if len(log) == 0 {
		t.Fatal("no publish was logged")
	}
	nodes := map[string]int{}
	for i, r := range log {
		nodes[r.Node]++
		if r.Error != "" || r.Target != target || r.Finished.Before(r.Started) {
			t.Errorf("record %d: %+v", i, r)
		}
		if i > 0 {
			prev := log[i-1]
			if r.Started.Before(prev.Finished) {
				t.Errorf("publishes %d (%s) and %d (%s) overlap", i-1, prev.Node, i, r.Node)
			}
			if r.Generation <= prev.Generation {
				t.Errorf("generation %d after %d", r.Generation, prev.Generation)
			}
		}
	}
	if nodes["a"] == 0 || nodes["b"] == 0 {
		t.Errorf("publishes per node: %v, want both", nodes)
	}
	// Both are up to date now: an upload-triggered publish on b of what a
	// published is skipped (no new generation, nothing logged).
	before := len(log)
	gen, err := b.Publish(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	b.SchedulePublish(target)
	if err := b.Close(ctx); err != nil { // runs the scheduled publish at once
		t.Fatal(err)
	}
	mu.Lock()
	after := len(recs)
	mu.Unlock()
	if after != before+1 {
		t.Errorf("%d publishes logged after one explicit and one scheduled publish of an unchanged target, want 1", after-before)
	}
	if last := recs[after-1]; last.Generation != gen.Seq || last.Node != "b" {
		t.Errorf("the explicit publish made generation %d, the log's last record is %+v", gen.Seq, last)
	}
}
