package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/repo"
)

// Locker is the cluster's repo.Locker: PostgreSQL session-level advisory
// locks (pg_advisory_lock / pg_advisory_lock_shared, keyed by a hash of the
// name) held on one dedicated connection per node. Inside the node, a
// reader/writer lock per name decides which goroutine holds it, and the
// node holds the advisory lock while any of its goroutines does: so two
// goroutines of one node exclude each other as two nodes do.
//
// A node that dies (its process, or its connection) loses its session and
// with it every advisory lock it held: PostgreSQL releases them at once.
// Waits poll pg_try_advisory_lock (1 ms doubling to 50 ms), never block
// in the server: a cancelled statement would cost the session and every
// lock on it. If the session breaks while locks are held, the holders are
// not told: they go on until they release (their catalog writes still go
// through the catalog's own transactions and target row locks), and the
// next lock opens a new session.
type Locker struct {
	cfg *pgx.ConnConfig

	mu    sync.Mutex
	names map[string]*lockState

	connMu sync.Mutex // serializes statements on conn
	conn   *pgx.Conn  // the session holding the advisory locks
}

var _ repo.Locker = (*Locker)(nil)

// lockState is one name's holders in this node.
type lockState struct {
	readers int
	writer  bool
	busy    bool          // a goroutine is taking or dropping the advisory lock
	wake    chan struct{} // closed when the state changes
}

// maxPoll bounds the pause between two attempts at a held lock.
const maxPoll = 50 * time.Millisecond

// Locker returns a lock service on the catalog's database. Each call
// returns another handle with its own session, as another node has.
func (d *DB) Locker() *Locker {
	return &Locker{cfg: d.pool.Config().ConnConfig.Copy(), names: map[string]*lockState{}}
}

// Close ends the session, releasing every lock the handle holds.
func (l *Locker) Close() error {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	if l.conn == nil {
		return nil
	}
	err := l.conn.Close(context.Background())
	l.conn = nil
	return err
}

// lockKey maps a name to its advisory lock key.
func lockKey(name string) int64 {
	h := sha256.Sum256([]byte("pier-lock:" + name))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// Lock implements repo.Locker.
func (l *Locker) Lock(ctx context.Context, name string, exclusive bool) (func(), error) {
	release, _, err := l.take(ctx, name, exclusive, true)
	return release, err
}

// TryLock implements repo.Locker.
func (l *Locker) TryLock(ctx context.Context, name string, exclusive bool) (func(), bool, error) {
	return l.take(ctx, name, exclusive, false)
}

func (l *Locker) take(ctx context.Context, name string, exclusive, wait bool) (func(), bool, error) {
	if !repo.LockNameRE.MatchString(name) {
		return nil, false, fmt.Errorf("lock name %q: %w", name, repo.ErrInvalid)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, false, fmt.Errorf("take %s lock: %w", name, err)
		}
		l.mu.Lock()
		st := l.names[name]
		if st == nil {
			st = &lockState{wake: make(chan struct{})}
			l.names[name] = st
		}
		switch {
		case st.busy || st.writer || (exclusive && st.readers > 0):
			// Held in this node (or changing hands): wait for a change.
			if !wait {
				l.mu.Unlock()
				return nil, false, nil
			}
			ch := st.wake
			l.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-ch:
			}
			continue
		case !exclusive && st.readers > 0:
			// The node holds it shared already.
			st.readers++
			l.mu.Unlock()
			return l.releaser(name, false), true, nil
		}
		st.busy = true
		l.mu.Unlock()
		ok, err := l.advisory(ctx, name, exclusive, wait)
		l.mu.Lock()
		st.busy = false
		if ok {
			if exclusive {
				st.writer = true
			} else {
				st.readers = 1
			}
		}
		l.changed(name, st)
		l.mu.Unlock()
		if err != nil || !ok {
			return nil, false, err
		}
		return l.releaser(name, exclusive), true, nil
	}
}

// changed wakes the waiters of st and forgets an idle name. l.mu is held.
func (l *Locker) changed(name string, st *lockState) {
	close(st.wake)
	st.wake = make(chan struct{})
	if !st.busy && !st.writer && st.readers == 0 {
		delete(l.names, name)
	}
}

// releaser returns the release function of one holder of name.
func (l *Locker) releaser(name string, exclusive bool) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			st := l.names[name]
			if exclusive {
				st.writer = false
			} else {
				st.readers--
			}
			if st.writer || st.readers > 0 {
				l.mu.Unlock()
				return
			}
			st.busy = true
			l.mu.Unlock()
			l.unlockAdvisory(name, exclusive)
			l.mu.Lock()
			st.busy = false
			l.changed(name, st)
			l.mu.Unlock()
		})
	}
}

// advisory takes name's advisory lock on the session, polling while
// another node holds it (if wait) until ctx ends.
func (l *Locker) advisory(ctx context.Context, name string, exclusive, wait bool) (bool, error) {
	fn := "pg_try_advisory_lock_shared"
	if exclusive {
		fn = "pg_try_advisory_lock"
	}
	pause := time.Millisecond
	for {
		var ok bool
		err := l.session(func(c *pgx.Conn, sctx context.Context) error {
			return c.QueryRow(sctx, `SELECT `+fn+`($1)`, lockKey(name)).Scan(&ok)
		})
		if err != nil {
			return false, fmt.Errorf("take %s lock: %w", name, err)
		}
		if ok || !wait {
			return ok, nil
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, fmt.Errorf("take %s lock: %w", name, ctx.Err())
		case <-t.C:
		}
		pause = min(2*pause, maxPoll)
	}
}

// unlockAdvisory drops name's advisory lock. A failure (the session broke,
// which released it anyway) only closes the session.
func (l *Locker) unlockAdvisory(name string, exclusive bool) {
	fn := "pg_advisory_unlock_shared"
	if exclusive {
		fn = "pg_advisory_unlock"
	}
	l.session(func(c *pgx.Conn, sctx context.Context) error {
		_, err := c.Exec(sctx, `SELECT `+fn+`($1)`, lockKey(name))
		return err
	})
}

// session runs fn on the lock session, opening it when needed. Statements
// run on their own short context, never the caller's: cancelling a
// statement would break the session and drop every lock on it. When fn
// fails the session is closed (its locks are gone with it); when it
// failed on a session opened earlier (the server restarted, the
// connection broke while idle), fn runs once more on a new one.
func (l *Locker) session(fn func(c *pgx.Conn, ctx context.Context) error) error {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for attempt := 0; ; attempt++ {
		fresh := l.conn == nil
		if fresh {
			c, err := pgx.ConnectConfig(ctx, l.cfg)
			if err != nil {
				return fmt.Errorf("open lock session: %w", err)
			}
			l.conn = c
		}
		err := fn(l.conn, ctx)
		if err == nil {
			return nil
		}
		l.conn.Close(context.Background())
		l.conn = nil
		if fresh || attempt > 0 {
			return err
		}
	}
}

// backendPID is the server process of the lock session (tests kill it to
// simulate a dead node); 0 when there is none.
func (l *Locker) backendPID() uint32 {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	if l.conn == nil {
		return 0
	}
	return l.conn.PgConn().PID()
}
