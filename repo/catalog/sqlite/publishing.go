package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/pierhq/pier/repo"
)

// publishSchema holds the alias claims and each target's publish state.
// An alias, once claimed, belongs to its target for ever: rows are never
// updated nor deleted.
const publishSchema = `
CREATE TABLE IF NOT EXISTS aliases (
	claim TEXT PRIMARY KEY,
	target_id INTEGER NOT NULL REFERENCES targets(id),
	created INTEGER NOT NULL
);
`

// publishColumns are the targets table's publish-state columns, added to
// catalogs written before they existed.
var publishColumns = []struct{ name, def string }{
	{"publish_error", "TEXT NOT NULL DEFAULT ''"},
	{"publish_failures", "INTEGER NOT NULL DEFAULT 0"},
	{"publish_failing_since", "INTEGER"},
}

// ClaimAlias implements repo.Catalog.
func (d *DB) ClaimAlias(ctx context.Context, claim string, target int64, at time.Time) (int64, error) {
	if _, err := d.db.ExecContext(ctx, `INSERT INTO aliases (claim, target_id, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		claim, target, at.UnixNano()); err != nil {
		return 0, fmt.Errorf("claim alias %s: %w", claim, err)
	}
	var holder int64
	if err := d.db.QueryRowContext(ctx, `SELECT target_id FROM aliases WHERE claim = ?`, claim).Scan(&holder); err != nil {
		return 0, fmt.Errorf("read alias %s: %w", claim, err)
	}
	return holder, nil
}

// Aliases implements repo.Catalog.
func (d *DB) Aliases(ctx context.Context) (map[string]int64, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT claim, target_id FROM aliases`)
	if err != nil {
		return nil, fmt.Errorf("list aliases: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var claim string
		var id int64
		if err := rows.Scan(&claim, &id); err != nil {
			return nil, fmt.Errorf("list aliases: %w", err)
		}
		out[claim] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list aliases: %w", err)
	}
	return out, nil
}

// PublishFailed implements repo.Catalog.
func (d *DB) PublishFailed(ctx context.Context, target int64, msg string, at time.Time) error {
	res, err := d.db.ExecContext(ctx, `UPDATE targets SET publish_error = ?, publish_failures = publish_failures + 1,
		publish_failing_since = coalesce(publish_failing_since, ?) WHERE id = ?`, msg, at.UnixNano(), target)
	if err != nil {
		return fmt.Errorf("record publish failure: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("target %d: %w", target, repo.ErrNotFound)
	}
	return nil
}

// clearPublishState forgets a target's publish failures (in the
// transaction that records its new generation).
func clearPublishState(ctx context.Context, tx *sql.Tx, target int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE targets SET publish_error = '', publish_failures = 0, publish_failing_since = NULL
		WHERE id = ?`, target); err != nil {
		return fmt.Errorf("clear publish state: %w", err)
	}
	return nil
}

// addPublishColumns adds the publish-state columns to an older targets
// table.
func addPublishColumns(ctx context.Context, q interface {
	queryer
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}) error {
	has, err := hasColumn(ctx, q, "targets", "id")
	if err != nil || !has {
		return err
	}
	for _, col := range publishColumns {
		ok, err := hasColumn(ctx, q, "targets", col.name)
		if err != nil {
			return err
		}
		if !ok {
			if _, err := q.ExecContext(ctx, `ALTER TABLE targets ADD COLUMN `+col.name+` `+col.def); err != nil {
				return fmt.Errorf("add targets.%s: %w", col.name, err)
			}
		}
	}
	return nil
}
