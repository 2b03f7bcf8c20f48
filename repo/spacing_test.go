package repo_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/apk"
	"github.com/pierhq/pier/repo/catalog/sqlite"
	"github.com/pierhq/pier/repo/deb"
	"github.com/pierhq/pier/repo/rpm"
	"github.com/pierhq/pier/signing"
	"github.com/pierhq/pier/storage/local"
)

// newFormatsService is a service with the deb, rpm and apk formats, a
// frozen clock and hook.
func newFormatsService(t *testing.T, now time.Time, hook func(string)) *repo.Service {
	t.Helper()
	dir := t.TempDir()
	clock := func() time.Time { return now }
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "catalog.db"), sqlite.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := local.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	ak, _, err := signing.LoadOrCreateRSA(filepath.Join(dir, "keys"), "", 2048)
	if err != nil {
		t.Fatal(err)
	}
	var dc deb.Config
	var rc rpm.Config
	var ac apk.Config
	dc.Defaults()
	rc.Defaults()
	ac.Defaults()
	formats := []repo.FormatSpec{
		{Format: deb.New(dc), Digests: deb.Digests, Distros: []string{"debian"}},
		{Format: rpm.New(rc), Digests: rpm.Digests, Distros: []string{"el"}},
		{Format: apk.New(ac, ak), Digests: apk.Digests, Distros: []string{"alpine"}},
	}
	opts := repo.Options{TmpDir: filepath.Join(dir, "tmp"), LockDir: filepath.Join(dir, "locks"), Now: clock, Hook: hook}
	svc, err := repo.NewService(db, repo.NewBlobs(b), testSigner(t), formats, opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
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

// hookCount counts the points Options.Hook is called at.
type hookCount struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *hookCount) hook(point string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == nil {
		h.n = map[string]int{}
	}
	h.n[point]++
}

func (h *hookCount) get(point string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[point]
}

// TestPublishSpacing: with a clock that stands still, a second publish of an
// rpm or apk target neither waits nor post-dates (rpm-md and APKINDEX have
// no rule about it: its generation shares the first one's second), while a
// deb target's second generation is dated one second later (apt's Release
// Date rule) after the coalescer's wait.
func TestPublishSpacing(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		distro, file string
		spaced       bool
	}{
		{"el", "rpm/testdata/greet-1.0-1.noarch.rpm", false},
		{"alpine", "../testdata/apk/corpus-nfpm-apk-1.0-r0.apk", false},
		{"debian", "../testdata/deb/corpus-dpkg-gzip_1.0-1_amd64.deb", true},
	} {
		t.Run(tc.distro, func(t *testing.T) {
			var hooks hookCount
			svc := newFormatsService(t, now, hooks.hook)
			ctx := context.Background()
			tg := repo.Target{Stream: "1", Distro: tc.distro, Release: "r1"}
			b, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Ingest(ctx, tg, bytes.NewReader(b), repo.IngestOptions{}); err != nil {
				t.Fatal(err)
			}
			first, err := svc.Publish(ctx, tg)
			if err != nil {
				t.Fatal(err)
			}
			second, err := svc.Publish(ctx, tg)
			if err != nil {
				t.Fatal(err)
			}
			if second.Seq != first.Seq+1 {
				t.Fatalf("generations %d then %d, want two in a row", first.Seq, second.Seq)
			}
			waits := hooks.get("publish.spacing-coalesce") + hooks.get("publish.spacing-wait")
			want := first.Created
			if tc.spaced {
				want = first.Created.Add(time.Second)
				if waits == 0 {
					t.Errorf("deb: the second publish in the same second did not wait for the next one")
				}
			} else if waits != 0 {
				t.Errorf("%s: %d spacing waits, want none", tc.distro, waits)
			}
			if !second.Created.Equal(want) {
				t.Errorf("second generation dated %v, want %v (first %v)", second.Created, want, first.Created)
			}
		})
	}
}

// TestPublishSpacingCoalesces: deb requests that arrive while a publish
// waits for the next second are answered by that one publish.
func TestPublishSpacingCoalesces(t *testing.T) {
	var hooks hookCount
	start := time.Now().UTC().Truncate(time.Second)
	svc := newFormatsService(t, start, hooks.hook)
	ctx := context.Background()
	tg := repo.Target{Stream: "1", Distro: "debian", Release: "r1"}
	b, err := os.ReadFile("../testdata/deb/corpus-dpkg-gzip_1.0-1_amd64.deb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Ingest(ctx, tg, bytes.NewReader(b), repo.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	first, err := svc.Publish(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	// The clock stands still, so the coalescer holds the next round back
	// for a second: every request below lands in it.
	var wg sync.WaitGroup
	gens := make([]*repo.Generation, 4)
	for i := range gens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := svc.Publish(ctx, tg)
			if err != nil {
				t.Error(err)
				return
			}
			gens[i] = g
		}()
	}
	wg.Wait()
	for i, g := range gens {
		if g != nil && g.Seq != first.Seq+1 {
			t.Errorf("request %d answered by generation %d, want %d for all", i, g.Seq, first.Seq+1)
		}
	}
	if n := svc.Publishes(); n != 2 {
		t.Errorf("%d publishes, want 2 (the first and one for the 4 requests)", n)
	}
}
