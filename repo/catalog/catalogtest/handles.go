package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// testClock: every time the catalog sets by itself comes from its clock:
// a pin's creation, a zero event time (RecordAudit, and events written
// with a change).
func testClock(t *testing.T, e *env) {
	ctx := t.Context()
	at := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	e.clock.set(at)
	id := e.target("5.8/debian/bookworm").ID
	if err := e.c.SetPin(ctx, id, "a", "1", true); err != nil {
		t.Fatal(err)
	}
	direct := &audit.Event{Actor: "ci", Action: "direct"}
	if err := e.c.RecordAudit(ctx, direct); err != nil {
		t.Fatal(err)
	}
	with := &audit.Event{Actor: "ci", Action: "with a change"}
	if _, _, err := e.c.AddPackage(audit.WithEvent(ctx, with), id, pkg("a", "1", "aa")); err != nil {
		t.Fatal(err)
	}
	pins, err := e.c.Pins(ctx, id)
	if err != nil || len(pins) != 1 || !pins[0].Created.Equal(at) {
		t.Errorf("pin: %+v %v, want created at %v", pins, err, at)
	}
	evs, err := e.c.AuditEvents(ctx, audit.Query{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("audit log: %+v %v", evs, err)
	}
	for _, ev := range evs {
		if !ev.Time.Equal(at) {
			t.Errorf("event %s at %v, want %v", ev.Action, ev.Time, at)
		}
	}
}

// testContextCanceled: a call with a ctx that is done fails with an error
// wrapping context.Canceled and changes nothing.
func testContextCanceled(t *testing.T, e *env) {
	id := e.target("5.8/debian/bookworm").ID
	a := e.add(id, pkg("a", "1", "aa"))
	rev := e.revision(id)
	done := ctxDone(t)
	for _, c := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Target", func(ctx context.Context) error { _, err := e.c.Target(ctx, tg("new/debian/x"), "deb"); return err }},
		{"Targets", func(ctx context.Context) error { _, err := e.c.Targets(ctx); return err }},
		{"Packages", func(ctx context.Context) error { _, err := e.c.Packages(ctx, id); return err }},
		{"AddPackage", func(ctx context.Context) error { _, _, err := e.c.AddPackage(ctx, id, pkg("b", "1", "bb")); return err }},
		{"DeletePackage", func(ctx context.Context) error { return e.c.DeletePackage(ctx, id, "a", "1", "amd64") }},
		{"RemovePackages", func(ctx context.Context) error { return e.c.RemovePackages(ctx, id, []int64{a.ID}) }},
		{"SetPin", func(ctx context.Context) error { return e.c.SetPin(ctx, id, "a", "1", true) }},
		{"AddGeneration", func(ctx context.Context) error { return e.c.AddGeneration(ctx, id, &repo.Generation{Manifest: "m"}) }},
		{"Collect", func(ctx context.Context) error { _, err := e.c.Collect(ctx, 1); return err }},
		{"CreateToken", func(ctx context.Context) error {
			return e.c.CreateToken(ctx, &catalog.Token{Name: "t", Hash: "h", Scopes: []string{"read"}})
		}},
		{"RecordAudit", func(ctx context.Context) error { return e.c.RecordAudit(ctx, &audit.Event{Actor: "x", Action: "y"}) }},
	} {
		if err := c.call(done); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled ctx: %v, want an error wrapping context.Canceled", c.name, err)
		}
	}
	ts, _ := e.c.Targets(t.Context())
	pins, _ := e.c.Pins(t.Context(), id)
	toks, _ := e.c.Tokens(t.Context())
	evs, _ := e.c.AuditEvents(t.Context(), audit.Query{})
	if len(ts) != 1 || e.revision(id) != rev || !slices.Equal(e.live(id), []string{"a 1 aa"}) || len(pins) != 0 || len(toks) != 0 ||
		len(evs) != 0 || e.head(id).Current != nil {
		t.Errorf("canceled calls changed the catalog: %d targets, revision %d (want %d), live %v, %d pins, %d tokens, %d events",
			len(ts), e.revision(id), rev, e.live(id), len(pins), len(toks), len(evs))
	}
}

// testConcurrentWriters: writers on two handles of one database (two
// processes share it that way) add packages, pins and events at once
// without losing any or failing on a lock.
func testConcurrentWriters(t *testing.T, e *env) {
	ctx := t.Context()
	handles := []catalog.Store{e.c, e.open()}
	id := e.target("s/debian/r").ID
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := handles[i%2]
			name := fmt.Sprintf("p%03d", i)
			ev := &audit.Event{Actor: "ci", Action: audit.Upload}
			if _, _, err := h.AddPackage(audit.WithEvent(ctx, ev), id, pkg(name, "1", "s"+name)); err != nil {
				errs <- err
			}
			if err := h.SetPin(ctx, id, name, "1", true); err != nil {
				errs <- err
			}
			if _, err := h.Heads(ctx); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, h := range handles {
		ps, err := h.Packages(ctx, id)
		pins, err2 := h.Pins(ctx, id)
		evs, err3 := h.AuditEvents(ctx, audit.Query{Limit: 2 * n})
		if err != nil || err2 != nil || err3 != nil || len(ps) != n || len(pins) != n || len(evs) != n {
			t.Errorf("handle %d sees %d packages, %d pins, %d events (%v %v %v), want %d each", i, len(ps), len(pins), len(evs), err, err2, err3, n)
		}
	}
	if r := e.revision(id); r != n {
		t.Errorf("revision %d after %d additions", r, n)
	}
}

// testDurable: what one handle committed, a handle opened after it closed
// reads back.
func testDurable(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/debian/bookworm").ID
	a := e.add(id, pkg("a", "1", "aa"))
	g := e.generation(id, "m1", a.ID)
	if err := e.c.SetPin(ctx, id, "a", "1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.ClaimAlias(ctx, "deb/5.8/dists/bookworm", id, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.c.CreateToken(ctx, &catalog.Token{Name: "ci", Hash: "h", Scopes: []string{"read"}, Created: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := e.c.RecordAudit(ctx, &audit.Event{Actor: "ci", Action: audit.Upload}); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Close(); err != nil {
		t.Fatal(err)
	}
	c := e.open()
	ti, err := c.Target(ctx, tg("5.8/debian/bookworm"), "deb")
	if err != nil || ti.ID != id || ti.Current == nil || ti.Current.Seq != g.Seq {
		t.Fatalf("target after reopening: %+v %v", ti, err)
	}
	p, err := c.FindPackage(ctx, id, "a", "1", "amd64")
	if err != nil || samePackage(p, a) != "" {
		t.Errorf("package after reopening: %+v %v", p, err)
	}
	pins, err1 := c.Pins(ctx, id)
	aliases, err2 := c.Aliases(ctx)
	tok, err3 := c.TokenByHash(ctx, "h")
	evs, err4 := c.AuditEvents(ctx, audit.Query{})
	gen, err5 := c.Generation(ctx, id, g.Seq)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		t.Fatal(err)
	}
	if len(pins) != 1 || aliases["deb/5.8/dists/bookworm"] != id || tok.Name != "ci" || len(evs) != 1 || !slices.Equal(gen.PackageIDs, []int64{a.ID}) {
		t.Errorf("after reopening: pins %+v, aliases %v, token %+v, events %+v, generation %+v", pins, aliases, tok, evs, gen)
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
