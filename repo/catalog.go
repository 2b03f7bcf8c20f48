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
	// Packages returns every package of target id, with Meta.
	Packages(ctx context.Context, target int64) ([]Package, error)
	// AddGeneration records g for target id and makes it current in one
	// transaction; it fills g.ID and g.Seq.
	AddGeneration(ctx context.Context, target int64, g *Generation) error
	// Generations returns up to limit of the target's most recent
	// generations, newest first.
	Generations(ctx context.Context, target int64, limit int) ([]Generation, error)
}
