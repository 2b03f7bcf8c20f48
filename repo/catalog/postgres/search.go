package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

var _ repo.SearchIndex = (*DB)(nil)

// defaultSearchLimit is a search's limit when the caller gives none.
const defaultSearchLimit = 100

// SearchIndexed implements repo.SearchIndex.
func (d *DB) SearchIndexed(ctx context.Context) (int64, error) {
	var n int64
	err := d.pool.QueryRow(ctx, `SELECT indexed FROM search_state WHERE id = 1`).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the search cursor: %w", err)
	}
	return n, nil
}

// UnindexedPackages implements repo.SearchIndex.
func (d *DB) UnindexedPackages(ctx context.Context, after int64, limit int) ([]repo.TargetPackage, error) {
	if limit <= 0 {
		limit = defaultSearchLimit
	}
	rows, err := d.pool.Query(ctx, `SELECT `+catalog.TargetPackageColumns+`
		FROM packages p JOIN targets t ON t.id = p.target_id WHERE p.id > $1 ORDER BY p.id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list packages to index: %w", err)
	}
	defer rows.Close()
	var out []repo.TargetPackage
	for rows.Next() {
		tp, err := catalog.ScanTargetPackage(rows)
		if err != nil {
			return nil, fmt.Errorf("list packages to index: %w", err)
		}
		out = append(out, tp)
	}
	return out, rows.Err()
}

// IndexSearch implements repo.SearchIndex. Nodes may index at once: the
// cursor row is locked for the transaction, so the second one finds the
// rows indexed and changes nothing.
func (d *DB) IndexSearch(ctx context.Context, upTo int64, entries []repo.SearchEntry) error {
	tx, err := d.begin(ctx)
	if err != nil {
		return fmt.Errorf("index search: %w", err)
	}
	defer rollback(tx)
	if _, err := tx.Exec(ctx, `INSERT INTO search_state (id, indexed) VALUES (1, 0) ON CONFLICT DO NOTHING`); err != nil {
		return fmt.Errorf("index search: %w", err)
	}
	var cur int64
	if err := tx.QueryRow(ctx, `SELECT indexed FROM search_state WHERE id = 1 FOR UPDATE`).Scan(&cur); err != nil {
		return fmt.Errorf("index search: read the cursor: %w", err)
	}
	if cur >= upTo {
		return nil // another process indexed these rows
	}
	b := &pgx.Batch{}
	for _, e := range entries {
		if e.PackageID <= cur || e.PackageID > upTo {
			continue
		}
		if e.Name != "" {
			b.Queue(`INSERT INTO search_name_set (lname, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, strings.ToLower(e.Name), e.Name)
		}
		if len(e.Files) > 0 {
			// A row that is gone (collected meanwhile) gets no paths.
			b.Queue(`INSERT INTO search_files (path, package_id) SELECT f, p.id FROM unnest($1::text[]) AS f, packages p
				WHERE p.id = $2 ON CONFLICT DO NOTHING`, e.Files, e.PackageID)
		}
	}
	b.Queue(`UPDATE search_state SET indexed = $1 WHERE id = 1`, upTo)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("index search: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("index search: %w", err)
	}
	return nil
}

// collectHits reads every hit of rows (with the file path when withFile).
func collectHits(rows pgx.Rows, withFile bool) ([]repo.SearchHit, error) {
	defer rows.Close()
	var out []repo.SearchHit
	for rows.Next() {
		var file string
		var extra []any
		if withFile {
			extra = []any{&file}
		}
		h, err := catalog.ScanHit(rows, extra...)
		if err != nil {
			return nil, err
		}
		h.File = file
		out = append(out, h)
	}
	return out, rows.Err()
}

// SearchNames implements repo.SearchIndex. It picks the names first (at
// most limit: those starting with q, then others containing it), then
// reads the packages of those names only.
func (d *DB) SearchNames(ctx context.Context, q string, targets []int64, limit int) ([]repo.SearchHit, error) {
	if len(targets) == 0 || q == "" {
		return nil, nil
	}
	if limit <= 0 {
		limit = defaultSearchLimit
	}
	names, err := d.matchingNames(ctx, q, limit)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	// One query per name, sent as one batch: each is an index probe
	// (packages_live: target_id, name), whatever the table's statistics
	// say; one query for all the names read the whole table on a freshly
	// loaded catalog (0.16 s at 100,000 packages).
	b := &pgx.Batch{}
	for _, n := range names {
		b.Queue(`SELECT `+catalog.HitColumns+` FROM packages p JOIN targets t ON t.id = p.target_id
			WHERE p.name = $1 AND p.removed IS NULL AND p.target_id = ANY($2)`, n, targets)
	}
	br := d.pool.SendBatch(ctx, b)
	var out []repo.SearchHit
	for range names {
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return nil, fmt.Errorf("search names: %w", err)
		}
		hs, err := collectHits(rows, false)
		if err != nil {
			br.Close()
			return nil, fmt.Errorf("search names: %w", err)
		}
		out = append(out, hs...)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("search names: %w", err)
	}
	return catalog.RankHits(out, names, limit), nil
}

// matchingNames returns up to limit indexed names containing q (compared
// in lower case): those starting with it in byte order of their
// lower-case form, then others containing it in byte order. strpos and
// starts_with take q literally (no LIKE wildcards).
func (d *DB) matchingNames(ctx context.Context, q string, limit int) ([]string, error) {
	lq := strings.ToLower(q)
	// The range makes the prefix an index range; starts_with keeps it
	// exact (a name with U+10FFFF right after the prefix falls outside the
	// range: package names are ASCII).
	names, err := d.names(ctx, `SELECT name FROM search_name_set WHERE lname >= $1 AND lname < $1 || chr(1114111)
		AND starts_with(lname, $1) ORDER BY lname, name LIMIT $2`, lq, limit)
	if err != nil || len(names) == limit {
		return names, err
	}
	rest, err := d.names(ctx, `SELECT name FROM search_name_set WHERE strpos(lname, $1) > 1 ORDER BY name LIMIT $2`, lq, limit-len(names))
	if err != nil {
		return nil, err
	}
	return append(names, rest...), nil
}

// names returns the first column of query's rows.
func (d *DB) names(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := d.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search names: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("search names: %w", err)
	}
	return out, nil
}

// SearchFiles implements repo.SearchIndex.
func (d *DB) SearchFiles(ctx context.Context, path string, targets []int64, limit int) ([]repo.SearchHit, error) {
	if len(targets) == 0 || path == "" {
		return nil, nil
	}
	if limit <= 0 {
		limit = defaultSearchLimit
	}
	cond, args := `f.path = $1`, []any{path}
	if strings.HasSuffix(path, "/") {
		// Paths under the folder: from path up to path with its last byte
		// ("/") raised by one ("0"), in byte order.
		cond, args = `f.path >= $1 AND f.path < $2`, []any{path, path[:len(path)-1] + "0"}
	}
	n := len(args)
	rows, err := d.pool.Query(ctx, `SELECT `+catalog.HitColumns+`, f.path FROM search_files f
		JOIN packages p ON p.id = f.package_id JOIN targets t ON t.id = p.target_id
		WHERE `+cond+fmt.Sprintf(` AND p.removed IS NULL AND p.target_id = ANY($%d)
		ORDER BY f.path, p.name COLLATE "C", p.target_id, p.id LIMIT $%d`, n+1, n+2), append(args, targets, limit)...)
	if err != nil {
		return nil, fmt.Errorf("search files: %w", err)
	}
	out, err := collectHits(rows, true)
	if err != nil {
		return nil, fmt.Errorf("search files: %w", err)
	}
	return out, nil
}

// PackagesNamed implements repo.SearchIndex.
func (d *DB) PackagesNamed(ctx context.Context, name string, targets []int64) ([]repo.SearchHit, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	rows, err := d.pool.Query(ctx, `SELECT `+catalog.HitColumns+` FROM packages p JOIN targets t ON t.id = p.target_id
		WHERE p.removed IS NULL AND p.name = $1 AND p.target_id = ANY($2) ORDER BY p.target_id, p.id`, name, targets)
	if err != nil {
		return nil, fmt.Errorf("packages named %s: %w", name, err)
	}
	out, err := collectHits(rows, false)
	if err != nil {
		return nil, fmt.Errorf("packages named %s: %w", name, err)
	}
	return out, nil
}
