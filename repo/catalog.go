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
	// Frozen is set when the target is a frozen snapshot (Snapshotter).
	Frozen *Frozen `json:"frozen,omitempty"`
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
	// RowsRead is how many whole package rows (with Meta) the publish
	// that made the generation read from the catalog; set by the
	// publisher on the generation it returns, never stored.
	RowsRead int `json:"-"`
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
// generations: everything the Service reads and writes. It is the union of
// small interfaces, one per concern, each with its own contract; the
// contracts below hold for all of them. Implementations live in
// repo/catalog/<name> (SQLite now, PostgreSQL next) and must all pass the
// one conformance suite, repo/catalog/catalogtest, which is the executable
// form of these contracts.
//
// Concurrency: every method may be called at any time from several
// goroutines, and from several processes sharing one database (pier serve
// beside pier import); no call sees another's partial work.
//
// Transactions: every method that writes is one transaction: it happens
// completely or not at all. A change to a target's live package set
// (PackageWriter) also bumps the target's Revision in that transaction.
//
// Errors: a missing target, package, generation or pin is reported only
// where a method says so, with an error wrapping ErrNotFound; a clash of
// name, version and architecture wraps ErrConflict; a malformed request
// ErrInvalid. Any other error is the catalog's own failure (I/O, a broken
// database) and never wraps ErrBadPackage.
//
// Cancellation: a call made with a ctx that is already done fails with an
// error wrapping ctx.Err() and changes nothing; a write whose ctx ends
// while it runs commits whole or not at all.
//
// Target ids: methods that take a target id expect one that TargetStore
// returned. Ids are never reused.
//
// Order: where a method lists in the order of names (targets, pins,
// tokens), names compare as bytes ("B" before "a"), not by a locale.
//
// Audit: each method documented as "writes the events of ctx" writes every
// unrecorded event that ctx carries (audit.WithEvent; audit.Events) in the
// transaction of its change, so a change and its record commit together or
// not at all: the event gets its ID (and, when its Time is zero, the
// catalog clock's time) when the change commits; when the call fails, the
// events stay unrecorded and the change is not made, even when it is the
// event's write that failed. A call that changes nothing writes no event
// (the caller records those; SetPin is the one exception, see PinStore).
// The other writers (Target creating a target, ClaimAlias, PublishFailed)
// write no event: they are bookkeeping of a change whose own call records
// it.
//
// Clock: the times a catalog sets by itself (when a package row was
// removed, a pin's Created, an event's Time when zero) come from a clock
// the implementation is given at open, never from the system clock
// directly. Every other time is the caller's. Times come back in UTC;
// Package.Uploaded and FailingSince keep nanoseconds, Generation.Created
// and Pin.Created whole seconds.
type Catalog interface {
	TargetStore
	PackageReader
	PackageWriter
	PinStore
	GenerationStore
	AliasStore
	Collector
	TargetRemover
	Snapshotter
}

// TargetStore keeps the targets: one row per stream/distro/release, made
// on first use, with the format it holds, its revision (bumped by every
// change of its package set), its current generation and its publish state.
type TargetStore interface {
	// Target returns the target, creating it with format if it does not
	// exist yet (concurrent first calls agree on one target and one id).
	// A target that holds another format is an error wrapping ErrInvalid.
	// It is cheap when the target exists: ingest calls it for every
	// package. Packages and Bytes are left 0. It writes no event.
	Target(ctx context.Context, t Target, format string) (*TargetInfo, error)
	// Targets lists every target, ordered by stream, distro and release,
	// with its current generation, publish state, and the number and
	// total size of its live packages.
	Targets(ctx context.Context) ([]TargetInfo, error)
	// Heads is Targets without counting packages (Packages and Bytes are
	// 0): cheap enough to poll.
	Heads(ctx context.Context) ([]TargetInfo, error)
}

// PackageReader reads a target's package rows. A row is never rewritten
// once recorded: it is live until removed (DeletePackage, RemovePackages,
// SetLivePackages), and a removed row stays readable by id (PackagesByID)
// until Collector.Collect deletes it. Package ids are never reused, not
// even after Collect deleted a row, so a cache of rows by id is never
// stale. Among a target's live rows, name, version and architecture are
// unique.
type PackageReader interface {
	// FindPackage returns the live package of target id with that name,
	// version and architecture, with Meta and Sums, or an error wrapping
	// ErrNotFound.
	FindPackage(ctx context.Context, target int64, name, version, arch string) (*Package, error)
	// Packages returns every live package of target id, with Meta and
	// Sums, in ascending id order.
	Packages(ctx context.Context, target int64) ([]Package, error)
	// PackagePage returns one page of target id's live packages: those
	// with an id above q.After and, when set, exactly q.Name and q.Arch
	// (bytes compare), at most q.Limit of them, in ascending id order,
	// with Meta and Sums — the rows Packages returns, filtered, from where
	// the previous page stopped (keyset paging: a row added or removed
	// between two pages neither shifts nor repeats the others). It reads
	// only the rows of the page (an index on target and id), so a page of
	// a 100,000-package target costs what a page of a small one does. A
	// q.Limit below 1 or a q.After below 0 is an error wrapping
	// ErrInvalid; an unknown target has no rows.
	PackagePage(ctx context.Context, target int64, q PackageQuery) ([]Package, error)
	// PackageKeys returns target id's live packages without Meta and Sums
	// (in no particular order): enough to tell whether a name, version and
	// architecture is taken, by which bytes and since when.
	PackageKeys(ctx context.Context, target int64) ([]Package, error)
	// LivePackageIDs returns the ids of target id's live packages,
	// ascending: with PackagesByID it lets a cache of package rows (which
	// never change once written) fetch only what it lacks.
	LivePackageIDs(ctx context.Context, target int64) ([]int64, error)
	// PackagesByID returns the rows of target id with these ids, with Meta
	// and Sums, whether live or removed, in no particular order; ids that
	// are not rows of the target (collected, another target's) are left
	// out.
	PackagesByID(ctx context.Context, target int64, ids []int64) ([]Package, error)
	// LiveElsewhere returns which of sums are the sha256 of a live package
	// in a target other than target id (only those are keys of the map).
	LiveElsewhere(ctx context.Context, target int64, sums []string) (map[string]bool, error)
}

// PackageQuery selects a page of a target's live packages
// (PackageReader.PackagePage).
type PackageQuery struct {
	// After is the id of the last package of the previous page; 0 starts
	// from the first.
	After int64
	// Limit is the most packages the page holds (1 or more).
	Limit int
	// Name and Arch, when not empty, keep only the packages with exactly
	// that name and that architecture.
	Name, Arch string
}

// PackageWriter changes a target's live package set. Every call that
// changes it bumps the target's Revision once, in its transaction, and
// writes the events of ctx.
type PackageWriter interface {
	// AddPackage records p (filling p.ID) in target id and returns it and
	// true. If a live package with the same name, version and
	// architecture exists, nothing changes: when it is the same upload
	// (Package.SameUpload) it returns that package and false, otherwise an
	// error wrapping ErrConflict.
	AddPackage(ctx context.Context, target int64, p *Package) (*Package, bool, error)
	// AddPackages is AddPackage for many packages in one transaction, in
	// order (a later package sees the earlier ones); the error is the
	// transaction's, each package's outcome is in its result (a conflict
	// is a result's Err, with the package that is there). The revision is
	// bumped and the events are written once, if anything was added.
	AddPackages(ctx context.Context, target int64, ps []*Package) ([]AddResult, error)
	// AddPackageSet is AddPackages, all or nothing: when one of ps
	// conflicts with a live package (or with an earlier one of ps), nothing
	// changes (no revision, no event) and the error wraps ErrConflict and
	// names that package. A package that is already there as the same
	// upload is a result with Added false, as in AddPackages. It records
	// the packages of one upload that must land together (a .changes).
	AddPackageSet(ctx context.Context, target int64, ps []*Package) ([]AddResult, error)
	// DeletePackage removes the live package with that name, version and
	// architecture from target id (its row stays restorable while a
	// generation holds it), or returns an error wrapping ErrNotFound.
	// Another package of that name, version and architecture may be added
	// afterwards.
	DeletePackage(ctx context.Context, target int64, name, version, arch string) error
	// RemovePackages removes the live packages with these ids from target
	// id in one transaction; ids that are not live rows of the target are
	// ignored, and when none is, nothing changes (no revision, no event).
	// The events of ctx get "removed": the number of rows removed.
	RemovePackages(ctx context.Context, target int64, ids []int64) error
	// SetLivePackages makes exactly the rows with these ids (live or
	// removed rows of target id) the target's live set, in one
	// transaction: the restore step of a rollback. It bumps the revision
	// and writes the events of ctx even when the set was that already (a
	// rollback always publishes). It fails with an error wrapping
	// ErrNotFound if a row is gone (collected, or not the target's) and
	// ErrConflict if two of them share name, version and architecture;
	// then nothing changes.
	SetLivePackages(ctx context.Context, target int64, ids []int64) error
}

// PinStore keeps pins: versions of a package that retention never prunes
// from a target. A pin names a version, which need not be uploaded.
type PinStore interface {
	// Pins lists target id's pins, ordered by name and version.
	Pins(ctx context.Context, target int64) ([]Pin, error)
	// SetPin pins (on) or unpins name=version in target id and writes the
	// events of ctx. Pinning is idempotent (a pinned version keeps its
	// Created, and the events are written all the same); unpinning what is
	// not pinned returns an error wrapping ErrNotFound.
	SetPin(ctx context.Context, target int64, name, version string, on bool) error
}

// GenerationStore records the outcome of each publish of a target: a new
// generation, or a failure.
type GenerationStore interface {
	// AddGeneration records g for target id and makes it the target's
	// current generation in one transaction; it fills g.ID, g.Seq (the
	// target's generations are numbered from 1, without gaps, in the order
	// they were added) and g.Changes (g.PackageIDs compared with the
	// previous generation's; nil if that one predates package ids),
	// clears the target's publish failure state, and writes the events of
	// ctx with "generation": g.Seq and "packages": g.Packages.
	AddGeneration(ctx context.Context, target int64, g *Generation) error
	// PublishFailed records that a publish of target id failed with msg at
	// at: it sets the target's PublishError, counts the failure and sets
	// FailingSince if unset. AddGeneration clears all three. A missing
	// target is an error wrapping ErrNotFound.
	PublishFailed(ctx context.Context, target int64, msg string, at time.Time) error
	// Generations returns up to limit of target id's most recent
	// generations, newest first, with Changes but without PackageIDs.
	Generations(ctx context.Context, target int64, limit int) ([]Generation, error)
	// Generation returns generation seq of target id with its PackageIDs
	// (ascending), or an error wrapping ErrNotFound; one recorded without
	// package ids (by an older Pier) is an error wrapping ErrInvalid.
	Generation(ctx context.Context, target int64, seq int64) (*Generation, error)
}

// AliasStore keeps the claims on stable alias paths (the distro-less roots
// of Pier's first releases). A claim, once given, is never taken back nor
// given to another target.
type AliasStore interface {
	// ClaimAlias gives claim to target id if no target holds it yet, and
	// returns the target that holds it (concurrent claims agree on one).
	ClaimAlias(ctx context.Context, claim string, target int64, at time.Time) (holder int64, err error)
	// Aliases returns every claim and the id of its holder.
	Aliases(ctx context.Context) (map[string]int64, error)
}

// Collector forgets what no retained generation needs, and names the blobs
// the catalog still references, for garbage collection.
type Collector interface {
	// Collect forgets every target's generations older than its keep most
	// recent ones (keep < 1 counts as 1, so the current one always stays),
	// then deletes removed package rows that no remaining generation
	// holds, in one transaction. It writes the events of ctx with
	// "generations" and "packages", the counts it returns.
	Collect(ctx context.Context, keep int) (CollectStats, error)
	// References calls fn with the sha256 of every blob the catalog still
	// needs: every package row's (live or removed) and each of its Extra
	// blobs (manifest false), and
	// every remaining generation's manifest (manifest true), each at least
	// once. The blobs a manifest names are the caller's to add. If fn
	// returns an error, References stops and returns it.
	References(ctx context.Context, fn func(sum string, manifest bool) error) error
}

// TargetRemover removes targets (see Service.RemoveTarget and
// RemovedPrefix for what a removal keeps).
type TargetRemover interface {
	// RemoveTarget turns target id into its tombstone in one transaction
	// with the audit events ctx carries: its packages, generations and pins
	// are deleted, its name becomes RemovedName, its alias claims stay. A
	// missing or already removed target is an error wrapping ErrNotFound.
	// Packages and generations written for the tombstone afterwards (an
	// upload or a publish that looked the target up before) are refused.
	RemoveTarget(ctx context.Context, target int64, at time.Time) (RemovedTarget, error)
}
