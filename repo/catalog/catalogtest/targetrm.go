package catalogtest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

// testRemoveTarget: the tombstone keeps the row (and so the id and the
// alias claims), forgets packages, generations and pins, refuses rows
// written for it afterwards, writes the audit event in its transaction,
// and a new target of the name gets a new id.
func testRemoveTarget(t *testing.T, e *env) {
	ctx := t.Context()
	ti := e.target("5.8/debian/bookworm")
	tgt := ti.Target
	a := e.add(ti.ID, pkg("a", "1", "aa"))
	e.add(ti.ID, pkg("b", "1", "bb"))
	if err := e.c.DeletePackage(ctx, ti.ID, "b", "1", "amd64"); err != nil {
		t.Fatal(err)
	}
	e.generation(ti.ID, "m1", a.ID)
	if err := e.c.SetPin(ctx, ti.ID, "a", "1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.ClaimAlias(ctx, "deb/5.8/dists/bookworm/", ti.ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}

	ev := &audit.Event{Actor: "test", Action: audit.TargetRemove, Target: tgt.String()}
	res, err := e.c.RemoveTarget(audit.WithEvent(ctx, ev), ti.ID, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Target != tgt || res.Packages != 1 || res.Generations != 1 || res.Pins != 1 ||
		len(res.Aliases) != 1 || res.Aliases[0] != "deb/5.8/dists/bookworm/" {
		t.Errorf("RemoveTarget: %+v", res)
	}
	if !ev.Recorded() || !strings.Contains(string(ev.Detail), `"packages":1`) {
		t.Errorf("audit event: recorded %v, detail %s", ev.Recorded(), ev.Detail)
	}
	heads, err := e.c.Heads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 1 || heads[0].ID != ti.ID || heads[0].Target != repo.RemovedName(ti.ID, tgt) || !heads[0].Removed() ||
		heads[0].Current != nil || heads[0].Pending() || heads[0].State != repo.StateEmpty {
		t.Errorf("the tombstone: %+v", heads)
	}
	if holders, _ := e.c.Aliases(ctx); holders["deb/5.8/dists/bookworm/"] != ti.ID {
		t.Errorf("the alias claim moved: %v", holders)
	}
	var refs []string
	if err := e.c.References(ctx, func(sum string, _ bool) error { refs = append(refs, sum); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(refs) != 0 {
		t.Errorf("the removed target still references %v", refs)
	}
	// A writer that looked the target up before the removal is refused.
	if _, _, err := e.c.AddPackage(ctx, ti.ID, pkg("late", "1", "cc")); err == nil {
		t.Error("a package for the tombstone was recorded")
	}
	if err := e.c.AddGeneration(ctx, ti.ID, &repo.Generation{Created: e.clock.Now(), Manifest: "m2"}); err == nil {
		t.Error("a generation for the tombstone was recorded")
	}
	if _, err := e.c.RemoveTarget(ctx, ti.ID, time.Now()); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("removing the tombstone: %v", err)
	}
	if _, err := e.c.RemoveTarget(ctx, 999, time.Now()); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("removing a missing target: %v", err)
	}
	// The name is free; its new row has a new id.
	again, err := e.c.Target(ctx, tgt, "deb")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID == ti.ID {
		t.Errorf("the new target reuses the removed one's id %d", ti.ID)
	}
	if holder, err := e.c.ClaimAlias(ctx, "deb/5.8/dists/bookworm/", again.ID, time.Now()); err != nil || holder != ti.ID {
		t.Errorf("the new target took the alias: holder %d, %v", holder, err)
	}
	if _, _, err := e.c.AddPackage(ctx, again.ID, pkg("a", "1", "aa")); err != nil {
		t.Errorf("a package for the new target: %v", err)
	}
}
