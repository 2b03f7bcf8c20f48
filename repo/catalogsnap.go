package repo

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Frozen marks a target as a frozen snapshot (see Service.Snapshot): a copy
// of another target's package set whose own package set never changes.
type Frozen struct {
	// Source is the target the snapshot was copied from.
	Source Target `json:"source"`
	// SourceGeneration is the source's generation (Seq) whose package set
	// the snapshot holds.
	SourceGeneration int64 `json:"source_generation"`
	// Created is when the snapshot was made.
	Created time.Time `json:"created"`
}

// ErrFrozen marks a change refused because its target is frozen. It wraps
// ErrConflict: the request is well formed, the target's state refuses it.
var ErrFrozen = fmt.Errorf("frozen target: %w", ErrConflict)

// FrozenError is the error of a change refused by a frozen target; it
// wraps ErrFrozen (and so ErrConflict).
type FrozenError struct {
	Target Target
	Frozen Frozen
	// Action names what was refused ("upload", "delete", "retention").
	Action string
}

func (e *FrozenError) Error() string {
	return fmt.Sprintf("%s refused: target %s is frozen (a snapshot of %s generation %d made %s): its packages never change; "+
		"change %s and make a new snapshot", e.Action, e.Target, e.Frozen.Source, e.Frozen.SourceGeneration,
		e.Frozen.Created.UTC().Format(time.RFC3339), e.Frozen.Source)
}

// Unwrap returns ErrFrozen.
func (e *FrozenError) Unwrap() error { return ErrFrozen }

// IsFrozen reports whether err refuses a change because a target is
// frozen.
func IsFrozen(err error) bool { return errors.Is(err, ErrFrozen) }

// Snapshotter makes frozen snapshots of targets. A frozen target's live
// package set never changes after the snapshot made it: every
// PackageWriter call on it (AddPackage, AddPackages, DeletePackage,
// RemovePackages, SetLivePackages) fails with a *FrozenError and changes
// nothing, whoever calls it and however it races with the snapshot. New
// generations of it (re-signing) are recorded as for any target;
// TargetRemover removes it like any target. LiveElsewhere does not count a
// frozen target's rows: a snapshot holds its own copies, so the source's
// retention goes on as if the snapshot did not exist.
type Snapshotter interface {
	// Snapshot creates target dst, holding format packages, whose live set
	// is a copy of the rows of generation seq of target source (same
	// component, name, version, architecture, sha256, sums, Meta and upload
	// time; new ids), and marks it frozen with Frozen{source's name, seq,
	// at}, in one transaction that writes the events of ctx with
	// "packages": the number of rows copied. dst's revision becomes 1, so
	// it owes its first publish. It returns dst as Target does.
	//
	// A dst that exists is refused with an error wrapping ErrConflict
	// unless it never held a package and was never published (an upload
	// that failed creates an empty target), in which case it is taken. A
	// missing source or generation, or a generation row gone (collected),
	// wraps ErrNotFound; a generation recorded without package ids, a
	// source of another format than format, or dst == source, ErrInvalid.
	Snapshot(ctx context.Context, source, seq int64, dst Target, format string, at time.Time) (*TargetInfo, error)
}
