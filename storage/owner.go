package storage

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Owner marks the temporary files one process writes in a directory, so
// that a cleanup by another process (a restart after a crash) can tell
// without doubt whether their writer still runs. The process holds an
// flock on <dir>/.owner-<tag>.lock for as long as the Owner is open (the
// kernel drops it when the process dies), and names its files with the
// tag, which is random per Owner: a dead writer's PID reused by another
// process never makes the dead writer's files look alive.
type Owner struct {
	dir, tag string
	f        *os.File
}

const ownerLockPrefix = ".owner-"

// NewOwner creates an Owner for temporary files in dir.
func NewOwner(dir string) (*Owner, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("owner tag: %w", err)
	}
	tag := "o" + hex.EncodeToString(b[:])
	// Locked under a name no cleanup looks at, then renamed: a cleanup
	// never sees the lock file unlocked.
	final := filepath.Join(dir, ownerLockPrefix+tag+".lock")
	f, err := os.OpenFile(final+".new", os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create owner lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("take owner lock: %w", err)
	}
	if err := os.Rename(f.Name(), final); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create owner lock: %w", err)
	}
	return &Owner{dir: dir, tag: tag, f: f}, nil
}

// Tag returns the tag to put in the names of the owner's files. It never
// contains '-' or '.'.
func (o *Owner) Tag() string { return o.tag }

// Close releases the owner's lock and removes its lock file; files named
// with its tag are then dead files to any cleanup.
func (o *Owner) Close() error {
	err := os.Remove(filepath.Join(o.dir, ownerLockPrefix+o.tag+".lock"))
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Alive reports whether the writer of the files tagged tag in dir still
// runs: an Owner with that tag holds its lock. A numeric tag is a PID (the
// names older Pier versions wrote): alive when that PID exists.
func Alive(dir, tag string) bool {
	if pid, err := strconv.Atoi(tag); err == nil {
		return pid > 0 && (pid == os.Getpid() || syscall.Kill(pid, 0) == nil)
	}
	f, err := os.OpenFile(filepath.Join(dir, ownerLockPrefix+tag+".lock"), os.O_RDWR, 0)
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

// CleanDead removes from dir, a directory that holds only the temporary
// files of Owners, everything but the files of live writers (named prefix
// + tag + sep + anything, with an Alive tag) and their lock files: files of
// dead writers, dead owners' lock files, and anything else.
func CleanDead(dir, prefix string, sep byte) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	var errs []error
	remove := func(name string) {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for _, e := range entries {
		name := e.Name()
		if rest, ok := strings.CutPrefix(name, ownerLockPrefix); ok {
			if tag, ok := strings.CutSuffix(rest, ".lock"); ok && !strings.HasSuffix(rest, ".new") && !Alive(dir, tag) {
				remove(name)
			}
			continue
		}
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			remove(name)
			continue
		}
		tag, _, _ := strings.Cut(rest, string(sep))
		if !Alive(dir, tag) {
			remove(name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	return nil
}
