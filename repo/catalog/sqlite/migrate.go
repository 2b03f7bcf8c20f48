package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// migrate brings a catalog written by an older Pier to the current schema
// before the schema's CREATE ... IF NOT EXISTS statements run. It is a no-op
// on a new or current database.
//
// Version 1 keeps removed packages (deleted, pruned or rolled back) as rows
// with a removed time, so that a retained generation can be restored; the
// uniqueness of name, version and architecture therefore holds only among
// live packages. Version 2 never reuses the id of a package row that
// Collect deleted (AUTOINCREMENT), so a cache of rows by id is never stale.
// SQLite can express either only by rebuilding the table.
func migrate(ctx context.Context, db *sql.DB) error {
	// The write transaction (BEGIN IMMEDIATE) serialises processes that
	// open an old catalog at once: the second sees the first's result.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	hasPackages, err := hasColumn(ctx, tx, "packages", "id")
	if err != nil || !hasPackages {
		return err
	}
	hasRemoved, err := hasColumn(ctx, tx, "packages", "removed")
	if err != nil {
		return err
	}
	auto, err := column[int](ctx, tx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'packages'
		AND sql LIKE '%AUTOINCREMENT%'`)
	if err != nil {
		return fmt.Errorf("inspect packages: %w", err)
	}
	if !hasRemoved || auto[0] == 0 {
		if err := rebuildPackages(ctx, tx, hasRemoved); err != nil {
			return err
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
	// Version 3: the further blobs of a package (a source package's
	// tarballs).
	hasExtra, err := hasColumn(ctx, tx, "packages", "extra")
	if err != nil {
		return err
	}
	if !hasExtra {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE packages ADD COLUMN extra TEXT NOT NULL DEFAULT ''`); err != nil {
			return fmt.Errorf("add packages.extra: %w", err)
		}
	}
	if err := addPublishColumns(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// rebuildPackages moves the packages table's rows, with their ids, into a
// table of the current schema. The old table's indexes are dropped first
// (the schema makes them again under their names) and its triggers are
// made again on the new table.
func rebuildPackages(ctx context.Context, tx *sql.Tx, hasRemoved bool) error {
	triggers, err := column[string](ctx, tx, `SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'packages'`)
	if err != nil {
		return fmt.Errorf("rebuild packages table: %w", err)
	}
	indexes, err := column[string](ctx, tx, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'packages'
		AND sql IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("rebuild packages table: %w", err)
	}
	cols := `id, target_id, component, name, version, arch, sha256, orig_sha256, size, sums, meta, uploaded`
	if hasRemoved {
		cols += `, removed`
	}
	var steps []string
	for _, ix := range indexes {
		steps = append(steps, `DROP INDEX "`+strings.ReplaceAll(ix, `"`, `""`)+`"`)
	}
	steps = append(steps,
		`ALTER TABLE packages RENAME TO packages_old`,
		schema,
		`INSERT INTO packages (`+cols+`) SELECT `+cols+` FROM packages_old`,
		`DROP TABLE packages_old`)
	steps = append(steps, triggers...)
	for _, q := range steps {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("rebuild packages table: %w", err)
		}
	}
	return nil
}

func hasColumn(ctx context.Context, q queryer, table, col string) (bool, error) {
	n, err := column[int](ctx, q, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, col)
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", table, err)
	}
	return len(n) == 1 && n[0] > 0, nil
}
