package sqlite

import (
	"context"
	"testing"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// TestEventsInTheChangeTransaction: an audit event carried by the context
// of a change is written in the change's transaction, once; a call that
// changes nothing writes nothing; and when the event cannot be written the
// change does not happen either (the bug: an upload committed while its
// event was lost on a full disk).
func TestEventsInTheChangeTransaction(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	ti, err := db.Target(ctx, repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}, "deb")
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		evs, err := db.AuditEvents(ctx, audit.Query{})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	ev := &audit.Event{Actor: "ci", Action: audit.Upload}
	if _, added, err := db.AddPackage(audit.WithEvent(ctx, ev), ti.ID, pkg("a", "1", "aa")); err != nil || !added {
		t.Fatalf("add: %v %v", added, err)
	}
	if !ev.Recorded() || count() != 1 {
		t.Fatalf("event recorded %v, %d events", ev.Recorded(), count())
	}
	// The same context again: the event is not written twice.
	if _, _, err := db.AddPackage(audit.WithEvent(ctx, ev), ti.ID, pkg("b", "1", "bb")); err != nil || count() != 1 {
		t.Fatalf("second change with a recorded event: %v, %d events", err, count())
	}
	// Nothing changes: nothing written.
	same := &audit.Event{Actor: "ci", Action: audit.Upload}
	if _, added, err := db.AddPackage(audit.WithEvent(ctx, same), ti.ID, pkg("a", "1", "aa")); err != nil || added || same.Recorded() {
		t.Fatalf("identical re-add: added %v, recorded %v, err %v", added, same.Recorded(), err)
	}
	// The audit table refuses writes: the change is refused with it.
	if _, err := db.db.ExecContext(ctx, `CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END`); err != nil {
		t.Fatal(err)
	}
	lost := &audit.Event{Actor: "ci", Action: audit.Upload}
	if _, _, err := db.AddPackage(audit.WithEvent(ctx, lost), ti.ID, pkg("c", "1", "cc")); err == nil {
		t.Fatal("a change whose event cannot be written succeeded")
	}
	if lost.Recorded() {
		t.Error("an event of a rolled back change counts as recorded")
	}
	if _, err := db.FindPackage(ctx, ti.ID, "c", "1", "amd64"); err == nil {
		t.Error("the change whose event could not be written was committed")
	}
	for name, fn := range map[string]func(context.Context) error{
		"delete":     func(ctx context.Context) error { return db.DeletePackage(ctx, ti.ID, "a", "1", "amd64") },
		"pin":        func(ctx context.Context) error { return db.SetPin(ctx, ti.ID, "a", "1", true) },
		"generation": func(ctx context.Context) error { return db.AddGeneration(ctx, ti.ID, &repo.Generation{Manifest: "m"}) },
		"remove":     func(ctx context.Context) error { return db.RemovePackages(ctx, ti.ID, []int64{1}) },
		"token create": func(ctx context.Context) error {
			return db.CreateToken(ctx, &catalog.Token{Name: "ci", Hash: "h", Scopes: []string{"read"}})
		},
	} {
		if err := fn(audit.WithEvent(ctx, &audit.Event{Action: name})); err == nil {
			t.Errorf("%s succeeded without its audit event", name)
		}
	}
	if _, err := db.FindPackage(ctx, ti.ID, "a", "1", "amd64"); err != nil {
		t.Errorf("a delete whose event could not be written removed the package: %v", err)
	}
	if toks, _ := db.Tokens(ctx); len(toks) != 0 {
		t.Errorf("a token whose event could not be written is there: %v", toks)
	}
	if pins, _ := db.Pins(ctx, ti.ID); len(pins) != 0 {
		t.Errorf("a pin whose event could not be written is there: %v", pins)
	}
}
