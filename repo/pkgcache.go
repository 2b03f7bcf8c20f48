package repo

import (
	"context"
	"fmt"
	"sync"
)

// pkgCache keeps the package rows (Meta included) of recently published
// targets in memory, so that a publish after a small change reads only the
// new rows from the catalog. Rows never change once written (a removal only
// flags them), so a cached row is never stale; the catalog's list of live
// ids decides what a publish sees. The cache is bounded by the size of the
// Meta it holds; the least recently published targets go first.
type pkgCache struct {
	limit   int64
	mu      sync.Mutex
	targets map[int64]*cachedTarget
	bytes   int64
	tick    int64
}

type cachedTarget struct {
	byID  map[int64]*Package
	bytes int64
	used  int64
}

func packageBytes(p *Package) int64 { return int64(len(p.Meta)) + 256 }

// livePackages returns ti's live packages in id order, from the cache for
// the rows it holds and from the catalog for the rest.
func (s *Service) livePackages(ctx context.Context, ti *TargetInfo) ([]Package, error) {
	c := &s.pkgs
	if c.limit <= 0 {
		return s.cat.Packages(ctx, ti.ID)
	}
	ids, err := s.cat.LivePackageIDs(ctx, ti.ID)
	if err != nil {
		return nil, err
	}
	// Take what the cache has now (rows are immutable, so the pointers stay
	// good whatever happens to the cache meanwhile), then read the rest.
	got := make(map[int64]*Package, len(ids))
	var missing []int64
	c.mu.Lock()
	if ct := c.targets[ti.ID]; ct != nil {
		for _, id := range ids {
			if p := ct.byID[id]; p != nil {
				got[id] = p
			}
		}
	}
	c.mu.Unlock()
	for _, id := range ids {
		if got[id] == nil {
			missing = append(missing, id)
		}
	}
	fetched, err := s.cat.PackagesByID(ctx, ti.ID, missing)
	if err != nil {
		return nil, err
	}
	for i := range fetched {
		got[fetched[i].ID] = &fetched[i]
	}
	next := &cachedTarget{byID: make(map[int64]*Package, len(ids))}
	out := make([]Package, 0, len(ids))
	for _, id := range ids {
		p := got[id]
		if p == nil {
			return nil, fmt.Errorf("package %d of %s vanished from the catalog while publishing", id, ti.Target)
		}
		next.byID[id] = p
		next.bytes += packageBytes(p)
		out = append(out, *p)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.targets == nil {
		c.targets = map[int64]*cachedTarget{}
	}
	if old := c.targets[ti.ID]; old != nil {
		c.bytes -= old.bytes
		delete(c.targets, ti.ID)
	}
	if next.bytes <= c.limit {
		c.tick++
		next.used = c.tick
		c.targets[ti.ID] = next
		c.bytes += next.bytes
		for c.bytes > c.limit {
			var lru int64 = -1
			for id, t := range c.targets {
				if id != ti.ID && (lru < 0 || t.used < c.targets[lru].used) {
					lru = id
				}
			}
			if lru < 0 {
				break
			}
			c.bytes -= c.targets[lru].bytes
			delete(c.targets, lru)
		}
	}
	return out, nil
}
