package repo

import "context"

// SearchEntry is what the search index records for one package row: its
// name and the paths it installs (Details.Files; none when unknown).
type SearchEntry struct {
	PackageID int64
	Name      string
	Files     []string
}

// TargetPackage is a package row with the target that holds it.
type TargetPackage struct {
	TargetID int64
	Target   Target
	Package  Package
}

// SearchHit is a live package found by a search, without Meta and Sums.
type SearchHit struct {
	TargetPackage
	// File is the installed path that matched (file searches only).
	File string
}

// SearchIndex is an optional part of a catalog: a search index over the
// packages of every target, by name and by installed file path, which a
// reader (the web interface) keeps up to date from the package rows
// themselves: it reads the rows recorded after its cursor
// (UnindexedPackages), asks their format for their files (Describer) and
// records them with the new cursor (IndexSearch). Package rows are never
// rewritten and their ids only grow, so a row once indexed stays right;
// the index entries of a row go when Collector.Collect deletes the row.
//
// The contracts of Catalog (concurrency across processes, one transaction
// per write, cancellation) hold. Searches see only live rows of the
// targets listed (by id): a reader passes the targets its viewer may read,
// so nothing else ever shows up. Limits bound the rows returned; limit <= 0
// means a default of 100.
type SearchIndex interface {
	// SearchIndexed returns the cursor: every package row with an id up to
	// it is indexed (0 on a new catalog).
	SearchIndexed(ctx context.Context) (int64, error)
	// UnindexedPackages returns up to limit package rows with ids above
	// after (live or removed, any target), ascending, with Meta.
	UnindexedPackages(ctx context.Context, after int64, limit int) ([]TargetPackage, error)
	// IndexSearch records entries (rows with ids up to upTo) and moves the
	// cursor to upTo in one transaction. A cursor never moves back: when
	// it is at or past upTo already (another process indexed the rows),
	// nothing changes. Entries of rows that are gone are ignored.
	IndexSearch(ctx context.Context, upTo int64, entries []SearchEntry) error
	// SearchNames returns the live packages of targets whose name contains
	// q (ASCII case-insensitively) and was indexed (IndexSearch): names
	// that start with q first (in byte order of their lower-case form),
	// then other names containing q (in byte order among those returned:
	// when more names match than the limit, which of them come is not
	// specified), each name's packages by target id and id.
	SearchNames(ctx context.Context, q string, targets []int64, limit int) ([]SearchHit, error)
	// SearchFiles returns the live packages of targets that install path
	// (exactly), or, when path ends in "/", any path under it; by path,
	// name, target id and id.
	SearchFiles(ctx context.Context, path string, targets []int64, limit int) ([]SearchHit, error)
	// PackagesNamed returns every live package named name (exactly) in
	// targets, by target id and id.
	PackagesNamed(ctx context.Context, name string, targets []int64) ([]SearchHit, error)
}
