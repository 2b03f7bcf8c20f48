package repo

import (
	"context"
	"time"
)

// TargetInfo is a target as the catalog knows it.
type TargetInfo struct {
	Target
	ID     int64  `json:"-"`
	Format string `json:"format"`
	// Revision counts changes to the target's package set.
	Revision int64 `json:"revision"`
	// Packages is the number of packages in the target (filled by
	// Catalog.Targets; Catalog.Target leaves it 0 to stay cheap).
	Packages int64 `json:"packages"`
	// Bytes is the size of the target's packages (Catalog.Targets only).
	Bytes int64 `json:"bytes"`
	// Current is the live generation, nil before the first publish.
	Current *Generation `json:"generation,omitempty"`
	// PublishError is the error of the last publish when it failed (and
	// no publish succeeded since); PublishFailures counts the failures in
	// a row and FailingSince is the time of the first of them.
	// State is State() at the time the catalog read the target.
	State           string     `json:"publish_state"`
	PublishError    string     `json:"publish_error,omitempty"`
	PublishFailures int        `json:"publish_failures,omitempty"`
	FailingSince    *time.Time `json:"failing_since,omitempty"`
}

// Publish states of a target (TargetInfo.State).
const (
	StateEmpty     = "empty"     // nothing uploaded, never published
	StatePublished = "published" // the current generation has the current package set
	StatePending   = "pending"   // a publish is owed and none failed since
	StateFailed    = "failed"    // a publish is owed and the last attempt failed
)

// PublishState returns t's publish state (one of the State constants).
func (t *TargetInfo) PublishState() string {
	switch {
	case t.PublishFailures > 0:
		return StateFailed
	case t.Pending():
		return StatePending
	case t.Current == nil:
		return StateEmpty
	default:
		return StatePublished
	}
}

// Pending reports whether t's package set changed since its current
// generation was published (or it has packages and was never published):
// a publish is owed. Revisions only grow, and a generation records the
// revision whose package set it published.
func (t *TargetInfo) Pending() bool {
	if t.Current == nil {
		return t.Revision > 0
	}
	return t.Revision > t.Current.Revision
}

// AddResult is the outcome of adding one package with AddPackages: the
// package now recorded (the new one, or the identical one that was there),
// whether it was added, or an error wrapping ErrConflict.
type AddResult struct {
	Package *Package
	Added   bool
	Err     error
}

// Generation is one immutable published state of a target.
type Generation struct {
	ID int64 `json:"-"`
	// Seq numbers a target's generations from 1.
	Seq      int64     `json:"id"`
	Created  time.Time `json:"created"`
	Revision int64     `json:"revision"`
	// Manifest is the sha256 of the blob holding the generation's file list.
	Manifest string `json:"manifest"`
	Files    int    `json:"files"`
	Packages int    `json:"packages"`
	// Note says why the generation was made when it was not an ordinary
	// publish ("rollback to generation 3").
	Note string `json:"note,omitempty"`
	// Changes is what changed from the previous generation; the catalog
	// computes it when the generation is added.
	Changes *Changes `json:"changes,omitempty"`
	// PackageIDs are the catalog ids of the generation's packages, kept so
	// that a retained generation can be restored (rollback). Only
	// Catalog.Generation fills it.
	PackageIDs []int64 `json:"-"`
}

// Changes lists what one generation changed in a target's package set.
// Added and Removed hold at most MaxChangesListed entries ("name version
// arch"); the counts are complete.
type Changes struct {
	Added        []string `json:"added,omitempty"`
	Removed      []string `json:"removed,omitempty"`
	AddedCount   int      `json:"added_count"`
	RemovedCount int      `json:"removed_count"`
}

// MaxChangesListed bounds the package names a generation's Changes lists.
const MaxChangesListed = 50

// Pin keeps one version of a package from retention pruning in a target.
type Pin struct {
	Name    string    `json:"name"`
	Version string    `json:"version"`
	Created time.Time `json:"created"`
}

// CollectStats says what Catalog.Collect removed.
type CollectStats struct {
	Generations int `json:"generations"`
	Packages    int `json:"packages"`
}

// Catalog is the source of truth for targets, their packages and their
// generations. Implementations must be safe for concurrent use by several
// goroutines and by several processes sharing one data directory.
type Catalog interface {
	// Target returns the target, creating it with format if it does not
	// exist yet.
	Target(ctx context.Context, t Target, format string) (*TargetInfo, error)
	// Targets lists every target with its package count.
	Targets(ctx context.Context) ([]TargetInfo, error)
	// Heads lists every target with its current generation but without
	// counting packages: cheap enough to poll.
	Heads(ctx context.Context) ([]TargetInfo, error)
	// AddPackage records p in target id. If a package with the same name,
	// version and architecture exists with the same sha256 it returns that
	// package and false; with other bytes it returns an error wrapping
	// ErrConflict. Otherwise it inserts p, bumps the target's revision and
	// returns p and true.
	AddPackage(ctx context.Context, target int64, p *Package) (*Package, bool, error)
	// AddPackages is AddPackage for many packages in one transaction; the
	// error is for the transaction, per-package outcomes are in the results.
	AddPackages(ctx context.Context, target int64, ps []*Package) ([]AddResult, error)
	// FindPackage returns the package with that name, version and
	// architecture, or an error wrapping ErrNotFound.
	FindPackage(ctx context.Context, target int64, name, version, arch string) (*Package, error)
	// DeletePackage removes the package with that name, version and
	// architecture from target id (its blob stays for other targets and
	// older generations), or returns an error wrapping ErrNotFound.
	DeletePackage(ctx context.Context, target int64, name, version, arch string) error
	// RemovePackages removes the live packages with these ids from target
	// id, in one transaction. Removed packages stay restorable while a
	// retained generation holds them.
	RemovePackages(ctx context.Context, target int64, ids []int64) error
	// SetLivePackages makes exactly the packages with these ids (live or
	// removed rows of target id) the target's live set, in one transaction:
	// the restore step of a rollback. It fails with ErrNotFound if a row is
	// gone and with ErrConflict if two of them share name, version and
	// architecture.
	SetLivePackages(ctx context.Context, target int64, ids []int64) error
	// LiveElsewhere returns which of sums are the sha256 of a live package
	// in a target other than target id.
	LiveElsewhere(ctx context.Context, target int64, sums []string) (map[string]bool, error)
	// Pins lists target id's pins.
	Pins(ctx context.Context, target int64) ([]Pin, error)
	// SetPin pins (on) or unpins name=version in target id; unpinning what
	// is not pinned returns an error wrapping ErrNotFound.
	SetPin(ctx context.Context, target int64, name, version string, on bool) error
	// Packages returns every package of target id, with Meta.
	Packages(ctx context.Context, target int64) ([]Package, error)
	// PackageKeys returns target id's live packages without Meta and Sums:
	// enough to tell whether a name, version and architecture is taken, by
	// which bytes and since when.
	PackageKeys(ctx context.Context, target int64) ([]Package, error)
	// LivePackageIDs returns the ids of target id's packages, ascending:
	// with PackagesByID it lets a cache of package rows (which never change
	// once written) fetch only what it lacks.
	LivePackageIDs(ctx context.Context, target int64) ([]int64, error)
	// PackagesByID returns the packages of target id with these ids, with
	// Meta, whether live or removed.
	PackagesByID(ctx context.Context, target int64, ids []int64) ([]Package, error)
	// AddGeneration records g for target id and makes it current in one
	// transaction; it fills g.ID and g.Seq.
	AddGeneration(ctx context.Context, target int64, g *Generation) error
	// Generations returns up to limit of the target's most recent
	// generations, newest first.
	Generations(ctx context.Context, target int64, limit int) ([]Generation, error)
	// Generation returns generation seq of target id with its PackageIDs,
	// or an error wrapping ErrNotFound.
	Generation(ctx context.Context, target int64, seq int64) (*Generation, error)
	// Collect forgets every target's generations older than its keep most
	// recent ones, then deletes removed package rows that no remaining
	// generation holds.
	Collect(ctx context.Context, keep int) (CollectStats, error)
	// References calls fn with the sha256 of every blob the catalog still
	// needs: every package row's (live or restorable) and every remaining
	// generation's manifest. The blobs a manifest names are the caller's
	// to add.
	References(ctx context.Context, fn func(sum string, manifest bool) error) error
	// ClaimAlias gives the alias claim to target id if no target holds it
	// yet, and returns the target that holds it. A claim is never taken
	// back nor given to another target.
	ClaimAlias(ctx context.Context, claim string, target int64, at time.Time) (holder int64, err error)
	// Aliases returns every claimed alias and the id of its holder.
	Aliases(ctx context.Context) (map[string]int64, error)
	// PublishFailed records that a publish of target id failed with msg at
	// at: it sets the target's PublishError, counts the failure and sets
	// FailingSince if unset. AddGeneration clears all three.
	PublishFailed(ctx context.Context, target int64, msg string, at time.Time) error
}
