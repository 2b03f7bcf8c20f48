package repo

import (
	"context"
	"fmt"
	"time"
)

// Expirer is implemented by formats whose signed roots expire, such as
// apt's Release with Valid-Until: a client refuses them afterwards even
// though nothing in the repository changed. The service then re-signs the
// roots in time by publishing the target again (see [Service.Run]).
type Expirer interface {
	// Expiry reads when the roots of a published generation of t expire.
	// files are the generation's files and read returns the bytes of one
	// of them. ok is false when nothing in the generation expires.
	Expiry(ctx context.Context, t Target, files []File, read func(File) ([]byte, error)) (e Expiry, ok bool, err error)
}

// Expiry says when a generation's roots stop being accepted by clients
// and when Pier should sign new ones.
type Expiry struct {
	// ValidUntil is when clients start refusing the roots.
	ValidUntil time.Time
	// ResignAt is when the target is republished to sign fresh roots; it is
	// before ValidUntil by the format's configured margin.
	ResignAt time.Time
}

// maxResignBackoff bounds the wait before a failed re-sign is retried.
const maxResignBackoff = 10 * time.Minute

// resigner keeps expiring roots fresh: it publishes again every target
// whose current roots are due for re-signing, with the service's clock. Its
// state is the expiry of each current generation (read once per manifest
// and format configuration) and the retry schedule of targets whose
// re-sign failed.
type resigner struct {
	d      *deps
	pub    *publisher
	view   *viewer
	expiry map[expiryKey]expiryEntry
	retry  map[Target]retryState
	// minBackoff is the first wait after a failure.
	minBackoff time.Duration
}

type expiryKey struct {
	manifest string
	spec     *FormatSpec // changes when the formats are reconfigured
}

type expiryEntry struct {
	e  Expiry
	ok bool
}

type retryState struct {
	next    time.Time
	backoff time.Duration
}

func newResigner(d *deps, pub *publisher, v *viewer, minBackoff time.Duration) *resigner {
	if minBackoff <= 0 {
		minBackoff = time.Second
	}
	return &resigner{d: d, pub: pub, view: v, expiry: map[expiryKey]expiryEntry{}, retry: map[Target]retryState{},
		minBackoff: minBackoff}
}

// loop checks every interval until ctx ends; a failed re-sign is logged
// and retried with a backoff from interval up to 10 minutes. Options.Hook
// hears "resign.pass" after each check.
func (r *resigner) loop(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		// One node at a time checks the roots (duty "resign").
		r.d.locks.duty(ctx, r.d.log, "resign", func() {
			done, err := r.pass(ctx)
			if err != nil && ctx.Err() == nil {
				r.d.log.Warn("check roots for expiry", "err", err)
			}
			r.d.log.Debug("checked roots for expiry", "resigned", len(done))
		})
		r.d.hook("resign.pass")
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// pass checks every target once and returns those it republished. The
// error reports the first failure; the other targets are still handled.
func (r *resigner) pass(ctx context.Context) ([]Target, error) {
	heads, err := r.d.cat.Heads(ctx)
	if err != nil {
		return nil, err
	}
	var done []Target
	var firstErr error
	seen := map[expiryKey]bool{}
	for i := range heads {
		ti := &heads[i]
		ex, key, ok := r.expirer(ti)
		if !ok {
			continue
		}
		seen[key] = true
		resigned, err := r.check(ctx, ex, key, ti)
		if err != nil {
			firstErr = keepFirst(firstErr, err)
		} else if resigned {
			done = append(done, ti.Target)
		}
	}
	for k := range r.expiry {
		if !seen[k] {
			delete(r.expiry, k)
		}
	}
	return done, firstErr
}

// expirer returns ti's format as an Expirer, and the key of its current
// generation's expiry; false when nothing of ti can expire.
func (r *resigner) expirer(ti *TargetInfo) (Expirer, expiryKey, bool) {
	if ti.Current == nil {
		return nil, expiryKey{}, false
	}
	spec, err := r.d.spec(ti.Distro)
	if err != nil {
		return nil, expiryKey{}, false // a distro no longer configured: nothing serves it
	}
	ex, ok := spec.Format.(Expirer)
	return ex, expiryKey{manifest: ti.Current.Manifest, spec: spec}, ok
}

// check re-signs ti when its current roots are due and no failed re-sign
// is waiting for its retry.
func (r *resigner) check(ctx context.Context, ex Expirer, key expiryKey, ti *TargetInfo) (bool, error) {
	ent, cached := r.expiry[key]
	if !cached {
		var err error
		if ent.e, ent.ok, err = r.read(ctx, ex, ti); err != nil {
			return false, err
		}
		r.expiry[key] = ent
	}
	now := r.d.now()
	if !ent.ok || now.Before(ent.e.ResignAt) {
		return false, nil
	}
	if rs, ok := r.retry[ti.Target]; ok && now.Before(rs.next) {
		return false, nil
	}
	if err := r.resign(ctx, ex, ti, ent.e, now); err != nil {
		return false, err
	}
	return true, nil
}

// read asks the format when the current generation of ti expires.
func (r *resigner) read(ctx context.Context, ex Expirer, ti *TargetInfo) (Expiry, bool, error) {
	files, err := r.view.manifest(ctx, ti.Current.Manifest)
	if err != nil {
		return Expiry{}, false, fmt.Errorf("expiry of %s: %w", ti.Target, err)
	}
	read := func(f File) ([]byte, error) { return r.d.blobs.ReadAll(ctx, f.SHA256) }
	e, ok, err := ex.Expiry(ctx, ti.Target, files, read)
	if err != nil {
		return Expiry{}, false, fmt.Errorf("expiry of %s: %w", ti.Target, err)
	}
	return e, ok, nil
}

// resign publishes ti again and keeps the retry schedule. A new generation
// that is itself due at once (a margin as long as the validity) counts as a
// failure, so a misconfiguration cannot make a publish loop.
func (r *resigner) resign(ctx context.Context, ex Expirer, ti *TargetInfo, e Expiry, now time.Time) error {
	level := r.d.log.Info
	if !now.Before(e.ValidUntil) {
		level = r.d.log.Warn
	}
	level("re-signing roots before they expire", "target", ti.Target.String(),
		"generation", ti.Current.Seq, "valid_until", e.ValidUntil.UTC().Format(time.RFC3339))
	gen, err := r.pub.publish(ctx, ti.Target)
	if err == nil {
		next := *ti
		next.Current = gen
		ne, ok, rerr := r.read(ctx, ex, &next)
		switch {
		case rerr != nil:
			err = rerr
		case ok && !now.Before(ne.ResignAt):
			err = fmt.Errorf("the new roots (valid until %s) are due for re-signing at once: the re-sign margin is too long for the validity",
				ne.ValidUntil.UTC().Format(time.RFC3339))
		}
	}
	if err != nil {
		rs := r.retry[ti.Target]
		rs.backoff = min(max(2*rs.backoff, r.minBackoff), maxResignBackoff)
		rs.next = now.Add(rs.backoff)
		r.retry[ti.Target] = rs
		err = fmt.Errorf("re-sign %s: %w", ti.Target, err)
		r.d.log.Error("re-sign failed", "target", ti.Target.String(), "retry_in", rs.backoff.String(), "err", err)
		return err
	}
	delete(r.retry, ti.Target)
	return nil
}

func keepFirst(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
