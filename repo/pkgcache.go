package repo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
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
	keyed   map[int64]bool // targets published from keys in this process
}

type cachedTarget struct {
	byID  map[int64]*Package
	bytes int64
	used  int64
}

func packageBytes(p *Package) int64 { return int64(len(p.Meta)) + 256 }

// live returns ti's live packages in id order, from the cache for the rows
// it holds and from cat for the rest, and how many rows it read whole from
// cat. With keysOK (a KeyIndexer's target), when the cache holds fewer than
// half of them and this process has not published the target from keys
// before (a new process: pier import, a server's first publish of the
// target), it returns their keys only (Catalog.PackageKeys), reports keys
// and caches nothing; a running Service then reads the rows into the cache
// in the background (publisher.warmRows), else the next publish reads them.
func (c *pkgCache) live(ctx context.Context, cat Catalog, ti *TargetInfo, keysOK bool) (pkgs []Package, read int, keys bool, err error) {
	if c.limit <= 0 && !keysOK {
		pkgs, err := cat.Packages(ctx, ti.ID)
		return pkgs, len(pkgs), false, err
	}
	// Nothing of the target cached: no need to list the ids first (0.25 s
	// at 100,000 packages).
	if keysOK && !c.holds(ti.ID) && c.firstKeyed(ti.ID) {
		keys, err := liveKeys(ctx, cat, ti)
		return keys, 0, err == nil, err
	}
	ids, err := cat.LivePackageIDs(ctx, ti.ID)
	if err != nil {
		return nil, 0, false, err
	}
	// Take what the cache has now (rows are immutable, so the pointers stay
	// good whatever happens to the cache meanwhile), then read the rest.
	got, missing := c.lookup(ti.ID, ids)
	if keysOK && len(missing) > len(ids)/2 && c.firstKeyed(ti.ID) {
		keys, err := liveKeys(ctx, cat, ti)
		return keys, 0, err == nil, err
	}
	fetched, err := cat.PackagesByID(ctx, ti.ID, missing)
	if err != nil {
		return nil, 0, false, err
	}
	for i := range fetched {
		got[fetched[i].ID] = &fetched[i]
	}
	next := &cachedTarget{byID: make(map[int64]*Package, len(ids))}
	out := make([]Package, 0, len(ids))
	for _, id := range ids {
		p := got[id]
		if p == nil {
			return nil, 0, false, fmt.Errorf("package %d of %s vanished from the catalog while publishing", id, ti.Target)
		}
		next.byID[id] = p
		next.bytes += packageBytes(p)
		out = append(out, *p)
	}
	c.store(ti.ID, next)
	return out, len(fetched), false, nil
}

// lookup returns the cached rows of target id among ids, and the ids it
// does not hold.
func (c *pkgCache) lookup(id int64, ids []int64) (map[int64]*Package, []int64) {
	got := make(map[int64]*Package, len(ids))
	var missing []int64
	c.mu.Lock()
	if ct := c.targets[id]; ct != nil {
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
	return got, missing
}

// store makes next the cached rows of target id, when they fit, and
// evicts the least recently published targets to stay within the limit.
func (c *pkgCache) store(id int64, next *cachedTarget) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.targets == nil {
		c.targets = map[int64]*cachedTarget{}
	}
	if old := c.targets[id]; old != nil {
		c.bytes -= old.bytes
		delete(c.targets, id)
	}
	if next.bytes > c.limit {
		return
	}
	c.tick++
	next.used = c.tick
	c.targets[id] = next
	c.bytes += next.bytes
	for c.bytes > c.limit {
		var lru int64 = -1
		for tid, t := range c.targets {
			if tid != id && (lru < 0 || t.used < c.targets[lru].used) {
				lru = tid
			}
		}
		if lru < 0 {
			break
		}
		c.bytes -= c.targets[lru].bytes
		delete(c.targets, lru)
	}
}

// liveKeys returns the keys of ti's live packages in id order, as one read
// of the catalog finds them (uploads land while a publish runs: the set may
// have grown since LivePackageIDs).
func liveKeys(ctx context.Context, cat Catalog, ti *TargetInfo) ([]Package, error) {
	keys, err := cat.PackageKeys(ctx, ti.ID)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(keys, func(a, b Package) int { return cmp.Compare(a.ID, b.ID) })
	return keys, nil
}

// firstKeyed reports whether target id was not published from keys in
// this process yet, and records that it now is.
func (c *pkgCache) firstKeyed(id int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keyed[id] {
		return false
	}
	if c.keyed == nil {
		c.keyed = map[int64]bool{}
	}
	c.keyed[id] = true
	return true
}

// holds reports whether the cache holds rows of target id.
func (c *pkgCache) holds(id int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.targets[id] != nil
}
