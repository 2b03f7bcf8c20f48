package repo

import (
	"context"
	"encoding/json"
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
	// owners are the path prefixes of every target (canonical, and alias
	// for the holders), whether or not the target published yet.
	owners []owner
}

// owner is one path prefix of a target.
type owner struct {
	prefix string
	target Target
}

type viewHolder struct {
	cur       atomic.Pointer[view]
	mu        sync.Mutex        // serialises rebuilds
	manifests map[string][]File // by manifest sha256
}

// Lookup returns the file served at path (no leading slash).
func (s *Service) Lookup(path string) (Served, bool) {
	v := s.view.cur.Load()
	if v == nil {
		return Served{}, false
	}
	f, ok := v.files[path]
	return f, ok
}

// RefreshView rebuilds the served view if any target's current generation
// changed, including changes made by another process on the same data
// directory. It is cheap when nothing changed.
func (s *Service) RefreshView(ctx context.Context) error {
	s.view.mu.Lock()
	defer s.view.mu.Unlock()
	ts, err := s.cat.Heads(ctx)
	if err != nil {
		return err
	}
	var kb strings.Builder
	for _, t := range ts {
		gen := int64(0)
		if t.Current != nil {
			gen = t.Current.ID
		}
		fmt.Fprintf(&kb, "%d:%d,", t.ID, gen)
	}
	key := kb.String()
	if old := s.view.cur.Load(); old != nil && old.key == key {
		return nil
	}
	used := map[string]bool{}
	files := map[string]Served{}
	for _, t := range ts {
		if t.Current == nil {
			continue
		}
		gens, err := s.cat.Generations(ctx, t.ID, s.opts.KeepGenerations)
		if err != nil {
			return err
		}
		// Oldest first, so the current generation wins; older generations
		// contribute only files that are not roots, so that a client that
		// read an older root can still fetch what it names.
		for i := len(gens) - 1; i >= 0; i-- {
			g := gens[i]
			m, err := s.manifest(ctx, g.Manifest)
			if err != nil {
				return err
			}
			used[g.Manifest] = true
			for _, f := range m {
				if i > 0 && f.Kind == KindRoot {
					continue
				}
				old, seen := files[f.Path]
				sv := Served{SHA256: f.SHA256, Size: f.Size, Kind: f.Kind, ModTime: g.Created, Targets: old.Targets}
				if !seen || !slices.Contains(old.Targets, t.Target) {
					sv.Targets = append(slices.Clip(old.Targets), t.Target)
				}
				files[f.Path] = sv
			}
		}
	}
	for k := range s.view.manifests {
		if !used[k] {
			delete(s.view.manifests, k)
		}
	}
	owners, err := s.owners(ctx, ts)
	if err != nil {
		return err
	}
	s.view.cur.Store(&view{key: key, files: files, owners: owners})
	if s.opts.OnChange != nil {
		s.opts.OnChange()
	}
	return nil
}

// owners lists the path prefixes of every target in ts.
func (s *Service) owners(ctx context.Context, ts []TargetInfo) ([]owner, error) {
	held, err := s.cat.Aliases(ctx)
	if err != nil {
		return nil, err
	}
	holds := map[int64][]string{}
	for claim, id := range held {
		holds[id] = append(holds[id], claim)
	}
	var out []owner
	for _, ti := range ts {
		spec, err := s.Spec(ti.Distro)
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

// Owners returns the targets under whose published prefixes path lies,
// whether or not the file exists: the targets a request for it is about.
func (s *Service) Owners(path string) []Target {
	v := s.view.cur.Load()
	if v == nil {
		return nil
	}
	var out []Target
	for _, o := range v.owners {
		if strings.HasPrefix(path, o.prefix) && !slices.Contains(out, o.target) {
			out = append(out, o.target)
		}
	}
	return out
}

// manifest returns a manifest, cached for the retained generations;
// s.view.mu must be held. Callers must not modify the slice.
func (s *Service) manifest(ctx context.Context, sum string) ([]File, error) {
	if m, ok := s.view.manifests[sum]; ok {
		return m, nil
	}
	data, err := s.blobs.ReadAll(ctx, sum)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m []File
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode manifest %s: %w", sum, err)
	}
	s.view.manifests[sum] = m
	return m, nil
}

// Manifest returns the files of a generation, from the same cache the
// served view uses. The slice is shared: callers must not modify it.
func (s *Service) Manifest(ctx context.Context, g *Generation) ([]File, error) {
	s.view.mu.Lock()
	defer s.view.mu.Unlock()
	return s.manifest(ctx, g.Manifest)
}

// WatchView refreshes the view every interval until ctx ends, so that
// publishes by other processes (pier import) become visible.
func (s *Service) WatchView(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.RefreshView(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("refresh served view", "err", err)
			}
		}
	}
}

// Targets lists the catalog's targets.
func (s *Service) Targets(ctx context.Context) ([]TargetInfo, error) {
	ts, err := s.cat.Targets(ctx)
	s.overlayFailures(ts)
	return ts, err
}

// Packages lists the packages of t.
func (s *Service) Packages(ctx context.Context, t Target) ([]Package, error) {
	ti, err := s.FindTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	return s.cat.Packages(ctx, ti.ID)
}

// FindTarget returns t as the catalog knows it, or an error wrapping
// ErrNotFound if nothing was ever uploaded to it.
func (s *Service) FindTarget(ctx context.Context, t Target) (*TargetInfo, error) {
	ts, err := s.Heads(ctx)
	if err != nil {
		return nil, err
	}
	for i := range ts {
		if ts[i].Target == t {
			return &ts[i], nil
		}
	}
	return nil, fmt.Errorf("target %s: %w", t, ErrNotFound)
}

// Blobs returns the blob store.
func (s *Service) Blobs() *Blobs { return s.blobs }

// ServedPaths yields every served path that starts with prefix.
func (s *Service) ServedPaths(prefix string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		v := s.view.cur.Load()
		if v == nil {
			return
		}
		for p := range v.files {
			if strings.HasPrefix(p, prefix) && !yield(p) {
				return
			}
		}
	}
}

// Heads lists every target with its current generation (no package counts).
func (s *Service) Heads(ctx context.Context) ([]TargetInfo, error) {
	ts, err := s.cat.Heads(ctx)
	s.overlayFailures(ts)
	return ts, err
}

// Retained returns the generations of target that stay servable, newest
// first: the current one and up to KeepGenerations-1 before it.
func (s *Service) Retained(ctx context.Context, t *TargetInfo) ([]Generation, error) {
	return s.cat.Generations(ctx, t.ID, s.opts.KeepGenerations)
}

// Delete removes a package from t. It does not publish; the package stays
// in the generations that have it until they are replaced.
func (s *Service) Delete(ctx context.Context, t Target, name, version, arch string) error {
	ti, err := s.FindTarget(ctx, t)
	if err != nil {
		return err
	}
	if err := s.cat.DeletePackage(ctx, ti.ID, name, version, arch); err != nil {
		return err
	}
	s.log.Info("package deleted", "target", t.String(), "name", name, "version", version, "arch", arch)
	return nil
}

// Path returns the path of t's own tree, where its root files are
// published ("deb/5.8/debian/dists/bookworm/", "rpm/5.8/el/9/"), or "" when
// its format does not say.
func (s *Service) Path(t Target) string {
	spec, err := s.Spec(t.Distro)
	if err != nil {
		return ""
	}
	if l, ok := spec.Format.(Layout); ok {
		if ps := l.Prefixes(t); len(ps) > 0 {
			return ps[0]
		}
	}
	return ""
}
