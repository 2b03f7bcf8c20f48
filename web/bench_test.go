package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb"
)

// benchEnv is an env whose target 5.8/debian/bookworm holds n packages
// (recorded in the catalog directly, with deb Meta carrying 5 installed
// files each), with a current generation, indexed for search.
func benchEnv(b *testing.B, n int) *env {
	e := newEnv(b)
	ctx := context.Background()
	ti, err := e.cat.Target(ctx, repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}, "deb")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	var batch []*repo.Package
	flush := func() {
		res, err := e.cat.AddPackages(ctx, ti.ID, batch)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		batch = batch[:0]
	}
	for i := range n {
		name := fmt.Sprintf("pkg-%06d", i)
		m := deb.Meta{Source: name, Head: "Package: " + name + "\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: Bench <b@example.org>\nInstalled-Size: 10\n",
			Tail: "Description: package " + name + "\n", Files: []string{"usr/bin/" + name, "usr/lib/" + name + "/lib.so",
				"usr/share/doc/" + name + "/changelog.gz", "usr/share/doc/" + name + "/copyright", "usr/share/man/man1/" + name + ".1.gz"}}
		meta, err := m.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		sum := fmt.Sprintf("%064x", i+1)
		batch = append(batch, &repo.Package{Component: "main", Name: name, Version: "1.0-1", Arch: "amd64", Size: 1000 + int64(i),
			SHA256: sum, Sums: repo.Sums{repo.SHA256: sum}, Meta: meta, Uploaded: time.Unix(1_700_000_000+int64(i), 0).UTC()})
		if len(batch) == 5000 {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	recorded := time.Since(start)
	if err := e.cat.AddGeneration(ctx, ti.ID, &repo.Generation{Created: time.Now().UTC(), Revision: 1, Manifest: "bench",
		Files: n, Packages: n}); err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	if err := e.web.Index(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d packages: recorded in %s, indexed for search by file (%d paths) in %s", n, recorded.Round(time.Millisecond),
		5*n, time.Since(start).Round(time.Millisecond))
	return e
}

// BenchmarkPages measures the server-side time of the target page (one
// page of 50 of the package list, with the setup text) and of searches by
// name and by file, on 10,000 and 100,000 packages.
func BenchmarkPages(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		e := benchEnv(b, n)
		for _, c := range []struct{ name, path string }{
			{"home", "/"},
			{"target", "/targets/5.8/debian/bookworm"},
			{"target-filtered-by-version", "/targets/5.8/debian/bookworm?name=pkg-00&sort=version&order=desc&page=3"},
			{"search-name-prefix", "/search?q=pkg-0042"},
			{"search-name-substring", "/search?q=777"},
			{"search-name-broad", "/search?q=pkg"},
			{"search-file", fmt.Sprintf("/search?q=/usr/bin/pkg-%06d", n/2)},
			{"search-folder", "/search?q=/usr/lib/pkg-00123/"},
			{"package", fmt.Sprintf("/packages/pkg-%06d", n-1)},
		} {
			b.Run(fmt.Sprintf("%s/%dk", c.name, n/1000), func(b *testing.B) {
				for b.Loop() {
					w := httptest.NewRecorder()
					e.h.ServeHTTP(w, httptest.NewRequest("GET", "http://pier.test"+c.path, nil))
					if w.Code != http.StatusOK {
						b.Fatalf("%s: %d", c.path, w.Code)
					}
				}
			})
		}
	}
}
