// Package catalogtest is the conformance suite for catalog implementations:
// the one set of tests every catalog (SQLite now, PostgreSQL next) must
// pass. It is the executable form of the contracts written on repo.Catalog
// (its small interfaces TargetStore, PackageReader, PackageWriter,
// PinStore, GenerationStore, AliasStore and Collector), catalog.TokenStore
// and audit.Store: sentinel errors for what is missing or clashes, one
// transaction per write, the audit events of ctx written in the transaction
// of the change they record (and the change refused when they cannot be),
// the injected clock, byte order of names, concurrent writers on several
// handles of one database, and durability across handles.
//
// An implementation's test calls [Run] with an [Impl].
package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// Impl is the implementation under test.
type Impl struct {
	// New creates a new, empty catalog database whose clock is now, and
	// returns a function that opens a handle on it: each call opens
	// another handle on the same database, as another process would. It
	// is called once per subtest (subtests run in parallel); it and open
	// fail t on error and register the cleanup of the database and of
	// every handle with t.Cleanup.
	New func(t *testing.T, now func() time.Time) (open func() catalog.Store)
	// BreakAudit makes every later write to the audit log of the database
	// behind s fail, as a full disk would, while every other table stays
	// writable.
	BreakAudit func(t *testing.T, s catalog.Store)
}

// Run runs the conformance suite against impl.
func Run(t *testing.T, impl Impl) {
	if impl.New == nil || impl.BreakAudit == nil {
		t.Fatal("catalogtest: Impl needs New and BreakAudit")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"TargetCreate", testTargetCreate},
		{"TargetConcurrentCreate", testTargetConcurrentCreate},
		{"TargetsList", testTargetsList},
		{"PublishState", testPublishState},
		{"PackageRoundTrip", testPackageRoundTrip},
		{"AddPackageSameOrConflict", testAddPackageSameOrConflict},
		{"AddPackagesBatch", testAddPackagesBatch},
		{"AddPackageSet", testAddPackageSet},
		{"ExtraBlobs", testExtraBlobs},
		{"FindPackage", testFindPackage},
		{"DeletePackage", testDeletePackage},
		{"PackageIDsNeverReused", testPackageIDsNeverReused},
		{"PackageReads", testPackageReads},
		{"PackagePage", testPackagePage},
		{"LiveElsewhere", testLiveElsewhere},
		{"RemovePackages", testRemovePackages},
		{"SetLivePackages", testSetLivePackages},
		{"Pins", testPins},
		{"Generations", testGenerations},
		{"GenerationChanges", testGenerationChanges},
		{"Aliases", testAliases},
		{"Collect", testCollect},
		{"References", testReferences},
		{"Tokens", testTokens},
		{"AuditLog", testAuditLog},
		{"AuditEventsWithChanges", testAuditEventsWithChanges},
		{"NoChangeNoEvent", testNoChangeNoEvent},
		{"Clock", testClock},
		{"ContextCanceled", testContextCanceled},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Durable", testDurable},
		{"RemoveTarget", testRemoveTarget},
		{"Snapshot", testSnapshot},
		{"FrozenRefusals", testFrozenRefusals},
		{"SearchIndex", testSearchIndex}, // optional: repo.SearchIndex
		{"Sessions", testSessions},       // optional: catalog.SessionStore
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newEnv(t, impl))
		})
	}
}

// env is one subtest's catalog: a first handle, a way to open more, the
// clock it was given.
type env struct {
	t     *testing.T
	impl  Impl
	c     catalog.Store
	open  func() catalog.Store
	clock *clock
}

func newEnv(t *testing.T, impl Impl) *env {
	clk := &clock{now: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
	open := impl.New(t, clk.Now)
	return &env{t: t, impl: impl, c: open(), open: open, clock: clk}
}

// fresh returns a new env on a new database (for cases that need one each).
func (e *env) fresh(t *testing.T) *env { return newEnv(t, e.impl) }

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// tg splits "stream/distro/release".
func tg(s string) repo.Target {
	var t repo.Target
	parts := strings.SplitN(s, "/", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	t.Stream, t.Distro, t.Release = parts[0], parts[1], parts[2]
	return t
}

// target returns the target named s ("stream/distro/release") holding deb
// packages, creating it.
func (e *env) target(s string) *repo.TargetInfo {
	e.t.Helper()
	ti, err := e.c.Target(e.t.Context(), tg(s), "deb")
	if err != nil {
		e.t.Fatalf("Target(%s): %v", s, err)
	}
	return ti
}

// head returns target id as Heads lists it.
func (e *env) head(id int64) repo.TargetInfo {
	e.t.Helper()
	ts, err := e.c.Heads(e.t.Context())
	if err != nil {
		e.t.Fatalf("Heads: %v", err)
	}
	for _, ti := range ts {
		if ti.ID == id {
			return ti
		}
	}
	e.t.Fatalf("Heads lists no target %d", id)
	return repo.TargetInfo{}
}

// revision returns target id's revision.
func (e *env) revision(id int64) int64 {
	e.t.Helper()
	return e.head(id).Revision
}

// pkg returns a package row to add: amd64, component main, sums and Meta
// derived from sum.
func pkg(name, version, sum string) *repo.Package {
	return &repo.Package{Component: "main", Name: name, Version: version, Arch: "amd64", SHA256: sum, Size: int64(len(sum)) * 10,
		Sums: repo.Sums{repo.SHA256: sum, repo.MD5: "md5-" + sum}, Meta: []byte(`{"sum":"` + sum + `"}`),
		Uploaded: time.Unix(1_700_000_000, 123456789).UTC()}
}

// add records p in target id and fails unless it was added.
func (e *env) add(id int64, p *repo.Package) *repo.Package {
	e.t.Helper()
	got, added, err := e.c.AddPackage(e.t.Context(), id, p)
	if err != nil || !added || got.ID == 0 {
		e.t.Fatalf("AddPackage(%s %s): added %v, %+v, %v", p.Name, p.Version, added, got, err)
	}
	return got
}

// generation records a generation of target id holding ids.
func (e *env) generation(id int64, manifest string, ids ...int64) *repo.Generation {
	e.t.Helper()
	g := &repo.Generation{Created: e.clock.Now(), Revision: e.revision(id), Manifest: manifest, Files: 3, Packages: len(ids),
		PackageIDs: ids}
	if err := e.c.AddGeneration(e.t.Context(), id, g); err != nil {
		e.t.Fatalf("AddGeneration: %v", err)
	}
	return g
}

// live returns the "name version sha256" of target id's live packages, as
// Packages lists them.
func (e *env) live(id int64) []string {
	e.t.Helper()
	ps, err := e.c.Packages(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("Packages: %v", err)
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.Name+" "+p.Version+" "+p.SHA256)
	}
	return out
}

// wantErr fails t unless err wraps want.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want one wrapping %v", what, err, want)
	}
}

// samePackage reports how got differs from want (all fields, Meta and
// Sums included); "" when equal.
func samePackage(got, want *repo.Package) string {
	switch {
	case got.ID != want.ID:
		return fmt.Sprintf("ID %d, want %d", got.ID, want.ID)
	case got.Component != want.Component || got.Name != want.Name || got.Version != want.Version || got.Arch != want.Arch:
		return fmt.Sprintf("key %s %s %s %s, want %s %s %s %s", got.Component, got.Name, got.Version, got.Arch,
			want.Component, want.Name, want.Version, want.Arch)
	case got.SHA256 != want.SHA256 || got.OrigSHA256 != want.OrigSHA256 || got.Size != want.Size:
		return fmt.Sprintf("bytes %s/%s/%d, want %s/%s/%d", got.SHA256, got.OrigSHA256, got.Size, want.SHA256, want.OrigSHA256, want.Size)
	case string(got.Meta) != string(want.Meta):
		return fmt.Sprintf("Meta %q, want %q", got.Meta, want.Meta)
	case fmt.Sprint(got.Sums) != fmt.Sprint(want.Sums):
		return fmt.Sprintf("Sums %v, want %v", got.Sums, want.Sums)
	case fmt.Sprint(got.Extra) != fmt.Sprint(want.Extra):
		return fmt.Sprintf("Extra %v, want %v", got.Extra, want.Extra)
	case !got.Uploaded.Equal(want.Uploaded) || got.Uploaded.Location() != time.UTC:
		return fmt.Sprintf("Uploaded %v, want %v in UTC", got.Uploaded, want.Uploaded)
	}
	return ""
}

// ctxDone returns a context that is already canceled.
func ctxDone(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}
