package repo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pierhq/pier/storage"
)

// GCOptions tunes a garbage collection.
type GCOptions struct {
	// DryRun counts what would be deleted and deletes nothing; it does not
	// forget old generations either, so it reports the blobs unreferenced
	// now.
	DryRun bool
	// Grace spares unreferenced blobs written less than this long ago, a
	// second line of defence behind the lock.
	Grace time.Duration
}

// GCStats says what a garbage collection removed (or would remove).
type GCStats struct {
	// Generations and Packages are the catalog rows forgotten: generations
	// older than each target's retained ones, and removed packages that no
	// retained generation holds.
	Generations int `json:"generations"`
	Packages    int `json:"packages"`
	// Blobs and Bytes are the unreferenced blobs deleted from the store.
	Blobs int   `json:"blobs"`
	Bytes int64 `json:"bytes"`
	// Kept is how many blobs are still referenced.
	Kept int `json:"kept"`
}

// collector collects garbage: catalog rows no retained generation needs
// and blobs nothing references. It reads manifests through the view's
// cache and calls nothing else of the service.
type collector struct {
	d    *deps
	view *viewer
}

// collect runs one collection (see Service.CollectGarbage) under the
// exclusive gc lock.
func (c *collector) collect(ctx context.Context, o GCOptions) (GCStats, error) {
	var st GCStats
	unlock, err := c.d.locks.gc(ctx, true)
	if err != nil {
		return st, err
	}
	defer unlock()
	if !o.DryRun {
		cs, err := c.d.cat.Collect(ctx, c.d.opts.KeepGenerations)
		if err != nil {
			return st, err
		}
		st.Generations, st.Packages = cs.Generations, cs.Packages
	}
	live, err := c.references(ctx)
	if err != nil {
		return st, err
	}
	if err := c.sweep(ctx, live, o, &st); err != nil {
		return st, err
	}
	if !o.DryRun && (st.Blobs > 0 || st.Generations > 0 || st.Packages > 0) {
		c.d.log.Info("garbage collected", "generations", st.Generations, "packages", st.Packages, "blobs", st.Blobs,
			"bytes", st.Bytes, "kept", st.Kept)
	}
	return st, nil
}

// references returns the sha256 of every blob the catalog references,
// directly or through a remaining generation's manifest.
func (c *collector) references(ctx context.Context) (map[string]bool, error) {
	live := map[string]bool{}
	err := c.d.cat.References(ctx, func(sum string, manifest bool) error {
		live[sum] = true
		if !manifest {
			return nil
		}
		files, err := c.manifest(ctx, sum)
		if err != nil {
			return err
		}
		for _, f := range files {
			live[f.SHA256] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list referenced blobs: %w", err)
	}
	return live, nil
}

// sweep deletes (or, dry, counts) every blob not in live and older than
// the grace, by the service's clock.
func (c *collector) sweep(ctx context.Context, live map[string]bool, o GCOptions, st *GCStats) error {
	cutoff := c.d.now().Add(-o.Grace)
	var dead []storage.Info
	err := c.d.blobs.b.List(ctx, blobPrefix, func(in storage.Info) error {
		sum := in.Key[strings.LastIndexByte(in.Key, '/')+1:]
		if live[sum] || in.ModTime.After(cutoff) {
			st.Kept++
			return nil
		}
		dead = append(dead, in)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list blobs: %w", err)
	}
	for _, in := range dead {
		if !o.DryRun {
			if err := c.d.blobs.b.Delete(ctx, in.Key); err != nil {
				return fmt.Errorf("delete blob %s: %w", in.Key, err)
			}
		}
		st.Blobs++
		st.Bytes += in.Size
	}
	return nil
}

// manifest reads a manifest, from the view's cache when it is there
// (without adding older generations' manifests to it).
func (c *collector) manifest(ctx context.Context, sum string) ([]File, error) {
	if m, ok := c.view.cached(sum); ok {
		return m, nil
	}
	return readManifest(ctx, c.d.blobs, sum)
}

// loop collects garbage every interval until ctx ends.
func (c *collector) loop(ctx context.Context, interval time.Duration, o GCOptions) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// One node at a time collects (duty "gc"); the gc lock
			// itself keeps writers out meanwhile.
			c.d.locks.duty(ctx, c.d.log, "gc", func() {
				if _, err := c.collect(ctx, o); err != nil && ctx.Err() == nil {
					c.d.log.Warn("garbage collection failed", "err", err)
				}
			})
		}
	}
}
