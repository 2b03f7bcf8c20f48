package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// Locker gives out named locks that exclude across goroutines, across
// processes sharing a data directory (FileLocker) and, for a cluster's
// implementation (repo/catalog/postgres), across nodes. A lock is held by
// the handle that took it until released or until the holder dies (its
// process, or its database session): a dead holder never keeps a lock.
// The conformance suite is repo/locktest.
type Locker interface {
	// Lock takes the lock name, shared or exclusive, waiting while a
	// conflicting holder has it; when ctx ends first it fails with an
	// error wrapping ctx.Err(). The returned function releases the lock;
	// calling it again is harmless. Names match LockNameRE.
	Lock(ctx context.Context, name string, exclusive bool) (release func(), err error)
	// TryLock is Lock without waiting: ok is false (and release nil) when
	// a conflicting holder has the lock.
	TryLock(ctx context.Context, name string, exclusive bool) (release func(), ok bool, err error)
}

// LockNameRE is what a lock name looks like.
var LockNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// FileLocker is the Locker of one data directory: one flock(2)ed file per
// name in a directory, so it excludes across the processes that share the
// directory (pier serve, pier import) and releases a lock when its holder
// dies (the kernel drops the flock with the last descriptor). Waiting
// polls with LOCK_NB (1 ms doubling to 50 ms) so that ctx can end it.
type FileLocker struct {
	dir string

	mu    sync.Mutex
	files map[*os.File]bool // open lock files, for tests that simulate a crash
}

var _ Locker = (*FileLocker)(nil)

// NewFileLocker returns the Locker of the lock files in dir, creating dir.
func NewFileLocker(dir string) (*FileLocker, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create lock directory: %w", err)
	}
	return &FileLocker{dir: dir, files: map[*os.File]bool{}}, nil
}

// Lock implements Locker.
func (l *FileLocker) Lock(ctx context.Context, name string, exclusive bool) (func(), error) {
	release, _, err := l.take(ctx, name, exclusive, true)
	return release, err
}

// TryLock implements Locker.
func (l *FileLocker) TryLock(ctx context.Context, name string, exclusive bool) (func(), bool, error) {
	return l.take(ctx, name, exclusive, false)
}

func (l *FileLocker) take(ctx context.Context, name string, exclusive, wait bool) (func(), bool, error) {
	if !LockNameRE.MatchString(name) {
		return nil, false, fmt.Errorf("lock name %q: %w", name, ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("take %s lock: %w", name, err)
	}
	f, err := os.OpenFile(filepath.Join(l.dir, name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("open %s lock: %w", name, err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := flock(ctx, f, how, wait); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("take %s lock: %w", name, err)
	}
	l.mu.Lock()
	l.files[f] = true
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.files, f)
			l.mu.Unlock()
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
		})
	}, true, nil
}

// closeAll closes every lock file without unlocking, as the death of the
// process would (tests).
func (l *FileLocker) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for f := range l.files {
		f.Close()
		delete(l.files, f)
	}
}

// flock locks f with how, polling with LOCK_NB and a growing pause (1 ms
// doubling to maxLockPoll) while another holder has it, until ctx ends: a
// blocking flock could not be given up on shutdown. Without wait it tries
// once (EWOULDBLOCK: held).
func flock(ctx context.Context, f *os.File, how int, wait bool) error {
	pause := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return err
		}
		if !wait && errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, maxLockPoll)
	}
}
