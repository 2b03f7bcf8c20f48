package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
)

// BenchmarkServe measures the whole handler (request id, limits, log
// line, metrics, view lookup, authorization, the file) for the files
// clients ask for most: InRelease and a by-hash Packages (from memory)
// and a small .deb (from the blob store).
func BenchmarkServe(b *testing.B) {
	e := newEnv(b, auth.Config{}, api.Config{})
	e.ingest("5.8/debian/bookworm", "hello", "1.0")
	e.publish("5.8/debian/bookworm")
	first := func(prefix string) string {
		for p := range e.svc.ServedPaths(prefix) {
			return p
		}
		b.Fatalf("nothing served under %s", prefix)
		return ""
	}
	for _, bc := range []struct{ name, path string }{
		{"InRelease", "deb/5.8/debian/dists/bookworm/InRelease"},
		{"ByHashPackages", first("deb/5.8/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/")},
		{"PoolDeb", first("deb/5.8/debian/pool/")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/"+bc.path, nil)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d", bc.path, w.Code)
				}
				if i%4096 == 0 { // the test log is kept in memory
					e.logs.mu.Lock()
					e.logs.b.Reset()
					e.logs.mu.Unlock()
				}
			}
		})
	}
}
