package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrate brings a catalog written by an older Pier to the current schema
// before the schema's CREATE ... IF NOT EXISTS statements run. It is a no-op
// on a new or current database.
//
// Version 1 keeps removed packages (deleted, pruned or rolled back) as rows
// with a removed time, so that a retained generation can be restored; the
// uniqueness of name, version and architecture therefore holds only among
// live packages, which SQLite can express only by rebuilding the table.
func migrate(ctx context.Context, db *sql.DB) error {
	hasPackages, err := hasColumn(ctx, db, "packages", "id")
	if err != nil || !hasPackages {
		return err
	}
	hasRemoved, err := hasColumn(ctx, db, "packages", "removed")
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if !hasRemoved {
		// The current schema creates the new table (and its indexes) once
		// the old one and its index are out of the way.
		for _, q := range []string{
			`DROP INDEX IF EXISTS packages_sha256`,
			`ALTER TABLE packages RENAME TO packages_v0`,
			schema,
			`INSERT INTO packages (id, target_id, component, name, version, arch, sha256, orig_sha256, size, sums, meta, uploaded)
	SELECT id, target_id, component, name, version, arch, sha256, orig_sha256, size, sums, meta, uploaded FROM packages_v0`,
			`DROP TABLE packages_v0`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("rebuild packages table: %w", err)
			}
		}
	}
	for _, col := range []struct{ name, def string }{
		{"package_ids", "BLOB"},
		{"note", "TEXT NOT NULL DEFAULT ''"},
		{"changes", "TEXT NOT NULL DEFAULT ''"},
	} {
		ok, err := hasColumn(ctx, tx, "generations", col.name)
		if err != nil {
			return err
		}
		if !ok {
			if _, err := tx.ExecContext(ctx, `ALTER TABLE generations ADD COLUMN `+col.name+` `+col.def); err != nil {
				return fmt.Errorf("add generations.%s: %w", col.name, err)
			}
		}
	}
	if err := addPublishColumns(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

func hasColumn(ctx context.Context, q queryer, table, col string) (bool, error) {
	n, err := column[int](ctx, q, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, col)
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", table, err)
	}
	return len(n) == 1 && n[0] > 0, nil
}
