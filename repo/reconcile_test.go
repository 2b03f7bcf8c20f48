package repo_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

// failingGenerations fails AddGeneration while fails > 0 (counting down),
// like a full disk during a publish.
type failingGenerations struct {
	repo.Catalog
	fails atomic.Int32
}

func (c *failingGenerations) AddGeneration(ctx context.Context, target int64, g *repo.Generation) error {
	if c.fails.Add(-1) >= 0 {
		return errors.New("write catalog: no space left on device")
	}
	return c.Catalog.AddGeneration(ctx, target, g)
}

// waitState waits until t's publish state is want, or fails the test after
// a generous bound; changed is signalled after every publish and view
// change.
func waitState(t *testing.T, svc *repo.Service, changed signal, tg repo.Target, want string) *repo.TargetInfo {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		ti, err := svc.FindTarget(context.Background(), tg)
		if err != nil {
			t.Fatal(err)
		}
		if ti.PublishState() == want {
			return ti
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("target %s still %s (error %q), want %s", tg, ti.PublishState(), ti.PublishError, want)
		}
	}
}

// TestReconcilePublishesAcknowledgedUploads: an upload that was recorded
// but never published (its scheduled publish died with the process) is
// published by the first pass of Run's reconciler, with no further request.
func TestReconcilePublishesAcknowledgedUploads(t *testing.T) {
	changed := newSignal()
	svc := newService(t, repo.Options{OnChange: changed.notify, Observer: changed})
	res := ingest(t, svc, "acked")
	ti, err := svc.FindTarget(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	if ti.PublishState() != repo.StatePending {
		t.Fatalf("after an upload without publish the state is %s, want pending", ti.PublishState())
	}
	run(t, svc)
	waitState(t, svc, changed, target, repo.StatePublished)
	if _, ok := svc.Lookup(res.Path); !ok {
		t.Errorf("the acknowledged package %s is not served", res.Path)
	}
}

// TestReconcileRetriesFailedPublish: a publish that fails (a full disk) is
// retried with a backoff until it succeeds; meanwhile the target says
// failed with the error, and the previous generation stays served.
func TestReconcileRetriesFailedPublish(t *testing.T) {
	var cat *failingGenerations
	changed := newSignal()
	opts := repo.Options{PublishRetry: 20 * time.Millisecond, ReconcilePoll: 10 * time.Millisecond,
		OnChange: changed.notify, Observer: changed}
	svc := newServiceOn(t, opts, func(c repo.Catalog) repo.Catalog {
		cat = &failingGenerations{Catalog: c}
		return cat
	})
	ingest(t, svc, "first")
	if _, err := svc.Publish(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	cat.fails.Store(3)
	res := ingest(t, svc, "second")
	if _, err := svc.Publish(context.Background(), target); err == nil {
		t.Fatal("publish on a full disk succeeded")
	}
	ti := waitState(t, svc, changed, target, repo.StateFailed)
	if ti.PublishFailures != 1 || ti.FailingSince == nil || ti.PublishError == "" {
		t.Errorf("failed target: failures %d, since %v, error %q", ti.PublishFailures, ti.FailingSince, ti.PublishError)
	}
	if _, ok := svc.Lookup(res.Path); ok {
		t.Fatalf("a package of the failed publish is served")
	}
	run(t, svc)
	waitState(t, svc, changed, target, repo.StatePublished)
	if _, ok := svc.Lookup(res.Path); !ok {
		t.Errorf("the acknowledged package %s is not served after the retries", res.Path)
	}
	if left := cat.fails.Load(); left > -1 {
		t.Errorf("publish succeeded with %d failures still to come", left+1)
	}
}

// countingReader yields n bytes of text (not a package of any format) and
// counts what was read.
type countingReader struct {
	left, read int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > c.left {
		n = c.left
	}
	for i := range p[:n] {
		p[i] = 'x'
	}
	c.left -= n
	c.read += n
	return int(n), nil
}

// TestIngestRefusesNonPackageEarly: a body that is not a package of the
// target's format is refused after its first bytes, not read to its end
// (the 2 GiB random body that was written to disk before its 422).
func TestIngestRefusesNonPackageEarly(t *testing.T) {
	svc := newService(t, repo.Options{MaxUploadSize: 1 << 30})
	r := &countingReader{left: 256 << 20}
	_, err := svc.Ingest(context.Background(), target, r, repo.IngestOptions{})
	if !errors.Is(err, repo.ErrBadPackage) || !strings.Contains(err.Error(), "not a deb package") {
		t.Fatalf("Ingest of text: %v, want a bad deb package", err)
	}
	if r.read > 1<<20 {
		t.Errorf("read %d bytes of a body that is not a package before refusing it", r.read)
	}
}

// outdatedFormat is a format that, once on is set, writes one more index
// file (the mark) and calls a generation without it outdated
// (repo.Outdater), as deb does with Sources.
type outdatedFormat struct {
	repo.Format
	on *atomic.Bool
}

const markPath = "deb/5.8/debian/dists/bookworm/mark"

func (f outdatedFormat) Index(ctx context.Context, in *repo.IndexInput) ([]repo.File, error) {
	files, err := f.Format.Index(ctx, in)
	if err == nil && f.on.Load() {
		files = append(files, repo.File{Path: markPath, Kind: repo.KindIndex, Data: []byte("mark")})
	}
	return files, err
}

func (f outdatedFormat) Outdated(_ repo.Target, files []repo.File) bool {
	if !f.on.Load() {
		return false
	}
	for _, file := range files {
		if file.Path == markPath {
			return false
		}
	}
	return true
}

// TestReconcileRepublishesOutdated: a target whose current generation the
// format calls outdated (an older Pier's, without a file clients now
// fetch) is published again by Run's reconciler, with the same packages,
// and the new generation has the file.
func TestReconcileRepublishesOutdated(t *testing.T) {
	changed := newSignal()
	on := &atomic.Bool{}
	svc := newServiceWith(t, repo.Options{OnChange: changed.notify, Observer: changed}, func(c repo.Catalog) repo.Catalog { return c },
		func(f repo.Format) repo.Format { return outdatedFormat{Format: f, on: on} })
	ingest(t, svc, "old")
	g1, err := svc.Publish(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	on.Store(true)
	run(t, svc)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ok := svc.Lookup(markPath); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the outdated generation was not republished")
		}
		select {
		case <-changed:
		case <-time.After(time.Second):
		}
	}
	gs, err := svc.Generations(context.Background(), target)
	if err != nil || len(gs) < 2 || gs[0].Packages != g1.Packages {
		t.Fatalf("generations after the republish: %+v, %v (first had %d packages)", gs, err, g1.Packages)
	}
}
