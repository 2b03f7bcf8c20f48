package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// LoadMirrorState implements mirror.StateStore: the state of mirror name
// (what was uploaded), nil when none was saved.
func (d *DB) LoadMirrorState(ctx context.Context, name string) ([]byte, error) {
	var data []byte
	err := d.pool.QueryRow(ctx, `SELECT data FROM mirror_state WHERE name = $1`, name).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read mirror %s state: %w", name, err)
	}
	return data, nil
}

// SaveMirrorState implements mirror.StateStore.
func (d *DB) SaveMirrorState(ctx context.Context, name string, data []byte) error {
	if _, err := d.pool.Exec(ctx, `INSERT INTO mirror_state (name, data) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET data = excluded.data`, name, data); err != nil {
		return fmt.Errorf("save mirror %s state: %w", name, err)
	}
	return nil
}
