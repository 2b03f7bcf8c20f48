package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/pierhq/pier/internal/panics"
)

// locks are the Service's named locks over a Locker: the per-target
// publish and import locks, the garbage-collection lock and the
// background duties, shared by pier serve and pier import (FileLocker) or
// by every node of a cluster (the PostgreSQL Locker).
type locks struct{ l Locker }

// maxLockPoll bounds the wait between two attempts to take a held lock.
const maxLockPoll = 50 * time.Millisecond

// publish takes the publish lock of t, so that no two processes (nodes)
// ever publish one target at the same time.
func (l locks) publish(ctx context.Context, t Target) (func(), error) {
	return l.l.Lock(ctx, "publish-"+lockName(t), true)
}

// gc takes the garbage-collection lock: shared by everything that stores a
// blob before the catalog row or generation naming it is committed (an
// upload, a batch import, a promotion, a publish), exclusive for a
// collection, which therefore never sees a blob that is about to be
// referenced.
func (l locks) gc(ctx context.Context, exclusive bool) (func(), error) {
	return l.l.Lock(ctx, "gc", exclusive)
}

// importName is the lock pier import holds (shared) while it adds
// packages to t, so that pier serve leaves the publish to it.
func importName(t Target) string { return "import-" + lockName(t) }

// holdImport takes t's import lock (shared) until the returned function is
// called or the process ends.
func (l locks) holdImport(ctx context.Context, t Target) (func(), error) {
	return l.l.Lock(ctx, importName(t), false)
}

// importing reports whether another process holds t's import lock. It
// never waits.
func (l locks) importing(ctx context.Context, t Target) bool {
	release, ok, err := l.l.TryLock(ctx, importName(t), true)
	if err != nil || !ok {
		return err == nil
	}
	release()
	return false
}

// duty runs fn if no other process (node) is running the background duty
// name, holding the duty's lock meanwhile; it reports whether fn ran. So
// each duty (garbage collection, re-signing, the reconciler's passes) runs
// on one node at a time. A panic in fn (a bug) is logged to log with its
// stack and ends only this turn: the duty runs again at its next.
func (l locks) duty(ctx context.Context, log *slog.Logger, name string, fn func()) bool {
	release, ok, err := l.l.TryLock(ctx, "duty-"+name, true)
	if err != nil || !ok {
		return false
	}
	defer release()
	guarded(log, "background duty failed", fn, "duty", name)
	return true
}

// guarded runs fn on the calling goroutine, a long-lived loop's (a
// background duty, the view's poll, the row warmer), so that a bug in one
// turn is logged as msg, with its stack and attrs, instead of ending the
// process; the loop goes on to its next turn.
func guarded(log *slog.Logger, msg string, fn func(), attrs ...any) {
	var err error
	func() {
		defer panics.Recover(&err)
		fn()
	}()
	var pe *panics.Error
	if errors.As(err, &pe) {
		log.Error(msg, append(attrs, "err", err, "stack", string(pe.Stack))...)
	}
}

// lockName names t's locks: a hash, since target names may be long.
func lockName(t Target) string {
	h := sha256.Sum256([]byte(t.String()))
	return hex.EncodeToString(h[:8])
}
