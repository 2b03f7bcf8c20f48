package catalog

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
		for _, q := range []string{
			`ALTER TABLE packages RENAME TO packages_v0`,
			`DROP INDEX IF EXISTS packages_sha256`,
			`CREATE TABLE packages (
	id INTEGER PRIMARY KEY,
	target_id INTEGER NOT NULL REFERENCES targets(id),
	component TEXT NOT NULL,
	name TEXT NOT NULL,
	version TEXT NOT NULL,
	arch TEXT NOT NULL,
	sha256 TEXT NOT NULL,
	orig_sha256 TEXT NOT NULL DEFAULT '',
	size INTEGER NOT NULL,
	sums TEXT NOT NULL,
	meta BLOB NOT NULL,
	uploaded INTEGER NOT NULL,
	removed INTEGER
)`,
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
		ok, err := hasColumnTx(ctx, tx, "generations", col.name)
		if err != nil {
			return err
		}
		if !ok {
			if _, err := tx.ExecContext(ctx, `ALTER TABLE generations ADD COLUMN `+col.name+` `+col.def); err != nil {
				return fmt.Errorf("add generations.%s: %w", col.name, err)
			}
		}
	}
	return tx.Commit()
}

func hasColumn(ctx context.Context, db *sql.DB, table, col string) (bool, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, col).Scan(&n); err != nil {
		return false, fmt.Errorf("inspect %s: %w", table, err)
	}
	return n > 0, nil
}

func hasColumnTx(ctx context.Context, tx *sql.Tx, table, col string) (bool, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, col).Scan(&n); err != nil {
		return false, fmt.Errorf("inspect %s: %w", table, err)
	}
	return n > 0, nil
}
