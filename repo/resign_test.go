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
	return servedFile(t, svc, "deb/5.8/dists/bookworm/Release")
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

// TestResignLoop runs the loop (through Run): it re-signs when the clock
// reaches the margin, once, and stops with its context.
func TestResignLoop(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: t0}
	pts := newPoints()
	svc := newService(t, repo.Options{Now: clock.Now, ResignPoll: 10 * time.Millisecond, Hook: pts.hook})
	if err := svc.SetFormats(debFormats(debWith(deb.Config{ValidDays: 3}))); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ingest(t, svc, "pa")
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- svc.Run(ctx) }()
	pts.wait(t, "resign.pass") // a whole pass at t0
	if current(t, svc).Seq != 1 {
		t.Fatal("re-signed before the margin")
	}
	// Default margin: a third of 3 days, so due after 2 days. The pass
	// under way when the clock moves may have read the old time; a later
	// one re-signs.
	clock.Set(t0.Add(48 * time.Hour))
	for i := 0; current(t, svc).Seq != 2; i++ {
		if i == 100 {
			t.Fatal("100 passes after the margin and no re-sign")
		}
		pts.wait(t, "resign.pass")
	}
	// Two more whole passes: the fresh roots are not re-signed again.
	pts.wait(t, "resign.pass")
	pts.wait(t, "resign.pass")
	if g := current(t, svc); g.Seq != 2 || !g.Created.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("after the loop: %+v", g)
	}
	cancel()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop with its context")
	}
}

// alwaysDue is a deb format whose roots are due for re-signing as soon as
// they are published: a misconfiguration the loop must not turn into a
// publish loop.
type alwaysDue struct{ *deb.Format }

func (alwaysDue) Expiry(context.Context, repo.Target, []repo.File, func(repo.File) ([]byte, error)) (repo.Expiry, bool, error) {
	return repo.Expiry{ValidUntil: time.Unix(1, 0), ResignAt: time.Unix(0, 0)}, true, nil
}

// TestResignLoopBacksOff: a re-sign whose new roots are due at once is a
// failure, retried only after a backoff: with the clock standing still,
// passes after the first one publish nothing.
func TestResignLoopBacksOff(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	pts := newPoints()
	svc := newService(t, repo.Options{Now: clock.Now, ResignPoll: 5 * time.Millisecond, Hook: pts.hook})
	ingest(t, svc, "pa")
	if _, err := svc.Publish(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetFormats(debFormats(alwaysDue{debWith(deb.Config{})})); err != nil {
		t.Fatal(err)
	}
	clock.Set(clock.Now().Add(time.Hour))
	before := svc.Publishes()
	run(t, svc)
	pts.wait(t, "resign.pass")
	if n := svc.Publishes() - before; n != 1 {
		t.Fatalf("first pass: %d publishes, want the one re-sign", n)
	}
	for range 10 {
		pts.wait(t, "resign.pass")
	}
	if n := svc.Publishes() - before; n != 1 {
		t.Errorf("%d publishes after 11 passes, want 1 and then a backoff", n)
	}
}
