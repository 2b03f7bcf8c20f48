package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// authSchema holds the tables of API tokens and the audit log. Tokens are
// stored as their SHA-256 only. Times are unix seconds (tokens; 0: none)
// and unix nanoseconds (audit).
const authSchema = `
CREATE TABLE IF NOT EXISTS tokens (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	hash TEXT NOT NULL UNIQUE,
	scopes TEXT NOT NULL,
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL DEFAULT 0,
	last_used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS audit (
	id INTEGER PRIMARY KEY,
	time INTEGER NOT NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	target TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT '',
	remote TEXT NOT NULL DEFAULT '',
	ci_job_url TEXT NOT NULL DEFAULT '',
	ci_commit TEXT NOT NULL DEFAULT '',
	request_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_target ON audit (target, id);
CREATE INDEX IF NOT EXISTS audit_action ON audit (action, id);
`

var (
	_ auth.Store  = (*DB)(nil)
	_ audit.Store = (*DB)(nil)
)

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

// CreateToken implements auth.Store.
func (d *DB) CreateToken(ctx context.Context, t *auth.Token) error {
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
	return commitWithEvents(ctx, tx)
}

const tokenCols = `name, hash, scopes, created, expires, last_used`

func scanToken(s interface{ Scan(...any) error }) (*auth.Token, error) {
	var t auth.Token
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

// TokenByHash implements auth.Store.
func (d *DB) TokenByHash(ctx context.Context, hash string) (*auth.Token, error) {
	t, err := scanToken(d.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("token: %w", repo.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	return t, nil
}

// Tokens implements auth.Store.
func (d *DB) Tokens(ctx context.Context) ([]auth.Token, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []auth.Token
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

// DeleteToken implements auth.Store.
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
	return commitWithEvents(ctx, tx)
}

// TouchToken implements auth.Store. It never moves LastUsed back.
func (d *DB) TouchToken(ctx context.Context, name string, at time.Time) error {
	if _, err := d.db.ExecContext(ctx, `UPDATE tokens SET last_used = ? WHERE name = ? AND last_used < ?`,
		at.Unix(), name, at.Unix()); err != nil {
		return fmt.Errorf("touch token %s: %w", name, err)
	}
	return nil
}

// RecordAudit implements audit.Store.
func (d *DB) RecordAudit(ctx context.Context, e *audit.Event) error {
	return insertAudit(ctx, d.db, e)
}

// AuditEvents implements audit.Store.
func (d *DB) AuditEvents(ctx context.Context, q audit.Query) ([]audit.Event, error) {
	var where []string
	var args []any
	if q.Target != "" {
		if strings.ContainsAny(q.Target, "*?[") {
			where, args = append(where, "target GLOB ?"), append(args, q.Target)
		} else {
			where, args = append(where, "target = ?"), append(args, q.Target)
		}
	}
	if q.Action != "" {
		where, args = append(where, "action = ?"), append(args, q.Action)
	}
	if q.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, q.Actor)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "time >= ?"), append(args, q.Since.UnixNano())
	}
	limit := q.Limit
	if limit <= 0 {
		limit = audit.DefaultLimit
	}
	limit = min(limit, audit.MaxLimit)
	query := `SELECT id, time, actor, action, target, detail, remote, ci_job_url, ci_commit, request_id FROM audit`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := d.db.QueryContext(ctx, query+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		var e audit.Event
		var ns int64
		var detail string
		if err := rows.Scan(&e.ID, &ns, &e.Actor, &e.Action, &e.Target, &detail, &e.Remote, &e.CIJobURL, &e.CICommit, &e.RequestID); err != nil {
			return nil, fmt.Errorf("list audit events: %w", err)
		}
		e.Time = time.Unix(0, ns).UTC()
		if detail != "" {
			e.Detail = json.RawMessage(detail)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
}
