package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
)

// TestPackageListPages: without limit the list is every package, as before
// paging existed, and has no Link header; with limit, following the Link
// rel="next" URLs (absolute, on the public URL) gives the same packages in
// the same order, page by page, with the filters kept; the last page has
// no Link; name and arch filter with or without limit.
func TestPackageListPages(t *testing.T) {
	e := newEnv(t, auth.Config{}, api.Config{PublicURL: "https://pier.example/"})
	const tgs = "5.8/debian/bookworm"
	for i := range 7 {
		e.ingest(tgs, fmt.Sprintf("p%d", i%3), fmt.Sprintf("1.%d", i))
	}
	const base = "/api/v1/targets/" + tgs + "/packages"
	type pkg struct{ Name, Version, Architecture string }
	list := func(path string) ([]pkg, string) {
		t.Helper()
		w := e.do(req{method: "GET", path: path, bearer: adminSecret})
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		var ps []pkg
		if err := json.Unmarshal(w.Body.Bytes(), &ps); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, w.Body)
		}
		link := w.Header().Get("Link")
		if link == "" {
			return ps, ""
		}
		m := regexp.MustCompile(`^<(https://pier\.example/api/v1/targets/` + regexp.QuoteMeta(tgs) + `/packages\?[^>]+)>; rel="next"$`).FindStringSubmatch(link)
		if m == nil {
			t.Fatalf("GET %s: Link %q is not one absolute rel=next URL on the public URL", path, link)
		}
		u, err := url.Parse(m[1])
		if err != nil {
			t.Fatal(err)
		}
		return ps, u.RequestURI()
	}
	all, next := list(base)
	if len(all) != 7 || next != "" {
		t.Fatalf("no limit: %d packages, Link to %q; want all 7 and no Link", len(all), next)
	}
	walk := func(first string) ([]pkg, int) {
		var got []pkg
		pages := 0
		for path := first; path != ""; pages++ {
			if pages > 10 {
				t.Fatalf("pages from %s never end", first)
			}
			var ps []pkg
			ps, path = list(path)
			got = append(got, ps...)
		}
		return got, pages
	}
	filter := func(name, arch string) []pkg {
		var out []pkg
		for _, p := range all {
			if (name == "" || p.Name == name) && (arch == "" || p.Architecture == arch) {
				out = append(out, p)
			}
		}
		return out
	}
	for _, c := range []struct {
		query string
		want  []pkg
		pages int
	}{
		{"?limit=3", all, 3},
		{"?limit=7", all, 1},
		{"?limit=1000", all, 1},
		{"?limit=1", all, 7},
		{"?limit=2&name=p1", filter("p1", ""), 1},
		{"?limit=1&name=p0", filter("p0", ""), 3},
		{"?name=p2", filter("p2", ""), 1},
		{"?arch=amd64&limit=4", filter("", "amd64"), 2},
		{"?arch=arm64", nil, 1},
		{"?name=P0", nil, 1},
	} {
		got, pages := walk(base + c.query)
		if !slices.Equal(got, c.want) || pages != c.pages {
			t.Errorf("%s: %d pages %v, want %d pages %v", c.query, pages, got, c.pages, c.want)
		}
	}
	// after alone pages with the default size; a cursor stays valid when
	// packages are added behind it.
	_, next = list(base + "?limit=2")
	e.ingest(tgs, "late", "1")
	rest, _ := walk(next)
	if want := append(all[2:], pkg{"late", "1", "amd64"}); !slices.Equal(rest, want) {
		t.Errorf("after a cursor, once a package was added: %v, want %v", rest, want)
	}
	u, _ := url.Parse(next)
	ps, more := list(base + "?after=" + u.Query().Get("after"))
	if len(ps) != 6 || more != "" {
		t.Errorf("after without limit: %d packages, Link %q; want the 6 after the cursor (default page %d)", len(ps), more, api.DefaultPackagePage)
	}
}
