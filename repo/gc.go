package repo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pierhq/pier/storage"
)

// gcLock takes the data directory's garbage-collection lock (an flock, so it
// holds across processes): shared by everything that stores a blob before
// the catalog row or generation naming it is committed (an upload, a batch
// import, a publish), exclusive for a collection, which therefore never sees
// a blob that is about to be referenced.
func (s *Service) gcLock(exclusive bool) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.opts.LockDir, "gc.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open gc lock: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("take gc lock: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

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

// CollectGarbage forgets every target's generations beyond the retained
// ones (Options.KeepGenerations), then the removed packages no retained
// generation holds, then deletes every blob that no package row and no
// retained generation references, from whatever backend holds the blobs
// (local disk or S3).
func (s *Service) CollectGarbage(ctx context.Context, o GCOptions) (GCStats, error) {
	var st GCStats
	unlock, err := s.gcLock(true)
	if err != nil {
		return st, err
	}
	defer unlock()
	if !o.DryRun {
		cs, err := s.cat.Collect(ctx, s.opts.KeepGenerations)
		if err != nil {
			return st, err
		}
		st.Generations, st.Packages = cs.Generations, cs.Packages
	}
	live := map[string]bool{}
	err = s.cat.References(ctx, func(sum string, manifest bool) error {
		live[sum] = true
		if !manifest {
			return nil
		}
		files, err := s.readManifest(ctx, sum)
		if err != nil {
			return err
		}
		for _, f := range files {
			live[f.SHA256] = true
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	cutoff := time.Now().Add(-o.Grace)
	var dead []storage.Info
	err = s.blobs.b.List(ctx, blobPrefix, func(in storage.Info) error {
		sum := in.Key[strings.LastIndexByte(in.Key, '/')+1:]
		if live[sum] {
			st.Kept++
			return nil
		}
		if in.ModTime.After(cutoff) {
			st.Kept++
			return nil
		}
		dead = append(dead, in)
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("list blobs: %w", err)
	}
	for _, in := range dead {
		if !o.DryRun {
			if err := s.blobs.b.Delete(ctx, in.Key); err != nil {
				return st, fmt.Errorf("delete blob %s: %w", in.Key, err)
			}
		}
		st.Blobs++
		st.Bytes += in.Size
	}
	if !o.DryRun && (st.Blobs > 0 || st.Generations > 0 || st.Packages > 0) {
		s.log.Info("garbage collected", "generations", st.Generations, "packages", st.Packages, "blobs", st.Blobs,
			"bytes", st.Bytes, "kept", st.Kept)
	}
	return st, nil
}

// readManifest reads a manifest, from the view's cache when it is there
// (without adding older generations' manifests to it).
func (s *Service) readManifest(ctx context.Context, sum string) ([]File, error) {
	s.view.mu.Lock()
	m, ok := s.view.manifests[sum]
	s.view.mu.Unlock()
	if ok {
		return m, nil
	}
	data, err := s.blobs.ReadAll(ctx, sum)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode manifest %s: %w", sum, err)
	}
	return m, nil
}

// GCLoop collects garbage every interval until ctx ends.
func (s *Service) GCLoop(ctx context.Context, interval time.Duration, o GCOptions) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.CollectGarbage(ctx, o); err != nil && ctx.Err() == nil {
				s.log.Warn("garbage collection failed", "err", err)
			}
		}
	}
}
