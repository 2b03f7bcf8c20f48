package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// AddGeneration implements repo.GenerationStore. It stores g.PackageIDs
// and fills g.Changes by comparing them with the previous generation's.
// The target's row lock makes the sequence number gapless across nodes.
func (d *DB) AddGeneration(ctx context.Context, target int64, g *repo.Generation) error {
	tx, err := d.begin(ctx)
	if err != nil {
		return fmt.Errorf("add generation: %w", err)
	}
	defer rollback(tx)
	if err := lockTarget(ctx, tx, target); err != nil {
		return fmt.Errorf("add generation: %w", err)
	}
	var prevIDs []byte
	var hasPrev bool
	err = tx.QueryRow(ctx, `SELECT package_ids FROM generations WHERE target_id = $1 ORDER BY seq DESC LIMIT 1`, target).Scan(&prevIDs)
	switch {
	case err == nil:
		hasPrev = true
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("read previous generation: %w", err)
	}
	ids := slices.Clone(g.PackageIDs)
	slices.Sort(ids)
	switch {
	case hasPrev && prevIDs == nil:
		// Recorded without package ids (migrated from an old catalog):
		// the changes are unknown.
	case hasPrev:
		prev, err := catalog.DecodeIDs(prevIDs)
		if err != nil {
			return err
		}
		if g.Changes, err = changes(ctx, tx, prev, ids); err != nil {
			return err
		}
	default:
		if g.Changes, err = changes(ctx, tx, nil, ids); err != nil {
			return err
		}
	}
	chg, err := json.Marshal(g.Changes)
	if err != nil {
		return fmt.Errorf("encode changes: %w", err)
	}
	if err := tx.QueryRow(ctx, `INSERT INTO generations (target_id, seq, created, revision, manifest, files, packages, package_ids, note, changes)
		VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM generations WHERE target_id = $1), $2, $3, $4, $5, $6, $7, $8, $9)
		RETURNING id, seq`, target, g.Created.Unix(), g.Revision, g.Manifest, g.Files, g.Packages,
		catalog.EncodeIDs(ids), g.Note, string(chg)).Scan(&g.ID, &g.Seq); err != nil {
		return fmt.Errorf("insert generation: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE targets SET current_gen = $1, publish_error = '', publish_failures = 0,
		publish_failing_since = NULL WHERE id = $2`, g.ID, target); err != nil {
		return fmt.Errorf("switch generation: %w", err)
	}
	setEvents(ctx, "generation", g.Seq)
	setEvents(ctx, "packages", g.Packages)
	if err := d.commitWithEvents(ctx, tx); err != nil {
		return fmt.Errorf("commit generation: %w", err)
	}
	return nil
}

// changes compares two sorted id lists and names up to MaxChangesListed
// added and removed packages.
func changes(ctx context.Context, tx pgx.Tx, prev, cur []int64) (*repo.Changes, error) {
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
func describe(ctx context.Context, tx pgx.Tx, ids []int64) ([]string, error) {
	if len(ids) > repo.MaxChangesListed {
		ids = ids[:repo.MaxChangesListed]
	}
	if len(ids) == 0 {
		return nil, nil
	}
	out, err := column[string](ctx, tx, `SELECT name || ' ' || version || ' ' || arch FROM packages WHERE id = ANY($1)
		ORDER BY name COLLATE "C", version COLLATE "C", arch COLLATE "C"`, ids)
	if err != nil {
		return nil, fmt.Errorf("describe changes: %w", err)
	}
	return out, nil
}

// PublishFailed implements repo.GenerationStore.
func (d *DB) PublishFailed(ctx context.Context, target int64, msg string, at time.Time) error {
	tag, err := d.pool.Exec(ctx, `UPDATE targets SET publish_error = $1, publish_failures = publish_failures + 1,
		publish_failing_since = coalesce(publish_failing_since, $2) WHERE id = $3`, msg, at.UnixNano(), target)
	if err != nil {
		return fmt.Errorf("record publish failure: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("target %d: %w", target, repo.ErrNotFound)
	}
	return nil
}

// Generations implements repo.GenerationStore.
func (d *DB) Generations(ctx context.Context, target int64, limit int) ([]repo.Generation, error) {
	rows, err := d.pool.Query(ctx, `SELECT id, seq, created, revision, manifest, files, packages, note, changes
		FROM generations WHERE target_id = $1 ORDER BY seq DESC LIMIT $2`, target, max(limit, 0))
	if err != nil {
		return nil, fmt.Errorf("list generations: %w", err)
	}
	defer rows.Close()
	var out []repo.Generation
	for rows.Next() {
		var g repo.Generation
		var created int64
		var chg string
		if err := rows.Scan(&g.ID, &g.Seq, &created, &g.Revision, &g.Manifest, &g.Files, &g.Packages, &g.Note, &chg); err != nil {
			return nil, fmt.Errorf("list generations: %w", err)
		}
		g.Created = time.Unix(created, 0).UTC()
		if chg != "" && chg != "null" {
			g.Changes = &repo.Changes{}
			if err := json.Unmarshal([]byte(chg), g.Changes); err != nil {
				return nil, fmt.Errorf("decode changes of generation %d: %w", g.Seq, err)
			}
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list generations: %w", err)
	}
	return out, nil
}

// Generation implements repo.GenerationStore.
func (d *DB) Generation(ctx context.Context, target int64, seq int64) (*repo.Generation, error) {
	var g repo.Generation
	var created int64
	var ids []byte
	err := d.pool.QueryRow(ctx, `SELECT id, seq, created, revision, manifest, files, packages, package_ids, note
		FROM generations WHERE target_id = $1 AND seq = $2`, target, seq).Scan(&g.ID, &g.Seq, &created, &g.Revision, &g.Manifest,
		&g.Files, &g.Packages, &ids, &g.Note)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("generation %d: %w", seq, repo.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read generation %d: %w", seq, err)
	}
	g.Created = time.Unix(created, 0).UTC()
	if ids == nil {
		return nil, fmt.Errorf("generation %d predates package tracking and cannot be restored: %w", seq, repo.ErrInvalid)
	}
	if g.PackageIDs, err = catalog.DecodeIDs(ids); err != nil {
		return nil, err
	}
	return &g, nil
}

// Pins implements repo.PinStore.
func (d *DB) Pins(ctx context.Context, target int64) ([]repo.Pin, error) {
	rows, err := d.pool.Query(ctx, `SELECT name, version, created FROM pins WHERE target_id = $1
		ORDER BY name COLLATE "C", version COLLATE "C"`, target)
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
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pins: %w", err)
	}
	return out, nil
}

// SetPin implements repo.PinStore.
func (d *DB) SetPin(ctx context.Context, target int64, name, version string, on bool) error {
	tx, err := d.begin(ctx)
	if err != nil {
		return fmt.Errorf("pin %s=%s: %w", name, version, err)
	}
	defer rollback(tx)
	if err := lockTarget(ctx, tx, target); err != nil {
		return fmt.Errorf("pin %s=%s: %w", name, version, err)
	}
	if on {
		if _, err := tx.Exec(ctx, `INSERT INTO pins (target_id, name, version, created) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			target, name, version, d.now().Unix()); err != nil {
			return fmt.Errorf("pin %s=%s: %w", name, version, err)
		}
		return d.commitWithEvents(ctx, tx)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM pins WHERE target_id = $1 AND name = $2 AND version = $3`, target, name, version)
	if err != nil {
		return fmt.Errorf("unpin %s=%s: %w", name, version, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s=%s is not pinned: %w", name, version, repo.ErrNotFound)
	}
	return d.commitWithEvents(ctx, tx)
}

// ClaimAlias implements repo.AliasStore.
func (d *DB) ClaimAlias(ctx context.Context, claim string, target int64, at time.Time) (int64, error) {
	if _, err := d.pool.Exec(ctx, `INSERT INTO aliases (claim, target_id, created) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		claim, target, at.UnixNano()); err != nil {
		return 0, fmt.Errorf("claim alias %s: %w", claim, err)
	}
	var holder int64
	if err := d.pool.QueryRow(ctx, `SELECT target_id FROM aliases WHERE claim = $1`, claim).Scan(&holder); err != nil {
		return 0, fmt.Errorf("read alias %s: %w", claim, err)
	}
	return holder, nil
}

// Aliases implements repo.AliasStore.
func (d *DB) Aliases(ctx context.Context) (map[string]int64, error) {
	rows, err := d.pool.Query(ctx, `SELECT claim, target_id FROM aliases`)
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

// Collect implements repo.Collector.
func (d *DB) Collect(ctx context.Context, keep int) (repo.CollectStats, error) {
	var st repo.CollectStats
	keep = max(keep, 1)
	tx, err := d.begin(ctx)
	if err != nil {
		return st, fmt.Errorf("collect: %w", err)
	}
	defer rollback(tx)
	// The current generation is always a target's newest, so it stays.
	tag, err := tx.Exec(ctx, `DELETE FROM generations WHERE id IN (
		SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY target_id ORDER BY seq DESC) AS rn FROM generations) r
		WHERE rn > $1)`, keep)
	if err != nil {
		return st, fmt.Errorf("collect generations: %w", err)
	}
	st.Generations = int(tag.RowsAffected())
	// Removed rows that a remaining generation holds stay restorable.
	held := map[int64]bool{}
	lists, err := column[[]byte](ctx, tx, `SELECT package_ids FROM generations WHERE package_ids IS NOT NULL`)
	if err != nil {
		return st, fmt.Errorf("collect packages: %w", err)
	}
	for _, b := range lists {
		ids, err := catalog.DecodeIDs(b)
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
	if len(gone) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM packages WHERE id = ANY($1)`, gone); err != nil {
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

// References implements repo.Collector.
func (d *DB) References(ctx context.Context, fn func(sum string, manifest bool) error) error {
	for _, q := range []struct {
		query    string
		manifest bool
	}{
		{`SELECT DISTINCT sha256 FROM packages`, false},
		{`SELECT DISTINCT manifest FROM generations`, true},
	} {
		sums, err := column[string](ctx, d.pool, q.query)
		if err != nil {
			return fmt.Errorf("list referenced blobs: %w", err)
		}
		for _, sum := range sums {
			if err := fn(sum, q.manifest); err != nil {
				return err
			}
		}
	}
	return nil
}
