package repo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Served is one file Pier serves: which blob a public path names now.
type Served struct {
	SHA256  string
	Size    int64
	Kind    Kind
	ModTime time.Time
	// Targets are the targets whose retained generations hold the path
	// (several for a pool file shared by the releases of a stream).
	Targets []Target
}

// view is an immutable snapshot of every servable path.
type view struct {
	key   string // which generations it was built from
	files map[string]Served
	// prevRoots are the roots of each target's generation before its
	// current one (see viewer.previousRoot).
	prevRoots map[string]Served
	// owners are the path prefixes of every target (canonical, and alias
	// for the holders), whether or not the target published yet.
	owners []owner
}

// owner is one path prefix of a target.
type owner struct {
	prefix string
	target Target
}

// viewer keeps the served view (which blob every public path names) and
// the decoded manifests of the retained generations. It reads the catalog
// and the blob store and calls nothing else of the service.
type viewer struct {
	d         *deps
	cur       atomic.Pointer[view]
	mu        sync.Mutex        // serialises rebuilds and guards manifests
	manifests map[string][]File // by manifest sha256
	miss      missRefresher
	firstUse  sync.Once // the build on first use (current)
}

func newViewer(d *deps) *viewer { return &viewer{d: d, manifests: map[string][]File{}} }

// current returns the view, building it on first use: a process that
// never serves (a one-shot command such as pier import) never reads every
// retained manifest for one. Only the first use tries (concurrent first
// uses wait for it); when that fails, lookups answer from no view instead
// of each asking the catalog again, and the server's poll (Run) retries.
func (v *viewer) current() *view {
	if cur := v.cur.Load(); cur != nil {
		return cur
	}
	v.firstUse.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := v.refresh(ctx); err != nil {
			v.d.log.Warn("build served view", "err", err)
		}
	})
	return v.cur.Load()
}

// refreshBuilt is refresh for a view that has been built; one that has not
// is built from the catalog on first use, so there is nothing to update.
func (v *viewer) refreshBuilt(ctx context.Context) error {
	if v.cur.Load() == nil {
		return nil
	}
	return v.refresh(ctx)
}

// lookup returns the file served at path (no leading slash).
func (v *viewer) lookup(path string) (Served, bool) {
	cur := v.current()
	if cur == nil {
		return Served{}, false
	}
	f, ok := cur.files[path]
	return f, ok
}

// previousRoot returns the root file at path of the generation its
// target published before the current one, when the view still retains
// that generation (KeepGenerations ≥ 2).
func (v *viewer) previousRoot(path string) (Served, bool) {
	cur := v.current()
	if cur == nil {
		return Served{}, false
	}
	f, ok := cur.prevRoots[path]
	return f, ok
}

// refresh rebuilds the served view if any target's current generation
// changed, including changes made by another process on the same data
// directory. It is cheap when nothing changed.
func (v *viewer) refresh(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	ts, err := v.d.cat.Heads(ctx)
	if err != nil {
		return err
	}
	key := viewKey(ts)
	if old := v.cur.Load(); old != nil && old.key == key {
		return nil
	}
	files, prevRoots, used, err := v.files(ctx, ts)
	if err != nil {
		return err
	}
	for k := range v.manifests {
		if !used[k] {
			delete(v.manifests, k)
		}
	}
	owners, err := v.owners(ctx, ts)
	if err != nil {
		return err
	}
	v.cur.Store(&view{key: key, files: files, prevRoots: prevRoots, owners: owners})
	if v.d.opts.OnChange != nil {
		v.d.opts.OnChange()
	}
	return nil
}

// viewKey names the generations a view of ts is built from.
func viewKey(ts []TargetInfo) string {
	var kb strings.Builder
	for _, t := range ts {
		gen := int64(0)
		if t.Current != nil {
			gen = t.Current.ID
		}
		fmt.Fprintf(&kb, "%d:%d,", t.ID, gen)
	}
	return kb.String()
}

// files maps every path of the retained generations of ts to what it
// serves, and returns the roots of the generation before each target's
// current one and the manifests it used; v.mu must be held.
func (v *viewer) files(ctx context.Context, ts []TargetInfo) (map[string]Served, map[string]Served, map[string]bool, error) {
	used := map[string]bool{}
	prevRoots := map[string]Served{}
	size := 0
	if old := v.cur.Load(); old != nil {
		size = len(old.files) // about as many paths as before: no rehashing as it fills
	}
	files := make(map[string]Served, size)
	for _, t := range ts {
		if t.Current == nil {
			continue
		}
		gens, err := v.d.cat.Generations(ctx, t.ID, v.d.opts.KeepGenerations)
		if err != nil {
			return nil, nil, nil, err
		}
		// Newest first: a path takes the newest generation of the target
		// that holds it; older generations contribute only files that are
		// not roots, so that a client that read an older root can still
		// fetch what it names. Across targets the last one listed sets the
		// path's blob and time (they hold the same bytes: see collision).
		only := []Target{t.Target}[:1:1] // shared by the paths of this target alone
		for i, g := range gens {
			m, err := v.manifestLocked(ctx, g.Manifest)
			if err != nil {
				return nil, nil, nil, err
			}
			used[g.Manifest] = true
			for _, f := range m {
				if i > 0 && f.Kind == KindRoot {
					if i == 1 {
						prevRoots[f.Path] = Served{SHA256: f.SHA256, Size: f.Size, Kind: f.Kind, ModTime: g.Created, Targets: only}
					}
					continue
				}
				old, seen := files[f.Path]
				if seen && old.Targets[len(old.Targets)-1] == t.Target {
					continue // a newer generation of t has it
				}
				sv := Served{SHA256: f.SHA256, Size: f.Size, Kind: f.Kind, ModTime: g.Created, Targets: only}
				if seen {
					sv.Targets = append(slices.Clip(old.Targets), t.Target)
				}
				files[f.Path] = sv
			}
		}
	}
	return files, prevRoots, used, nil
}

// owners lists the path prefixes of every target in ts.
func (v *viewer) owners(ctx context.Context, ts []TargetInfo) ([]owner, error) {
	held, err := v.d.cat.Aliases(ctx)
	if err != nil {
		return nil, err
	}
	holds := map[int64][]string{}
	for claim, id := range held {
		holds[id] = append(holds[id], claim)
	}
	var out []owner
	for _, ti := range ts {
		spec, err := v.d.spec(ti.Distro)
		if err != nil {
			continue // a distro no longer configured serves nothing new
		}
		l, ok := spec.Format.(Layout)
		if !ok {
			continue
		}
		a, hasAlias := l.Alias(ti.Target)
		hasAlias = hasAlias && slices.Contains(holds[ti.ID], a.Claim)
		for _, p := range l.Prefixes(ti.Target) {
			out = append(out, owner{p, ti.Target})
			if rest, ok := strings.CutPrefix(p, a.From); ok && hasAlias {
				out = append(out, owner{a.To + rest, ti.Target})
			}
		}
	}
	return out, nil
}

// ownersOf returns the targets under whose published prefixes path lies,
// whether or not the file exists.
func (v *viewer) ownersOf(path string) []Target {
	cur := v.current()
	if cur == nil {
		return nil
	}
	var out []Target
	for _, o := range cur.owners {
		if strings.HasPrefix(path, o.prefix) && !slices.Contains(out, o.target) {
			out = append(out, o.target)
		}
	}
	return out
}

// servedPaths yields every served path that starts with prefix.
func (v *viewer) servedPaths(prefix string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		cur := v.current()
		if cur == nil {
			return
		}
		for p := range cur.files {
			if strings.HasPrefix(p, prefix) && !yield(p) {
				return
			}
		}
	}
}

// collision returns an error wrapping ErrConflict when a file of files is
// served now by a target other than t with other bytes: a URL never
// changes which target it serves. It is a second line of defence: the
// paths a format shares between targets carry the content's hash (deb's
// pool directories) and alias paths are claimed in the catalog first. A
// process that serves nothing (a one-shot command) has built no view and
// skips it rather than read every retained manifest for it.
func (v *viewer) collision(t Target, files []File) error {
	cur := v.cur.Load()
	if cur == nil {
		return nil
	}
	for _, f := range files {
		sv, ok := cur.files[f.Path]
		if !ok || sv.SHA256 == f.SHA256 {
			continue
		}
		for _, other := range sv.Targets {
			if other != t {
				return fmt.Errorf("%s is already published by target %s with other content; a URL never changes target: %w",
					f.Path, other, ErrConflict)
			}
		}
	}
	return nil
}

// manifest returns the files of the generation whose manifest has sha256
// sum, cached for the retained generations. The slice is shared: callers
// must not modify it.
func (v *viewer) manifest(ctx context.Context, sum string) ([]File, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.manifestLocked(ctx, sum)
}

// manifestLocked is manifest with v.mu held.
func (v *viewer) manifestLocked(ctx context.Context, sum string) ([]File, error) {
	if m, ok := v.manifests[sum]; ok {
		return m, nil
	}
	m, err := readManifest(ctx, v.d.blobs, sum)
	if err != nil {
		return nil, err
	}
	v.manifests[sum] = m
	return m, nil
}

// cached returns a manifest if the cache holds it, without reading or
// adding anything (garbage collection reads old generations' manifests,
// which must not fill the cache).
func (v *viewer) cached(sum string) ([]File, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m, ok := v.manifests[sum]
	return m, ok
}

// remember caches the manifest a publish just stored, which the view needs
// next, sparing a read, check and decode of the blob.
func (v *viewer) remember(sum string, files []File) {
	v.mu.Lock()
	v.manifests[sum] = files
	v.mu.Unlock()
}

// watch refreshes the view every interval until ctx ends, so that
// publishes by other processes (pier import) become visible.
func (v *viewer) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			guarded(v.d.log, "refresh served view failed", func() {
				if err := v.refresh(ctx); err != nil && ctx.Err() == nil {
					v.d.log.Warn("refresh served view", "err", err)
				}
			})
		}
	}
}

// readManifest reads and decodes the manifest blob sum.
func readManifest(ctx context.Context, blobs *Blobs, sum string) ([]File, error) {
	data, err := blobs.ReadAll(ctx, sum)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := decodeManifest(data)
	if err != nil {
		return nil, fmt.Errorf("decode manifest %s: %w", sum, err)
	}
	return m, nil
}
