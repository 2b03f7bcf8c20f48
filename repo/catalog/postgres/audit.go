package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/audit"
)

var _ audit.Store = (*DB)(nil)

// execQuerier runs a statement returning a row: the pool or a transaction.
type execQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// insertAudit appends e to the audit table through q and sets e.ID (and
// e.Time, from the catalog's clock, when zero).
func (d *DB) insertAudit(ctx context.Context, q execQuerier, e *audit.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("record audit event %s: %w", e.Action, err)
	}
	if e.Time.IsZero() {
		e.Time = d.now()
	}
	e.Time = e.Time.UTC()
	if err := q.QueryRow(ctx, `INSERT INTO audit (time, actor, action, target, detail, remote, ci_job_url, ci_commit, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`, e.Time.UnixNano(), e.Actor, e.Action, e.Target, string(e.Detail),
		e.Remote, e.CIJobURL, e.CICommit, e.RequestID).Scan(&e.ID); err != nil {
		e.ID = 0
		return fmt.Errorf("record audit event %s: %w", e.Action, err)
	}
	return nil
}

// RecordAudit implements audit.Store.
func (d *DB) RecordAudit(ctx context.Context, e *audit.Event) error {
	return d.insertAudit(ctx, d.pool, e)
}

// globRegexp translates a glob as SQLite's GLOB reads it (what the SQLite
// catalog matches targets with: * any run of characters, "/" included; ?
// one character; [...] a class, [^...] its complement; case sensitive) into an anchored POSIX regular expression.
func globRegexp(glob string) string {
	var b strings.Builder
	b.WriteByte('^')
	rs := []rune(glob)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteByte('.')
		case '[':
			j := i + 1
			if j < len(rs) && rs[j] == '^' {
				j++
			}
			if j < len(rs) && rs[j] == ']' {
				j++
			}
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j >= len(rs) {
				b.WriteString(`\[`) // no closing bracket: a literal
				continue
			}
			class := rs[i+1 : j]
			b.WriteByte('[')
			if len(class) > 0 && class[0] == '^' {
				b.WriteByte('^')
				class = class[1:]
			}
			for _, r := range class {
				if r == '\\' || r == '[' {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
			b.WriteByte(']')
			i = j
		default:
			if strings.ContainsRune(`\.+()|{}^$]`, c) {
				b.WriteByte('\\')
			}
			b.WriteRune(c)
		}
	}
	b.WriteByte('$')
	return b.String()
}

// AuditEvents implements audit.Store.
func (d *DB) AuditEvents(ctx context.Context, q audit.Query) ([]audit.Event, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Target != "" {
		if strings.ContainsAny(q.Target, "*?[") {
			where = append(where, "target ~ "+arg(globRegexp(q.Target)))
		} else {
			where = append(where, "target = "+arg(q.Target))
		}
	}
	if q.Action != "" {
		where = append(where, "action = "+arg(q.Action))
	}
	if q.Actor != "" {
		where = append(where, "actor = "+arg(q.Actor))
	}
	if !q.Since.IsZero() {
		where = append(where, "time >= "+arg(q.Since.UnixNano()))
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
	rows, err := d.pool.Query(ctx, query+` ORDER BY id DESC LIMIT `+arg(limit), args...)
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
