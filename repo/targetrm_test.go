package repo_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// TestRemoveTarget: a removed target is listed, served and found no more;
// a shared pool file stays for the other target; the alias it held is
// served no more and never passes to another target that wants it; the
// name can be used again (a new, empty target); removing twice is
// ErrNotFound.
func TestRemoveTarget(t *testing.T) {
	svc := newService(t, repo.Options{})
	ctx := context.Background()
	debian := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	typo := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookwrom"}
	ubuntu := repo.Target{Stream: "5.8", Distro: "ubuntu", Release: "bookworm"}
	shared, err := debtest.Build(debtest.Options{Package: "shared", Version: "1.0", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range []repo.Target{debian, typo} {
		if _, err := svc.Ingest(ctx, tg, bytes.NewReader(shared), repo.IngestOptions{}); err != nil {
			t.Fatal(err)
		}
		ingestTo(t, svc, tg, "only-"+tg.Release)
		if _, err := svc.Publish(ctx, tg); err != nil {
			t.Fatal(err)
		}
	}
	servedAt(t, svc, "deb/5.8/dists/bookworm/InRelease") // debian holds the alias
	pool := "deb/5.8/debian/pool/main/s/shared/"
	var poolFile string
	for p := range svc.ServedPaths(pool) {
		poolFile = p
	}
	if _, f := servedAt(t, svc, poolFile); len(f.Targets) != 2 {
		t.Fatalf("the shared pool file is served for %v", f.Targets)
	}

	res, err := svc.RemoveTarget(ctx, typo)
	if err != nil {
		t.Fatal(err)
	}
	if res.Target != typo || res.Packages != 2 || res.Generations != 1 || !slices.Equal(res.Aliases, []string{"deb/5.8/dists/bookwrom/"}) {
		t.Errorf("removal of %s: %+v", typo, res)
	}
	for _, p := range []string{"deb/5.8/debian/dists/bookwrom/InRelease", "deb/5.8/dists/bookwrom/InRelease"} {
		if _, ok := svc.Lookup(p); ok {
			t.Errorf("the removed target's %s is still served", p)
		}
	}
	if _, f := servedAt(t, svc, poolFile); !slices.Equal(f.Targets, []repo.Target{debian}) {
		t.Errorf("the shared pool file is served for %v, want only %v", f.Targets, debian)
	}
	if _, err := svc.FindTarget(ctx, typo); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("FindTarget of a removed target: %v", err)
	}
	if _, err := svc.RemoveTarget(ctx, typo); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("second removal: %v, want ErrNotFound", err)
	}
	ts, err := svc.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	live := repo.LiveTargets(ts)
	if len(live) != 1 || live[0].Target != debian {
		t.Errorf("live targets after the removal: %v", live)
	}
	if len(ts) != 2 || !ts[slices.IndexFunc(ts, func(ti repo.TargetInfo) bool { return ti.Removed() })].Removed() {
		t.Errorf("the catalog keeps the tombstone: %v", ts)
	}

	// The alias holder goes: the alias is served no more, and the other
	// target that wants it does not get it.
	res, err = svc.RemoveTarget(ctx, debian)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Aliases, []string{"deb/5.8/dists/bookworm/"}) {
		t.Errorf("aliases of the removed holder: %v", res.Aliases)
	}
	if _, ok := svc.Lookup("deb/5.8/dists/bookworm/InRelease"); ok {
		t.Error("the removed holder's alias is still served")
	}
	ingestTo(t, svc, ubuntu, "from-ubuntu")
	if _, err := svc.Publish(ctx, ubuntu); err != nil {
		t.Fatal(err)
	}
	servedAt(t, svc, "deb/5.8/ubuntu/dists/bookworm/InRelease")
	if f, ok := svc.Lookup("deb/5.8/dists/bookworm/InRelease"); ok {
		t.Errorf("the alias passed to another target: served for %v", f.Targets)
	}
	if owners := svc.Owners("deb/5.8/dists/bookworm/InRelease"); len(owners) != 0 {
		t.Errorf("the alias path is owned by %v", owners)
	}

	// The name is free again: a new, empty target.
	ingestTo(t, svc, debian, "again")
	gen, err := svc.Publish(ctx, debian)
	if err != nil {
		t.Fatal(err)
	}
	if gen.Seq != 1 || gen.Packages != 1 {
		t.Errorf("the re-made target published generation %d with %d packages", gen.Seq, gen.Packages)
	}
	if _, ok := svc.Lookup("deb/5.8/dists/bookworm/InRelease"); ok {
		t.Error("a re-made target of the name got the alias claim back")
	}
}

// TestRemoveTargetPublishesOwed: a publish an upload scheduled runs before
// the removal, so it cannot make the target again after it.
func TestRemoveTargetPublishesOwed(t *testing.T) {
	svc := newService(t, repo.Options{PublishDelay: 200e6})
	ctx := context.Background()
	ingest(t, svc, "owed")
	svc.SchedulePublish(target)
	if _, err := svc.RemoveTarget(ctx, target); err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(ctx); err != nil { // every publish that was requested has run
		t.Fatal(err)
	}
	ts, err := svc.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if live := repo.LiveTargets(ts); len(live) != 0 {
		t.Errorf("targets after the removal and the publishes: %v", live)
	}
}
