package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// encodeIDs and decodeIDs are the encoding every catalog shares
// (catalog.EncodeIDs): pier migrate-catalog copies the bytes as they are.
func encodeIDs(ids []int64) []byte { return catalog.EncodeIDs(ids) }

func decodeIDs(b []byte) ([]int64, error) { return catalog.DecodeIDs(b) }

// changes compares two sorted id lists and names up to MaxChangesListed
// added and removed packages.
func changes(ctx context.Context, tx *sql.Tx, prev, cur []int64) (*repo.Changes, error) {
	var added, removed []int64
	i, j := 0, 0
	for i < len(prev) || j < len(cur) {
		switch {
		case j == len(cur) || (i < len(prev) && prev[i] < cur[j]):
			removed = append(removed, prev[i])
			i++
		case i == len(prev) || cur[j] < prev[i]:
			added = append(added, cur[j])
			j++
		default:
			i++
			j++
		}
	}
	c := &repo.Changes{AddedCount: len(added), RemovedCount: len(removed)}
	var err error
	if c.Added, err = describe(ctx, tx, added); err != nil {
		return nil, err
	}
	if c.Removed, err = describe(ctx, tx, removed); err != nil {
		return nil, err
	}
	return c, nil
}

// describe returns "name version arch" for up to MaxChangesListed ids.
func describe(ctx context.Context, tx *sql.Tx, ids []int64) ([]string, error) {
	if len(ids) > repo.MaxChangesListed {
		ids = ids[:repo.MaxChangesListed]
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT name, version, arch FROM packages WHERE id IN (`+placeholders(len(ids))+`) ORDER BY name, version, arch`,
		anys(ids)...)
	if err != nil {
		return nil, fmt.Errorf("describe changes: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n, v, a string
		if err := rows.Scan(&n, &v, &a); err != nil {
			return nil, fmt.Errorf("describe changes: %w", err)
		}
		out = append(out, n+" "+v+" "+a)
	}
	return out, rows.Err()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// chunks splits xs into slices of at most n (SQLite limits the number of
// bound parameters of one statement).
func chunks[T any](xs []T, n int) [][]T {
	var out [][]T
	for len(xs) > n {
		out = append(out, xs[:n])
		xs = xs[n:]
	}
	if len(xs) > 0 {
		out = append(out, xs)
	}
	return out
}

// queryer is what *sql.DB and *sql.Tx share for reads.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// column runs a query that selects one column and returns its values.
func column[T any](ctx context.Context, q queryer, query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// RemovePackages implements repo.Catalog.
func (d *DB) RemovePackages(ctx context.Context, target int64, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("remove packages: %w", err)
	}
	defer tx.Rollback()
	if err := refuseFrozen(ctx, tx, target, "removal"); err != nil {
		return err
	}
	now := d.now().UnixNano()
	removed := int64(0)
	for _, c := range chunks(ids, 500) {
		args := append([]any{now, target}, anys(c)...)
		res, err := tx.ExecContext(ctx, `UPDATE packages SET removed = ? WHERE target_id = ? AND removed IS NULL AND id IN (`+
			placeholders(len(c))+`)`, args...)
		if err != nil {
			return fmt.Errorf("remove packages: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("remove packages: %w", err)
		}
		removed += n
	}
	if removed == 0 {
		return nil // none of them was live: nothing changes
	}
	if _, err := tx.ExecContext(ctx, `UPDATE targets SET revision = revision + 1 WHERE id = ?`, target); err != nil {
		return fmt.Errorf("bump revision: %w", err)
	}
	setEvents(ctx, "removed", removed)
	if err := d.commitWithEvents(ctx, tx); err != nil {
		return fmt.Errorf("commit removal: %w", err)
	}
	return nil
}

// SetLivePackages implements repo.Catalog.
func (d *DB) SetLivePackages(ctx context.Context, target int64, ids []int64) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("restore packages: %w", err)
	}
	defer tx.Rollback()
	if err := refuseFrozen(ctx, tx, target, "rollback"); err != nil {
		return err
	}
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	// Check every row still exists and belongs to the target.
	found := 0
	for _, c := range chunks(ids, 500) {
		var n int
		args := append([]any{target}, anys(c)...)
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM packages WHERE target_id = ? AND id IN (`+placeholders(len(c))+`)`,
			args...).Scan(&n); err != nil {
			return fmt.Errorf("restore packages: %w", err)
		}
		found += n
	}
	if found != len(want) {
		return fmt.Errorf("%d of the generation's %d packages were already collected: %w", len(want)-found, len(want), repo.ErrNotFound)
	}
	liveIDs, err := column[int64](ctx, tx, `SELECT id FROM packages WHERE target_id = ? AND removed IS NULL`, target)
	if err != nil {
		return fmt.Errorf("restore packages: %w", err)
	}
	var drop []int64
	live := map[int64]bool{}
	for _, id := range liveIDs {
		live[id] = true
		if !want[id] {
			drop = append(drop, id)
		}
	}
	now := d.now().UnixNano()
	for _, c := range chunks(drop, 500) {
		if _, err := tx.ExecContext(ctx, `UPDATE packages SET removed = ? WHERE id IN (`+placeholders(len(c))+`)`,
			append([]any{now}, anys(c)...)...); err != nil {
			return fmt.Errorf("restore packages: %w", err)
		}
	}
	var back []int64
	for _, id := range ids {
		if !live[id] {
			back = append(back, id)
		}
	}
	for _, c := range chunks(back, 500) {
		if _, err := tx.ExecContext(ctx, `UPDATE packages SET removed = NULL WHERE id IN (`+placeholders(len(c))+`)`, anys(c)...); err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return fmt.Errorf("restore packages: two packages with one name, version and architecture: %w", repo.ErrConflict)
			}
			return fmt.Errorf("restore packages: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE targets SET revision = revision + 1 WHERE id = ?`, target); err != nil {
		return fmt.Errorf("bump revision: %w", err)
	}
	if err := d.commitWithEvents(ctx, tx); err != nil {
		return fmt.Errorf("commit restore: %w", err)
	}
	return nil
}

// LiveElsewhere implements repo.Catalog.
func (d *DB) LiveElsewhere(ctx context.Context, target int64, sums []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, c := range chunks(sums, 500) {
		found, err := column[string](ctx, d.db, `SELECT DISTINCT sha256 FROM packages WHERE target_id != ? AND removed IS NULL
			AND target_id NOT IN (SELECT target_id FROM frozen_targets) AND sha256 IN (`+
			placeholders(len(c))+`)`, append([]any{target}, anys(c)...)...)
		if err != nil {
			return nil, fmt.Errorf("find references: %w", err)
		}
		for _, sum := range found {
			out[sum] = true
		}
	}
	return out, nil
}

// Pins implements repo.Catalog.
func (d *DB) Pins(ctx context.Context, target int64) ([]repo.Pin, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT name, version, created FROM pins WHERE target_id = ? ORDER BY name, version`, target)
	if err != nil {
		return nil, fmt.Errorf("list pins: %w", err)
	}
	defer rows.Close()
	var out []repo.Pin
	for rows.Next() {
		var p repo.Pin
		var created int64
		if err := rows.Scan(&p.Name, &p.Version, &created); err != nil {
			return nil, fmt.Errorf("list pins: %w", err)
		}
		p.Created = time.Unix(created, 0).UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetPin implements repo.Catalog.
func (d *DB) SetPin(ctx context.Context, target int64, name, version string, on bool) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("pin %s=%s: %w", name, version, err)
	}
	defer tx.Rollback()
	if on {
		if _, err := tx.ExecContext(ctx, `INSERT INTO pins (target_id, name, version, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			target, name, version, d.now().Unix()); err != nil {
			return fmt.Errorf("pin %s=%s: %w", name, version, err)
		}
		return d.commitWithEvents(ctx, tx)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM pins WHERE target_id = ? AND name = ? AND version = ?`, target, name, version)
	if err != nil {
		return fmt.Errorf("unpin %s=%s: %w", name, version, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s=%s is not pinned: %w", name, version, repo.ErrNotFound)
	}
	return d.commitWithEvents(ctx, tx)
}

// Generation implements repo.Catalog.
func (d *DB) Generation(ctx context.Context, target int64, seq int64) (*repo.Generation, error) {
	var g repo.Generation
	var created int64
	var ids []byte
	err := d.db.QueryRowContext(ctx, `SELECT id, seq, created, revision, manifest, files, packages, package_ids, note
		FROM generations WHERE target_id = ? AND seq = ?`, target, seq).Scan(&g.ID, &g.Seq, &created, &g.Revision, &g.Manifest,
		&g.Files, &g.Packages, &ids, &g.Note)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("generation %d: %w", seq, repo.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read generation %d: %w", seq, err)
	}
	g.Created = time.Unix(created, 0).UTC()
	if ids == nil {
		return nil, fmt.Errorf("generation %d predates package tracking and cannot be restored: %w", seq, repo.ErrInvalid)
	}
	if g.PackageIDs, err = decodeIDs(ids); err != nil {
		return nil, err
	}
	return &g, nil
}

// Collect implements repo.Catalog.
func (d *DB) Collect(ctx context.Context, keep int) (repo.CollectStats, error) {
	var st repo.CollectStats
	if keep < 1 {
		keep = 1
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return st, fmt.Errorf("collect: %w", err)
	}
	defer tx.Rollback()
	// Generations beyond each target's keep most recent ones; the current
	// one is always the newest, so it always stays.
	res, err := tx.ExecContext(ctx, `DELETE FROM generations WHERE id IN (
		SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY target_id ORDER BY seq DESC) AS rn FROM generations) WHERE rn > ?)`, keep)
	if err != nil {
		return st, fmt.Errorf("collect generations: %w", err)
	}
	n, _ := res.RowsAffected()
	st.Generations = int(n)
	// Removed rows that a remaining generation holds stay restorable.
	held := map[int64]bool{}
	lists, err := column[[]byte](ctx, tx, `SELECT package_ids FROM generations WHERE package_ids IS NOT NULL`)
	if err != nil {
		return st, fmt.Errorf("collect packages: %w", err)
	}
	for _, b := range lists {
		ids, err := decodeIDs(b)
		if err != nil {
			return st, err
		}
		for _, id := range ids {
			held[id] = true
		}
	}
	removed, err := column[int64](ctx, tx, `SELECT id FROM packages WHERE removed IS NOT NULL ORDER BY id`)
	if err != nil {
		return st, fmt.Errorf("collect packages: %w", err)
	}
	gone := slices.DeleteFunc(removed, func(id int64) bool { return held[id] })
	for _, c := range chunks(gone, 500) {
		if _, err := tx.ExecContext(ctx, `DELETE FROM packages WHERE id IN (`+placeholders(len(c))+`)`, anys(c)...); err != nil {
			return st, fmt.Errorf("collect packages: %w", err)
		}
	}
	st.Packages = len(gone)
	setEvents(ctx, "generations", st.Generations)
	setEvents(ctx, "packages", st.Packages)
	if err := d.commitWithEvents(ctx, tx); err != nil {
		return st, fmt.Errorf("commit collect: %w", err)
	}
	return st, nil
}

// References implements repo.Catalog.
func (d *DB) References(ctx context.Context, fn func(sum string, manifest bool) error) error {
	for _, q := range []struct {
		query    string
		manifest bool
	}{
		{`SELECT DISTINCT sha256 FROM packages`, false},
		{`SELECT DISTINCT manifest FROM generations`, true},
	} {
		sums, err := column[string](ctx, d.db, q.query)
		if err != nil {
			return fmt.Errorf("list referenced blobs: %w", err)
		}
		for _, sum := range sums {
			if err := fn(sum, q.manifest); err != nil {
				return err
			}
		}
	}
	// The further files of source packages (a few rows have them).
	extras, err := column[string](ctx, d.db, `SELECT DISTINCT extra FROM packages WHERE extra != ''`)
	if err != nil {
		return fmt.Errorf("list referenced blobs: %w", err)
	}
	for _, e := range extras {
		bs, err := decodeExtra(e)
		if err != nil {
			return fmt.Errorf("list referenced blobs: decode extra blobs: %w", err)
		}
		for _, b := range bs {
			if err := fn(b.SHA256, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// LivePackageIDs implements repo.Catalog.
func (d *DB) LivePackageIDs(ctx context.Context, target int64) ([]int64, error) {
	ids, err := column[int64](ctx, d.db, `SELECT id FROM packages WHERE target_id = ? AND removed IS NULL ORDER BY id`, target)
	if err != nil {
		return nil, fmt.Errorf("list package ids: %w", err)
	}
	return ids, nil
}

// PackagesByID implements repo.Catalog.
func (d *DB) PackagesByID(ctx context.Context, target int64, ids []int64) ([]repo.Package, error) {
	out := make([]repo.Package, 0, len(ids))
	for _, c := range chunks(ids, 500) {
		rows, err := d.db.QueryContext(ctx, `SELECT `+pkgCols+` FROM packages WHERE target_id = ? AND id IN (`+placeholders(len(c))+`)`,
			append([]any{target}, anys(c)...)...)
		if err != nil {
			return nil, fmt.Errorf("read packages: %w", err)
		}
		for rows.Next() {
			p, err := scanPackage(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("read packages: %w", err)
			}
			out = append(out, *p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read packages: %w", err)
		}
	}
	return out, nil
}

// PackageKeys implements repo.Catalog.
func (d *DB) PackageKeys(ctx context.Context, target int64) ([]repo.Package, error) {
	// From the covering index alone: the row's uploaded and removed lie
	// past its Meta, so reading them from the table walks every Meta's
	// overflow pages (BenchmarkCatalog100k sqlite/PackageKeys: 633 ms
	// from the table, 484 ms from the index).
	rows, err := d.db.QueryContext(ctx, `SELECT id, component, name, version, arch, sha256, orig_sha256, size, uploaded
		FROM packages INDEXED BY packages_keys WHERE target_id = ? AND removed IS NULL`, target)
	if err != nil {
		return nil, fmt.Errorf("list package keys: %w", err)
	}
	defer rows.Close()
	var out []repo.Package
	for rows.Next() {
		var p repo.Package
		var up int64
		if err := rows.Scan(&p.ID, &p.Component, &p.Name, &p.Version, &p.Arch, &p.SHA256, &p.OrigSHA256, &p.Size, &up); err != nil {
			return nil, fmt.Errorf("list package keys: %w", err)
		}
		p.Uploaded = time.Unix(0, up).UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}
