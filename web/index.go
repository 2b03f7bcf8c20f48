package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/pierhq/pier/repo"
)

// indexBatch is how many package rows one step of the indexer reads.
const indexBatch = 500

// searchCatchUp bounds the rows a file search indexes before it answers;
// the rest is left to Run's loop (the page says the index is catching up).
const searchCatchUp = 2000

// indexer keeps the catalog's search index up to date: it reads the
// package rows recorded after the index's cursor, asks each row's format
// for the files it installs (repo.Service.Describe, from the row's Meta:
// no package file is read) and records them with the new cursor. Rows are
// never rewritten and their ids only grow, so each row is described once.
type indexer struct {
	search repo.SearchIndex
	svc    *repo.Service
	log    *slog.Logger
	mu     sync.Mutex // one catch-up at a time in this process
}

// catchUp indexes up to limit rows (0: all of them) and reports whether
// rows are left.
func (x *indexer) catchUp(ctx context.Context, limit int) (bool, error) {
	if x == nil {
		return false, nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	done := 0
	for limit == 0 || done < limit {
		cur, err := x.search.SearchIndexed(ctx)
		if err != nil {
			return false, err
		}
		rows, err := x.search.UnindexedPackages(ctx, cur, indexBatch)
		if err != nil {
			return false, err
		}
		if len(rows) == 0 {
			return false, nil
		}
		entries := make([]repo.SearchEntry, 0, len(rows))
		for _, r := range rows {
			if r.Target.Removed() {
				continue
			}
			e := repo.SearchEntry{PackageID: r.Package.ID, Name: r.Package.Name}
			d, err := x.svc.Describe(r.Target, &r.Package)
			switch {
			case errors.Is(err, repo.ErrNotFound), errors.Is(err, repo.ErrInvalid):
				// A format that cannot describe, a distro no longer
				// configured: searchable by name only.
			case err != nil:
				// One undecodable row must not stop the index: it is
				// logged and left out of search by file.
				x.log.Warn("web: describe a package for search", "target", r.Target.String(), "package", r.Package.Name,
					"id", r.Package.ID, "err", err)
			default:
				e.Files = d.Files
			}
			entries = append(entries, e)
		}
		upTo := rows[len(rows)-1].Package.ID
		if err := x.search.IndexSearch(ctx, upTo, entries); err != nil {
			return false, fmt.Errorf("index packages up to %d: %w", upTo, err)
		}
		done += len(rows)
	}
	cur, err := x.search.SearchIndexed(ctx)
	if err != nil {
		return false, err
	}
	rows, err := x.search.UnindexedPackages(ctx, cur, 1)
	return len(rows) > 0, err
}
