package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/pierhq/pier/audit"
)

// execer runs a statement: the database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertAudit appends e to the audit table through x and sets e.ID (and
// e.Time when zero).
func insertAudit(ctx context.Context, x execer, e *audit.Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
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
func commitWithEvents(ctx context.Context, tx *sql.Tx) error {
	evs := audit.Events(ctx)
	for _, e := range evs {
		if err := insertAudit(ctx, tx, e); err != nil {
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
