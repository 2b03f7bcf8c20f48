package sqlite

import (
	"context"
	"fmt"
	"iter"
	"strings"
)

// HasTable reports whether the catalog has table (older catalogs lack the
// ones made on first use, such as removed_targets).
func (d *DB) HasTable(ctx context.Context, table string) (bool, error) {
	n, err := column[int](ctx, d.db, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table)
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", table, err)
	}
	return n[0] > 0, nil
}

// ExportRows yields every row of table with the columns cols, in id order
// when the table has an id, as the driver returns the values (int64,
// float64, string, []byte or nil). pier migrate-catalog copies a catalog
// with it; table and cols are the caller's constants, never user input.
func (d *DB) ExportRows(ctx context.Context, table string, cols []string) iter.Seq2[[]any, error] {
	return func(yield func([]any, error) bool) {
		order := ""
		if has, _ := hasColumn(ctx, d.db, table, "id"); has {
			order = " ORDER BY id"
		}
		rows, err := d.db.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+table+order)
		if err != nil {
			yield(nil, fmt.Errorf("export %s: %w", table, err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				yield(nil, fmt.Errorf("export %s: %w", table, err))
				return
			}
			if !yield(vals, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(nil, fmt.Errorf("export %s: %w", table, err))
		}
	}
}

// LastID returns the largest id table ever gave out: its largest row id,
// or more for a table whose ids are never reused (packages, whose
// AUTOINCREMENT counter remembers collected rows).
func (d *DB) LastID(ctx context.Context, table string) (int64, error) {
	ids, err := column[int64](ctx, d.db, `SELECT coalesce(max(id), 0) FROM `+table)
	if err != nil {
		return 0, fmt.Errorf("last id of %s: %w", table, err)
	}
	last := ids[0]
	if seq, err := column[int64](ctx, d.db, `SELECT seq FROM sqlite_sequence WHERE name = ?`, table); err == nil && len(seq) == 1 {
		last = max(last, seq[0])
	}
	return last, nil
}
