package web

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/pierhq/pier/repo"
)

// keySet is a target's live packages (without Meta) as of one revision,
// in id (upload) order, with their architectures and components.
type keySet struct {
	rev   int64
	pkgs  []repo.Package
	archs []string
	comps []string
	used  time.Time
}

// keyCache keeps the package lists of recently viewed targets, each valid
// for one revision of its target: a target's revision changes with every
// change of its package set (repo.TargetStore), so a list read at the
// current revision is the catalog's list, and a target page of 10,000
// packages needs no read of 10,000 rows per view. It holds at most max
// targets, dropping the least recently used.
type keyCache struct {
	svc *repo.Service
	max int
	mu  sync.Mutex
	m   map[int64]*keySet
}

func newKeyCache(svc *repo.Service, max int) *keyCache {
	return &keyCache{svc: svc, max: max, m: map[int64]*keySet{}}
}

// get returns ti's packages at ti's revision, reading them when the cache
// holds another revision. The set is shared: callers must not modify it.
func (c *keyCache) get(ctx context.Context, ti *repo.TargetInfo) (*keySet, error) {
	c.mu.Lock()
	ks, ok := c.m[ti.ID]
	if ok && ks.rev == ti.Revision {
		ks.used = time.Now()
		c.mu.Unlock()
		return ks, nil
	}
	c.mu.Unlock()
	ps, err := c.svc.PackageKeys(ctx, ti.Target)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ps, func(a, b repo.Package) int { return cmp.Compare(a.ID, b.ID) })
	ks = &keySet{rev: ti.Revision, pkgs: ps, used: time.Now()}
	for _, p := range ps {
		if !slices.Contains(ks.archs, p.Arch) {
			ks.archs = append(ks.archs, p.Arch)
		}
		if !slices.Contains(ks.comps, p.Component) {
			ks.comps = append(ks.comps, p.Component)
		}
	}
	slices.Sort(ks.archs)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.m[ti.ID]; ok && cur.rev > ks.rev {
		return ks, nil // a newer list arrived meanwhile; keep it
	}
	if _, ok := c.m[ti.ID]; !ok && len(c.m) >= c.max {
		var oldest int64
		var at time.Time
		for id, s := range c.m {
			if at.IsZero() || s.used.Before(at) {
				oldest, at = id, s.used
			}
		}
		delete(c.m, oldest)
	}
	c.m[ti.ID] = ks
	return ks, nil
}
