package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pierhq/pier/repo"
)

// removedSchema records removed targets and refuses rows for them: an
// upload or a publish that looked a target up before its removal fails
// instead of writing into the tombstone (the upload is then retried and
// makes a new target of the name). It is created by the first removal.
const removedSchema = `
CREATE TABLE IF NOT EXISTS removed_targets (
	id INTEGER PRIMARY KEY REFERENCES targets(id),
	stream TEXT NOT NULL,
	distro TEXT NOT NULL,
	release TEXT NOT NULL,
	removed INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS removed_target_packages BEFORE INSERT ON packages
	WHEN EXISTS (SELECT 1 FROM removed_targets WHERE id = NEW.target_id)
	BEGIN SELECT RAISE(ABORT, 'the target was removed'); END;
CREATE TRIGGER IF NOT EXISTS removed_target_generations BEFORE INSERT ON generations
	WHEN EXISTS (SELECT 1 FROM removed_targets WHERE id = NEW.target_id)
	BEGIN SELECT RAISE(ABORT, 'the target was removed'); END;
CREATE TRIGGER IF NOT EXISTS removed_target_pins BEFORE INSERT ON pins
	WHEN EXISTS (SELECT 1 FROM removed_targets WHERE id = NEW.target_id)
	BEGIN SELECT RAISE(ABORT, 'the target was removed'); END;
`

// RemoveTarget turns target id into its tombstone (see repo.RemovedPrefix)
// in one transaction with the audit events ctx carries: it deletes the
// target's pins, generations and packages (live and removed rows), renames
// it to repo.RemovedName, clears its revision and publish state, and
// keeps its alias claims. A missing or already removed target is an error
// wrapping repo.ErrNotFound.
func (d *DB) RemoveTarget(ctx context.Context, target int64, at time.Time) (repo.RemovedTarget, error) {
	var res repo.RemovedTarget
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("remove target: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, removedSchema); err != nil {
		return res, fmt.Errorf("create removed_targets: %w", err)
	}
	t := &res.Target
	err = tx.QueryRowContext(ctx, `SELECT stream, distro, release FROM targets WHERE id = ?`, target).Scan(&t.Stream, &t.Distro, &t.Release)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && t.Removed()) {
		return res, fmt.Errorf("target %d: %w", target, repo.ErrNotFound)
	}
	if err != nil {
		return res, fmt.Errorf("read target %d: %w", target, err)
	}
	count := func(q string) (int, error) {
		r, err := tx.ExecContext(ctx, q, target)
		if err != nil {
			return 0, err
		}
		n, err := r.RowsAffected()
		return int(n), err
	}
	if res.Pins, err = count(`DELETE FROM pins WHERE target_id = ?`); err != nil {
		return res, fmt.Errorf("remove pins of %s: %w", t, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE targets SET current_gen = NULL WHERE id = ?`, target); err != nil {
		return res, fmt.Errorf("remove %s: %w", t, err)
	}
	if res.Generations, err = count(`DELETE FROM generations WHERE target_id = ?`); err != nil {
		return res, fmt.Errorf("remove generations of %s: %w", t, err)
	}
	live, err := column[int](ctx, tx, `SELECT count(*) FROM packages WHERE target_id = ? AND removed IS NULL`, target)
	if err != nil {
		return res, fmt.Errorf("count packages of %s: %w", t, err)
	}
	res.Packages = live[0]
	if _, err := count(`DELETE FROM packages WHERE target_id = ?`); err != nil {
		return res, fmt.Errorf("remove packages of %s: %w", t, err)
	}
	res.Aliases, err = column[string](ctx, tx, `SELECT claim FROM aliases WHERE target_id = ? ORDER BY claim`, target)
	if err != nil {
		return res, fmt.Errorf("read aliases of %s: %w", t, err)
	}
	tomb := repo.RemovedName(target, *t)
	if _, err := tx.ExecContext(ctx, `UPDATE targets SET stream = ?, revision = 0, publish_error = '', publish_failures = 0,
		publish_failing_since = NULL WHERE id = ?`, tomb.Stream, target); err != nil {
		return res, fmt.Errorf("remove %s: %w", t, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO removed_targets (id, stream, distro, release, removed) VALUES (?, ?, ?, ?, ?)`,
		target, t.Stream, t.Distro, t.Release, at.UnixNano()); err != nil {
		return res, fmt.Errorf("record removal of %s: %w", t, err)
	}
	setEvents(ctx, "packages", res.Packages)
	setEvents(ctx, "generations", res.Generations)
	if len(res.Aliases) > 0 {
		setEvents(ctx, "aliases_kept", slices.Clone(res.Aliases))
	}
	if err := d.commitWithEvents(ctx, tx); err != nil {
		return res, fmt.Errorf("commit removal of %s: %w", t, err)
	}
	return res, nil
}
