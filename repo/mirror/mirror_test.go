package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog/sqlite"
	"github.com/pierhq/pier/repo/deb"
	"github.com/pierhq/pier/repo/deb/debtest"
	"github.com/pierhq/pier/signing"
	"github.com/pierhq/pier/storage"
	"github.com/pierhq/pier/storage/local"
)

var (
	keyOnce sync.Once
	key     *signing.OpenPGP
)

var target = repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}

// fixture is a real service (SQLite catalog, local blobs, deb format) with
// a clock that moves a minute per reading, so publishes need not wait.
type fixture struct {
	t   *testing.T
	svc *repo.Service
	n   int
}

func newFixture(t *testing.T) *fixture {
	keyOnce.Do(func() {
		e, err := signing.GenerateRSA("Pier Test", "", 2048, time.Unix(1700000000, 0))
		if err != nil {
			t.Fatal(err)
		}
		if key, err = signing.New([]*openpgp.Entity{e}, signing.Options{}); err != nil {
			t.Fatal(err)
		}
	})
	dir := t.TempDir()
	cat, err := sqlite.Open(context.Background(), filepath.Join(dir, "catalog.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	b, err := local.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	var cfg deb.Config
	cfg.Defaults()
	svc, err := repo.NewService(cat, repo.NewBlobs(b), key,
		[]repo.FormatSpec{{Format: deb.New(cfg), Digests: deb.Digests, Distros: []string{"debian"}}},
		repo.Options{TmpDir: filepath.Join(dir, "tmp"), LockDir: filepath.Join(dir, "locks"), KeepGenerations: 2,
			Now: func() time.Time { return time.Unix(clock.Add(60), 0) }},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	return &fixture{t: t, svc: svc}
}

// add ingests a new package (alternating architectures) and publishes.
func (f *fixture) add() *repo.Generation {
	f.t.Helper()
	f.n++
	arch := []string{"amd64", "arm64", "all"}[f.n%3]
	b, err := debtest.Build(debtest.Options{Package: fmt.Sprintf("pkg%02d", f.n), Version: "1.0", Arch: arch,
		Files: map[string][]byte{"usr/share/x": []byte(fmt.Sprint(f.n))}})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.svc.Ingest(context.Background(), target, bytes.NewReader(b), repo.IngestOptions{}); err != nil {
		f.t.Fatal(err)
	}
	g, err := f.svc.Publish(context.Background(), target)
	if err != nil {
		f.t.Fatal(err)
	}
	return g
}

func (f *fixture) manifest(g *repo.Generation) []repo.File {
	f.t.Helper()
	m, err := f.svc.Manifest(context.Background(), g)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// counting wraps a backend, counts Puts and fails every Put after the
// first failAfter ones (negative: never).
type counting struct {
	storage.Backend
	puts      atomic.Int64
	failAfter int64
}

var errInjected = errors.New("injected failure")

func (c *counting) Put(ctx context.Context, key string, r io.Reader, size int64, o storage.PutOptions) error {
	if c.failAfter >= 0 && c.puts.Load() >= c.failAfter {
		return errInjected
	}
	c.puts.Add(1)
	return c.Backend.Put(ctx, key, r, size, o)
}

func newMirror(t *testing.T, dest storage.Backend, state string) *Mirror {
	return &Mirror{Name: "test", Dest: dest, Grace: time.Hour, StateDir: state, Parallel: parallel}
}

// parallel is the Parallel of the mirrors newMirror makes.
var parallel = 1

// consistent checks the mirror as a client sees it: every root it holds is
// the root of one of gens, and every package and content-addressed file of
// that generation is there with its bytes. Plain index files at stable
// paths (Packages, Packages.xz) are left out: they cannot change together
// with the roots, which is why the roots name their content through by-hash
// (apt fetches only by-hash/SHA256/… with Acquire-By-Hash: yes) and rpm
// through checksum-named files. It returns which generation each root
// came from.
func consistent(t *testing.T, dest storage.Backend, gens map[int64][]repo.File) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	sums := map[string]string{}
	dest.List(ctx, "", func(i storage.Info) error {
		s, err := hashObject(ctx, dest, i.Key)
		if errors.Is(err, fs.ErrNotExist) {
			// Gone between the list and the read: versitygw lists the temp
			// file of an upload in flight (…sgwtmp…), which an interrupted
			// sync leaves to finish or vanish; no client can fetch it.
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		sums[i.Key] = s
		return nil
	})
	from := map[string]int64{}
	for p, s := range sums {
		var owner int64 = -1
		var files []repo.File
		for seq, m := range gens {
			for _, f := range m {
				if f.Path == p && f.Kind == repo.KindRoot && f.SHA256 == s {
					owner, files = seq, m
				}
			}
		}
		isRoot := strings.HasSuffix(p, "Release") || strings.HasSuffix(p, "Release.gpg")
		if !isRoot {
			continue
		}
		if owner < 0 {
			t.Errorf("root %s in the mirror belongs to no known generation", p)
			continue
		}
		from[p] = owner
		for _, f := range files {
			if (f.Kind == repo.KindPackage || f.Kind == repo.KindHashed) && sums[f.Path] != f.SHA256 {
				t.Errorf("root %s (generation %d) names %s, which the mirror lacks or holds other bytes of", p, owner, f.Path)
			}
		}
	}
	return from
}

// TestSyncInterrupted fails a sync after its k-th upload for every k until
// a sync completes: after each failure the mirror serves the old or the
// new generation consistently, and a rerun finishes the job.
func TestSyncInterrupted(t *testing.T) {
	localDest := func(t *testing.T) storage.Backend {
		b, err := local.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, p := range []int{1, 4} {
		parallel = p
		t.Run(fmt.Sprintf("dir/parallel=%d", p), func(t *testing.T) { testSyncInterrupted(t, localDest) })
	}
	parallel = 4
	t.Run("s3/parallel=4", func(t *testing.T) { testSyncInterrupted(t, s3Dest(t)) })
	parallel = 1
}

func testSyncInterrupted(t *testing.T, newDest func(t *testing.T) storage.Backend) {
	ctx := context.Background()
	for k := int64(0); ; k++ {
		f := newFixture(t)
		g1 := f.add()
		f.add()
		dest := newDest(t)
		state := t.TempDir()
		if _, err := newMirror(t, dest, state).Sync(ctx, f.svc); err != nil {
			t.Fatal(err)
		}
		g3 := f.add()
		gens := map[int64][]repo.File{g1.Seq: f.manifest(g1), g3.Seq: f.manifest(g3)}
		gens[g3.Seq-1] = nil
		heads, _ := f.svc.Heads(ctx)
		ret, _ := f.svc.Retained(ctx, &heads[0])
		for i := range ret {
			gens[ret[i].Seq] = f.manifest(&ret[i])
		}
		c := &counting{Backend: dest, failAfter: k}
		_, err := newMirror(t, c, state).Sync(ctx, f.svc)
		consistent(t, dest, gens)
		if err == nil {
			if k == 0 {
				t.Fatal("sync with a failure after 0 uploads succeeded")
			}
			t.Logf("a sync of generation %d needs %d uploads; each interruption before that left the mirror consistent", g3.Seq, k)
			return
		}
		if !errors.Is(err, errInjected) {
			t.Fatalf("k=%d: %v", k, err)
		}
		rep, err := newMirror(t, dest, state).Sync(ctx, f.svc)
		if err != nil {
			t.Fatalf("k=%d: rerun: %v", k, err)
		}
		from := consistent(t, dest, gens)
		for p, seq := range from {
			if seq != g3.Seq {
				t.Errorf("k=%d: after the rerun %s is still from generation %d", k, p, seq)
			}
		}
		if probs, err := newMirror(t, dest, state).Verify(ctx, f.svc); err != nil || len(probs) != 0 {
			t.Errorf("k=%d: verify after rerun: %v %v (rerun uploaded %d)", k, err, probs, rep.Uploaded)
		}
		if k > 100 {
			t.Fatal("sync never completes")
		}
	}
}

// TestSyncIncremental: a no-op sync makes zero uploads; adding a package
// uploads exactly what changed; orphans go only after the grace period;
// Verify finds missing and wrong objects.
func TestSyncIncremental(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for range 3 {
		f.add()
	}
	dir := t.TempDir()
	dest, _ := local.New(dir)
	c := &counting{Backend: dest, failAfter: -1}
	mirrorNow := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := &Mirror{Name: "m", Dest: c, Grace: time.Hour, StateDir: t.TempDir(), Now: func() time.Time { return mirrorNow }}
	if _, err := m.Sync(ctx, f.svc); err != nil {
		t.Fatal(err)
	}
	c.puts.Store(0)
	if rep, err := m.Sync(ctx, f.svc); err != nil || c.puts.Load() != 0 || rep.Uploaded != 0 {
		t.Fatalf("no-op sync: %+v, %d puts, %v", rep, c.puts.Load(), err)
	}

	heads, _ := f.svc.Heads(ctx)
	old := f.manifest(heads[0].Current)
	g := f.add()
	oldSums := map[string]string{}
	for _, x := range old {
		oldSums[x.Path] = x.SHA256
	}
	want := map[string]bool{}
	for _, x := range f.manifest(g) {
		if oldSums[x.Path] != x.SHA256 {
			want[x.Path] = true
		}
	}
	c.puts.Store(0)
	rep, err := m.Sync(ctx, f.svc)
	if err != nil {
		t.Fatal(err)
	}
	if int(c.puts.Load()) != len(want) || rep.Uploaded != len(want) {
		t.Errorf("after adding one package: %d puts, want the %d changed files", c.puts.Load(), len(want))
	}
	unchanged := 0
	for p := range oldSums {
		if strings.Contains(p, "binary-") && !want[p] {
			unchanged++
		}
	}
	if unchanged == 0 {
		t.Errorf("no index file was left unchanged: the test does not show skipping")
	}

	// Two more generations push the first ones out of retention (keep 2):
	// their by-hash files are orphans, kept until the grace period ends.
	f.add()
	f.add()
	if rep, err := m.Sync(ctx, f.svc); err != nil || rep.Deleted != 0 {
		t.Fatalf("sync within grace: %+v %v", rep, err)
	}
	mirrorNow = mirrorNow.Add(2 * time.Hour)
	rep, err = m.Sync(ctx, f.svc)
	if err != nil || rep.Deleted == 0 {
		t.Fatalf("sync after grace deleted nothing: %+v %v", rep, err)
	}
	if probs, err := m.Verify(ctx, f.svc); err != nil || len(probs) != 0 {
		t.Fatalf("verify: %v %v", err, probs)
	}

	// Verify reports a missing and a corrupted object.
	heads, _ = f.svc.Heads(ctx)
	cur := f.manifest(heads[0].Current)
	var victim, corrupt string
	for _, x := range cur {
		if x.Kind == repo.KindPackage && victim == "" {
			victim = x.Path
		} else if x.Kind == repo.KindIndex && corrupt == "" {
			corrupt = x.Path
		}
	}
	os.Remove(filepath.Join(dir, victim))
	os.WriteFile(filepath.Join(dir, corrupt), []byte("corrupt"), 0o644)
	probs, err := m.Verify(ctx, f.svc)
	if err != nil || len(probs) != 2 {
		t.Fatalf("verify: %v %v", err, probs)
	}
	t.Logf("verify: %v", probs)
}

// TestSyncLostState: with its state file gone, a sync to S3 finds the
// objects the bucket already holds (size and sha256 metadata) and uploads
// nothing again.
func TestSyncLostState(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.add()
	dest := s3Dest(t)(t)
	stateDir := t.TempDir()
	c := &counting{Backend: dest, failAfter: -1}
	m := &Mirror{Name: "m", Dest: c, StateDir: stateDir, Parallel: 4}
	if _, err := m.Sync(ctx, f.svc); err != nil {
		t.Fatal(err)
	}
	first := c.puts.Load()
	os.Remove(filepath.Join(stateDir, "m.json"))
	c.puts.Store(0)
	rep, err := m.Sync(ctx, f.svc)
	if err != nil || c.puts.Load() != 0 || rep.Skipped != int(first) {
		t.Errorf("sync without state: %d puts, %+v, %v (first sync %d puts)", c.puts.Load(), rep, err, first)
	}
}
