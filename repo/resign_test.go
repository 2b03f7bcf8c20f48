package repo_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb"
)

// fakeClock is a settable clock for the service.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// debFormats is the service's format list with one deb config.
func debFormats(f repo.Format) []repo.FormatSpec {
	return []repo.FormatSpec{{Format: f, Digests: deb.Digests, Distros: []string{"debian"}}}
}

func debWith(cfg deb.Config) *deb.Format {
	cfg.Defaults()
	return deb.New(cfg)
}

// current returns the target's current generation.
func current(t *testing.T, svc *repo.Service) *repo.Generation {
	t.Helper()
	ti, err := svc.FindTarget(context.Background(), target)
	if err != nil || ti.Current == nil {
		t.Fatalf("no current generation: %v", err)
	}
	return ti.Current
}

// servedRelease returns the Release the service serves for target.
func servedRelease(t *testing.T, svc *repo.Service) string {
	t.Helper()
	f, ok := svc.Lookup("deb/5.8/dists/bookworm/Release")
	if !ok {
		t.Fatal("no Release served")
	}
	data, err := svc.Blobs().ReadAll(context.Background(), f.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestResignExpiring: with valid_days 7 and a one-day margin, nothing
// happens until six days after the publish; then the target is published
// again with a fresh Date and Valid-Until, with no upload.
func TestResignExpiring(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: t0}
	svc := newService(t, repo.Options{Now: clock.Now})
	if err := svc.SetFormats(debFormats(debWith(deb.Config{ValidDays: 7, ResignMargin: 24 * time.Hour}))); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ingest(t, svc, "pa")
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	if r := servedRelease(t, svc); !strings.Contains(r, "Valid-Until: Mon, 12 Jan 2026 10:00:00 UTC\n") {
		t.Fatalf("Release:\n%s", r)
	}
	for _, at := range []time.Time{t0, t0.Add(6*24*time.Hour - time.Second)} {
		clock.Set(at)
		done, err := svc.ResignExpiring(ctx)
		if err != nil || len(done) != 0 {
			t.Fatalf("at %v: re-signed %v (%v), want nothing yet", at, done, err)
		}
	}
	if current(t, svc).Seq != 1 {
		t.Fatal("a generation was made before the margin")
	}
	due := t0.Add(6 * 24 * time.Hour)
	clock.Set(due)
	done, err := svc.ResignExpiring(ctx)
	if err != nil || len(done) != 1 || done[0] != target {
		t.Fatalf("at the margin: re-signed %v (%v), want %v", done, err, target)
	}
	g := current(t, svc)
	if g.Seq != 2 || !g.Created.Equal(due) || g.Packages != 1 {
		t.Errorf("new generation %+v", g)
	}
	r := servedRelease(t, svc)
	if !strings.Contains(r, "Date: Sun, 11 Jan 2026 10:00:00 UTC\n") || !strings.Contains(r, "Valid-Until: Sun, 18 Jan 2026 10:00:00 UTC\n") {
		t.Errorf("re-signed Release:\n%s", r)
	}
	in, _ := svc.Lookup("deb/5.8/dists/bookworm/InRelease")
	if !in.ModTime.Equal(due) {
		t.Errorf("InRelease is from %v, want the new generation", in.ModTime)
	}
	// Fresh roots: nothing to do.
	if done, err := svc.ResignExpiring(ctx); err != nil || len(done) != 0 {
		t.Errorf("right after re-signing: %v %v", done, err)
	}

	// The published bytes decide, not the configuration: with valid_days
	// now 0 the roots that carry a Valid-Until are still re-signed in time,
	// and the new ones never expire.
	if err := svc.SetFormats(debFormats(debWith(deb.Config{}))); err != nil {
		t.Fatal(err)
	}
	clock.Set(due.Add(7*24*time.Hour + time.Hour)) // already expired
	if done, err := svc.ResignExpiring(ctx); err != nil || len(done) != 1 {
		t.Fatalf("expired roots: %v %v", done, err)
	}
	if r := servedRelease(t, svc); strings.Contains(r, "Valid-Until") {
		t.Errorf("Valid-Until after valid_days went to 0:\n%s", r)
	}
	clock.Set(due.Add(100 * 24 * time.Hour))
	if done, err := svc.ResignExpiring(ctx); err != nil || len(done) != 0 {
		t.Errorf("roots without Valid-Until re-signed: %v %v", done, err)
	}
}

// TestResignLoop runs the loop: it re-signs when the clock reaches the
// margin, and stops with its context.
func TestResignLoop(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: t0}
	svc := newService(t, repo.Options{Now: clock.Now})
	if err := svc.SetFormats(debFormats(debWith(deb.Config{ValidDays: 3}))); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ingest(t, svc, "pa")
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { svc.ResignLoop(ctx, 10*time.Millisecond); close(stopped) }()
	time.Sleep(50 * time.Millisecond)
	if current(t, svc).Seq != 1 {
		t.Fatal("re-signed before the margin")
	}
	// Default margin: a third of 3 days, so due after 2 days.
	clock.Set(t0.Add(48 * time.Hour))
	deadline := time.Now().Add(10 * time.Second)
	for current(t, svc).Seq != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the loop did not re-sign")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if g := current(t, svc); g.Seq != 2 || !g.Created.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("after the loop: %+v", g)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("ResignLoop did not stop with its context")
	}
}

// alwaysDue is a deb format whose roots are due for re-signing as soon as
// they are published: a misconfiguration the loop must not turn into a
// publish loop.
type alwaysDue struct{ *deb.Format }

func (alwaysDue) Expiry(context.Context, repo.Target, []repo.File, func(repo.File) ([]byte, error)) (repo.Expiry, bool, error) {
	return repo.Expiry{ValidUntil: time.Unix(1, 0), ResignAt: time.Unix(0, 0)}, true, nil
}

func TestResignLoopBacksOff(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	svc := newService(t, repo.Options{Now: clock.Now})
	ingest(t, svc, "pa")
	if _, err := svc.Publish(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetFormats(debFormats(alwaysDue{debWith(deb.Config{})})); err != nil {
		t.Fatal(err)
	}
	clock.Set(clock.Now().Add(time.Hour))
	before := svc.Publishes()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go svc.ResignLoop(ctx, 5*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	// The clock stands still, so the backoff never ends: one re-sign only.
	if n := svc.Publishes() - before; n != 1 {
		t.Errorf("%d publishes, want 1 and then a backoff", n)
	}
}
