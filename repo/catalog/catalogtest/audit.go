package catalogtest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// testAuditLog: RecordAudit keeps every field, sets the id (and the time
// from the catalog's clock when zero); AuditEvents selects by target (exact,
// or a glob whose * crosses "/"), action, actor, time and count, newest
// first.
func testAuditLog(t *testing.T, e *env) {
	ctx := t.Context()
	base := time.Date(2024, 8, 1, 0, 0, 0, 123, time.UTC)
	events := []audit.Event{
		{Time: base, Actor: "ci", Action: audit.Upload, Target: "5.8/debian/bookworm", Detail: audit.Detail(map[string]any{"name": "a", "status": 201}),
			Remote: "10.0.0.1", CIJobURL: "https://ci.example/job/1", CICommit: "abc", RequestID: "r1"},
		{Time: base.Add(time.Second), Actor: "ci", Action: audit.Upload, Target: "5.8/el/9"},
		{Time: base.Add(2 * time.Second), Actor: "admin", Action: audit.Delete, Target: "5.7/debian/bookworm"},
		{Actor: "cli:root", Action: audit.TokenCreate}, // time from the clock
	}
	e.clock.set(base.Add(3 * time.Second))
	var last int64
	for i := range events {
		if err := e.c.RecordAudit(ctx, &events[i]); err != nil || events[i].ID <= last {
			t.Fatalf("RecordAudit %d: id %d after %d, %v", i, events[i].ID, last, err)
		}
		last = events[i].ID
	}
	if !events[3].Time.Equal(base.Add(3 * time.Second)) {
		t.Errorf("a zero time became %v, want the clock's %v", events[3].Time, base.Add(3*time.Second))
	}
	all, err := e.c.AuditEvents(ctx, audit.Query{})
	if err != nil || len(all) != 4 {
		t.Fatalf("AuditEvents: %+v %v", all, err)
	}
	for i, got := range all {
		want := events[3-i]
		if got.ID != want.ID || !got.Time.Equal(want.Time) || got.Time.Location() != time.UTC || got.Actor != want.Actor ||
			got.Action != want.Action || got.Target != want.Target || string(got.Detail) != string(want.Detail) ||
			got.Remote != want.Remote || got.CIJobURL != want.CIJobURL || got.CICommit != want.CICommit || got.RequestID != want.RequestID {
			t.Errorf("AuditEvents[%d]: %+v, want %+v", i, got, want)
		}
	}
	if all[0].Detail != nil {
		t.Errorf("an event without detail came back with %q", all[0].Detail)
	}
	id := func(i int) int64 { return events[i].ID }
	for _, c := range []struct {
		q    audit.Query
		want []int64
	}{
		{audit.Query{Target: "5.8/el/9"}, []int64{id(1)}},
		{audit.Query{Target: "5.8/*"}, []int64{id(1), id(0)}},
		{audit.Query{Target: "*/bookworm"}, []int64{id(2), id(0)}},
		{audit.Query{Target: "5.[78]/debian/?ookworm"}, []int64{id(2), id(0)}},
		{audit.Query{Target: "5.8"}, nil},
		{audit.Query{Action: audit.Upload}, []int64{id(1), id(0)}},
		{audit.Query{Actor: "admin"}, []int64{id(2)}},
		{audit.Query{Since: base.Add(2 * time.Second)}, []int64{id(3), id(2)}},
		{audit.Query{Limit: 1}, []int64{id(3)}},
		{audit.Query{Action: audit.Upload, Target: "5.7/*"}, nil},
		{audit.Query{Action: audit.Upload, Actor: "ci", Since: base.Add(time.Second), Target: "5.8/*"}, []int64{id(1)}},
	} {
		got, err := e.c.AuditEvents(ctx, c.q)
		var ids []int64
		for _, ev := range got {
			ids = append(ids, ev.ID)
		}
		if err != nil || !slices.Equal(ids, c.want) {
			t.Errorf("AuditEvents(%+v): %v %v, want %v", c.q, ids, err, c.want)
		}
	}
	// The default limit.
	for i := range audit.DefaultLimit {
		if err := e.c.RecordAudit(ctx, &audit.Event{Actor: "bulk", Action: audit.Publish, Target: fmt.Sprint("s/d/", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := e.c.AuditEvents(ctx, audit.Query{}); err != nil || len(got) != audit.DefaultLimit || got[0].Target != "s/d/99" {
		t.Errorf("AuditEvents without a limit: %d events, %v", len(got), err)
	}
}

// change is one call that changes the catalog and must write the audit
// events of its ctx with the change.
type change struct {
	name string
	// prepare sets the catalog up (without events) and returns the call.
	prepare func(e *env) func(ctx context.Context) error
	// happened reports whether the change is visible.
	happened func(e *env) bool
	// detail are the keys the catalog fills into the events.
	detail map[string]float64
}

// changes lists every call that writes the events of its ctx.
func changes() []change {
	const tname = "5.8/debian/bookworm"
	live := func(e *env) int { return len(e.live(e.target(tname).ID)) }
	return []change{
		{name: "AddPackage",
			prepare: func(e *env) func(context.Context) error {
				id := e.target(tname).ID
				return func(ctx context.Context) error { _, _, err := e.c.AddPackage(ctx, id, pkg("a", "1", "aa")); return err }
			},
			happened: func(e *env) bool { return live(e) == 1 }},
		{name: "AddPackages",
			prepare: func(e *env) func(context.Context) error {
				id := e.target(tname).ID
				return func(ctx context.Context) error {
					_, err := e.c.AddPackages(ctx, id, []*repo.Package{pkg("a", "1", "aa"), pkg("b", "1", "bb")})
					return err
				}
			},
			happened: func(e *env) bool { return live(e) == 2 }},
		{name: "AddPackageSet",
			prepare: func(e *env) func(context.Context) error {
				id := e.target(tname).ID
				return func(ctx context.Context) error {
					_, err := e.c.AddPackageSet(ctx, id, []*repo.Package{pkg("a", "1", "aa"), pkg("b", "1", "bb")})
					return err
				}
			},
			happened: func(e *env) bool { return live(e) == 2 }},
		{name: "DeletePackage",
			prepare: func(e *env) func(context.Context) error {
				id := e.target(tname).ID
				e.add(id, pkg("a", "1", "aa"))
				return func(ctx context.Context) error { return e.c.DeletePackage(ctx, id, "a", "1", "amd64") }
			},
			happened: func(e *env) bool { return live(e) == 0 }},
		{name: "RemovePackages",
			prepare: func(e *env) func(context.Context) error {
				id := e.target(tname).ID
				a := e.add(id, pkg("a", "1", "aa"))
				b := e.add(id, pkg("b", "1", "bb"))
				e.add(id, pkg("c", "1", "cc"))
				return func(ctx context.Context) error { return e.c.RemovePackages(ctx, id, []int64{a.ID, b.ID}) }
			},
			happened: func(e *env) bool { return live(e) == 1 },
			detail:   map[string]float64{"removed": 2}},
		{name: "SetLivePackages",
			prepare: func(e *env) func(context.Context) error {
				id := e.target(tname).ID
				a := e.add(id, pkg("a", "1", "aa"))
				e.add(id, pkg("b", "1", "bb"))
				return func(ctx context.Context) error { return e.c.SetLivePackages(ctx, id, []int64{a.ID}) }
			},
			happened: func(e *env) bool { return live(e) == 1 }},
		{name: "SetPin on",
			prepare: func(e *env) func(context.Context) error {
				id := e.target(tname).ID
				return func(ctx context.Context) error { return e.c.SetPin(ctx, id, "a", "1", true) }
			},
			happened: func(e *env) bool { ps, _ := e.c.Pins(e.t.Context(), e.target(tname).ID); return len(ps) == 1 }},
		{name: "SetPin off",
			prepare: func(e *env) func(context.Context) error {
				id := e.target(tname).ID
				if err := e.c.SetPin(e.t.Context(), id, "a", "1", true); err != nil {
					e.t.Fatal(err)
				}
				return func(ctx context.Context) error { return e.c.SetPin(ctx, id, "a", "1", false) }
			},
			happened: func(e *env) bool { ps, _ := e.c.Pins(e.t.Context(), e.target(tname).ID); return len(ps) == 0 }},
		{name: "AddGeneration",
			prepare: func(e *env) func(context.Context) error {
				id := e.target(tname).ID
				a := e.add(id, pkg("a", "1", "aa"))
				e.generation(id, "m1", a.ID)
				return func(ctx context.Context) error {
					return e.c.AddGeneration(ctx, id, &repo.Generation{Created: e.clock.Now(), Manifest: "m2", Packages: 1, PackageIDs: []int64{a.ID}})
				}
			},
			happened: func(e *env) bool { c := e.head(e.target(tname).ID).Current; return c != nil && c.Seq == 2 },
			detail:   map[string]float64{"generation": 2, "packages": 1}},
		{name: "Collect",
			prepare: func(e *env) func(context.Context) error {
				id := e.target(tname).ID
				a := e.add(id, pkg("a", "1", "aa"))
				e.generation(id, "m1", a.ID)
				if err := e.c.DeletePackage(e.t.Context(), id, "a", "1", "amd64"); err != nil {
					e.t.Fatal(err)
				}
				e.generation(id, "m2")
				return func(ctx context.Context) error { _, err := e.c.Collect(ctx, 1); return err }
			},
			happened: func(e *env) bool {
				gs, _ := e.c.Generations(e.t.Context(), e.target(tname).ID, 10)
				return len(gs) == 1
			},
			detail: map[string]float64{"generations": 1, "packages": 1}},
		{name: "CreateToken",
			prepare: func(e *env) func(context.Context) error {
				return func(ctx context.Context) error {
					return e.c.CreateToken(ctx, &catalog.Token{Name: "ci", Hash: "h", Scopes: []string{"read"}, Created: e.clock.Now()})
				}
			},
			happened: func(e *env) bool { _, err := e.c.TokenByHash(e.t.Context(), "h"); return err == nil }},
		{name: "DeleteToken",
			prepare: func(e *env) func(context.Context) error {
				if err := e.c.CreateToken(e.t.Context(), &catalog.Token{Name: "ci", Hash: "h", Scopes: []string{"read"}, Created: e.clock.Now()}); err != nil {
					e.t.Fatal(err)
				}
				return func(ctx context.Context) error { return e.c.DeleteToken(ctx, "ci") }
			},
			happened: func(e *env) bool { _, err := e.c.TokenByHash(e.t.Context(), "h"); return err != nil }},
	}
}

// testAuditEventsWithChanges: every call that changes the catalog writes
// the events of its ctx in its transaction, filling in what only it
// knows; when the events cannot be written, the change does not happen and
// the events stay unrecorded (the bug this prevents: an upload committed
// while its record was lost on a full disk).
func testAuditEventsWithChanges(t *testing.T, e *env) {
	for _, c := range changes() {
		t.Run(c.name, func(t *testing.T) {
			t.Run("written", func(t *testing.T) {
				e := e.fresh(t)
				call := c.prepare(e)
				if c.happened(e) {
					t.Fatal("the change is visible before the call")
				}
				e.clock.set(time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC))
				ev1 := &audit.Event{Actor: "ci", Action: c.name, Target: "5.8/debian/bookworm", Detail: audit.Detail(map[string]string{"k": "v"})}
				ev2 := &audit.Event{Actor: "ci", Action: c.name + " too", Time: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
				if err := call(audit.WithEvent(audit.WithEvent(t.Context(), ev1), ev2)); err != nil {
					t.Fatal(err)
				}
				if !c.happened(e) {
					t.Error("the change did not happen")
				}
				if !ev1.Recorded() || !ev2.Recorded() {
					t.Fatalf("events recorded: %v %v", ev1.Recorded(), ev2.Recorded())
				}
				got, err := e.c.AuditEvents(t.Context(), audit.Query{})
				if err != nil || len(got) != 2 {
					t.Fatalf("audit log: %+v %v", got, err)
				}
				byID := map[int64]audit.Event{got[0].ID: got[0], got[1].ID: got[1]}
				g1, g2 := byID[ev1.ID], byID[ev2.ID]
				if g1.Action != c.name || !g1.Time.Equal(e.clock.Now()) || g2.Action != c.name+" too" || !g2.Time.Equal(ev2.Time) {
					t.Errorf("logged %+v and %+v, want %s at the clock's time and %s at its own", g1, g2, c.name, c.name+" too")
				}
				var d map[string]any
				if err := json.Unmarshal(g1.Detail, &d); err != nil || d["k"] != "v" {
					t.Errorf("detail %s lost the caller's key: %v", g1.Detail, err)
				}
				for k, v := range c.detail {
					if d[k] != v {
						t.Errorf("detail %s: %s = %v, want %v", g1.Detail, k, d[k], v)
					}
				}
			})
			t.Run("refused", func(t *testing.T) {
				e := e.fresh(t)
				call := c.prepare(e)
				e.impl.BreakAudit(t, e.c)
				ev := &audit.Event{Actor: "ci", Action: c.name}
				if err := call(audit.WithEvent(t.Context(), ev)); err == nil {
					t.Fatal("the call succeeded without its audit event")
				}
				if ev.Recorded() {
					t.Error("the event of a failed change counts as recorded")
				}
				if c.happened(e) {
					t.Error("the change happened without its audit event")
				}
			})
		})
	}
}

// testNoChangeNoEvent: calls that change nothing (or only keep books)
// write no event, and an event already recorded is not written again.
func testNoChangeNoEvent(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/debian/bookworm").ID
	a := e.add(id, pkg("a", "1", "aa"))
	gone := e.add(id, pkg("gone", "1", "gg"))
	if err := e.c.RemovePackages(ctx, id, []int64{gone.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Collect(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.c.CreateToken(ctx, &catalog.Token{Name: "ci", Hash: "h", Scopes: []string{"read"}, Created: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	recorded := &audit.Event{Actor: "ci", Action: "first"}
	if _, _, err := e.c.AddPackage(audit.WithEvent(ctx, recorded), id, pkg("b", "1", "bb")); err != nil || !recorded.Recorded() {
		t.Fatalf("a first change: %v", err)
	}
	for _, c := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"AddPackage of the same upload", func(ctx context.Context) error { _, _, err := e.c.AddPackage(ctx, id, pkg("a", "1", "aa")); return err }},
		{"AddPackage in conflict", func(ctx context.Context) error { _, _, err := e.c.AddPackage(ctx, id, pkg("a", "1", "xx")); return err }},
		{"AddPackages adding nothing", func(ctx context.Context) error {
			_, err := e.c.AddPackages(ctx, id, []*repo.Package{pkg("a", "1", "aa"), pkg("a", "1", "xx")})
			return err
		}},
		{"AddPackages of nothing", func(ctx context.Context) error { _, err := e.c.AddPackages(ctx, id, nil); return err }},
		{"AddPackageSet of the same upload", func(ctx context.Context) error {
			_, err := e.c.AddPackageSet(ctx, id, []*repo.Package{pkg("a", "1", "aa")})
			return err
		}},
		{"AddPackageSet in conflict", func(ctx context.Context) error {
			_, err := e.c.AddPackageSet(ctx, id, []*repo.Package{pkg("c", "1", "cc"), pkg("a", "1", "xx")})
			return err
		}},
		{"DeletePackage of nothing", func(ctx context.Context) error { return e.c.DeletePackage(ctx, id, "zz", "1", "amd64") }},
		{"RemovePackages of no ids", func(ctx context.Context) error { return e.c.RemovePackages(ctx, id, nil) }},
		{"RemovePackages of removed rows", func(ctx context.Context) error { return e.c.RemovePackages(ctx, id, []int64{gone.ID}) }},
		{"SetLivePackages of a collected row", func(ctx context.Context) error { return e.c.SetLivePackages(ctx, id, []int64{a.ID, gone.ID}) }},
		{"SetPin off of nothing", func(ctx context.Context) error { return e.c.SetPin(ctx, id, "zz", "1", false) }},
		{"CreateToken of a taken name", func(ctx context.Context) error {
			return e.c.CreateToken(ctx, &catalog.Token{Name: "ci", Hash: "h2", Scopes: []string{"read"}, Created: e.clock.Now()})
		}},
		{"DeleteToken of nothing", func(ctx context.Context) error { return e.c.DeleteToken(ctx, "zz") }},
		{"Target creating a target", func(ctx context.Context) error {
			_, err := e.c.Target(ctx, tg("5.9/debian/bookworm"), "deb")
			return err
		}},
		{"ClaimAlias", func(ctx context.Context) error {
			_, err := e.c.ClaimAlias(ctx, "deb/5.8/dists/bookworm", id, e.clock.Now())
			return err
		}},
		{"PublishFailed", func(ctx context.Context) error { return e.c.PublishFailed(ctx, id, "failed", e.clock.Now()) }},
		{"TouchToken", func(ctx context.Context) error { return e.c.TouchToken(ctx, "ci", e.clock.Now()) }},
	} {
		ev := &audit.Event{Actor: "ci", Action: c.name}
		c.call(audit.WithEvent(ctx, ev)) // some fail by design; none may write
		if ev.Recorded() {
			t.Errorf("%s: the event was recorded", c.name)
		}
	}
	// A change whose ctx carries only an event recorded before.
	if _, _, err := e.c.AddPackage(audit.WithEvent(ctx, recorded), id, pkg("c", "1", "cc")); err != nil {
		t.Fatal(err)
	}
	got, err := e.c.AuditEvents(ctx, audit.Query{})
	if err != nil || len(got) != 1 || got[0].ID != recorded.ID {
		t.Errorf("audit log after calls that changed nothing: %+v %v, want only the first change's event", got, err)
	}
}
