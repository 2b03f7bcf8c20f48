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

var _ catalog.SessionStore = (*DB)(nil)

// CreateSession implements catalog.SessionStore.
func (d *DB) CreateSession(ctx context.Context, s *catalog.Session) error {
	scopes, created, expires, err := catalog.SessionColumns(s)
	if err != nil {
		return err
	}
	tag, err := d.pool.Exec(ctx, `INSERT INTO sessions (hash, token_name, scopes, created, expires) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`, s.Hash, s.TokenName, scopes, created, expires)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("create session: id taken: %w", repo.ErrConflict)
	}
	return nil
}

// SessionByHash implements catalog.SessionStore.
func (d *DB) SessionByHash(ctx context.Context, hash string) (*catalog.Session, error) {
	var name, scopes string
	var created, expires int64
	err := d.pool.QueryRow(ctx, `SELECT token_name, scopes, created, expires FROM sessions WHERE hash = $1`, hash).
		Scan(&name, &scopes, &created, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("session: %w", repo.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	return catalog.SessionFromColumns(hash, name, scopes, created, expires)
}

// DeleteSession implements catalog.SessionStore.
func (d *DB) DeleteSession(ctx context.Context, hash string) error {
	if _, err := d.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions implements catalog.SessionStore.
func (d *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	tag, err := d.pool.Exec(ctx, `DELETE FROM sessions WHERE expires <= $1`, now.Unix())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
