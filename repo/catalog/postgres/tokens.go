package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

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
	tx, err := d.begin(ctx)
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.Name, err)
	}
	defer rollback(tx)
	tag, err := tx.Exec(ctx, `INSERT INTO tokens (name, hash, scopes, created, expires) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`, t.Name, t.Hash, string(scopes), t.Created.Unix(), unixOrZero(t.Expires))
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.Name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("a token named %s exists already (revoke it first): %w", t.Name, repo.ErrConflict)
	}
	return d.commitWithEvents(ctx, tx)
}

const tokenCols = `name, hash, scopes, created, expires, last_used`

func scanToken(s pgx.Row) (*catalog.Token, error) {
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
	t, err := scanToken(d.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("token: %w", repo.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	return t, nil
}

// Tokens implements catalog.TokenStore.
func (d *DB) Tokens(ctx context.Context) ([]catalog.Token, error) {
	rows, err := d.pool.Query(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY name COLLATE "C"`)
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
	tx, err := d.begin(ctx)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", name, err)
	}
	defer rollback(tx)
	tag, err := tx.Exec(ctx, `DELETE FROM tokens WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("token %s: %w", name, repo.ErrNotFound)
	}
	return d.commitWithEvents(ctx, tx)
}

// TouchToken implements catalog.TokenStore. It never moves LastUsed back.
func (d *DB) TouchToken(ctx context.Context, name string, at time.Time) error {
	if _, err := d.pool.Exec(ctx, `UPDATE tokens SET last_used = $1 WHERE name = $2 AND last_used < $1`, at.Unix(), name); err != nil {
		return fmt.Errorf("touch token %s: %w", name, err)
	}
	return nil
}
