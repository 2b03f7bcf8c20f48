package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/repo"
)

// Target implements repo.TargetStore. It is one indexed read when the
// target exists.
func (d *DB) Target(ctx context.Context, t repo.Target, format string) (*repo.TargetInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("look up target %s: %w", t, err)
	}
	ti, err := d.lookupTarget(ctx, t)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := d.pool.Exec(ctx, `INSERT INTO targets (stream, distro, release, format) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, t.Stream, t.Distro, t.Release, format); err != nil {
			return nil, fmt.Errorf("create target %s: %w", t, err)
		}
		ti, err = d.lookupTarget(ctx, t)
	}
	if err != nil {
		return nil, fmt.Errorf("look up target %s: %w", t, err)
	}
	if ti.Format != format {
		return nil, fmt.Errorf("target %s holds %s packages, not %s: %w", t, ti.Format, format, repo.ErrInvalid)
	}
	return ti, nil
}

func (d *DB) lookupTarget(ctx context.Context, t repo.Target) (*repo.TargetInfo, error) {
	ts, err := d.targets(ctx, false, `WHERE t.stream = $1 AND t.distro = $2 AND t.release = $3`, t.Stream, t.Distro, t.Release)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, pgx.ErrNoRows
	}
	return &ts[0], nil
}

// Targets implements repo.TargetStore.
func (d *DB) Targets(ctx context.Context) ([]repo.TargetInfo, error) {
	return d.targets(ctx, true, "")
}

// Heads implements repo.TargetStore.
func (d *DB) Heads(ctx context.Context) ([]repo.TargetInfo, error) {
	return d.targets(ctx, false, "")
}

// targets lists targets; counting packages costs a scan of each target's
// live packages, so only listings ask for it. Names order as bytes
// (COLLATE "C"), whatever the database's locale.
func (d *DB) targets(ctx context.Context, count bool, where string, args ...any) ([]repo.TargetInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list targets: %w", err)
	}
	countExpr, countJoin := "0::bigint, 0::bigint", ""
	if count {
		countExpr = "coalesce(c.n, 0), coalesce(c.bytes, 0)"
		countJoin = `LEFT JOIN (SELECT target_id, count(*) AS n, sum(size)::bigint AS bytes FROM packages
			WHERE removed IS NULL GROUP BY target_id) c ON c.target_id = t.id`
	}
	rows, err := d.pool.Query(ctx, `
SELECT t.id, t.stream, t.distro, t.release, t.format, t.revision, `+countExpr+`,
       t.publish_error, t.publish_failures, t.publish_failing_since,
       g.id, g.seq, g.created, g.revision, g.manifest, g.files, g.packages,
       f.source_stream, f.source_distro, f.source_release, f.source_generation, f.created
FROM targets t LEFT JOIN generations g ON g.id = t.current_gen LEFT JOIN frozen_targets f ON f.target_id = t.id
`+countJoin+` `+where+`
ORDER BY t.stream COLLATE "C", t.distro COLLATE "C", t.release COLLATE "C"`, args...)
	if err != nil {
		return nil, fmt.Errorf("list targets: %w", err)
	}
	defer rows.Close()
	var out []repo.TargetInfo
	for rows.Next() {
		var ti repo.TargetInfo
		var gid, gseq, gcreated, grev, failingSince *int64
		var gfiles, gpkgs *int
		var gman *string
		var fStream, fDistro, fRelease *string
		var fGen, fCreated *int64
		if err := rows.Scan(&ti.ID, &ti.Stream, &ti.Distro, &ti.Release, &ti.Format, &ti.Revision, &ti.Packages, &ti.Bytes,
			&ti.PublishError, &ti.PublishFailures, &failingSince,
			&gid, &gseq, &gcreated, &grev, &gman, &gfiles, &gpkgs,
			&fStream, &fDistro, &fRelease, &fGen, &fCreated); err != nil {
			return nil, fmt.Errorf("list targets: %w", err)
		}
		if fStream != nil {
			ti.Frozen = &repo.Frozen{Source: repo.Target{Stream: *fStream, Distro: *fDistro, Release: *fRelease},
				SourceGeneration: *fGen, Created: time.Unix(0, *fCreated).UTC()}
		}
		if gid != nil {
			ti.Current = &repo.Generation{ID: *gid, Seq: *gseq, Created: time.Unix(*gcreated, 0).UTC(),
				Revision: *grev, Manifest: *gman, Files: *gfiles, Packages: *gpkgs}
		}
		if failingSince != nil {
			t := time.Unix(0, *failingSince).UTC()
			ti.FailingSince = &t
		}
		ti.State = ti.PublishState()
		out = append(out, ti)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list targets: %w", err)
	}
	return out, nil
}

// RemoveTarget implements repo.TargetRemover: the target's row becomes
// its tombstone (renamed, revision and publish state cleared, alias claims
// kept), its pins, generations and packages go, in one transaction with
// the events of ctx. Writers that looked the target up before lock its row
// first (lockTarget) and then see the tombstone.
func (d *DB) RemoveTarget(ctx context.Context, target int64, at time.Time) (repo.RemovedTarget, error) {
	var res repo.RemovedTarget
	tx, err := d.begin(ctx)
	if err != nil {
		return res, fmt.Errorf("remove target: %w", err)
	}
	defer rollback(tx)
	t := &res.Target
	err = tx.QueryRow(ctx, `SELECT stream, distro, release FROM targets WHERE id = $1 FOR UPDATE`, target).Scan(&t.Stream, &t.Distro, &t.Release)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && t.Removed()) {
		return res, fmt.Errorf("target %d: %w", target, repo.ErrNotFound)
	}
	if err != nil {
		return res, fmt.Errorf("read target %d: %w", target, err)
	}
	count := func(q string) (int, error) {
		tag, err := tx.Exec(ctx, q, target)
		return int(tag.RowsAffected()), err
	}
	if res.Pins, err = count(`DELETE FROM pins WHERE target_id = $1`); err != nil {
		return res, fmt.Errorf("remove pins of %s: %w", t, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE targets SET current_gen = NULL WHERE id = $1`, target); err != nil {
		return res, fmt.Errorf("remove %s: %w", t, err)
	}
	if res.Generations, err = count(`DELETE FROM generations WHERE target_id = $1`); err != nil {
		return res, fmt.Errorf("remove generations of %s: %w", t, err)
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM packages WHERE target_id = $1 AND removed IS NULL`, target).Scan(&res.Packages); err != nil {
		return res, fmt.Errorf("count packages of %s: %w", t, err)
	}
	if _, err := count(`DELETE FROM packages WHERE target_id = $1`); err != nil {
		return res, fmt.Errorf("remove packages of %s: %w", t, err)
	}
	if res.Aliases, err = column[string](ctx, tx, `SELECT claim FROM aliases WHERE target_id = $1 ORDER BY claim COLLATE "C"`, target); err != nil {
		return res, fmt.Errorf("read aliases of %s: %w", t, err)
	}
	tomb := repo.RemovedName(target, *t)
	if _, err := tx.Exec(ctx, `UPDATE targets SET stream = $1, revision = 0, publish_error = '', publish_failures = 0,
		publish_failing_since = NULL WHERE id = $2`, tomb.Stream, target); err != nil {
		return res, fmt.Errorf("remove %s: %w", t, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO removed_targets (id, stream, distro, release, removed) VALUES ($1, $2, $3, $4, $5)`,
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

// querier is what the pool and a transaction share for reads.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// column runs a query that selects one column and returns its values.
func column[T any](ctx context.Context, q querier, query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[T])
}
