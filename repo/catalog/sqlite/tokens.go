package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// tokenSchema holds the API tokens, stored as their SHA-256 only. Times
// are unix seconds (0: none).
const tokenSchema = `
CREATE TABLE IF NOT EXISTS tokens (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	hash TEXT NOT NULL UNIQUE,
	scopes TEXT NOT NULL,
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL DEFAULT 0,
	last_used INTEGER NOT NULL DEFAULT 0
);
`

var _ catalog.TokenStore = (*DB)(nil)

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func timeOrZero(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// CreateToken implements catalog.TokenStore.
func (d *DB) CreateToken(ctx context.Context, t *catalog.Token) error {
	scopes, err := json.Marshal(t.Scopes)
	if err != nil {
		return fmt.Errorf("encode scopes: %w", err)
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.Name, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO tokens (name, hash, scopes, created, expires) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, t.Name, t.Hash, string(scopes), t.Created.Unix(), unixOrZero(t.Expires))
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("a token named %s exists already (revoke it first): %w", t.Name, repo.ErrConflict)
	}
	return d.commitWithEvents(ctx, tx)
}

const tokenCols = `name, hash, scopes, created, expires, last_used`

func scanToken(s interface{ Scan(...any) error }) (*catalog.Token, error) {
	var t catalog.Token
	var scopes string
	var created, expires, used int64
	if err := s.Scan(&t.Name, &t.Hash, &scopes, &created, &expires, &used); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &t.Scopes); err != nil {
		return nil, fmt.Errorf("decode scopes of token %s: %w", t.Name, err)
	}
	t.Created, t.Expires, t.LastUsed = timeOrZero(created), timeOrZero(expires), timeOrZero(used)
	return &t, nil
}

// TokenByHash implements catalog.TokenStore.
func (d *DB) TokenByHash(ctx context.Context, hash string) (*catalog.Token, error) {
	t, err := scanToken(d.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("token: %w", repo.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	return t, nil
}

// Tokens implements catalog.TokenStore.
func (d *DB) Tokens(ctx context.Context) ([]catalog.Token, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []catalog.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// DeleteToken implements catalog.TokenStore.
func (d *DB) DeleteToken(ctx context.Context, name string) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", name, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %s: %w", name, repo.ErrNotFound)
	}
	return d.commitWithEvents(ctx, tx)
}

// TouchToken implements catalog.TokenStore. It never moves LastUsed back.
func (d *DB) TouchToken(ctx context.Context, name string, at time.Time) error {
	if _, err := d.db.ExecContext(ctx, `UPDATE tokens SET last_used = ? WHERE name = ? AND last_used < ?`,
		at.Unix(), name, at.Unix()); err != nil {
		return fmt.Errorf("touch token %s: %w", name, err)
	}
	return nil
}
