package web

import (
	"net/http/httptest"
	"testing"

	"github.com/pierhq/pier/repo"
)

func TestEncoding(t *testing.T) {
	for _, c := range []struct{ accept, want string }{
		{"", "identity"},
		{"gzip", "gzip"},
		{"gzip, deflate, br, zstd", "zstd"},
		{"zstd;q=0, gzip", "gzip"},
		{"gzip;q=0", "identity"},
		{"ZSTD", "zstd"},
		{"identity", "identity"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Encoding", c.accept)
		if got := encoding(r); got != c.want {
			t.Errorf("Accept-Encoding %q: %s, want %s", c.accept, got, c.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/targets/a/b/c": "/targets/a/b/c", "": "/", "//evil.test/x": "/", "/\\evil.test": "/",
		"https://evil.test/": "/", "/search?q=x": "/search?q=x",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTopK: the bounded selection gives the same first k as a full sort.
func TestTopK(t *testing.T) {
	var ps []*repo.Package
	for i := range 1000 {
		ps = append(ps, &repo.Package{Name: string(rune('a' + (i*7919)%26)), ID: int64((i * 104729) % 1000)})
	}
	order := func(a, b *repo.Package) int {
		if a.Name != b.Name {
			if a.Name < b.Name {
				return -1
			}
			return 1
		}
		return int(a.ID - b.ID)
	}
	for _, k := range []int{0, 1, 50, 249, 250, 1000} {
		got := topK(append([]*repo.Package(nil), ps...), k, order)
		full := append([]*repo.Package(nil), ps...)
		topK(full, len(full), order)
		if len(got) != k {
			t.Fatalf("k=%d: %d rows", k, len(got))
		}
		for i := range got {
			if got[i] != full[i] {
				t.Fatalf("k=%d: row %d is %+v, a full sort has %+v", k, i, got[i], full[i])
			}
		}
	}
}
