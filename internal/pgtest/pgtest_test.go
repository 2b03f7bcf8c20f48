package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestServer: the server answers on its DSN, gives out separate databases,
// stops by its PID (connections then fail) and restarts with its data.
func TestServer(t *testing.T) {
	s := Start(t)
	ctx := t.Context()
	a, b := s.NewDatabase(t), s.NewDatabase(t)
	if a == b || DatabaseOf(a) == DatabaseOf(b) {
		t.Fatalf("two databases share a DSN: %s %s", a, b)
	}
	if err := s.Exec(ctx, DatabaseOf(a), `CREATE TABLE x (v int); INSERT INTO x VALUES (42)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, DatabaseOf(b), `SELECT * FROM x`); err == nil {
		t.Error("a table of one database is visible in another")
	}
	pid := s.PID()
	if pid == 0 {
		t.Fatal("no PID")
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.Connect(ctx, a); err == nil {
		t.Fatal("connected to a stopped server")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var v int
	if err := c.QueryRow(ctx, `SELECT v FROM x`).Scan(&v); err != nil || v != 42 {
		t.Errorf("after restart: %d %v", v, err)
	}
}
