package repo_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// TestSnapshot: a snapshot holds what the source serves (its owed publish
// runs first), is published once with the same pool files (same blobs), and
// refuses uploads (even of bytes it holds), deletes, prunes, promotions
// into it and rollbacks with a FrozenError naming it, while the source
// goes on changing; re-signing republishes it with the same packages; its
// retention is skipped; the source's retention prunes what the snapshot
// holds.
func TestSnapshot(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	svc := newService(t, repo.Options{Now: clock})
	ctx := context.Background()
	src := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	dst := repo.Target{Stream: "5.8.1", Distro: "debian", Release: "bookworm"}
	build := func(name, version string) []byte {
		b, err := debtest.Build(debtest.Options{Package: name, Version: version, Arch: "amd64"})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v1 := build("kamailio", "5.8.1")
	for _, b := range [][]byte{v1, build("kamailio-extra", "5.8.1")} {
		if _, err := svc.Ingest(ctx, src, bytes.NewReader(b), repo.IngestOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Not published yet: the snapshot publishes the source first.
	res, err := svc.Snapshot(ctx, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if res.Packages != 2 || res.Generation == nil || res.Generation.Packages != 2 || res.PublishError != "" ||
		res.Target.Frozen == nil || res.Target.Frozen.Source != src || res.Target.Frozen.SourceGeneration != 1 || res.Target.Pending() {
		t.Fatalf("snapshot: %+v (frozen %+v)", res, res.Target.Frozen)
	}
	sti, err := svc.FindTarget(ctx, src)
	if err != nil || sti.Current == nil || sti.Pending() {
		t.Fatalf("the source was not published first: %+v %v", sti, err)
	}
	// Same blobs: the pool files of both targets have the same sha256.
	srcPool, dstPool := poolSums(t, svc, "deb/5.8/debian/pool/"), poolSums(t, svc, "deb/5.8.1/debian/pool/")
	if len(srcPool) != 2 || strings.Join(srcPool, ",") != strings.Join(dstPool, ",") {
		t.Errorf("pool files: source %v, snapshot %v", srcPool, dstPool)
	}
	servedAt(t, svc, "deb/5.8.1/debian/dists/bookworm/InRelease")

	// The source changes; the snapshot does not.
	v2 := build("kamailio", "5.8.2")
	if _, err := svc.Ingest(ctx, src, bytes.NewReader(v2), repo.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Publish(ctx, src); err != nil {
		t.Fatal(err)
	}
	refused := map[string]error{}
	_, refused["upload"] = svc.Ingest(ctx, dst, bytes.NewReader(v2), repo.IngestOptions{})
	_, refused["upload of a package it holds"] = svc.Ingest(ctx, dst, bytes.NewReader(v1), repo.IngestOptions{})
	refused["delete"] = svc.Delete(ctx, dst, "kamailio", "5.8.1", "amd64")
	_, _, refused["prune"] = svc.Prune(ctx, dst, false)
	_, refused["promotion"] = svc.Promote(ctx, src, dst, []repo.PackageSpec{{Name: "kamailio"}})
	_, refused["rollback"] = svc.Rollback(ctx, dst, 1)
	for what, err := range refused {
		var fe *repo.FrozenError
		if !errors.As(err, &fe) || fe.Target != dst || !errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "5.8.1/debian/bookworm is frozen") {
			t.Errorf("%s into the snapshot: %v, want a FrozenError naming it", what, err)
		}
	}
	pkgs, err := svc.Packages(ctx, dst)
	if err != nil || len(pkgs) != 2 {
		t.Fatalf("the snapshot holds %d packages (%v), want 2", len(pkgs), err)
	}
	for _, p := range pkgs {
		if p.Version != "5.8.1" {
			t.Errorf("the snapshot holds %s %s", p.Name, p.Version)
		}
	}

	// Retention: a rule matching both keeps one version; the source prunes
	// 5.8.1 (the snapshot's copy does not keep it), the snapshot keeps it.
	if err := svc.SetRetention([]repo.RetentionRule{{Targets: []string{"*/debian/*"}, Retention: repo.Retention{KeepVersions: 1}}}); err != nil {
		t.Fatal(err)
	}
	gone, _, err := svc.Prune(ctx, src, false)
	if err != nil || len(gone) != 1 || gone[0].Version != "5.8.1" {
		t.Errorf("source prune: %v %v, want kamailio 5.8.1", gone, err)
	}
	gen, err := svc.Publish(ctx, dst) // a re-signing publish applies no retention
	if err != nil || gen.Packages != 2 || gen.Seq != 2 {
		t.Errorf("republish of the snapshot: %+v %v", gen, err)
	}

	// Refusals of the snapshot itself.
	for _, c := range []struct {
		src, dst repo.Target
		want     error
	}{
		{src, dst, repo.ErrConflict}, // exists
		{src, src, repo.ErrInvalid},
		{src, repo.Target{Stream: "5.8.1", Distro: "el", Release: "9"}, repo.ErrInvalid},            // another format
		{repo.Target{Stream: "nope", Distro: "debian", Release: "bookworm"}, dst, repo.ErrNotFound}, // no source
	} {
		if _, err := svc.Snapshot(ctx, c.src, c.dst); !errors.Is(err, c.want) {
			t.Errorf("snapshot %s → %s: %v, want %v", c.src, c.dst, err, c.want)
		}
	}
	// A snapshot is removed like any target.
	if _, err := svc.RemoveTarget(ctx, dst); err != nil {
		t.Errorf("remove the snapshot: %v", err)
	}
}

// poolSums returns the sha256 of every .deb served under prefix, sorted.
func poolSums(t *testing.T, svc *repo.Service, prefix string) []string {
	t.Helper()
	var out []string
	for p := range svc.ServedPaths(prefix) {
		if strings.HasSuffix(p, ".deb") {
			f, _ := svc.Lookup(p)
			out = append(out, f.SHA256)
		}
	}
	slices.Sort(out)
	return out
}
