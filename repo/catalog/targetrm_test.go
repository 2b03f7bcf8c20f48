package catalog

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

// TestRemoveTarget: the tombstone keeps the row (and so the id and the
// alias claims), forgets packages, generations and pins, refuses rows
// written for it afterwards, writes the audit event in its transaction,
// and a new target of the name gets a new id.
func TestRemoveTarget(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	tg := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	ti, err := db.Target(ctx, tg, "deb")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*repo.Package{pkg("a", "1", "aa"), pkg("b", "1", "bb")} {
		if _, _, err := db.AddPackage(ctx, ti.ID, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeletePackage(ctx, ti.ID, "b", "1", "amd64"); err != nil {
		t.Fatal(err)
	}
	if err := db.AddGeneration(ctx, ti.ID, &repo.Generation{Created: time.Unix(200, 0), Manifest: "m1", PackageIDs: []int64{1}}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetPin(ctx, ti.ID, "a", "1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ClaimAlias(ctx, "deb/5.8/dists/bookworm/", ti.ID, time.Unix(200, 0)); err != nil {
		t.Fatal(err)
	}

	ev := &audit.Event{Actor: "test", Action: audit.TargetRemove, Target: tg.String()}
	res, err := db.RemoveTarget(audit.WithEvent(ctx, ev), ti.ID, time.Unix(300, 0))
	if err != nil {
		t.Fatal(err)
	}
	if res.Target != tg || res.Packages != 1 || res.Generations != 1 || res.Pins != 1 ||
		len(res.Aliases) != 1 || res.Aliases[0] != "deb/5.8/dists/bookworm/" {
		t.Errorf("RemoveTarget: %+v", res)
	}
	if !ev.Recorded() || !strings.Contains(string(ev.Detail), `"packages":1`) {
		t.Errorf("audit event: recorded %v, detail %s", ev.Recorded(), ev.Detail)
	}
	heads, err := db.Heads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 1 || heads[0].ID != ti.ID || heads[0].Target != repo.RemovedName(ti.ID, tg) || !heads[0].Removed() ||
		heads[0].Current != nil || heads[0].Pending() || heads[0].State != repo.StateEmpty {
		t.Errorf("the tombstone: %+v", heads)
	}
	if holders, _ := db.Aliases(ctx); holders["deb/5.8/dists/bookworm/"] != ti.ID {
		t.Errorf("the alias claim moved: %v", holders)
	}
	var refs []string
	db.References(ctx, func(sum string, _ bool) error { refs = append(refs, sum); return nil })
	if len(refs) != 0 {
		t.Errorf("the removed target still references %v", refs)
	}
	// A writer that looked the target up before the removal is refused.
	if _, _, err := db.AddPackage(ctx, ti.ID, pkg("late", "1", "cc")); err == nil || !strings.Contains(err.Error(), "removed") {
		t.Errorf("a package for the tombstone: %v", err)
	}
	if err := db.AddGeneration(ctx, ti.ID, &repo.Generation{Created: time.Unix(400, 0), Manifest: "m2"}); err == nil {
		t.Error("a generation for the tombstone was recorded")
	}
	if _, err := db.RemoveTarget(ctx, ti.ID, time.Now()); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("removing the tombstone: %v", err)
	}
	if _, err := db.RemoveTarget(ctx, 999, time.Now()); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("removing a missing target: %v", err)
	}
	// The name is free; its new row has a new id (the tombstone's is the
	// largest, and stays).
	again, err := db.Target(ctx, tg, "deb")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID == ti.ID {
		t.Errorf("the new target reuses the removed one's id %d", ti.ID)
	}
	if holder, err := db.ClaimAlias(ctx, "deb/5.8/dists/bookworm/", again.ID, time.Now()); err != nil || holder != ti.ID {
		t.Errorf("the new target took the alias: holder %d, %v", holder, err)
	}
	if _, _, err := db.AddPackage(ctx, again.ID, pkg("a", "1", "aa")); err != nil {
		t.Errorf("a package for the new target: %v", err)
	}
}
