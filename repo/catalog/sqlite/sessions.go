package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// sessionSchema holds the web interface's sessions (catalog.SessionStore),
// by the SHA-256 of their id. Times are unix seconds.
const sessionSchema = `
CREATE TABLE IF NOT EXISTS sessions (
	hash TEXT PRIMARY KEY,
	token_name TEXT NOT NULL,
	scopes TEXT NOT NULL,
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires);
`

var _ catalog.SessionStore = (*DB)(nil)

// CreateSession implements catalog.SessionStore.
func (d *DB) CreateSession(ctx context.Context, s *catalog.Session) error {
	scopes, created, expires, err := catalog.SessionColumns(s)
	if err != nil {
		return err
	}
	res, err := d.db.ExecContext(ctx, `INSERT INTO sessions (hash, token_name, scopes, created, expires) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, s.Hash, s.TokenName, scopes, created, expires)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("create session: id taken: %w", repo.ErrConflict)
	}
	return nil
}

// SessionByHash implements catalog.SessionStore.
func (d *DB) SessionByHash(ctx context.Context, hash string) (*catalog.Session, error) {
	var name, scopes string
	var created, expires int64
	err := d.db.QueryRowContext(ctx, `SELECT token_name, scopes, created, expires FROM sessions WHERE hash = ?`, hash).
		Scan(&name, &scopes, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session: %w", repo.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	return catalog.SessionFromColumns(hash, name, scopes, created, expires)
}

// DeleteSession implements catalog.SessionStore.
func (d *DB) DeleteSession(ctx context.Context, hash string) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions implements catalog.SessionStore.
func (d *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := d.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires <= ?`, now.Unix())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}
