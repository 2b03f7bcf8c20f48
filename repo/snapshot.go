package repo

import (
	"context"
	"fmt"
)

// Frozen snapshots. A snapshot is a new target holding exactly the package
// set a source target serves (its current generation), as catalog rows
// naming the same blobs: nothing is copied but rows. It is frozen: its
// package set never changes (uploads, deletes, retention, promotion into it
// and rollbacks are refused with a *FrozenError, HTTP 409), so it is
// published once, when it is made, and afterwards only re-signed (a new
// generation with the same packages) when its roots near Valid-Until or
// the key ring changes. It is listed, served, mirrored and removed like any
// target. This is a project's per-release repository: 5.8.1/el/9 made from
// 5.8/el/9 the day 5.8.1 ships.

// SnapshotResult says what Service.Snapshot made.
type SnapshotResult struct {
	// Target is the new, frozen target as the catalog knows it after its
	// first publish (or after the snapshot, when that publish failed).
	Target *TargetInfo `json:"target"`
	// Packages is the number of packages the snapshot holds.
	Packages int `json:"packages"`
	// Generation is the snapshot's first generation; nil when its publish
	// failed (PublishError says why; `pier serve` publishes it again, as
	// any target that owes a publish).
	Generation   *Generation `json:"generation,omitempty"`
	PublishError string      `json:"publish_error,omitempty"`
}

// Snapshot makes dst a frozen snapshot of src: a new target (of the same
// format) holding exactly the packages of src's current generation, the
// set src's clients see, then publishes it. When src owes a publish (an
// upload not yet published) that publish runs first, so the snapshot holds
// everything uploaded to src before the call. dst must not exist (or be
// an empty target that was never published). The audit events ctx carries
// are written with the snapshot, in its transaction.
func (s *Service) Snapshot(ctx context.Context, src, dst Target) (*SnapshotResult, error) {
	format, err := s.snapshotFormat(src, dst)
	if err != nil {
		return nil, err
	}
	sti, err := s.d.findTarget(ctx, src)
	if err != nil {
		return nil, err
	}
	pctx, stop := detached(ctx)
	defer stop()
	if sti.Pending() {
		// The owed publish runs without ctx's audit events: they record the
		// snapshot, not this publish.
		if _, err := s.Publish(pctx, src); err != nil {
			return nil, fmt.Errorf("snapshot %s: publish %s first: %w", dst, src, err)
		}
	}
	ti, err := s.snapshotRows(ctx, src, dst, format)
	if err != nil {
		return nil, err
	}
	ids, err := s.d.cat.LivePackageIDs(ctx, ti.ID)
	if err != nil {
		return nil, err
	}
	res := &SnapshotResult{Target: ti, Packages: len(ids)}
	s.d.log.Info("snapshot made", "source", src.String(), "target", dst.String(), "source_generation",
		ti.Frozen.SourceGeneration, "packages", res.Packages)
	gen, err := s.Publish(pctx, dst)
	if err != nil {
		res.PublishError = err.Error()
		s.d.log.Warn("publish of the new snapshot failed; it is published again later", "target", dst.String(), "err", err)
		return res, nil
	}
	res.Generation = gen
	if after, err := s.d.findTarget(ctx, dst); err == nil {
		res.Target = after
	}
	return res, nil
}

// snapshotFormat checks a snapshot's names and returns the format both
// targets share.
func (s *Service) snapshotFormat(src, dst Target) (string, error) {
	for _, t := range []Target{src, dst} {
		if err := t.Validate(); err != nil {
			return "", err
		}
	}
	if src == dst {
		return "", fmt.Errorf("snapshot %s into itself: %w", src, ErrInvalid)
	}
	sspec, err := s.d.spec(src.Distro)
	if err != nil {
		return "", err
	}
	dspec, err := s.d.spec(dst.Distro)
	if err != nil {
		return "", err
	}
	if sspec.Format.Name() != dspec.Format.Name() {
		return "", fmt.Errorf("cannot snapshot %s (%s packages) as %s, which takes %s: %w", src, sspec.Format.Name(), dst,
			dspec.Format.Name(), ErrInvalid)
	}
	return sspec.Format.Name(), nil
}

// snapshotRows copies src's current generation into dst under src's
// publish lock (no publish switches src's generation meanwhile) and the
// shared gc lock (no collection forgets the rows being copied).
func (s *Service) snapshotRows(ctx context.Context, src, dst Target, format string) (*TargetInfo, error) {
	unlock, err := s.d.locks.publish(ctx, src)
	if err != nil {
		return nil, err
	}
	defer unlock()
	gcUnlock, err := s.d.locks.gc(ctx, false)
	if err != nil {
		return nil, err
	}
	defer gcUnlock()
	sti, err := s.d.findTarget(ctx, src)
	if err != nil {
		return nil, err
	}
	if sti.Current == nil {
		return nil, fmt.Errorf("snapshot %s: %s was never published, so it serves no package set to freeze: %w", dst, src, ErrInvalid)
	}
	ti, err := s.d.cat.Snapshot(ctx, sti.ID, sti.Current.Seq, dst, format, s.d.now())
	if err != nil {
		return nil, fmt.Errorf("snapshot %s into %s: %w", src, dst, err)
	}
	return ti, nil
}

// refuseFrozen returns a *FrozenError for action when ti is frozen.
func refuseFrozen(ti *TargetInfo, action string) error {
	if ti == nil || ti.Frozen == nil {
		return nil
	}
	return &FrozenError{Target: ti.Target, Frozen: *ti.Frozen, Action: action}
}

// detached returns a context that ends with ctx (or when stop is called)
// but carries none of its values (audit events among them).
func detached(ctx context.Context) (d context.Context, stop func()) {
	d, cancel := context.WithCancel(context.Background())
	unhook := context.AfterFunc(ctx, cancel)
	return d, func() { unhook(); cancel() }
}
