package postgres

import (
	"fmt"
	"testing"

	"github.com/pierhq/pier/internal/pgtest"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/locktest"
)

// TestLocker runs the lock suite against PostgreSQL advisory locks: each
// handle is another Locker (its own session, as another node has); a crash
// terminates the handle's server session, as a dead node's connection
// ends.
func TestLocker(t *testing.T) {
	srv := pgtest.Start(t)
	locktest.Run(t, locktest.Impl{
		New: func(t *testing.T) func() repo.Locker {
			db := openAt(t, srv.NewDatabase(t), Options{})
			return func() repo.Locker {
				l := db.Locker()
				t.Cleanup(func() { l.Close() })
				return l
			}
		},
		Crash: func(t *testing.T, l repo.Locker) {
			pid := l.(*Locker).backendPID()
			if pid == 0 {
				t.Fatal("the crashed locker has no session")
			}
			if err := srv.Exec(t.Context(), "postgres", fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid)); err != nil {
				t.Fatal(err)
			}
		},
	})
}
