package repo

import (
	"context"
	"fmt"
	"time"
)

// Expirer is implemented by formats whose signed roots expire, such as
// apt's Release with Valid-Until: a client refuses them afterwards even
// though nothing in the repository changed. The service then re-signs the
// roots in time by publishing the target again (see [Service.ResignLoop]).
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

// resigner is the state of a re-sign loop: the expiry of each current
// generation (read once per manifest and format configuration) and the
// retry schedule of targets whose re-sign failed.
type resigner struct {
	s      *Service
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

func (s *Service) newResigner(minBackoff time.Duration) *resigner {
	if minBackoff <= 0 {
		minBackoff = time.Second
	}
	return &resigner{s: s, expiry: map[expiryKey]expiryEntry{}, retry: map[Target]retryState{}, minBackoff: minBackoff}
}

// ResignLoop keeps expiring roots fresh: every interval until ctx ends it
// checks, with the service's clock (Options.Now), every target whose format
// is an [Expirer], and publishes again each target whose current roots are
// due for re-signing (their ResignAt has come), so no upload is needed to
// keep a repository with an expiry date usable. A failed re-sign is logged
// and retried with a backoff from interval up to 10 minutes.
func (s *Service) ResignLoop(ctx context.Context, interval time.Duration) {
	r := s.newResigner(interval)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if _, err := r.pass(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("check roots for expiry", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// ResignExpiring is one check of [Service.ResignLoop]: it publishes every
// target whose current roots are due for re-signing now and returns those
// it republished. The error reports the first failure; the other targets
// are still handled.
func (s *Service) ResignExpiring(ctx context.Context) ([]Target, error) {
	return s.newResigner(0).pass(ctx)
}

// pass checks every target once.
func (r *resigner) pass(ctx context.Context) ([]Target, error) {
	s := r.s
	heads, err := s.cat.Heads(ctx)
	if err != nil {
		return nil, err
	}
	var done []Target
	var firstErr error
	seen := map[expiryKey]bool{}
	for i := range heads {
		ti := &heads[i]
		if ti.Current == nil {
			continue
		}
		spec, err := s.Spec(ti.Distro)
		if err != nil {
			continue // a distro no longer configured: nothing serves it
		}
		ex, ok := spec.Format.(Expirer)
		if !ok {
			continue
		}
		key := expiryKey{manifest: ti.Current.Manifest, spec: spec}
		seen[key] = true
		ent, cached := r.expiry[key]
		if !cached {
			ent.e, ent.ok, err = r.read(ctx, ex, ti)
			if err != nil {
				firstErr = keepFirst(firstErr, err)
				continue
			}
			r.expiry[key] = ent
		}
		now := s.opts.Now()
		if !ent.ok || now.Before(ent.e.ResignAt) {
			continue
		}
		if rs, ok := r.retry[ti.Target]; ok && now.Before(rs.next) {
			continue
		}
		if err := r.resign(ctx, ex, ti, ent.e, now); err != nil {
			firstErr = keepFirst(firstErr, err)
			continue
		}
		done = append(done, ti.Target)
	}
	for k := range r.expiry {
		if !seen[k] {
			delete(r.expiry, k)
		}
	}
	return done, firstErr
}

// read asks the format when the current generation of ti expires.
func (r *resigner) read(ctx context.Context, ex Expirer, ti *TargetInfo) (Expiry, bool, error) {
	files, err := r.s.Manifest(ctx, ti.Current)
	if err != nil {
		return Expiry{}, false, fmt.Errorf("expiry of %s: %w", ti.Target, err)
	}
	read := func(f File) ([]byte, error) { return r.s.blobs.ReadAll(ctx, f.SHA256) }
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
	s := r.s
	level := s.log.Info
	if !now.Before(e.ValidUntil) {
		level = s.log.Warn
	}
	level("re-signing roots before they expire", "target", ti.Target.String(),
		"generation", ti.Current.Seq, "valid_until", e.ValidUntil.UTC().Format(time.RFC3339))
	gen, err := s.Publish(ctx, ti.Target)
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
		s.log.Error("re-sign failed", "target", ti.Target.String(), "retry_in", rs.backoff.String(), "err", err)
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
