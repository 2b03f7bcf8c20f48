package repo_test

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

// prevRecorder is a format that records what IndexInput.Previous reads.
type prevRecorder struct {
	repo.Format
	mu    sync.Mutex
	calls []func(ctx context.Context) ([]byte, error)
	nils  int
}

func (p *prevRecorder) Index(ctx context.Context, in *repo.IndexInput) ([]repo.File, error) {
	p.mu.Lock()
	if in.Previous == nil {
		p.nils++
	} else {
		prev := in.Previous
		p.calls = append(p.calls, func(ctx context.Context) ([]byte, error) {
			return prev.ReadFile(ctx, "deb/5.8/debian/dists/bookworm/InRelease")
		})
		if _, err := prev.ReadFile(ctx, "deb/5.8/debian/no/such/file"); !errors.Is(err, fs.ErrNotExist) {
			p.mu.Unlock()
			return nil, errors.New("a missing previous file did not wrap fs.ErrNotExist")
		}
	}
	p.mu.Unlock()
	return p.Format.Index(ctx, in)
}

// TestIndexInputPrevious: the first publish of a target has no previous
// generation; the next one reads the files of the generation it replaces.
func TestIndexInputPrevious(t *testing.T) {
	rec := &prevRecorder{}
	svc := newServiceWith(t, repo.Options{}, func(c repo.Catalog) repo.Catalog { return c },
		func(f repo.Format) repo.Format { rec.Format = f; return rec })
	ctx := context.Background()
	ingest(t, svc, "aa")
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	before, ok := svc.Lookup("deb/5.8/debian/dists/bookworm/InRelease")
	if !ok {
		t.Fatal("no InRelease")
	}
	ingest(t, svc, "bb")
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	if rec.nils != 1 || len(rec.calls) != 1 {
		t.Fatalf("%d publishes without Previous, %d with; want 1 and 1", rec.nils, len(rec.calls))
	}
	got, err := rec.calls[0](ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(got)) != before.Size {
		t.Errorf("previous InRelease: %d bytes, the first generation's has %d", len(got), before.Size)
	}
}

// preparer is a format that reads ahead (repo.Preparer) and records when.
type preparer struct {
	repo.Format
	mu       sync.Mutex
	prepared []repo.Target
	read     []int // bytes of the previous InRelease each Prepare read
	running  bool
	overlap  bool // an Index began while a Prepare ran
}

func (p *preparer) Prepare(ctx context.Context, t repo.Target, prev repo.PreviousFiles) {
	p.mu.Lock()
	p.running = true
	p.prepared = append(p.prepared, t)
	p.mu.Unlock()
	data, _ := prev.ReadFile(ctx, "deb/5.8/debian/dists/bookworm/InRelease")
	time.Sleep(20 * time.Millisecond) // long enough for an Index that did not wait to start
	p.mu.Lock()
	p.read = append(p.read, len(data))
	p.running = false
	p.mu.Unlock()
}

func (p *preparer) Index(ctx context.Context, in *repo.IndexInput) ([]repo.File, error) {
	p.mu.Lock()
	p.overlap = p.overlap || p.running
	p.mu.Unlock()
	return p.Format.Index(ctx, in)
}

// TestPreparer: a format that reads ahead is asked to, with the
// generation the publish replaces, once per publish that has one, and its
// Index starts only after Prepare has returned.
func TestPreparer(t *testing.T) {
	pr := &preparer{}
	svc := newServiceWith(t, repo.Options{}, func(c repo.Catalog) repo.Catalog { return c },
		func(f repo.Format) repo.Format { pr.Format = f; return pr })
	ctx := context.Background()
	ingest(t, svc, "aa")
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	if len(pr.prepared) != 0 {
		t.Fatalf("Prepare called for a first publish (nothing to read ahead): %v", pr.prepared)
	}
	before, ok := svc.Lookup("deb/5.8/debian/dists/bookworm/InRelease")
	if !ok {
		t.Fatal("no InRelease")
	}
	ingest(t, svc, "bb")
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	if len(pr.prepared) != 1 || pr.prepared[0] != target {
		t.Fatalf("Prepare calls %v, want one for %v", pr.prepared, target)
	}
	if pr.read[0] != int(before.Size) {
		t.Errorf("Prepare read a previous InRelease of %d bytes, the first generation's has %d", pr.read[0], before.Size)
	}
	if pr.overlap {
		t.Error("Index began before Prepare returned")
	}
}
