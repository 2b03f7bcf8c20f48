package repo_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog/sqlite"
	"github.com/pierhq/pier/repo/deb"
	"github.com/pierhq/pier/repo/deb/debtest"
	"github.com/pierhq/pier/signing"
	"github.com/pierhq/pier/storage/local"
)

var (
	keyOnce sync.Once
	key     *signing.OpenPGP
)

func testSigner(t testing.TB) *signing.OpenPGP {
	keyOnce.Do(func() {
		e, err := signing.GenerateRSA("Pier Test", "", 2048, time.Unix(1700000000, 0))
		if err != nil {
			t.Fatal(err)
		}
		if key, err = signing.New([]*openpgp.Entity{e}, signing.Options{}); err != nil {
			t.Fatal(err)
		}
	})
	return key
}

func newService(t testing.TB, opts repo.Options) *repo.Service {
	t.Helper()
	return newServiceOn(t, opts, func(c repo.Catalog) repo.Catalog { return c })
}

// newServiceOn is newService with the catalog wrapped by wrap.
func newServiceOn(t testing.TB, opts repo.Options, wrap func(repo.Catalog) repo.Catalog) *repo.Service {
	t.Helper()
	return newServiceWith(t, opts, wrap, func(f repo.Format) repo.Format { return f })
}

// newServiceWith is newServiceOn with the deb format (for the distros
// debian and ubuntu) wrapped by wrapFormat.
func newServiceWith(t testing.TB, opts repo.Options, wrap func(repo.Catalog) repo.Catalog, wrapFormat func(repo.Format) repo.Format) *repo.Service {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "catalog.db"), sqlite.Options{Now: opts.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cat := wrap(db)
	b, err := local.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	opts.TmpDir = filepath.Join(dir, "tmp")
	if opts.LockDir == "" {
		opts.LockDir = filepath.Join(dir, "locks")
	}
	var cfg deb.Config
	cfg.Defaults()
	formats := []repo.FormatSpec{{Format: wrapFormat(deb.New(cfg)), Digests: deb.Digests, Distros: []string{"debian", "ubuntu"}}}
	svc, err := repo.NewService(cat, repo.NewBlobs(b), testSigner(t), formats, opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return svc
}

// run runs svc's background work until the test ends.
func run(t testing.TB, svc *repo.Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

// points records the points Options.Hook is called at, for tests that wait
// for an event instead of sleeping.
type points chan string

func newPoints() points { return make(points, 1024) }

// hook is the Options.Hook; it never blocks (a full buffer drops points,
// which only makes wait see a later one).
func (p points) hook(point string) {
	select {
	case p <- point:
	default:
	}
}

// wait returns when the hook is called at point, or fails the test after a
// generous bound.
func (p points) wait(t testing.TB, point string) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case got := <-p:
			if got == point {
				return
			}
		case <-deadline.C:
			t.Fatalf("no %s within 30s", point)
		}
	}
}

// signal is a channel that OnChange and an Observer's Published send to
// without blocking: "something may have changed, look again".
type signal chan struct{}

func newSignal() signal { return make(signal, 1) }

func (s signal) notify() {
	select {
	case s <- struct{}{}:
	default:
	}
}

// Ingested implements repo.Observer.
func (s signal) Ingested(repo.Target, string, bool, error) {}

// Published implements repo.Observer.
func (s signal) Published(repo.Target, string, time.Duration, error) { s.notify() }

var target = repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}

func ingest(t testing.TB, svc *repo.Service, name string) *repo.IngestResult {
	t.Helper()
	return ingestTo(t, svc, target, name)
}

// ingestTo uploads a new amd64 .deb named name, version 1.0, to tg.
func ingestTo(t testing.TB, svc *repo.Service, tg repo.Target, name string) *repo.IngestResult {
	t.Helper()
	b, err := debtest.Build(debtest.Options{Package: name, Version: "1.0", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Ingest(context.Background(), tg, bytes.NewReader(b), repo.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestPublishCoalesces: many requests while publishes run are answered by
// few publishes, and every request sees a generation that includes what was
// there when it asked.
func TestPublishCoalesces(t *testing.T) {
	svc := newService(t, repo.Options{PublishDelay: 50 * time.Millisecond})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 30 {
		ingest(t, svc, fmt.Sprintf("p%02d", i))
		svc.SchedulePublish(target)
		wg.Add(1)
		go func() {
			defer wg.Done()
			gen, err := svc.Publish(ctx, target)
			if err != nil {
				t.Error(err)
				return
			}
			if gen.Packages < i+1 {
				t.Errorf("request after %d uploads answered by a generation with %d packages", i+1, gen.Packages)
			}
		}()
	}
	wg.Wait()
	if n := svc.Publishes(); n >= 30 || n < 1 {
		t.Errorf("%d publishes for 60 requests", n)
	}
	t.Logf("60 requests, %d publishes", svc.Publishes())
}

// TestOldGenerationsStayServable: files of the previous generations (not
// their roots) stay servable for KeepGenerations, then go.
func TestOldGenerationsStayServable(t *testing.T) {
	svc := newService(t, repo.Options{KeepGenerations: 2})
	ctx := context.Background()
	byHash := func() map[string]bool {
		m := map[string]bool{}
		for _, arch := range []string{"amd64"} {
			for p := range svc.ServedPaths("deb/5.8/dists/bookworm/main/binary-" + arch + "/by-hash/") {
				m[p] = true
			}
		}
		return m
	}
	ingest(t, svc, "pa")
	g1, err := svc.Publish(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	first := byHash()
	r1, _ := svc.Lookup("deb/5.8/dists/bookworm/InRelease")
	ingest(t, svc, "pb")
	g2, err := svc.Publish(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if !g2.Created.After(g1.Created) {
		t.Errorf("generation times not increasing: %v then %v", g1.Created, g2.Created)
	}
	r2, _ := svc.Lookup("deb/5.8/dists/bookworm/InRelease")
	if r1.SHA256 == r2.SHA256 {
		t.Errorf("InRelease did not change")
	}
	for p := range first {
		if _, ok := svc.Lookup(p); !ok {
			t.Errorf("generation 1 file %s not servable in generation 2", p)
		}
	}
	ingest(t, svc, "pc")
	if _, err := svc.Publish(ctx, target); err != nil {
		t.Fatal(err)
	}
	gone := 0
	for p := range first {
		if _, ok := svc.Lookup(p); !ok {
			gone++
		}
	}
	if gone == 0 {
		t.Errorf("generation 1 files still served after 3 generations with keep=2")
	}
	if !strings.Contains(fmt.Sprint(byHash()), "by-hash/SHA256/") {
		t.Errorf("no by-hash files served")
	}
}

// TestUnknownDistro and bad targets are refused before anything is written.
func TestBadTargets(t *testing.T) {
	svc := newService(t, repo.Options{})
	for _, tg := range []repo.Target{{"5.8", "gentoo", "x"}, {"..", "debian", "x"}, {"5.8", "debian", "a/b"}, {"", "debian", "x"}} {
		_, err := svc.Ingest(context.Background(), tg, strings.NewReader("x"), repo.IngestOptions{})
		if err == nil {
			t.Errorf("%v accepted", tg)
		}
	}
}
