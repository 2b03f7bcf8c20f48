package repo

import (
	"context"
	"sync"
	"time"
)

// missRefresher makes a lookup that misses look at the catalog first: on
// several nodes a client may read a root from the node that published it
// and then the files it names from another whose view has not polled the
// catalog yet. A miss refreshes the view unless a refresh began after the
// lookup did; concurrent misses share one refresh.
type missRefresher struct {
	mu   sync.Mutex
	last time.Time // when the last successful refresh began
}

// lookupFresh is lookup; on a miss (with Options.RefreshOnMiss) it first
// brings the view up to the catalog's state at the time of the call.
func (v *viewer) lookupFresh(path string) (Served, bool) {
	if f, ok := v.lookup(path); ok || !v.d.opts.RefreshOnMiss {
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
