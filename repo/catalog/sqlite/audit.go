package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pierhq/pier/audit"
)

// auditSchema holds the audit log. Times are unix nanoseconds.
const auditSchema = `
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

var _ audit.Store = (*DB)(nil)

// execer runs a statement: the database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertAudit appends e to the audit table through x and sets e.ID (and
// e.Time, from the catalog's clock, when zero).
func (d *DB) insertAudit(ctx context.Context, x execer, e *audit.Event) error {
	if e.Time.IsZero() {
		e.Time = d.now()
	}
	e.Time = e.Time.UTC()
	res, err := x.ExecContext(ctx, `INSERT INTO audit (time, actor, action, target, detail, remote, ci_job_url, ci_commit, request_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Time.UnixNano(), e.Actor, e.Action, e.Target, string(e.Detail), e.Remote,
		e.CIJobURL, e.CICommit, e.RequestID)
	if err != nil {
		return fmt.Errorf("record audit event %s: %w", e.Action, err)
	}
	if e.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("record audit event %s: %w", e.Action, err)
	}
	return nil
}

// commitWithEvents writes the audit events ctx carries (audit.WithEvent)
// into tx, then commits: a change and its record are committed together or
// not at all. When the commit fails the events count as unrecorded again.
func (d *DB) commitWithEvents(ctx context.Context, tx *sql.Tx) error {
	evs := audit.Events(ctx)
	for _, e := range evs {
		if err := d.insertAudit(ctx, tx, e); err != nil {
			unrecord(evs)
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		unrecord(evs)
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func unrecord(evs []*audit.Event) {
	for _, e := range evs {
		e.ID = 0
	}
}

// setEvents adds key=v to the detail of every unrecorded event ctx
// carries: what only the change knows (the generation a publish made).
func setEvents(ctx context.Context, key string, v any) {
	for _, e := range audit.Events(ctx) {
		e.Set(key, v)
	}
}

// RecordAudit implements audit.Store.
func (d *DB) RecordAudit(ctx context.Context, e *audit.Event) error {
	return d.insertAudit(ctx, d.db, e)
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
