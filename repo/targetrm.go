package repo

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Removing a target. The catalog keeps a removed target's row as a
// tombstone: its stream becomes RemovedPrefix + its id (a name no target
// can take: Validate refuses it), its packages, generations and pins are
// deleted, and it keeps its alias claims. So a URL never changes meaning:
// the alias of a removed target is served no more, and no other target
// ever gets it; the target's id is never reused (SQLite reuses the largest
// id of a deleted row), so no cache keyed by id can mistake another target
// for it. Tombstones are targets of no use: never published, never
// pending; listings leave them out (LiveTargets).

// RemovedPrefix starts the stream of a removed target's tombstone.
const RemovedPrefix = "~removed-"

// Removed reports whether t is the tombstone of a removed target.
func (t Target) Removed() bool { return strings.HasPrefix(t.Stream, RemovedPrefix) }

// RemovedName is the tombstone name of the target with catalog id id.
func RemovedName(id int64, t Target) Target {
	return Target{Stream: RemovedPrefix + strconv.FormatInt(id, 10), Distro: t.Distro, Release: t.Release}
}

// LiveTargets returns ts without the tombstones of removed targets.
func LiveTargets(ts []TargetInfo) []TargetInfo {
	out := ts[:0:0]
	for _, t := range ts {
		if !t.Removed() {
			out = append(out, t)
		}
	}
	return out
}

// RemovedTarget says what removing a target removed.
type RemovedTarget struct {
	Target      Target `json:"target"`
	Packages    int    `json:"packages"`
	Generations int    `json:"generations"`
	Pins        int    `json:"pins"`
	// Aliases are the alias claims the target held: they stay claimed by
	// its tombstone and are served no more.
	Aliases []string `json:"aliases,omitempty"`
}

// RemoveTarget removes t: it is listed, served and published no more, its
// packages and generations are forgotten (their blobs go at the next
// garbage collection once older than its grace, unless another target
// holds them), and mirrors delete its copies (after their grace) from the
// next sync on. Its alias claims stay with it: the alias is served no more
// and never passes to another target. An upload to t afterwards creates a
// new, empty target of that name.
//
// A publish of t that was owed (an upload not yet published) runs first,
// so that no publish queued before the removal can make the target again.
// The audit events ctx carries are written with the removal.
func (s *Service) RemoveTarget(ctx context.Context, t Target) (RemovedTarget, error) {
	ti, err := s.FindTarget(ctx, t)
	if err != nil {
		return RemovedTarget{}, err
	}
	if ti.Pending() {
		// Runs the publish an upload scheduled, rather than letting it run
		// after the removal (it would make an empty target of the name).
		// Its outcome does not matter: the target goes.
		if _, err := s.Publish(context.WithoutCancel(ctx), t); err != nil {
			s.d.log.Info("remove target: its owed publish failed", "target", t.String(), "err", err)
		}
	}
	unlock, err := s.d.locks.publish(ctx, t)
	if err != nil {
		return RemovedTarget{}, err
	}
	defer unlock()
	res, err := s.d.cat.RemoveTarget(ctx, ti.ID, s.d.now())
	if err != nil {
		return RemovedTarget{}, fmt.Errorf("remove target %s: %w", t, err)
	}
	s.d.log.Info("target removed", "target", t.String(), "packages", res.Packages, "generations", res.Generations,
		"aliases_kept", strings.Join(res.Aliases, ","))
	if err := s.view.refreshBuilt(ctx); err != nil {
		s.d.log.Warn("refresh served view", "err", err)
	}
	return res, nil
}
