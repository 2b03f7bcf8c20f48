package repo_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// holdLock takes the lock file name in dir the way another process would
// (its own open file description), exclusively, until the test ends or the
// returned function is called.
func holdLock(t *testing.T, dir, name string) func() {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			f.Close()
		}
	}
	t.Cleanup(release)
	return release
}

// failures counts the publishes an Observer saw fail.
type failures struct {
	signal
	failed chan error
}

func (f failures) Published(_ repo.Target, _ string, _ time.Duration, err error) {
	if err != nil {
		f.failed <- err
	}
}

// slowIndex is the deb format with an Index that, once blocked, waits for
// its context to end, like a long compression.
type slowIndex struct {
	*deb.Format
	block   atomic.Bool
	started chan struct{}
}

func (f *slowIndex) Index(ctx context.Context, in *repo.IndexInput) ([]repo.File, error) {
	if f.block.Load() {
		f.started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return f.Format.Index(ctx, in)
}

// TestCloseCancelsBlockedPublish: a publish still running when Close's
// deadline passes is cancelled, whether it waits for a lock (a collection
// runs in another process) or indexes: Close returns, the previous
// generation stays live, and the target records no failure.
func TestCloseCancelsBlockedPublish(t *testing.T) {
	for _, where := range []string{"gc lock", "index"} {
		t.Run(where, func(t *testing.T) { testCloseCancels(t, where) })
	}
}

func testCloseCancels(t *testing.T, where string) {
	locks := t.TempDir()
	obs := failures{signal: newSignal(), failed: make(chan error, 10)}
	slow := &slowIndex{started: make(chan struct{}, 1)}
	svc := newServiceWith(t, repo.Options{LockDir: locks, Observer: obs}, func(c repo.Catalog) repo.Catalog { return c },
		func(f repo.Format) repo.Format { slow.Format = f.(*deb.Format); return slow })
	ctx := context.Background()
	ingest(t, svc, "pa")
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	root, _ := svc.Lookup("deb/5.8/debian/dists/bookworm/InRelease")
	res := ingest(t, svc, "pb")
	release := func() {}
	if where == "gc lock" {
		release = holdLock(t, locks, "gc.lock")
	} else {
		slow.block.Store(true)
	}
	// The caller gives up; the publish goes on.
	wait, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := svc.Publish(wait, target); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blocked publish: %v, want the caller's deadline", err)
	}
	if where == "index" {
		<-slow.started
	}
	closing, cancelClose := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelClose()
	if err := svc.Close(closing); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with a blocked publish: %v, want it to report the cancellation", err)
	}
	release()
	ti, err := svc.FindTarget(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if ti.Current == nil || ti.Current.Seq != 1 || ti.PublishFailures != 0 || ti.PublishState() != repo.StatePending {
		t.Errorf("after a cancelled publish: generation %+v, %d failures (%q), state %s; want generation 1, no failure, pending",
			ti.Current, ti.PublishFailures, ti.PublishError, ti.PublishState())
	}
	if got, _ := svc.Lookup("deb/5.8/debian/dists/bookworm/InRelease"); got.SHA256 != root.SHA256 {
		t.Errorf("the served InRelease changed")
	}
	if _, ok := svc.Lookup(res.Path); ok || res.Path == "" {
		t.Errorf("%q of the cancelled publish is served", res.Path)
	}
	select {
	case err := <-obs.failed:
		t.Errorf("the cancelled publish was reported as failed: %v", err)
	default:
	}
	if _, err := svc.Publish(ctx, target); err == nil {
		t.Errorf("a publish after Close ran")
	}
}

// TestCloseEndsPublishDelay: Close does not wait out a scheduled publish's
// delay: the publish runs at once and Close returns when it is done.
func TestCloseEndsPublishDelay(t *testing.T) {
	svc := newService(t, repo.Options{PublishDelay: time.Hour})
	res := ingest(t, svc, "pa")
	svc.SchedulePublish(target)
	if err := svc.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ti, err := svc.FindTarget(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	if ti.PublishState() != repo.StatePublished {
		t.Errorf("after Close the scheduled publish is %s, want published", ti.PublishState())
	}
	if _, ok := svc.Lookup(res.Path); !ok {
		t.Errorf("%s is not served", res.Path)
	}
}

// TestRunStops: Run returns when its context ends, and when Close begins;
// after Close it does not start.
func TestRunStops(t *testing.T) {
	pts := newPoints()
	svc := newService(t, repo.Options{GCInterval: time.Millisecond, Hook: pts.hook})
	for _, stop := range []string{"context", "close"} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- svc.Run(ctx) }()
		pts.wait(t, "reconcile.pass") // running
		if stop == "context" {
			cancel()
		} else if err := svc.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: Run: %v", stop, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("Run did not stop with its %s", stop)
		}
		cancel()
	}
	if err := svc.Run(context.Background()); err == nil {
		t.Errorf("Run after Close started")
	}
}

// TestLockWaitsStopWithContext: waits for the data directory's locks give
// up when their context ends (a garbage collection behind a collection of
// another process, an upload and a pier import behind a collection), and
// succeed once the lock is free.
func TestLockWaitsStopWithContext(t *testing.T) {
	locks := t.TempDir()
	svc := newService(t, repo.Options{LockDir: locks})
	pkg, err := debtest.Build(debtest.Options{Package: "waiting", Version: "1.0", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	release := holdLock(t, locks, "gc.lock")
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	if _, err := svc.CollectGarbage(short(), repo.GCOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("gc behind a held lock: %v", err)
	}
	if _, err := svc.Ingest(short(), target, bytes.NewReader(pkg), repo.IngestOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("upload behind a held gc lock: %v", err)
	}
	b := svc.NewBatch(target)
	defer b.Close()
	if _, err := b.Add(short(), bytes.NewReader(pkg), repo.IngestOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("batch add behind a held gc lock: %v", err)
	}
	release()
	ctx := context.Background()
	if res, err := svc.Ingest(ctx, target, bytes.NewReader(pkg), repo.IngestOptions{}); err != nil || !res.Created {
		t.Fatalf("upload once the lock is free: %+v %v", res, err)
	}
	if _, err := svc.CollectGarbage(ctx, repo.GCOptions{}); err != nil {
		t.Errorf("gc once the lock is free: %v", err)
	}
}

// TestGCGraceUsesClock: the grace of a collection is measured with the
// service's clock: an unreferenced blob stays while the clock is within the
// grace of its write and goes once the clock has moved past it.
func TestGCGraceUsesClock(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	clock := &fakeClock{now: now}
	svc := newService(t, repo.Options{Now: clock.Now, KeepGenerations: 1})
	ctx := context.Background()
	res := ingest(t, svc, "graced")
	if err := svc.Delete(ctx, target, "graced", "1.0", "amd64"); err != nil {
		t.Fatal(err)
	}
	gc := func() bool {
		t.Helper()
		if _, err := svc.CollectGarbage(ctx, repo.GCOptions{Grace: time.Hour}); err != nil {
			t.Fatal(err)
		}
		has, err := svc.Blobs().Has(ctx, res.Package.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		return has
	}
	clock.Set(now.Add(59 * time.Minute))
	if !gc() {
		t.Fatal("the blob went within the grace")
	}
	clock.Set(now.Add(2 * time.Hour))
	if gc() {
		t.Error("the blob stayed after the grace, by the service's clock")
	}
}
