package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/pierhq/pier/repo"
)

var _ repo.PublishLog = (*DB)(nil)

// LogPublish implements repo.PublishLog.
func (d *DB) LogPublish(ctx context.Context, r repo.PublishRecord) error {
	if _, err := d.pool.Exec(ctx, `INSERT INTO publish_log (target, node, started, finished, generation, error)
		VALUES ($1, $2, $3, $4, $5, $6)`, r.Target.String(), r.Node, r.Started.UnixNano(), r.Finished.UnixNano(),
		r.Generation, r.Error); err != nil {
		return fmt.Errorf("record publish of %s: %w", r.Target, err)
	}
	return nil
}

// PublishLog returns the publishes of target t ("stream/distro/release";
// every target when empty), in the order they started.
func (d *DB) PublishLog(ctx context.Context, t string) ([]repo.PublishRecord, error) {
	rows, err := d.pool.Query(ctx, `SELECT target, node, started, finished, generation, error FROM publish_log
		WHERE $1 = '' OR target = $1 ORDER BY started, id`, t)
	if err != nil {
		return nil, fmt.Errorf("read publish log: %w", err)
	}
	defer rows.Close()
	var out []repo.PublishRecord
	for rows.Next() {
		var r repo.PublishRecord
		var target string
		var started, finished int64
		if err := rows.Scan(&target, &r.Node, &started, &finished, &r.Generation, &r.Error); err != nil {
			return nil, fmt.Errorf("read publish log: %w", err)
		}
		if r.Target, err = repo.ParseTarget(target); err != nil {
			return nil, fmt.Errorf("read publish log: %w", err)
		}
		r.Started, r.Finished = time.Unix(0, started).UTC(), time.Unix(0, finished).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read publish log: %w", err)
	}
	return out, nil
}
