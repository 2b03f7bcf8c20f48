package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/pierhq/pier/repo/catalog"
	"github.com/pierhq/pier/repo/catalog/catalogtest"
)

// TestConformance runs the catalog conformance suite against SQLite: each
// subtest gets a new database file, and every handle is another
// connection pool on it, as another process would open it.
func TestConformance(t *testing.T) {
	catalogtest.Run(t, catalogtest.Impl{
		New: func(t *testing.T, now func() time.Time) func() catalog.Store {
			path := filepath.Join(t.TempDir(), "catalog.db")
			return func() catalog.Store {
				return openAt(t, path, Options{Now: now})
			}
		},
		BreakAudit: func(t *testing.T, s catalog.Store) {
			if _, err := s.(*DB).db.ExecContext(t.Context(),
				`CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END`); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// openAt opens the catalog at path, closed when t ends.
func openAt(t *testing.T, path string, opts Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
