package repo

import (
	"context"
	"sync"
	"time"
)

// missRefresher makes a lookup that misses, or that finds a root, look at
// the catalog first: on several nodes a client may read a root from the
// node that published it and then the files it names (or its detached
// signature, repomd.xml.asc) from another whose view has not polled the
// catalog yet. Such a lookup refreshes the view unless a refresh began
// after the lookup did; concurrent lookups share one refresh. So every
// node serves at least the generation that was current when the request
// came in, as a single node does.
type missRefresher struct {
	mu   sync.Mutex
	last time.Time // when the last successful refresh began
}

// lookupFresh is lookup; with Options.FollowCatalog, on a miss or a root
// it first brings the view up to the catalog's state at the time of the
// call.
func (v *viewer) lookupFresh(path string) (Served, bool) {
	if f, ok := v.lookup(path); !v.d.opts.FollowCatalog || (ok && f.Kind != KindRoot) {
		return f, ok
	}
	start := time.Now()
	m := &v.miss
	m.mu.Lock()
	if m.last.Before(start) {
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := v.refresh(ctx)
		cancel()
		if err == nil {
			m.last = began
		} else {
			v.d.log.Warn("refresh served view after a miss", "err", err)
		}
	}
	m.mu.Unlock()
	return v.lookup(path)
}
