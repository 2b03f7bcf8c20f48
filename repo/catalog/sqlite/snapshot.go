package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pierhq/pier/repo"
)

// frozenSchema records frozen snapshots (repo.Snapshotter). Open creates
// it, so a catalog of an older Pier gains it (empty: no target frozen) on
// its first open by this one. The triggers refuse any change of a frozen
// target's package rows, whatever statement tries it; the write methods
// check first (refuseFrozen) to name the target in their error. Deleting
// rows (RemoveTarget, Collect) is not refused: a frozen target is removed
// like any other.
const frozenSchema = `
CREATE TABLE IF NOT EXISTS frozen_targets (
	target_id INTEGER PRIMARY KEY REFERENCES targets(id),
	source_stream TEXT NOT NULL,
	source_distro TEXT NOT NULL,
	source_release TEXT NOT NULL,
	source_generation INTEGER NOT NULL,
	created INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS frozen_target_insert BEFORE INSERT ON packages
	WHEN EXISTS (SELECT 1 FROM frozen_targets WHERE target_id = NEW.target_id)
	BEGIN SELECT RAISE(ABORT, '` + frozenAbort + `'); END;
CREATE TRIGGER IF NOT EXISTS frozen_target_update BEFORE UPDATE OF removed, target_id ON packages
	WHEN EXISTS (SELECT 1 FROM frozen_targets WHERE target_id IN (OLD.target_id, NEW.target_id))
	BEGIN SELECT RAISE(ABORT, '` + frozenAbort + `'); END;
`

// frozenAbort is the message of the triggers' abort.
const frozenAbort = "pier: the target is frozen"

// frozenOf returns target's Frozen, or nil when it is not frozen.
func frozenOf(ctx context.Context, q *sql.Tx, target int64) (*repo.Frozen, error) {
	var f repo.Frozen
	var created int64
	err := q.QueryRowContext(ctx, `SELECT source_stream, source_distro, source_release, source_generation, created
		FROM frozen_targets WHERE target_id = ?`, target).Scan(&f.Source.Stream, &f.Source.Distro, &f.Source.Release,
		&f.SourceGeneration, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read frozen state of target %d: %w", target, err)
	}
	f.Created = time.Unix(0, created).UTC()
	return &f, nil
}

// refuseFrozen returns a *repo.FrozenError for action when target is
// frozen. Called inside a write transaction (BEGIN IMMEDIATE), its answer
// holds until the transaction ends.
func refuseFrozen(ctx context.Context, tx *sql.Tx, target int64, action string) error {
	f, err := frozenOf(ctx, tx, target)
	if err != nil || f == nil {
		return err
	}
	fe := &repo.FrozenError{Frozen: *f, Action: action}
	if err := tx.QueryRowContext(ctx, `SELECT stream, distro, release FROM targets WHERE id = ?`, target).Scan(
		&fe.Target.Stream, &fe.Target.Distro, &fe.Target.Release); err != nil {
		return fmt.Errorf("read target %d: %w", target, err)
	}
	return fe
}

// frozenTrigger maps the triggers' abort to an error wrapping
// repo.ErrFrozen (the checks before the write make it rare: only a write
// this package does not check first meets it).
func frozenTrigger(err error) error {
	if err != nil && strings.Contains(err.Error(), frozenAbort) {
		return fmt.Errorf("%w: %w", err, repo.ErrFrozen)
	}
	return err
}

// Snapshot implements repo.Snapshotter.
func (d *DB) Snapshot(ctx context.Context, source, seq int64, dst repo.Target, format string, at time.Time) (*repo.TargetInfo, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer tx.Rollback()
	var src repo.Target
	var srcFormat string
	err = tx.QueryRowContext(ctx, `SELECT stream, distro, release, format FROM targets WHERE id = ?`, source).Scan(
		&src.Stream, &src.Distro, &src.Release, &srcFormat)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && src.Removed()):
		return nil, fmt.Errorf("snapshot: target %d: %w", source, repo.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("snapshot: read target %d: %w", source, err)
	case src == dst:
		return nil, fmt.Errorf("snapshot %s into itself: %w", src, repo.ErrInvalid)
	case srcFormat != format:
		return nil, fmt.Errorf("snapshot %s (%s packages) as a %s target: %w", src, srcFormat, format, repo.ErrInvalid)
	}
	var blob []byte
	err = tx.QueryRowContext(ctx, `SELECT package_ids FROM generations WHERE target_id = ? AND seq = ?`, source, seq).Scan(&blob)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("snapshot: %s has no generation %d: %w", src, seq, repo.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("snapshot: read generation %d of %s: %w", seq, src, err)
	case blob == nil:
		return nil, fmt.Errorf("snapshot: generation %d of %s was recorded without its package ids (by an older Pier); publish %s again first: %w",
			seq, src, src, repo.ErrInvalid)
	}
	ids, err := decodeIDs(blob)
	if err != nil {
		return nil, err
	}
	id, err := snapshotTarget(ctx, tx, dst, format)
	if err != nil {
		return nil, err
	}
	copied := 0
	for _, c := range chunks(ids, 500) {
		res, err := tx.ExecContext(ctx, `INSERT INTO packages (target_id, component, name, version, arch, sha256, orig_sha256, size, sums, meta, uploaded)
			SELECT ?, component, name, version, arch, sha256, orig_sha256, size, sums, meta, uploaded FROM packages
			WHERE target_id = ? AND id IN (`+placeholders(len(c))+`) ORDER BY id`, append([]any{id, source}, anys(c)...)...)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s into %s: copy packages: %w", src, dst, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("snapshot %s into %s: copy packages: %w", src, dst, err)
		}
		copied += int(n)
	}
	if copied != len(ids) {
		return nil, fmt.Errorf("snapshot: %d of the %d packages of generation %d of %s were already collected: %w",
			len(ids)-copied, len(ids), seq, src, repo.ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE targets SET revision = revision + 1 WHERE id = ?`, id); err != nil {
		return nil, fmt.Errorf("snapshot: bump revision: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO frozen_targets (target_id, source_stream, source_distro, source_release,
		source_generation, created) VALUES (?, ?, ?, ?, ?, ?)`, id, src.Stream, src.Distro, src.Release, seq, at.UnixNano()); err != nil {
		return nil, fmt.Errorf("snapshot: freeze %s: %w", dst, err)
	}
	setEvents(ctx, "packages", copied)
	setEvents(ctx, "source_generation", seq)
	if err := d.commitWithEvents(ctx, tx); err != nil {
		return nil, fmt.Errorf("commit snapshot of %s into %s: %w", src, dst, err)
	}
	ti, err := d.lookupTarget(ctx, dst)
	if err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", dst, err)
	}
	return ti, nil
}

// snapshotTarget returns the id of dst for a snapshot inside tx: a new
// target, or an existing one that never held a package nor was published.
func snapshotTarget(ctx context.Context, tx *sql.Tx, dst repo.Target, format string) (int64, error) {
	var id, revision int64
	var f string
	var current sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT id, format, revision, current_gen FROM targets WHERE stream = ? AND distro = ? AND release = ?`,
		dst.Stream, dst.Distro, dst.Release).Scan(&id, &f, &revision, &current)
	if errors.Is(err, sql.ErrNoRows) {
		res, err := tx.ExecContext(ctx, `INSERT INTO targets (stream, distro, release, format) VALUES (?, ?, ?, ?)`,
			dst.Stream, dst.Distro, dst.Release, format)
		if err != nil {
			return 0, fmt.Errorf("snapshot: create target %s: %w", dst, err)
		}
		return res.LastInsertId()
	}
	if err != nil {
		return 0, fmt.Errorf("snapshot: look up target %s: %w", dst, err)
	}
	var rows int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM packages WHERE target_id = ?`, id).Scan(&rows); err != nil {
		return 0, fmt.Errorf("snapshot: look up target %s: %w", dst, err)
	}
	if revision > 0 || current.Valid || rows > 0 {
		return 0, fmt.Errorf("snapshot: target %s exists: a snapshot makes a new target (remove %s first to reuse its name): %w",
			dst, dst, repo.ErrConflict)
	}
	if f != format {
		return 0, fmt.Errorf("snapshot: target %s holds %s packages, not %s: %w", dst, f, format, repo.ErrInvalid)
	}
	return id, nil
}
