package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Reconcile publishes every target that owes a publish, until ctx ends: a
// target whose package set changed since its current generation (an
// acknowledged upload whose publish was lost to a crash, or failed), and a
// target whose current generation was written with paths the format no
// longer publishes at (an upgrade). The first pass runs at once (pier
// serve calls this at start); after that the catalog is polled every
// interval. A target that just changed is left to the publish its upload
// scheduled for PublishDelay plus a grace, and a target whose publishes
// fail is retried with a backoff (Options.PublishRetry doubling to 5 min).
func (s *Service) Reconcile(ctx context.Context, interval time.Duration) {
	r := &reconciler{s: s, seen: map[int64]time.Time{}, tried: map[int64]time.Time{}, stale: map[int64]bool{}}
	r.pass(ctx, true)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.pass(ctx, false)
		}
	}
}

type reconciler struct {
	s *Service
	// seen is when a target was first seen owing a publish; tried when
	// this reconciler last published it.
	seen, tried map[int64]time.Time
	// stale caches, by generation id, whether a generation's roots lie
	// outside the format's current layout.
	stale map[int64]bool
}

func (r *reconciler) pass(ctx context.Context, first bool) {
	s := r.s
	heads, err := s.Heads(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("reconcile: list targets", "err", err)
		}
		return
	}
	now := time.Now()
	grace := s.opts.PublishDelay + 2*time.Second
	for i := range heads {
		ti := &heads[i]
		if !ti.Pending() && !r.isStale(ctx, ti) {
			delete(r.seen, ti.ID)
			continue
		}
		if _, ok := r.seen[ti.ID]; !ok {
			r.seen[ti.ID] = now
		}
		switch {
		case first:
		case ti.PublishFailures > 0:
			if now.Sub(r.tried[ti.ID]) < backoff(s.opts.PublishRetry, ti.PublishFailures) {
				continue
			}
		case now.Sub(r.seen[ti.ID]) < grace:
			continue // its upload's own publish is due
		}
		if s.importing(ti.Target) {
			continue // pier import publishes when its batch is done
		}
		r.tried[ti.ID] = now
		why := "pending"
		if !ti.Pending() {
			why = "layout"
		}
		s.log.Info("publishing a target that owes a publish", "target", ti.Target.String(), "reason", why,
			"revision", ti.Revision, "failures", ti.PublishFailures)
		if _, err := s.Publish(ctx, ti.Target); err != nil && ctx.Err() == nil {
			s.log.Error("publish failed; will retry", "target", ti.Target.String(), "err", err,
				"retry_in", backoff(s.opts.PublishRetry, ti.PublishFailures+1).String())
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// backoff is the wait before retrying a target whose last n publishes
// failed: base doubled n-1 times, at most 5 minutes.
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

// isStale reports whether ti's current generation has a root outside the
// paths its format publishes at now (a generation written before
// canonical paths): publishing it again serves it where clients expect.
func (r *reconciler) isStale(ctx context.Context, ti *TargetInfo) bool {
	if ti.Current == nil {
		return false
	}
	if v, ok := r.stale[ti.Current.ID]; ok {
		return v
	}
	spec, err := r.s.Spec(ti.Distro)
	if err != nil {
		return false
	}
	l, ok := spec.Format.(Layout)
	if !ok {
		return false
	}
	files, err := r.s.Manifest(ctx, ti.Current)
	if err != nil {
		return false
	}
	// Stale: it has roots, and none under a canonical prefix.
	stale, canonical := false, false
	for _, f := range files {
		if f.Kind != KindRoot {
			continue
		}
		stale = true
		for _, p := range l.Prefixes(ti.Target) {
			canonical = canonical || strings.HasPrefix(f.Path, p)
		}
	}
	stale = stale && !canonical
	r.stale[ti.Current.ID] = stale
	return stale
}

// importLockPath is the file pier import holds (shared) while it adds
// packages to t, so that pier serve leaves the publish to it.
func (s *Service) importLockPath(t Target) string {
	return filepath.Join(s.opts.LockDir, "import-"+lockName(t)+".lock")
}

// HoldImport marks t as being imported into by this process until the
// returned function is called (or the process ends): pier serve's
// reconciler then leaves t's publish to the import.
func (s *Service) HoldImport(t Target) (func(), error) {
	f, err := os.OpenFile(s.importLockPath(t), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open import lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		f.Close()
		return nil, fmt.Errorf("take import lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// importing reports whether another process holds t's import lock.
func (s *Service) importing(t Target) bool {
	f, err := os.OpenFile(s.importLockPath(t), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// failure is a publish failure this process saw, kept in memory too: the
// catalog write that records it can fail for the same reason (a full
// disk), and the target must still say failed.
type failure struct {
	msg   string
	count int
	since time.Time
}

// failed remembers a failed publish of target id.
func (s *Service) failed(id int64, msg string) {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	f := s.failures[id]
	if f.count == 0 {
		f.since = s.opts.Now().UTC()
	}
	f.count++
	f.msg = msg
	s.failures[id] = f
}

// succeeded forgets target id's failures.
func (s *Service) succeeded(id int64) {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	delete(s.failures, id)
}

// overlayFailures adds the failures this process saw to ts where the
// catalog knows fewer.
func (s *Service) overlayFailures(ts []TargetInfo) {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	for i := range ts {
		f, ok := s.failures[ts[i].ID]
		if !ok || f.count <= ts[i].PublishFailures {
			continue
		}
		ts[i].PublishError, ts[i].PublishFailures = f.msg, f.count
		if ts[i].FailingSince == nil {
			since := f.since
			ts[i].FailingSince = &since
		}
		ts[i].State = ts[i].PublishState()
	}
}
