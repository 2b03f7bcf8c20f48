// Package local is a storage.Backend on a local directory.
//
// An object with key "a/b/c" is the regular file <root>/a/b/c, so the root can
// be served as-is by nginx or any static file server. A Put writes a
// temporary file in <root>/.tmp, syncs it, renames it into place and syncs
// the directory, so readers see the old or the whole new object and a
// returned Put survives a crash. Directories are created as needed (mode
// 0755) and removed again when a Delete leaves them empty; object files get
// mode 0644.
//
// Metadata is not kept: PutOptions (ContentType, CacheControl, Metadata) are
// accepted and dropped, and Info.Metadata is always nil. A file server
// derives the content type from the name, and nothing in Pier reads
// metadata back from a local store.
//
// The key ".tmp" and everything under it are reserved and rejected with
// storage.ErrInvalidKey. List reports regular files only; Open and Stat
// follow symbolic links, so an administrator may link files in.
//
// Deletes are not synced to disk: after a crash a deleted object may come
// back. Pier deletes only unreferenced objects, so that is harmless.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pierhq/pier/storage"
)

// tmpDirName is the directory under the root that holds Put's temporary
// files; the key with this name is reserved.
const tmpDirName = ".tmp"

// tempPrefix starts a temporary file's name, followed by the writer's PID.
const tempPrefix = "put."

// copyBufferSize is the buffer of Put's copy loop.
const copyBufferSize = 256 << 10

// renameAttempts bounds how often Put retries a rename whose target
// directory a concurrent Delete removed.
const renameAttempts = 32

// Backend is a storage.Backend on a local directory. It is safe for
// concurrent use, also by several processes sharing the root.
type Backend struct {
	root  string
	tmp   string
	owner *storage.Owner
}

var (
	_ storage.Backend    = (*Backend)(nil)
	_ storage.FilePutter = (*Backend)(nil)
	_ storage.Object     = (*object)(nil)
	_ storage.Filer      = (*object)(nil)
)

// New returns a backend storing objects under root, creating root and its
// temporary directory if needed.
func New(root string) (*Backend, error) {
	if root == "" {
		return nil, errors.New("local storage: empty root")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("local storage: root %s: %w", root, err)
	}
	tmp := filepath.Join(abs, tmpDirName)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("local storage: create %s: %w", tmp, err)
	}
	owner, err := storage.NewOwner(tmp)
	if err != nil {
		return nil, fmt.Errorf("local storage: %w", err)
	}
	return &Backend{root: abs, tmp: tmp, owner: owner}, nil
}

// Close releases the backend's claim on its temporary files (a cleanup by
// another process may then remove them). Puts must not run after Close.
func (b *Backend) Close() error { return b.owner.Close() }

// Root returns the absolute path of the backend's directory.
func (b *Backend) Root() string { return b.root }

// path validates key and returns its file path.
func (b *Backend) path(key string) (string, error) {
	if err := storage.ValidKey(key); err != nil {
		return "", err
	}
	if key == tmpDirName || strings.HasPrefix(key, tmpDirName+"/") {
		return "", fmt.Errorf("%w %q: reserved by the local backend", storage.ErrInvalidKey, key)
	}
	return filepath.Join(b.root, filepath.FromSlash(key)), nil
}

// CleanTemp removes the temporary files that Puts interrupted by a crash
// left behind: those whose writing process is gone. Temporary files carry
// their writer's storage.Owner tag, so the Puts in progress of another
// process sharing the store (pier import beside pier serve) are left alone
// and a dead writer's PID reused by another process keeps nothing.
func (b *Backend) CleanTemp() error {
	if err := storage.CleanDead(b.tmp, tempPrefix, '.'); err != nil {
		return fmt.Errorf("local storage: clean temporary files: %w", err)
	}
	return nil
}

// Put implements storage.Backend.
func (b *Backend) Put(ctx context.Context, key string, r io.Reader, size int64, _ storage.PutOptions) error {
	dest, err := b.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	tmp, err := os.CreateTemp(b.tmp, tempPrefix+b.owner.Tag()+".*")
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	tmpName := tmp.Name()
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err := writeAll(ctx, tmp, r, size); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := finishFile(tmp); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := b.rename(ctx, tmpName, dest); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	done = true
	return nil
}

// writeAll copies r to f, checking ctx before every read and the byte count
// against size (unless size is negative).
func writeAll(ctx context.Context, f *os.File, r io.Reader, size int64) error {
	if size >= 0 {
		r = io.LimitReader(r, size+1)
	}
	buf := make([]byte, copyBufferSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, rerr := r.Read(buf)
		if m > 0 {
			if _, err := f.Write(buf[:m]); err != nil {
				return err
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if size >= 0 && n != size {
		if n > size {
			return fmt.Errorf("%w: more than %d bytes", storage.ErrSizeMismatch, size)
		}
		return fmt.Errorf("%w: got %d bytes, want %d", storage.ErrSizeMismatch, n, size)
	}
	return nil
}

// finishFile gives an object file its mode, syncs and closes it.
func finishFile(f *os.File) error {
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// rename moves the finished file src to dest, creating dest's directories
// and syncing them. A concurrent Delete may remove a directory it emptied
// between our mkdir and rename (or between two mkdirs); then we start again.
func (b *Backend) rename(ctx context.Context, src, dest string) error {
	dir := filepath.Dir(dest)
	for attempt := 1; ; attempt++ {
		err := b.mkdirAll(dir)
		if err == nil {
			err = os.Rename(src, dest)
			if err == nil {
				if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
				// ErrNotExist: a concurrent Delete already removed the
				// object and its directory; our Put itself completed.
				return nil
			}
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt >= renameAttempts {
			return err
		}
		if _, serr := os.Lstat(src); serr != nil {
			return err // the source is gone (CleanTemp?), not a directory
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
	}
}

// mkdirAll creates dir and its missing parents below the root, syncing each
// parent whose entries changed so the new path is durable.
func (b *Backend) mkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	if dir == b.root || len(dir) < len(b.root) {
		return fmt.Errorf("local storage: root %s is missing", b.root)
	}
	parent := filepath.Dir(dir)
	if err := b.mkdirAll(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

// syncDir makes entry changes in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// PutFile implements storage.FilePutter: it renames the file at path into
// place after syncing it, or, when path is on another file system, copies it
// with Put and removes it.
func (b *Backend) PutFile(ctx context.Context, key, path string) error {
	dest, err := b.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put file %q: %w", key, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("put file %q: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("put file %q: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("put file %q: %s is not a regular file", key, path)
	}
	// Make the content durable before its new name is: the caller may not
	// have synced it.
	if err := finishFile(f); err != nil {
		return fmt.Errorf("put file %q: %w", key, err)
	}
	err = b.rename(ctx, path, dest)
	if err == nil {
		return nil
	}
	var linkErr *os.LinkError
	if !errors.As(err, &linkErr) || !errors.Is(linkErr.Err, syscall.EXDEV) {
		return fmt.Errorf("put file %q: %w", key, err)
	}
	return b.putFileCopy(ctx, key, path)
}

var _ storage.DeferredSyncer = (*Backend)(nil)

// PutFileNoSync implements storage.DeferredSyncer: PutFile without the
// file and directory syncs, which Sync does for all of them at once.
func (b *Backend) PutFileNoSync(ctx context.Context, key, path string) error {
	dest, err := b.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put file %q: %w", key, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		return fmt.Errorf("put file %q: %w", key, err)
	}
	dir := filepath.Dir(dest)
	for attempt := 1; ; attempt++ {
		err = b.mkdirAll(dir)
		if err == nil {
			if err = os.Rename(path, dest); err == nil {
				return nil
			}
		}
		var linkErr *os.LinkError
		if errors.As(err, &linkErr) && errors.Is(linkErr.Err, syscall.EXDEV) {
			return b.putFileCopy(ctx, key, path)
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt >= renameAttempts {
			return fmt.Errorf("put file %q: %w", key, err)
		}
	}
}

// Sync implements storage.DeferredSyncer with syncfs(2) on the backend's
// file system.
func (b *Backend) Sync(ctx context.Context) error {
	d, err := os.Open(b.Root())
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", b.Root(), err)
	}
	return ctx.Err()
}

// putFileCopy is PutFile across file systems: Put a copy, then remove path.
func (b *Backend) putFileCopy(ctx context.Context, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("put file %q: %w", key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("put file %q: %w", key, err)
	}
	if err := b.Put(ctx, key, f, fi.Size(), storage.PutOptions{}); err != nil {
		return err
	}
	f.Close()
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("put file %q: remove source: %w", key, err)
	}
	return nil
}

// Open implements storage.Backend. The returned Object is an open *os.File
// (see storage.Filer): an overwrite or Delete does not affect it.
func (b *Backend) Open(ctx context.Context, key string) (storage.Object, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %q: %w", key, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", key, notExist(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %q: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open %q: %w", key, fs.ErrNotExist)
	}
	return &object{f: f, info: infoOf(key, fi)}, nil
}

// Stat implements storage.Backend.
func (b *Backend) Stat(ctx context.Context, key string) (storage.Info, error) {
	p, err := b.path(key)
	if err != nil {
		return storage.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("stat %q: %w", key, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return storage.Info{}, fmt.Errorf("stat %q: %w", key, notExist(err))
	}
	if !fi.Mode().IsRegular() {
		return storage.Info{}, fmt.Errorf("stat %q: %w", key, fs.ErrNotExist)
	}
	return infoOf(key, fi), nil
}

// Delete implements storage.Backend. Directories it leaves empty are
// removed.
func (b *Backend) Delete(ctx context.Context, key string) error {
	p, err := b.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(notExist(err), fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete %q: %w", key, err)
	}
	if fi.IsDir() {
		return nil // a "directory" of other keys, not an object
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	b.pruneDirs(filepath.Dir(p))
	return nil
}

// pruneDirs removes dir and its parents below the root while they are empty.
func (b *Backend) pruneDirs(dir string) {
	for dir != b.root && len(dir) > len(b.root) {
		if err := syscall.Rmdir(dir); err != nil {
			return // not empty (or already gone): stop
		}
		dir = filepath.Dir(dir)
	}
}

// List implements storage.Backend.
func (b *Backend) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return b.walk(ctx, "", prefix, fn)
}

// listEntry is one directory entry during List.
type listEntry struct {
	key   string
	order string // key, plus "/" for a directory: its keys sort after key+"/"
	entry fs.DirEntry
}

// walk lists the keys in directory dirKey ("" for the root) that start with
// prefix, in lexical key order, descending only into directories that can
// hold such keys.
func (b *Backend) walk(ctx context.Context, dirKey, prefix string, fn func(storage.Info) error) error {
	dir := b.root
	if dirKey != "" {
		dir = filepath.Join(b.root, filepath.FromSlash(dirKey))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if dirKey != "" && errors.Is(notExist(err), fs.ErrNotExist) {
			return nil // removed by a concurrent Delete
		}
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	items := make([]listEntry, 0, len(entries))
	for _, e := range entries {
		key := e.Name()
		if dirKey != "" {
			key = dirKey + "/" + key
		} else if key == tmpDirName {
			continue
		}
		switch {
		case e.IsDir():
			order := key + "/"
			if strings.HasPrefix(order, prefix) || strings.HasPrefix(prefix, order) {
				items = append(items, listEntry{key: key, order: order, entry: e})
			}
		case e.Type().IsRegular():
			if strings.HasPrefix(key, prefix) {
				items = append(items, listEntry{key: key, order: key, entry: e})
			}
		}
	}
	slices.SortFunc(items, func(x, y listEntry) int { return strings.Compare(x.order, y.order) })
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		if storage.ValidKey(it.key) != nil {
			continue // a file name that is no key, made outside Pier
		}
		if it.entry.IsDir() {
			if err := b.walk(ctx, it.key, prefix, fn); err != nil {
				return err
			}
			continue
		}
		fi, err := it.entry.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		if err := fn(infoOf(it.key, fi)); err != nil {
			return err
		}
	}
	return nil
}

// notExist turns "a path element is a file" (ENOTDIR) into fs.ErrNotExist:
// for key "a/b/c" with an object "a/b", "a/b/c" simply does not exist.
func notExist(err error) error {
	if errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w (%w)", fs.ErrNotExist, err)
	}
	return err
}

func infoOf(key string, fi fs.FileInfo) storage.Info {
	return storage.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
}

// object is an open object file.
type object struct {
	f    *os.File
	info storage.Info
}

// Read implements io.Reader.
func (o *object) Read(p []byte) (int, error) { return o.f.Read(p) }

// ReadAt implements io.ReaderAt.
func (o *object) ReadAt(p []byte, off int64) (int, error) { return o.f.ReadAt(p, off) }

// Seek implements io.Seeker.
func (o *object) Seek(offset int64, whence int) (int64, error) { return o.f.Seek(offset, whence) }

// Close implements io.Closer.
func (o *object) Close() error { return o.f.Close() }

// Info implements storage.Object.
func (o *object) Info() storage.Info { return o.info }

// File implements storage.Filer.
func (o *object) File() *os.File { return o.f }
