package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/storage"
)

// countOpens is a blob store that counts Open calls.
type countOpens struct {
	storage.Backend
	opens *atomic.Int64
}

func (c countOpens) Open(ctx context.Context, key string) (storage.Object, error) {
	c.opens.Add(1)
	return c.Backend.Open(ctx, key)
}

// TestSmallFilesFromMemory: a small published file (InRelease) is read from
// the blob store once and then served from memory, with the same bytes and
// headers (ETag, Content-Type, Cache-Control, X-Content-Sha256,
// Last-Modified, Content-Length), conditional requests, ranges and HEAD; a
// new generation's InRelease at the same path is served at once; pool
// files are always read from the blob store.
func TestSmallFilesFromMemory(t *testing.T) {
	var opens atomic.Int64
	e := newEnvWith(t, auth.Config{}, api.Config{}, func(b storage.Backend) storage.Backend { return countOpens{b, &opens} })
	e.ingest("5.8/debian/bookworm", "hello", "1.0")
	e.publish("5.8/debian/bookworm")
	const path = "/deb/5.8/debian/dists/bookworm/InRelease"
	first := e.do(req{method: "GET", path: path})
	if first.Code != 200 {
		t.Fatalf("GET InRelease: %d %s", first.Code, first.Body)
	}
	sum := sha256.Sum256(first.Body.Bytes())
	hexSum := hex.EncodeToString(sum[:])
	before := opens.Load()
	second := e.do(req{method: "GET", path: path})
	if n := opens.Load() - before; n != 0 {
		t.Errorf("second GET of InRelease opened %d blobs, want 0 (served from memory)", n)
	}
	if second.Code != 200 || second.Body.String() != first.Body.String() {
		t.Fatalf("second GET: %d, body equal %v", second.Code, second.Body.String() == first.Body.String())
	}
	served, ok := e.svc.Lookup(path[1:])
	if !ok {
		t.Fatal("InRelease not in the served view")
	}
	for k, want := range map[string]string{
		"ETag": `"` + hexSum + `"`, "X-Content-Sha256": hexSum, "Content-Length": strconv.Itoa(first.Body.Len()),
		"Content-Type": repo.ContentType(path[1:]), "Cache-Control": repo.CacheControl(repo.KindRoot),
		"Last-Modified": served.ModTime.UTC().Format(http.TimeFormat),
	} {
		for name, w := range map[string]http.Header{"first": first.Header(), "second": second.Header()} {
			if got := w.Get(k); got != want || got == "" {
				t.Errorf("%s GET: %s: %q, want %q", name, k, got, want)
			}
		}
	}
	if w := e.do(req{method: "GET", path: path, hdr: map[string]string{"If-None-Match": `"` + hexSum + `"`}}); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d with %d bytes, want 304 and none", w.Code, w.Body.Len())
	}
	if w := e.do(req{method: "GET", path: path, hdr: map[string]string{"Range": "bytes=0-9"}}); w.Code != http.StatusPartialContent || w.Body.String() != first.Body.String()[:10] {
		t.Errorf("Range 0-9: %d %q", w.Code, w.Body.String())
	}
	if w := e.do(req{method: "HEAD", path: path}); w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != strconv.Itoa(first.Body.Len()) {
		t.Errorf("HEAD: %d, %d body bytes, Content-Length %q", w.Code, w.Body.Len(), w.Header().Get("Content-Length"))
	}
	// A new generation: the same path names other bytes.
	e.ingest("5.8/debian/bookworm", "world", "1.0")
	e.publish("5.8/debian/bookworm")
	third := e.do(req{method: "GET", path: path})
	if third.Code != 200 || third.Body.String() == first.Body.String() {
		t.Fatalf("InRelease after a new publish: %d, unchanged %v", third.Code, third.Body.String() == first.Body.String())
	}
	sum3 := sha256.Sum256(third.Body.Bytes())
	if got := third.Header().Get("ETag"); got != `"`+hex.EncodeToString(sum3[:])+`"` {
		t.Errorf("new InRelease ETag %s does not match its bytes", got)
	}
	// Pool files are not kept in memory.
	pool := e.do(req{method: "GET", path: "/deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages"})
	var filename string
	for _, line := range strings.Split(pool.Body.String(), "\n") {
		if len(line) > 10 && line[:10] == "Filename: " {
			filename = line[10:]
			break
		}
	}
	if filename == "" {
		t.Fatalf("no Filename in Packages: %s", pool.Body)
	}
	for range 2 {
		before := opens.Load()
		w := e.do(req{method: "GET", path: "/deb/5.8/debian/" + filename})
		if w.Code != 200 {
			t.Fatalf("GET %s: %d", filename, w.Code)
		}
		if opens.Load() == before {
			t.Errorf("GET %s opened no blob, want the blob store read for package files", filename)
		}
		io.Copy(io.Discard, w.Body)
	}
}
