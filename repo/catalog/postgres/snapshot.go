package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// Frozen snapshots (repo.Snapshotter) are rows of frozen_targets (schema
// version 3). Unlike SQLite, PostgreSQL has no trigger refusing package
// rows of a frozen target: every writer of package rows (AddPackages,
// DeletePackage, RemovePackages, SetLivePackages) calls lockUnfrozen, which
// locks the target's row and then reads frozen_targets, and Snapshot
// freezes a target while holding the same row lock. A writer that waited
// for a Snapshot's lock thus reads its frozen_targets row (committed by
// then) and is refused; a writer that locked first has committed its rows
// before the Snapshot sees the target, which then refuses the target as
// not empty. Deleting rows (RemoveTarget, Collect) is not refused: a frozen
// target is removed like any other.

// lockUnfrozen locks target id's row as lockTarget does and returns a
// *repo.FrozenError for action when the target is frozen (as it is, as
// SQLite's writers do); its answer holds until tx ends. Other errors are
// wrapped saying what was being done (doing). The frozen state is read by a statement after the lock:
// read in the locking statement, a row a Snapshot committed while this one
// waited for the lock would not be seen (READ COMMITTED re-checks only the
// locked row).
func lockUnfrozen(ctx context.Context, tx pgx.Tx, id int64, action, doing string) error {
	if err := lockTarget(ctx, tx, id); err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	fe := &repo.FrozenError{Action: action}
	f := &fe.Frozen
	var created int64
	err := tx.QueryRow(ctx, `SELECT t.stream, t.distro, t.release,
		f.source_stream, f.source_distro, f.source_release, f.source_generation, f.created
		FROM frozen_targets f JOIN targets t ON t.id = f.target_id WHERE f.target_id = $1`, id).Scan(
		&fe.Target.Stream, &fe.Target.Distro, &fe.Target.Release,
		&f.Source.Stream, &f.Source.Distro, &f.Source.Release, &f.SourceGeneration, &created)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("%s: read frozen state of target %d: %w", doing, id, err)
	}
	f.Created = time.Unix(0, created).UTC()
	return fe
}

// Snapshot implements repo.Snapshotter. It holds the source's row with FOR
// KEY SHARE (a RemoveTarget of the source waits; uploads to it do not) and
// dst's row with FOR NO KEY UPDATE (writers of dst wait, then see it
// frozen).
func (d *DB) Snapshot(ctx context.Context, source, seq int64, dst repo.Target, format string, at time.Time) (*repo.TargetInfo, error) {
	tx, err := d.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer rollback(tx)
	var src repo.Target
	var srcFormat string
	err = tx.QueryRow(ctx, `SELECT stream, distro, release, format FROM targets WHERE id = $1 FOR KEY SHARE`, source).Scan(
		&src.Stream, &src.Distro, &src.Release, &srcFormat)
	switch {
	case errors.Is(err, pgx.ErrNoRows) || (err == nil && src.Removed()):
		return nil, fmt.Errorf("snapshot: target %d: %w", source, repo.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("snapshot: read target %d: %w", source, err)
	case src == dst:
		return nil, fmt.Errorf("snapshot %s into itself: %w", src, repo.ErrInvalid)
	case srcFormat != format:
		return nil, fmt.Errorf("snapshot %s (%s packages) as a %s target: %w", src, srcFormat, format, repo.ErrInvalid)
	}
	var blob []byte
	err = tx.QueryRow(ctx, `SELECT package_ids FROM generations WHERE target_id = $1 AND seq = $2`, source, seq).Scan(&blob)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("snapshot: %s has no generation %d: %w", src, seq, repo.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("snapshot: read generation %d of %s: %w", seq, src, err)
	case blob == nil:
		return nil, fmt.Errorf("snapshot: generation %d of %s was recorded without its package ids (by an older Pier); publish %s again first: %w",
			seq, src, src, repo.ErrInvalid)
	}
	ids, err := catalog.DecodeIDs(blob)
	if err != nil {
		return nil, err
	}
	if ids == nil {
		ids = []int64{}
	}
	id, err := snapshotTarget(ctx, tx, dst, format)
	if err != nil {
		return nil, err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO packages (target_id, component, name, version, arch, sha256, orig_sha256, size, sums, meta, uploaded)
		SELECT $1, component, name, version, arch, sha256, orig_sha256, size, sums, meta, uploaded FROM packages
		WHERE target_id = $2 AND id = ANY($3) ORDER BY id`, id, source, ids)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s into %s: copy packages: %w", src, dst, err)
	}
	copied := int(tag.RowsAffected())
	if copied != len(ids) {
		return nil, fmt.Errorf("snapshot: %d of the %d packages of generation %d of %s were already collected: %w",
			len(ids)-copied, len(ids), seq, src, repo.ErrNotFound)
	}
	if err := bumpRevision(ctx, tx, id); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO frozen_targets (target_id, source_stream, source_distro, source_release,
		source_generation, created) VALUES ($1, $2, $3, $4, $5, $6)`, id, src.Stream, src.Distro, src.Release, seq, at.UnixNano()); err != nil {
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

// snapshotTarget returns the id of dst for a snapshot inside tx, its row
// locked: a new target, or an existing one that never held a package nor
// was published. The insert first: a target another node is creating at
// the same moment is waited for, then taken or refused like any existing
// one.
func snapshotTarget(ctx context.Context, tx pgx.Tx, dst repo.Target, format string) (int64, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO targets (stream, distro, release, format) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, dst.Stream, dst.Distro, dst.Release, format); err != nil {
		return 0, fmt.Errorf("snapshot: create target %s: %w", dst, err)
	}
	var id, revision int64
	var f string
	var current *int64
	if err := tx.QueryRow(ctx, `SELECT id, format, revision, current_gen FROM targets
		WHERE stream = $1 AND distro = $2 AND release = $3 FOR NO KEY UPDATE`, dst.Stream, dst.Distro, dst.Release).Scan(
		&id, &f, &revision, &current); err != nil {
		return 0, fmt.Errorf("snapshot: look up target %s: %w", dst, err)
	}
	var rows bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM packages WHERE target_id = $1)`, id).Scan(&rows); err != nil {
		return 0, fmt.Errorf("snapshot: look up target %s: %w", dst, err)
	}
	if revision > 0 || current != nil || rows {
		return 0, fmt.Errorf("snapshot: target %s exists: a snapshot makes a new target (remove %s first to reuse its name): %w",
			dst, dst, repo.ErrConflict)
	}
	if f != format {
		return 0, fmt.Errorf("snapshot: target %s holds %s packages, not %s: %w", dst, f, format, repo.ErrInvalid)
	}
	return id, nil
}
