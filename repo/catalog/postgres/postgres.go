// Package postgres is Pier's PostgreSQL catalog (github.com/jackc/pgx/v5),
// the one several Pier nodes share. It implements catalog.Store with the
// contracts of repo.Catalog, like repo/catalog/sqlite, and passes the same
// conformance suite (repo/catalog/catalogtest).
//
// The schema is versioned: Open applies the migrations this binary knows
// that the database lacks, in one transaction under an advisory lock (so
// nodes starting at once apply them once), and refuses a database whose
// schema is newer than the binary. Times are stored as integers (unix
// nanoseconds or seconds, as in SQLite) so that they round-trip exactly.
//
// Writers of one target serialize on the target's row (SELECT … FOR NO
// KEY UPDATE, the first statement of their transaction): revisions,
// generation numbers and the refusal of rows for a removed target's
// tombstone hold across every node.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// DB is the PostgreSQL catalog: a pool of connections to one database.
type DB struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var _ catalog.Store = (*DB)(nil)

// Options configure a catalog handle.
type Options struct {
	// Now is the clock of the times the catalog sets by itself (when a
	// package row was removed, a pin's creation, an audit event's time
	// when the caller left it zero); nil means time.Now.
	Now func() time.Time
	// MaxConns bounds the pool's connections (0: pgx's default, the larger
	// of 4 and the number of CPUs).
	MaxConns int32
}

// Open connects to the database at dsn (a postgres:// URL or key=value
// string), applies the schema migrations it lacks and returns the catalog.
// A database whose schema is newer than this binary knows is refused.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors quote the DSN, password included: never
		// pass them on.
		return nil, errors.New("open catalog: the PostgreSQL DSN does not parse")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open catalog on %s: %w", where(cfg.ConnConfig), err)
	}
	if err := migrate(ctx, pool, migrations()); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate catalog on %s: %w", where(cfg.ConnConfig), err)
	}
	return &DB{pool: pool, now: opts.Now}, nil
}

// where names the server and database of c for messages, without secrets.
func where(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s:%d/%s", c.Host, c.Port, c.Database)
}

// Close closes every connection of the pool.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping catalog: %w", err)
	}
	return nil
}

// Pool is the handle's connection pool, for the parts of a cluster that
// live beside the catalog in the same database (locks, shared keys).
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// begin starts a transaction; a done ctx fails it wrapping ctx.Err().
func (d *DB) begin(ctx context.Context) (pgx.Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return d.pool.Begin(ctx)
}

// rollback ends tx if it is still open (deferred after begin).
func rollback(tx pgx.Tx) { tx.Rollback(context.Background()) }

// commitWithEvents writes the audit events ctx carries (audit.WithEvent)
// into tx, then commits: a change and its record are committed together or
// not at all. When the commit fails the events count as unrecorded again.
func (d *DB) commitWithEvents(ctx context.Context, tx pgx.Tx) error {
	evs := audit.Events(ctx)
	for _, e := range evs {
		if err := d.insertAudit(ctx, tx, e); err != nil {
			unrecord(evs)
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
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

// lockTarget locks target id's row until tx ends: the writers of one
// target serialize on it (on every node), and a write for a removed
// target's tombstone, or a missing target, is refused.
func lockTarget(ctx context.Context, tx pgx.Tx, id int64) error {
	var stream string
	err := tx.QueryRow(ctx, `SELECT stream FROM targets WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&stream)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("target %d: %w", id, repo.ErrNotFound)
	case err != nil:
		return fmt.Errorf("lock target %d: %w", id, err)
	case (repo.Target{Stream: stream}).Removed():
		return fmt.Errorf("target %d was removed: %w", id, repo.ErrNotFound)
	}
	return nil
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// bumpRevision counts one change of target id's package set.
func bumpRevision(ctx context.Context, tx pgx.Tx, id int64) error {
	if _, err := tx.Exec(ctx, `UPDATE targets SET revision = revision + 1 WHERE id = $1`, id); err != nil {
		return fmt.Errorf("bump revision: %w", err)
	}
	return nil
}
