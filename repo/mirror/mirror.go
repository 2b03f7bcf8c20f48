// Package mirror copies published generations to a storage.Backend (an S3
// bucket, a directory) in an order that never shows a client a broken
// repository: package files first, then content-addressed index files,
// then plain index files, and the roots (InRelease, repomd.xml,
// APKINDEX.tar.gz …) last. Objects that no retained generation names any
// more are deleted only after a grace period. An interrupted sync leaves the
// previous or the new generation in place; running it again finishes it.
package mirror

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pierhq/pier/internal/panics"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/storage"
)

// Source is what a mirror copies from: Pier's service.
type Source interface {
	Heads(ctx context.Context) ([]repo.TargetInfo, error)
	Retained(ctx context.Context, t *repo.TargetInfo) ([]repo.Generation, error)
	Manifest(ctx context.Context, g *repo.Generation) ([]repo.File, error)
	Blobs() *repo.Blobs
}

// Mirror is one sync destination.
type Mirror struct {
	// Name identifies the mirror (its state file is <StateDir>/<Name>.json).
	Name string
	// Dest receives the objects, keyed by the paths Pier serves.
	Dest storage.Backend
	// Targets are "stream/distro/release" glob patterns; empty means all.
	Targets []string
	// Grace is how long an object no retained generation names stays
	// before it is deleted.
	Grace time.Duration
	// Parallel is how many uploads of one kind run at once (roots always
	// go one by one); 0 or 1 means sequential.
	Parallel int
	// CacheControl overrides the Cache-Control of objects by kind
	// ("package", "hashed", "index", "root"); the default is
	// repo.CacheControl: immutable for packages and hashed files, no-cache
	// for the rest.
	CacheControl map[string]string
	// StateDir keeps what was uploaded, so unchanged objects are skipped.
	StateDir string
	// State, when set, keeps what was uploaded instead of StateDir: the
	// cluster catalog, so that whichever node syncs next knows it.
	State StateStore
	// Locker, when set, serialises the mirror's syncs (lock
	// "mirror-<name>") across every process and node that shares it,
	// instead of the flock in StateDir.
	Locker repo.Locker
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Report says what a sync did.
type Report struct {
	Uploaded, Skipped, Deleted int
	Bytes                      int64
}

// StateStore keeps mirror states outside the data directory (the
// PostgreSQL catalog of a cluster).
type StateStore interface {
	// LoadMirrorState returns the state saved for the mirror name, or nil
	// and no error when there is none.
	LoadMirrorState(ctx context.Context, name string) ([]byte, error)
	// SaveMirrorState replaces the mirror's state with data, durably.
	SaveMirrorState(ctx context.Context, name string, data []byte) error
}

// object is what the state remembers of one uploaded object.
type object struct {
	SHA256 string `json:"h"`
	Size   int64  `json:"s"`
	// Orphaned is when a sync first found no retained generation naming
	// the object (zero while one does).
	Orphaned time.Time `json:"o,omitzero"`
}

func (m *Mirror) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Mirror) matches(t repo.Target) bool {
	if len(m.Targets) == 0 {
		return true
	}
	for _, p := range m.Targets {
		if ok, _ := path.Match(p, t.String()); ok {
			return true
		}
	}
	return false
}

// plan returns the files of every matching target's current generation in
// upload order, and the paths any retained generation names.
func (m *Mirror) plan(ctx context.Context, src Source) ([]repo.File, map[string]bool, error) {
	heads, err := src.Heads(ctx)
	if err != nil {
		return nil, nil, err
	}
	want := map[string]repo.File{}
	referenced := map[string]bool{}
	for i := range heads {
		t := &heads[i]
		if t.Current == nil || !m.matches(t.Target) {
			continue
		}
		gens, err := src.Retained(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		for gi := range gens {
			files, err := src.Manifest(ctx, &gens[gi])
			if err != nil {
				return nil, nil, err
			}
			for _, f := range files {
				referenced[f.Path] = true
				if gi == 0 {
					want[f.Path] = f
				}
			}
		}
	}
	files := make([]repo.File, 0, len(want))
	for _, f := range want {
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b repo.File) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Order, b.Order), strings.Compare(a.Path, b.Path))
	})
	return files, referenced, nil
}

// Sync uploads what changed since the last sync, in order, then deletes
// objects orphaned for longer than the grace period.
func (m *Mirror) Sync(ctx context.Context, src Source) (rep Report, err error) {
	unlock, err := m.lock(ctx)
	if err != nil {
		return rep, err
	}
	defer unlock()
	state, err := m.loadState(ctx)
	if err != nil {
		return rep, err
	}
	// Keep what was done even when the sync fails half way.
	defer func() {
		if serr := m.saveState(context.WithoutCancel(ctx), state); serr != nil && err == nil {
			err = serr
		}
	}()
	files, referenced, err := m.plan(ctx, src)
	if err != nil {
		return rep, err
	}
	// Uploads run Parallel at a time within one kind; a kind starts only
	// when every file of the kinds before it is uploaded, and roots go one
	// by one in their order.
	var todo []repo.File
	for _, f := range files {
		if o, ok := state[f.Path]; ok && o.SHA256 == f.SHA256 && o.Size == f.Size {
			rep.Skipped++
			continue
		}
		todo = append(todo, f)
	}
	for len(todo) > 0 {
		n := 1
		for n < len(todo) && todo[n].Kind == todo[0].Kind {
			n++
		}
		workers := max(1, m.Parallel)
		if todo[0].Kind == repo.KindRoot {
			workers = 1
		}
		if err := m.putAll(ctx, src, todo[:n], workers, state, &rep); err != nil {
			return rep, err
		}
		todo = todo[n:]
	}
	now := m.now()
	for p, o := range state {
		if referenced[p] {
			o.Orphaned = time.Time{}
			continue
		}
		if o.Orphaned.IsZero() {
			o.Orphaned = now
		}
		if now.Sub(o.Orphaned) < m.Grace {
			continue
		}
		if err := m.Dest.Delete(ctx, p); err != nil {
			return rep, fmt.Errorf("mirror %s: delete %s: %w", m.Name, p, err)
		}
		delete(state, p)
		rep.Deleted++
	}
	return rep, nil
}

// putAll uploads files with up to workers at once, recording each success
// in state; it returns the first error after the uploads in flight end.
func (m *Mirror) putAll(ctx context.Context, src Source, files []repo.File, workers int, state map[string]*object, rep *Report) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var first error
	jobs := make(chan repo.File)
	var wg sync.WaitGroup
	for range min(workers, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				// Not in the state (first sync, lost state): an object the
				// bucket holds with this size and sha256 is kept.
				if m.present(ctx, f) {
					mu.Lock()
					state[f.Path] = &object{SHA256: f.SHA256, Size: f.Size}
					rep.Skipped++
					mu.Unlock()
					continue
				}
				// A bug in an upload fails that upload, not the server.
				err := func() (err error) { defer panics.Recover(&err); return m.put(ctx, src, f) }()
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("mirror %s: upload %s: %w", m.Name, f.Path, err)
					cancel()
				}
				if err == nil {
					state[f.Path] = &object{SHA256: f.SHA256, Size: f.Size}
					rep.Uploaded++
					rep.Bytes += f.Size
				}
				mu.Unlock()
			}
		}()
	}
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		jobs <- f
	}
	close(jobs)
	wg.Wait()
	return first
}

// present reports whether the destination already holds f, judged by
// size and the sha256 kept in the object's metadata.
func (m *Mirror) present(ctx context.Context, f repo.File) bool {
	info, err := m.Dest.Stat(ctx, f.Path)
	return err == nil && info.Size == f.Size && info.Metadata["sha256"] == f.SHA256
}

func (m *Mirror) put(ctx context.Context, src Source, f repo.File) error {
	obj, err := src.Blobs().Open(ctx, f.SHA256)
	if err != nil {
		return err
	}
	defer obj.Close()
	return m.Dest.Put(ctx, f.Path, obj, f.Size, storage.PutOptions{
		ContentType:  repo.ContentType(f.Path),
		CacheControl: m.cacheControl(f.Kind),
		Metadata:     map[string]string{"sha256": f.SHA256},
	})
}

// KindNames are the names CacheControl is keyed by, indexed by repo.Kind.
var KindNames = []string{"package", "hashed", "index", "root"}

func (m *Mirror) cacheControl(k repo.Kind) string {
	if int(k) < len(KindNames) {
		if v, ok := m.CacheControl[KindNames[k]]; ok {
			return v
		}
	}
	return repo.CacheControl(k)
}

// Problem is one object of the mirror that differs from the current
// generation.
type Problem struct {
	Path, What string
}

// Verify checks every file of the current generations in the mirror
// (size, and sha256: from object metadata where the backend keeps it,
// otherwise by reading the object) without changing anything.
func (m *Mirror) Verify(ctx context.Context, src Source) ([]Problem, error) {
	files, _, err := m.plan(ctx, src)
	if err != nil {
		return nil, err
	}
	var probs []Problem
	for _, f := range files {
		info, err := m.Dest.Stat(ctx, f.Path)
		if errors.Is(err, fs.ErrNotExist) {
			probs = append(probs, Problem{f.Path, "missing"})
			continue
		}
		if err != nil {
			return probs, fmt.Errorf("mirror %s: stat %s: %w", m.Name, f.Path, err)
		}
		if info.Size != f.Size {
			probs = append(probs, Problem{f.Path, fmt.Sprintf("size %d, want %d", info.Size, f.Size)})
			continue
		}
		sum := info.Metadata["sha256"]
		if sum == "" {
			if sum, err = hashObject(ctx, m.Dest, f.Path); err != nil {
				return probs, err
			}
		}
		if sum != f.SHA256 {
			probs = append(probs, Problem{f.Path, fmt.Sprintf("sha256 %s, want %s", sum, f.SHA256)})
		}
	}
	return probs, nil
}

func hashObject(ctx context.Context, b storage.Backend, key string) (string, error) {
	o, err := b.Open(ctx, key)
	if err != nil {
		return "", err
	}
	defer o.Close()
	h := sha256.New()
	if _, err := io.Copy(h, o); err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// lock serialises syncs of one mirror across processes (pier serve's
// background sync and a pier sync run on the same data dir), so that an
// older generation's roots never overwrite a newer one's.
func (m *Mirror) lock(ctx context.Context) (func(), error) {
	if m.Locker != nil {
		return m.Locker.Lock(ctx, "mirror-"+m.Name, true)
	}
	if err := os.MkdirAll(m.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("mirror %s: %w", m.Name, err)
	}
	f, err := os.OpenFile(filepath.Join(m.StateDir, m.Name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("mirror %s: lock: %w", m.Name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("mirror %s: lock: %w", m.Name, err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

func (m *Mirror) statePath() string { return filepath.Join(m.StateDir, m.Name+".json") }

func (m *Mirror) loadState(ctx context.Context) (map[string]*object, error) {
	state := map[string]*object{}
	var data []byte
	var err error
	if m.State != nil {
		data, err = m.State.LoadMirrorState(ctx, m.Name)
		if err == nil && data == nil {
			return state, nil
		}
	} else {
		data, err = os.ReadFile(m.statePath())
	}
	if errors.Is(err, fs.ErrNotExist) {
		return state, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mirror %s: read state: %w", m.Name, err)
	}
	if err := json.Unmarshal(data, &state); err != nil {
		return nil, fmt.Errorf("mirror %s: state %s is corrupt (delete it to re-upload everything): %w", m.Name, m.statePath(), err)
	}
	return state, nil
}

// saveState writes the state atomically (temp file, fsync, rename).
func (m *Mirror) saveState(ctx context.Context, state map[string]*object) error {
	data, err := json.Marshal(state)
	if err != nil {
		return err
	}
	if m.State != nil {
		if err := m.State.SaveMirrorState(ctx, m.Name, data); err != nil {
			return fmt.Errorf("mirror %s: save state: %w", m.Name, err)
		}
		return nil
	}
	if err := os.MkdirAll(m.StateDir, 0o755); err != nil {
		return fmt.Errorf("mirror %s: save state: %w", m.Name, err)
	}
	f, err := os.CreateTemp(m.StateDir, m.Name+".*.tmp")
	if err != nil {
		return fmt.Errorf("mirror %s: save state: %w", m.Name, err)
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
		f.Close()
		return fmt.Errorf("mirror %s: save state: %w", m.Name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("mirror %s: save state: %w", m.Name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("mirror %s: save state: %w", m.Name, err)
	}
	if err := os.Rename(f.Name(), m.statePath()); err != nil {
		return fmt.Errorf("mirror %s: save state: %w", m.Name, err)
	}
	return nil
}
