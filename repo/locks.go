package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockDir is the directory of the data directory's cross-process locks
// (flock): the per-target publish and import locks and the garbage
// collection lock, shared by pier serve and pier import.
type lockDir string

// maxLockPoll bounds the wait between two attempts to take a held lock.
const maxLockPoll = 50 * time.Millisecond

// take opens the lock file name and locks it with how (LOCK_SH or
// LOCK_EX), waiting while another holder has it until ctx ends. what names
// the lock in errors. The returned function releases it.
func (l lockDir) take(ctx context.Context, name string, how int, what string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(string(l), name), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s lock: %w", what, err)
	}
	if err := flock(ctx, f, how); err != nil {
		f.Close()
		return nil, fmt.Errorf("take %s lock: %w", what, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// flock locks f with how, polling with LOCK_NB and a growing pause (1 ms
// doubling to maxLockPoll) while another holder has it, until ctx ends: a
// blocking flock could not be given up on shutdown.
func flock(ctx context.Context, f *os.File, how int) error {
	wait := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, maxLockPoll)
	}
}

// publish takes the publish lock of t, so that pier import and pier serve
// never publish one target at the same time.
func (l lockDir) publish(ctx context.Context, t Target) (func(), error) {
	return l.take(ctx, "publish-"+lockName(t)+".lock", syscall.LOCK_EX, "publish")
}

// gc takes the garbage-collection lock: shared by everything that stores a
// blob before the catalog row or generation naming it is committed (an
// upload, a batch import, a promotion, a publish), exclusive for a
// collection, which therefore never sees a blob that is about to be
// referenced.
func (l lockDir) gc(ctx context.Context, exclusive bool) (func(), error) {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	return l.take(ctx, "gc.lock", how, "gc")
}

// importName is the file pier import holds (shared) while it adds
// packages to t, so that pier serve leaves the publish to it.
func importName(t Target) string { return "import-" + lockName(t) + ".lock" }

// holdImport takes t's import lock (shared) until the returned function is
// called or the process ends.
func (l lockDir) holdImport(ctx context.Context, t Target) (func(), error) {
	return l.take(ctx, importName(t), syscall.LOCK_SH, "import")
}

// importing reports whether another process holds t's import lock. It
// never waits.
func (l lockDir) importing(t Target) bool {
	f, err := os.OpenFile(filepath.Join(string(l), importName(t)), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// lockName names t's lock files: a hash, since target names may be long.
func lockName(t Target) string {
	h := sha256.Sum256([]byte(t.String()))
	return hex.EncodeToString(h[:8])
}
