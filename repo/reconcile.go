package repo

import (
	"context"
	"strings"
	"time"
)

// reconciler publishes every target that owes a publish: a target whose
// package set changed since its current generation (an acknowledged upload
// whose publish was lost to a crash, or failed), and a target whose current
// generation was written with paths the format no longer publishes at (an
// upgrade). Its first pass publishes every such target at once; later
// passes leave a target that just changed to the publish its upload
// scheduled for PublishDelay plus a grace, and retry a target whose
// publishes fail with a backoff (Options.PublishRetry doubling to 5 min).
type reconciler struct {
	d    *deps
	pub  *publisher
	view *viewer
	// seen is when a target was first seen owing a publish; tried when
	// this reconciler last published it.
	seen, tried map[int64]time.Time
	// stale caches, by generation id, whether a generation's roots lie
	// outside the format's current layout.
	stale map[int64]bool
}

func newReconciler(d *deps, pub *publisher, v *viewer) *reconciler {
	return &reconciler{d: d, pub: pub, view: v, seen: map[int64]time.Time{}, tried: map[int64]time.Time{}, stale: map[int64]bool{}}
}

// run makes a first pass at once, then one every interval until ctx ends.
func (r *reconciler) run(ctx context.Context, interval time.Duration) {
	// One node at a time runs a pass (duty "reconcile"); the others' turns
	// find nothing left to do, or take over when it dies.
	r.d.locks.duty(ctx, r.d.log, "reconcile", func() { r.pass(ctx, true) })
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.d.locks.duty(ctx, r.d.log, "reconcile", func() { r.pass(ctx, false) })
		}
	}
}

// pass publishes, one after the other, the targets that owe a publish and
// are due; Options.Hook hears "reconcile.pass" at its end.
func (r *reconciler) pass(ctx context.Context, first bool) {
	defer r.d.hook("reconcile.pass")
	heads, err := r.d.heads(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.d.log.Warn("reconcile: list targets", "err", err)
		}
		return
	}
	now := r.d.now()
	for i := range heads {
		ti := &heads[i]
		if !ti.Pending() && !r.isStale(ctx, ti) {
			delete(r.seen, ti.ID)
			continue
		}
		if _, ok := r.seen[ti.ID]; !ok {
			r.seen[ti.ID] = now
		}
		if !r.due(ti, now, first) {
			continue
		}
		r.tried[ti.ID] = now
		r.publish(ctx, ti)
		if ctx.Err() != nil {
			return
		}
	}
}

// due reports whether ti, which owes a publish, is to be published now.
func (r *reconciler) due(ti *TargetInfo, now time.Time, first bool) bool {
	switch {
	case first:
	case ti.PublishFailures > 0:
		if now.Sub(r.tried[ti.ID]) < backoff(r.d.opts.PublishRetry, ti.PublishFailures) {
			return false
		}
	case now.Sub(r.seen[ti.ID]) < r.d.opts.PublishDelay+2*time.Second:
		return false // its upload's own publish is due
	}
	// pier import publishes when its batch is done.
	return !r.d.locks.importing(context.Background(), ti.Target)
}

// publish publishes ti and logs why and how it went.
func (r *reconciler) publish(ctx context.Context, ti *TargetInfo) {
	why := "pending"
	if !ti.Pending() {
		why = "layout"
	}
	r.d.log.Info("publishing a target that owes a publish", "target", ti.Target.String(), "reason", why,
		"revision", ti.Revision, "failures", ti.PublishFailures)
	publish := r.pub.publish
	if ti.Pending() {
		publish = r.pub.publishPending
	}
	if _, err := publish(ctx, ti.Target); err != nil && ctx.Err() == nil {
		r.d.log.Error("publish failed; will retry", "target", ti.Target.String(), "err", err,
			"retry_in", backoff(r.d.opts.PublishRetry, ti.PublishFailures+1).String())
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
// canonical paths), or lacks files its format writes now (Outdater):
// publishing it again serves it where and as clients expect.
func (r *reconciler) isStale(ctx context.Context, ti *TargetInfo) bool {
	if ti.Current == nil {
		return false
	}
	if v, ok := r.stale[ti.Current.ID]; ok {
		return v
	}
	spec, err := r.d.spec(ti.Distro)
	if err != nil {
		return false
	}
	l, isLayout := spec.Format.(Layout)
	o, isOutdater := spec.Format.(Outdater)
	if !isLayout && !isOutdater {
		return false
	}
	files, err := r.view.manifest(ctx, ti.Current.Manifest)
	if err != nil {
		return false
	}
	if isOutdater && o.Outdated(ti.Target, files) {
		r.stale[ti.Current.ID] = true
		return true
	}
	if !isLayout {
		r.stale[ti.Current.ID] = false
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
