// Package audit is Pier's record of who changed what: every upload,
// delete, publish, promote, rollback, pin, prune, garbage collection and
// token change, with the token name (or "cli:<user>" for the command line),
// the time, the client address, the request id and the CI job and commit
// the client named. The catalog stores the events (Store).
package audit

import (
	"context"
	"encoding/json"
	"time"
)

// Actions recorded in the log.
const (
	Upload      = "upload"
	Delete      = "delete"
	Publish     = "publish"
	Promote     = "promote"
	Rollback    = "rollback"
	Pin         = "pin"
	Unpin       = "unpin"
	Prune       = "prune"
	GC          = "gc"
	TokenCreate = "token.create"
	TokenRevoke = "token.revoke"
)

// TargetRemove is the removal of a whole target (its packages, generations
// and pins).
const TargetRemove = "target.remove"

// Event is one recorded change.
type Event struct {
	ID   int64     `json:"id"`
	Time time.Time `json:"time"`
	// Actor is the token's name, or "cli:<user>" for the command line.
	Actor  string `json:"actor"`
	Action string `json:"action"`
	// Target is "stream/distro/release", empty for actions on no target.
	Target string `json:"target,omitempty"`
	// Detail is JSON: what exactly (package, outcome, token scopes…).
	Detail json.RawMessage `json:"detail,omitempty"`
	// Remote is the client's address (empty for the command line).
	Remote string `json:"remote,omitempty"`
	// CIJobURL and CICommit are what the client sent in the
	// X-Pier-CI-Job-URL and X-Pier-CI-Commit headers.
	CIJobURL  string `json:"ci_job_url,omitempty"`
	CICommit  string `json:"ci_commit,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// Query selects events. Zero fields select everything.
type Query struct {
	// Target is a target, or a pattern with * ? and [...] (as SQLite's
	// GLOB, where * also matches "/").
	Target string
	Action string
	Actor  string
	// Since selects events at or after it.
	Since time.Time
	// Limit is how many of the newest matching events to return (default
	// DefaultLimit, at most MaxLimit).
	Limit int
}

// Limits of Query.Limit.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// Store records and lists events. Every catalog implementation
// (repo/catalog) implements it, and also writes the events a context
// carries (WithEvent) in the transaction of the change they record.
type Store interface {
	// RecordAudit appends e; it sets e.ID, and e.Time when zero.
	RecordAudit(ctx context.Context, e *Event) error
	// AuditEvents returns the newest events matching q, newest first.
	AuditEvents(ctx context.Context, q Query) ([]Event, error)
}

// Detail encodes v as an event's Detail; nil (or a value that does not
// encode) gives none.
func Detail(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return nil
	}
	return b
}

type eventsKey struct{}

// WithEvent returns a context that carries e to the store: the catalog
// writes every event ctx carries in the same transaction as the change
// made with ctx (once; Recorded tells afterwards), so a change and its
// record are committed together or not at all.
func WithEvent(ctx context.Context, e *Event) context.Context {
	if e == nil {
		return ctx
	}
	evs, _ := ctx.Value(eventsKey{}).([]*Event)
	return context.WithValue(ctx, eventsKey{}, append(evs[:len(evs):len(evs)], e))
}

// Events returns the events ctx carries that are not recorded yet.
func Events(ctx context.Context) []*Event {
	evs, _ := ctx.Value(eventsKey{}).([]*Event)
	var out []*Event
	for _, e := range evs {
		if !e.Recorded() {
			out = append(out, e)
		}
	}
	return out
}

// Recorded reports whether a store has written e (it has an ID).
func (e *Event) Recorded() bool { return e.ID != 0 }

// Set adds key=v to e's Detail (a JSON object), replacing the key if it is
// there: the store fills in what only the change itself knows (the
// generation a publish made).
func (e *Event) Set(key string, v any) {
	m := map[string]any{}
	if len(e.Detail) > 0 {
		if err := json.Unmarshal(e.Detail, &m); err != nil {
			m = map[string]any{"detail": e.Detail}
		}
	}
	m[key] = v
	e.Detail = Detail(m)
}
