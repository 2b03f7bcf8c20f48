package postgres_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/pgtest"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
	"github.com/pierhq/pier/repo/catalog/postgres"
	"github.com/pierhq/pier/repo/catalog/sqlite"
)

// benchPackages is the size of the target the catalog benchmarks read.
const benchPackages = 100_000

// benchMeta is a deb package's Meta of a realistic size (a pre-rendered
// stanza and a front-coded file list: about 1.5 kB).
var benchMeta = []byte(`{"stanza":"` + strings.Repeat("Description: a package of a realistic size\\n", 20) + `","files":"` +
	strings.Repeat("usr/share/doc/x/file\\n", 30) + `"}`)

// benchCatalogs opens a catalog of each kind holding one target with
// benchPackages packages (loaded in batches of 1,000, as pier import
// records them) and reports the load rate.
func benchCatalogs(b *testing.B) map[string]catalog.Store {
	b.Helper()
	ctx := context.Background()
	pg := pgtest.Start(b)
	pdb, err := postgres.Open(ctx, pg.NewDatabase(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pdb.Close() })
	sdb, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "catalog.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sdb.Close() })
	cats := map[string]catalog.Store{"sqlite": sdb, "postgres": pdb}
	for name, c := range cats {
		ti, err := c.Target(ctx, repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}, "deb")
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for i := 0; i < benchPackages; i += 1000 {
			batch := make([]*repo.Package, 1000)
			for j := range batch {
				n := fmt.Sprintf("pkg-%06d", i+j)
				sum := fmt.Sprintf("%064x", i+j)
				batch[j] = &repo.Package{Component: "main", Name: n, Version: "1.0", Arch: "amd64", SHA256: sum, Size: 50_000,
					Sums: repo.Sums{repo.SHA256: sum, repo.MD5: sum[:32]}, Meta: benchMeta, Uploaded: time.Now()}
			}
			if _, err := c.AddPackages(ctx, ti.ID, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("%s: recorded %d packages in batches of 1,000 at %.0f packages/s", name, benchPackages,
			benchPackages/time.Since(start).Seconds())
	}
	return cats
}

// BenchmarkCatalog100k times, on SQLite and on PostgreSQL, what a publish
// and the package list ask of the catalog for a 100,000-package target:
// reading every row with its Meta (a publish with a cold cache, and
// GET /api/v1/targets/…/packages without limit), one page of it
// (PackagePage: first, last, by name), reading the live ids (a publish with a
// warm cache), recording a generation of 100,000 ids (with its changes),
// and listing targets with their counts (the targets page).
//
//	go test ./repo/catalog/postgres -run '^$' -bench Catalog100k -benchtime 5x
func BenchmarkCatalog100k(b *testing.B) {
	ctx := context.Background()
	cats := benchCatalogs(b)
	for _, name := range []string{"sqlite", "postgres"} {
		c := cats[name]
		ids, err := c.LivePackageIDs(ctx, 1)
		if err != nil || len(ids) != benchPackages {
			b.Fatalf("%s: %d ids, %v", name, len(ids), err)
		}
		b.Run(name+"/Packages", func(b *testing.B) {
			for b.Loop() {
				if ps, err := c.Packages(ctx, 1); err != nil || len(ps) != benchPackages {
					b.Fatal(len(ps), err)
				}
			}
		})
		// One page of GET …/packages?limit=100 (the API asks for one row
		// more): the first, the last, and a name's (as ?name= does).
		for _, pg := range []struct {
			what string
			q    repo.PackageQuery
			want int
		}{
			{"first", repo.PackageQuery{Limit: 101}, 101},
			{"last", repo.PackageQuery{Limit: 101, After: ids[len(ids)-50]}, 49},
			{"name", repo.PackageQuery{Limit: 101, Name: "pkg-099999"}, 1},
		} {
			b.Run(name+"/PackagePage/"+pg.what, func(b *testing.B) {
				for b.Loop() {
					if ps, err := c.PackagePage(ctx, 1, pg.q); err != nil || len(ps) != pg.want {
						b.Fatal(len(ps), err)
					}
				}
			})
		}
		b.Run(name+"/LivePackageIDs", func(b *testing.B) {
			for b.Loop() {
				if _, err := c.LivePackageIDs(ctx, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/PackageKeys", func(b *testing.B) {
			for b.Loop() {
				if _, err := c.PackageKeys(ctx, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/AddGeneration", func(b *testing.B) {
			for b.Loop() {
				g := &repo.Generation{Created: time.Now(), Manifest: "m", Packages: len(ids), PackageIDs: ids}
				if err := c.AddGeneration(ctx, 1, g); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/Targets", func(b *testing.B) {
			for b.Loop() {
				if _, err := c.Targets(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		// The web interface's search by name (repo.SearchIndex), once
		// every name is indexed: a prefix with a few names, a substring
		// inside many names (the limit of 200 the search page asks for),
		// and one that matches nothing.
		si := c.(repo.SearchIndex)
		entries := make([]repo.SearchEntry, len(ids))
		for i, id := range ids {
			entries[i] = repo.SearchEntry{PackageID: id, Name: fmt.Sprintf("pkg-%06d", i)}
		}
		start := time.Now()
		if err := si.IndexSearch(ctx, ids[len(ids)-1], entries); err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: indexed %d names in %v", name, len(ids), time.Since(start).Round(time.Millisecond))
		for _, q := range []struct {
			what, q string
			want    int
		}{{"prefix", "pkg-09999", 10}, {"substring", "999", 200}, {"none", "nothing", 0}} {
			b.Run(name+"/SearchNames/"+q.what, func(b *testing.B) {
				for b.Loop() {
					if hs, err := si.SearchNames(ctx, q.q, []int64{1}, 200); err != nil || len(hs) != q.want {
						b.Fatal(len(hs), err)
					}
				}
			})
		}
	}
}

// BenchmarkSnapshot10k times a Snapshot of a 10,000-package generation
// (2 kB of Meta each) into a new target: one INSERT … SELECT in one
// transaction, as repo/catalog/sqlite's BenchmarkSnapshot10k.
//
//	go test ./repo/catalog/postgres -run '^$' -bench Snapshot10k -benchtime 10x
func BenchmarkSnapshot10k(b *testing.B) {
	ctx := b.Context()
	pg := pgtest.Start(b)
	d, err := postgres.Open(ctx, pg.NewDatabase(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	src, err := d.Target(ctx, repo.Target{Stream: "5.8", Distro: "el", Release: "9"}, "rpm")
	if err != nil {
		b.Fatal(err)
	}
	const n = 10000
	meta := []byte(strings.Repeat("\x07", 2048))
	ps := make([]*repo.Package, n)
	for i := range ps {
		sum := fmt.Sprintf("%064x", i)
		ps[i] = &repo.Package{Component: "main", Name: fmt.Sprintf("p%05d", i), Version: "1-1", Arch: "x86_64", SHA256: sum,
			Size: 1000, Sums: repo.Sums{repo.SHA256: sum}, Meta: meta, Uploaded: time.Now()}
	}
	res, err := d.AddPackages(ctx, src.ID, ps)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int64, n)
	for i, r := range res {
		ids[i] = r.Package.ID
	}
	if err := d.AddGeneration(ctx, src.ID, &repo.Generation{Created: time.Now(), Revision: 1, Manifest: "m", PackageIDs: ids}); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		ti, err := d.Snapshot(ctx, src.ID, 1, repo.Target{Stream: fmt.Sprintf("5.8.%d", i), Distro: "el", Release: "9"}, "rpm", time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if ti.Frozen == nil {
			b.Fatalf("snapshot %s is not frozen", ti.Target)
		}
	}
}
