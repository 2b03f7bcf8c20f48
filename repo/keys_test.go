package repo_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

// keyFormat is a format that indexes from keys (repo.KeyIndexer): it
// records what each Index was handed and reads whole rows through
// IndexInput.Rows for the format it wraps.
type keyFormat struct {
	repo.Format
	mu    sync.Mutex
	calls []keyCall
}

// keyCall is what one Index was handed.
type keyCall struct {
	keys    bool    // the packages came without Meta
	prevIDs []int64 // IndexInput.PreviousIDs' answer; nil without one
}

func (k *keyFormat) IndexesKeys() bool { return true }

func (k *keyFormat) Index(ctx context.Context, in *repo.IndexInput) ([]repo.File, error) {
	c := keyCall{keys: len(in.Packages) > 0 && in.Packages[0].Meta == nil}
	if in.PreviousIDs != nil {
		ids, err := in.PreviousIDs(ctx)
		if err != nil {
			return nil, err
		}
		c.prevIDs = ids
	}
	k.mu.Lock()
	k.calls = append(k.calls, c)
	k.mu.Unlock()
	if c.keys {
		var err error
		if in, err = in.WholeRows(ctx); err != nil {
			return nil, err
		}
	}
	return k.Format.Index(ctx, in)
}

func (k *keyFormat) last() keyCall {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.calls[len(k.calls)-1]
}

// TestKeyIndexerGetsKeys: a KeyIndexer is handed keys when its process has
// not read the target's rows yet (its first publish of the target: a new
// pier import, a server's first), whole rows once it has, and a way to read
// the previous generation's package ids.
func TestKeyIndexerGetsKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var kf *keyFormat
	wrap := func(f repo.Format) repo.Format { kf = &keyFormat{Format: f}; return kf }
	a := newNodeWith(t, dir, repo.Options{Node: "a"}, loggedCatalog{}, wrap)
	var ids []int64
	for _, n := range []string{"ka", "kb", "kc"} {
		ids = append(ids, put(t, a, target, n, "1").ID)
	}
	g1, err := a.Publish(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if c := kf.last(); !c.keys || c.prevIDs != nil {
		t.Errorf("first publish in a process: keys %v, previous ids %v; want keys and none", c.keys, c.prevIDs)
	}
	ids = append(ids, put(t, a, target, "kd", "1").ID)
	g2, err := a.Publish(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if c := kf.last(); c.keys || len(c.prevIDs) != 3 {
		t.Errorf("second publish in the process: keys %v, previous ids %v; want whole rows and 3 ids", c.keys, c.prevIDs)
	}
	b := newNodeWith(t, dir, repo.Options{Node: "b"}, loggedCatalog{}, wrap)
	put(t, b, target, "ke", "1")
	g3, err := b.Publish(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if c := kf.last(); !c.keys || !slices.Equal(c.prevIDs, ids) {
		t.Errorf("a new process's publish: keys %v, previous ids %v; want keys and %v", c.keys, c.prevIDs, ids)
	}
	// Rows read: all three through IndexInput.Rows (the wrapper reads
	// every one), then all four by the publisher (the keys publish cached
	// none), then all five through Rows again.
	if g1.RowsRead != 3 || g2.RowsRead != 4 || g3.RowsRead != 5 {
		t.Errorf("rows read %d, %d, %d; want 3, 4, 5", g1.RowsRead, g2.RowsRead, g3.RowsRead)
	}
	if g3.Packages != 5 || g3.Files < 5 {
		t.Errorf("generation %d: %d packages, %d files; want 5 packages", g3.Seq, g3.Packages, g3.Files)
	}
}

// TestRunWarmsRowsAfterKeys: in a running Service (pier serve), a publish
// from keys is followed by a background read of the target's rows into
// the row cache, so that the next publish reads only the new row; a
// Service that does not run (a one-shot command) reads nothing more
// (TestKeyIndexerGetsKeys: its next publish reads every row).
func TestRunWarmsRowsAfterKeys(t *testing.T) {
	ctx := context.Background()
	cc := &countingCatalog{}
	kf := &keyFormat{}
	svc := newServiceWith(t, repo.Options{}, func(cat repo.Catalog) repo.Catalog { cc.Catalog = cat; return cc },
		func(f repo.Format) repo.Format { kf.Format = f; return kf })
	run(t, svc)
	for _, n := range []string{"wa", "wb", "wc"} {
		put(t, svc, target, n, "1")
	}
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	if c := kf.last(); !c.keys {
		t.Fatal("the first publish was not handed keys")
	}
	// The wrapper read the three rows through IndexInput.Rows; the warmer
	// reads them once more, into the cache.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		cc.mu.Lock()
		n := cc.rows
		cc.mu.Unlock()
		if n >= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows read; the warmer did not read the target's rows", n)
		}
	}
	put(t, svc, target, "wd", "1")
	g, err := svc.Publish(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if c := kf.last(); c.keys || g.RowsRead != 1 {
		t.Errorf("the publish after the warm-up: keys %v, %d rows read; want whole rows and 1", c.keys, g.RowsRead)
	}
}
