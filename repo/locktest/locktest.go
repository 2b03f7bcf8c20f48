// Package locktest is the conformance suite of repo.Locker
// implementations (the data directory's FileLocker, the cluster's
// PostgreSQL locker): the one set of tests they all pass. It is the
// executable form of the contract written on repo.Locker: an exclusive
// lock excludes every other holder, on the same handle or another (another
// process, another node); shared locks share among themselves; a wait ends
// when the lock is released or when its ctx ends; a holder that dies (its
// process, its session) releases what it held.
//
// An implementation's test calls [Run] with an [Impl].
package locktest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

// Impl is the implementation under test.
type Impl struct {
	// New makes a new lock space (a directory, a database) and returns a
	// function that opens a handle on it: each handle stands for another
	// process or node. Cleanup is registered with t.
	New func(t *testing.T) (open func() repo.Locker)
	// Crash ends l as the death of its holder would (its process exits,
	// its database session ends) without releasing anything.
	Crash func(t *testing.T, l repo.Locker)
}

// Run runs the suite against impl.
func Run(t *testing.T, impl Impl) {
	if impl.New == nil || impl.Crash == nil {
		t.Fatal("locktest: Impl needs New and Crash")
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, open func() repo.Locker, impl Impl)
	}{
		{"ExclusiveExcludes", testExclusiveExcludes},
		{"SharedShares", testSharedShares},
		{"NamesAreIndependent", testNamesIndependent},
		{"WaitEndsOnRelease", testWaitEndsOnRelease},
		{"WaitStopsOnCtx", testWaitStopsOnCtx},
		{"ReleaseTwice", testReleaseTwice},
		{"BadName", testBadName},
		{"DeadHolderReleases", testDeadHolderReleases},
		{"MutualExclusion", testMutualExclusion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, impl.New(t), impl)
		})
	}
}

func lock(t *testing.T, l repo.Locker, name string, excl bool) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	release, err := l.Lock(ctx, name, excl)
	if err != nil {
		t.Fatalf("Lock(%s, exclusive %v): %v", name, excl, err)
	}
	return release
}

// free reports whether l can take name (exclusive or shared) right now,
// releasing it again.
func free(t *testing.T, l repo.Locker, name string, excl bool) bool {
	t.Helper()
	release, ok, err := l.TryLock(t.Context(), name, excl)
	if err != nil {
		t.Fatalf("TryLock(%s): %v", name, err)
	}
	if ok {
		if release == nil {
			t.Fatal("TryLock succeeded without a release function")
		}
		release()
	} else if release != nil {
		t.Error("TryLock failed but returned a release function")
	}
	return ok
}

// testExclusiveExcludes: an exclusive lock keeps out every other holder,
// exclusive or shared, on another handle and on the same one, until it is
// released.
func testExclusiveExcludes(t *testing.T, open func() repo.Locker, _ Impl) {
	a, b := open(), open()
	release := lock(t, a, "publish-x", true)
	for _, c := range []struct {
		who  string
		l    repo.Locker
		excl bool
	}{{"other handle, exclusive", b, true}, {"other handle, shared", b, false},
		{"same handle, exclusive", a, true}, {"same handle, shared", a, false}} {
		if free(t, c.l, "publish-x", c.excl) {
			t.Errorf("%s: took a lock held exclusively", c.who)
		}
	}
	release()
	if !free(t, b, "publish-x", true) {
		t.Error("the lock is still held after its release")
	}
}

// testSharedShares: shared holders on several handles coexist; an
// exclusive taker waits for all of them.
func testSharedShares(t *testing.T, open func() repo.Locker, _ Impl) {
	a, b, c := open(), open(), open()
	ra := lock(t, a, "gc", false)
	rb := lock(t, b, "gc", false)
	ra2 := lock(t, a, "gc", false) // a second shared holder on one handle
	if free(t, c, "gc", true) || free(t, a, "gc", true) {
		t.Error("an exclusive lock was taken beside shared holders")
	}
	ra()
	rb()
	if free(t, c, "gc", true) {
		t.Error("an exclusive lock was taken while one shared holder remained")
	}
	ra2()
	if !free(t, c, "gc", true) {
		t.Error("the lock is still held after every shared holder released it")
	}
}

// testNamesIndependent: locks of different names do not exclude.
func testNamesIndependent(t *testing.T, open func() repo.Locker, _ Impl) {
	a, b := open(), open()
	defer lock(t, a, "publish-a", true)()
	if !free(t, b, "publish-b", true) || !free(t, a, "publish-b", true) {
		t.Error("a lock of one name kept out another name")
	}
}

// testWaitEndsOnRelease: a waiting Lock gets the lock once the holder
// releases it, and not before.
func testWaitEndsOnRelease(t *testing.T, open func() repo.Locker, _ Impl) {
	a, b := open(), open()
	release := lock(t, a, "duty-gc", true)
	var released atomic.Bool
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r, err := b.Lock(ctx, "duty-gc", true)
		if err == nil {
			if !released.Load() {
				err = errors.New("got the lock before the holder released it")
			}
			r()
		}
		got <- err
	}()
	released.Store(true)
	release()
	if err := <-got; err != nil {
		t.Error(err)
	}
}

// testWaitStopsOnCtx: a wait for a held lock ends with ctx, wrapping its
// error, and the lock was not taken.
func testWaitStopsOnCtx(t *testing.T, open func() repo.Locker, _ Impl) {
	a, b := open(), open()
	defer lock(t, a, "publish-x", true)()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := b.Lock(ctx, "publish-x", true)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Lock after its ctx ended: %v, want an error wrapping context.Canceled", err)
	}
	done, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if _, err := b.Lock(done, "publish-y", true); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a done ctx: %v", err)
	}
}

// testReleaseTwice: releasing twice is harmless: it does not release a
// later holder's lock.
func testReleaseTwice(t *testing.T, open func() repo.Locker, _ Impl) {
	a, b := open(), open()
	r1 := lock(t, a, "x", true)
	r1()
	r2 := lock(t, a, "x", true)
	r1()
	if free(t, b, "x", true) {
		t.Error("a second release of an old holder released the new holder's lock")
	}
	r2()
}

// testBadName: names outside repo.LockNameRE are refused.
func testBadName(t *testing.T, open func() repo.Locker, _ Impl) {
	a := open()
	for _, name := range []string{"", "../x", "A", "a b"} {
		if _, err := a.Lock(t.Context(), name, true); !errors.Is(err, repo.ErrInvalid) {
			t.Errorf("Lock(%q): %v, want ErrInvalid", name, err)
		}
	}
}

// testDeadHolderReleases: when the holder dies, its exclusive and shared
// locks are free for the others.
func testDeadHolderReleases(t *testing.T, open func() repo.Locker, impl Impl) {
	a, b := open(), open()
	lock(t, a, "publish-x", true)
	lock(t, a, "gc", false)
	if free(t, b, "publish-x", true) {
		t.Fatal("the lock is free before its holder died")
	}
	impl.Crash(t, a)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, name := range []string{"publish-x", "gc"} {
		r, err := b.Lock(ctx, name, true)
		if err != nil {
			t.Fatalf("the dead holder's %s lock: %v", name, err)
		}
		r()
	}
}

// testMutualExclusion: many goroutines on several handles take one
// exclusive lock in turn; never two at once.
func testMutualExclusion(t *testing.T, open func() repo.Locker, _ Impl) {
	handles := []repo.Locker{open(), open(), open()}
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 60 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r, err := handles[i%len(handles)].Lock(ctx, "publish-m", true)
			if err != nil {
				errs <- fmt.Errorf("holder %d: %w", i, err)
				return
			}
			n := inside.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond) // hold it a moment, so overlaps would show
			inside.Add(-1)
			r()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if m := most.Load(); m != 1 {
		t.Errorf("%d holders at once", m)
	}
}
