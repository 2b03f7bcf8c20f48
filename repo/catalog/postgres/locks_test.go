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

// TestLockerNewSession: when the lock session died while the node held no
// lock (the server restarted, the connection broke), the next lock opens a
// new session instead of failing.
func TestLockerNewSession(t *testing.T) {
	srv := pgtest.Start(t)
	db := openAt(t, srv.NewDatabase(t), Options{})
	l := db.Locker()
	defer l.Close()
	release, err := l.Lock(t.Context(), "gc", false)
	if err != nil {
		t.Fatal(err)
	}
	release()
	old := l.backendPID()
	if err := srv.Exec(t.Context(), "postgres", fmt.Sprintf("SELECT pg_terminate_backend(%d)", old)); err != nil {
		t.Fatal(err)
	}
	release, err = l.Lock(t.Context(), "gc", true)
	if err != nil {
		t.Fatalf("lock after the session died: %v", err)
	}
	release()
	if pid := l.backendPID(); pid == old || pid == 0 {
		t.Errorf("session %d after the old one (%d) died", pid, old)
	}
}
