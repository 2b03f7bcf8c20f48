package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// searchSchema is the search index (repo.SearchIndex): the installed
// paths of every package row, the distinct package names (search_name_set,
// by lower-case name: a prefix is an index range) also in an FTS5 trigram
// index (search_names: a substring LIKE is answered from the index, not by
// reading every name), and the cursor up to which rows are indexed.
// A trigger drops a row's paths when Collect (or a target's removal)
// deletes the row, so the index never outgrows the catalog.
const searchSchema = `
CREATE TABLE IF NOT EXISTS search_files (
	path TEXT NOT NULL,
	package_id INTEGER NOT NULL,
	PRIMARY KEY (path, package_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS search_files_package ON search_files (package_id);
CREATE TABLE IF NOT EXISTS search_state (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	indexed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS search_name_set (
	lname TEXT NOT NULL,
	name TEXT NOT NULL,
	PRIMARY KEY (lname, name)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS search_names USING fts5(name, tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS search_files_gone AFTER DELETE ON packages BEGIN
	DELETE FROM search_files WHERE package_id = OLD.id;
END;
`

var _ repo.SearchIndex = (*DB)(nil)

// defaultSearchLimit is a search's limit when the caller gives none.
const defaultSearchLimit = 100

// SearchIndexed implements repo.SearchIndex.
func (d *DB) SearchIndexed(ctx context.Context) (int64, error) {
	var n int64
	err := d.db.QueryRowContext(ctx, `SELECT indexed FROM search_state WHERE id = 1`).Scan(&n)
	if err == sql.ErrNoRows {
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
	rows, err := d.db.QueryContext(ctx, `SELECT `+catalog.TargetPackageColumns+`
		FROM packages p JOIN targets t ON t.id = p.target_id WHERE p.id > ? ORDER BY p.id LIMIT ?`, after, limit)
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

// IndexSearch implements repo.SearchIndex.
func (d *DB) IndexSearch(ctx context.Context, upTo int64, entries []repo.SearchEntry) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("index search: %w", err)
	}
	defer tx.Rollback()
	var cur int64
	if err := tx.QueryRowContext(ctx, `SELECT indexed FROM search_state WHERE id = 1`).Scan(&cur); err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("index search: read the cursor: %w", err)
	}
	if cur >= upTo {
		return nil // another process indexed these rows
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO search_files (path, package_id)
		SELECT ?, id FROM packages WHERE id = ? ON CONFLICT DO NOTHING`)
	if err != nil {
		return fmt.Errorf("index search: %w", err)
	}
	defer ins.Close()
	addName, err := tx.PrepareContext(ctx, `INSERT INTO search_name_set (lname, name) VALUES (?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return fmt.Errorf("index search: %w", err)
	}
	defer addName.Close()
	ftsName, err := tx.PrepareContext(ctx, `INSERT INTO search_names (name) VALUES (?)`)
	if err != nil {
		return fmt.Errorf("index search: %w", err)
	}
	defer ftsName.Close()
	for _, e := range entries {
		if e.PackageID <= cur || e.PackageID > upTo {
			continue
		}
		if e.Name != "" {
			res, err := addName.ExecContext(ctx, strings.ToLower(e.Name), e.Name)
			if err != nil {
				return fmt.Errorf("index search: name of package %d: %w", e.PackageID, err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				if _, err := ftsName.ExecContext(ctx, e.Name); err != nil {
					return fmt.Errorf("index search: name of package %d: %w", e.PackageID, err)
				}
			}
		}
		for _, f := range e.Files {
			if _, err := ins.ExecContext(ctx, f, e.PackageID); err != nil {
				return fmt.Errorf("index search: files of package %d: %w", e.PackageID, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO search_state (id, indexed) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET indexed = excluded.indexed`, upTo); err != nil {
		return fmt.Errorf("index search: move the cursor: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("index search: %w", err)
	}
	return nil
}

// targetList returns "?, ?, …" for ids and the ids as arguments.
func targetList(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return placeholders(len(ids)), args
}

// SearchNames implements repo.SearchIndex. It picks the names first (at
// most limit): those starting with q from the lower-case name index, then
// names containing q from the trigram index (LIKE '%q%', case-insensitive
// for ASCII; "%" and "_" are wildcards to LIKE, so every name is checked
// against q once more); only then are the packages of those names read, so
// a broad query ("lib") reads no more rows than it shows.
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
	ph, ids := targetList(targets)
	rows, err := d.db.QueryContext(ctx, `SELECT `+catalog.HitColumns+` FROM packages p JOIN targets t ON t.id = p.target_id
		WHERE p.name IN (`+placeholders(len(names))+`) AND p.removed IS NULL AND p.target_id IN (`+ph+`)`,
		append(anys(names), ids...)...)
	if err != nil {
		return nil, fmt.Errorf("search names: %w", err)
	}
	defer rows.Close()
	var out []repo.SearchHit
	for rows.Next() {
		h, err := catalog.ScanHit(rows)
		if err != nil {
			return nil, fmt.Errorf("search names: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search names: %w", err)
	}
	return catalog.RankHits(out, names, limit), nil
}

// matchingNames returns up to limit indexed names containing q (ASCII
// case-insensitively): those starting with it in byte order of their
// lower-case form, then others containing it, in byte order among those
// returned.
func (d *DB) matchingNames(ctx context.Context, q string, limit int) ([]string, error) {
	lq := strings.ToLower(q)
	scan := func(query string, args ...any) ([]string, error) {
		rows, err := d.db.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("search names: %w", err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return nil, fmt.Errorf("search names: %w", err)
			}
			out = append(out, n)
		}
		return out, rows.Err()
	}
	names, err := scan(`SELECT name FROM search_name_set WHERE lname >= ? AND lname < ? ORDER BY lname, name LIMIT ?`,
		lq, lq+"\xff", limit)
	if err != nil || len(names) == limit {
		return names, err
	}
	more, err := scan(`SELECT name FROM search_names WHERE name LIKE ? LIMIT ?`, "%"+q+"%", 2*limit+len(names))
	if err != nil {
		return nil, err
	}
	var rest []string
	for _, n := range more {
		l := strings.ToLower(n)
		if strings.Contains(l, lq) && !strings.HasPrefix(l, lq) {
			rest = append(rest, n)
		}
	}
	slices.Sort(rest)
	return append(names, rest[:min(len(rest), limit-len(names))]...), nil
}

// SearchFiles implements repo.SearchIndex.
func (d *DB) SearchFiles(ctx context.Context, path string, targets []int64, limit int) ([]repo.SearchHit, error) {
	if len(targets) == 0 || path == "" {
		return nil, nil
	}
	if limit <= 0 {
		limit = defaultSearchLimit
	}
	ph, args := targetList(targets)
	cond := `f.path = ?`
	pargs := []any{path}
	if strings.HasSuffix(path, "/") {
		// Paths under the folder: from path up to path with its last byte
		// ("/") raised by one ("0"), in byte order.
		cond = `f.path >= ? AND f.path < ?`
		pargs = []any{path, path[:len(path)-1] + "0"}
	}
	// CROSS JOIN keeps search_files the outer loop: the path range, not
	// the targets' packages, drives the search.
	rows, err := d.db.QueryContext(ctx, `SELECT `+catalog.HitColumns+`, f.path FROM search_files f
		CROSS JOIN packages p ON p.id = f.package_id JOIN targets t ON t.id = p.target_id
		WHERE `+cond+` AND p.removed IS NULL AND p.target_id IN (`+ph+`)
		ORDER BY f.path, p.name, p.target_id, p.id LIMIT ?`, append(append(pargs, args...), limit)...)
	if err != nil {
		return nil, fmt.Errorf("search files: %w", err)
	}
	defer rows.Close()
	var out []repo.SearchHit
	for rows.Next() {
		var file string
		h, err := catalog.ScanHit(rows, &file)
		if err != nil {
			return nil, fmt.Errorf("search files: %w", err)
		}
		h.File = file
		out = append(out, h)
	}
	return out, rows.Err()
}

// PackagesNamed implements repo.SearchIndex.
func (d *DB) PackagesNamed(ctx context.Context, name string, targets []int64) ([]repo.SearchHit, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	ph, args := targetList(targets)
	rows, err := d.db.QueryContext(ctx, `SELECT `+catalog.HitColumns+` FROM packages p JOIN targets t ON t.id = p.target_id
		WHERE p.removed IS NULL AND p.name = ? AND p.target_id IN (`+ph+`) ORDER BY p.target_id, p.id`,
		append([]any{name}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("packages named %s: %w", name, err)
	}
	defer rows.Close()
	var out []repo.SearchHit
	for rows.Next() {
		h, err := catalog.ScanHit(rows)
		if err != nil {
			return nil, fmt.Errorf("packages named %s: %w", name, err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
