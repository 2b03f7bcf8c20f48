package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/pierhq/pier/repo"
)

// Small published files (roots such as InRelease and repomd.xml, plain and
// hashed indexes) are what clients ask for most; they are served from
// memory with their headers made once, so that a request for one opens no
// file and reads no catalog. Blobs are content-addressed and immutable, so
// an entry never goes stale: a path whose sha256 or time changed simply
// gets a new entry.
const (
	smallFileMax  = 64 << 10 // largest file kept
	smallFilesMax = 32 << 20 // bytes kept in all; past it the cache starts over
)

// smallFiles is the cache of small files by path.
type smallFiles struct {
	mu    sync.RWMutex
	files map[string]*smallFile
	bytes int64
}

// smallFile is one cached file: its bytes and the response headers every
// request for it gets.
type smallFile struct {
	sha256  string
	modTime time.Time
	body    []byte
	header  http.Header
	// plain is header with what http.ServeContent adds to a 200 answer
	// (Last-Modified, Accept-Ranges, Content-Length), for requests
	// without Range or conditions.
	plain http.Header
}

// get returns the cached file at path if it still is f, else nil.
func (c *smallFiles) get(path string, f repo.Served) *smallFile {
	c.mu.RLock()
	defer c.mu.RUnlock()
	sf := c.files[path]
	if sf == nil || sf.sha256 != f.SHA256 || !sf.modTime.Equal(f.ModTime) {
		return nil
	}
	return sf
}

// load reads f's blob and caches it under path, when f is small and not a
// package; nil when it is not cached.
func (c *smallFiles) load(ctx context.Context, blobs *repo.Blobs, path string, f repo.Served) (*smallFile, error) {
	if f.Size > smallFileMax || f.Kind == repo.KindPackage {
		return nil, nil
	}
	obj, err := blobs.Open(ctx, f.SHA256)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	body, err := io.ReadAll(io.LimitReader(obj, smallFileMax+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(body)) != f.Size {
		return nil, fmt.Errorf("read %s: blob %s has %d bytes, the manifest says %d", path, f.SHA256, len(body), f.Size)
	}
	sf := newSmallFile(path, f, body)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files == nil || c.bytes+int64(len(body)) > smallFilesMax {
		c.files, c.bytes = map[string]*smallFile{}, 0
	}
	if old := c.files[path]; old != nil {
		c.bytes -= int64(len(old.body))
	}
	c.files[path] = sf
	c.bytes += int64(len(body))
	return sf, nil
}

// fileHeader is the header of every response with a published file.
func fileHeader(path string, f repo.Served) http.Header {
	h := http.Header{}
	h.Set("Content-Type", repo.ContentType(path))
	h.Set("ETag", `"`+f.SHA256+`"`)
	h.Set("Cache-Control", repo.CacheControl(f.Kind))
	h.Set("X-Content-Sha256", f.SHA256)
	return h
}

// newSmallFile returns the cache entry of f, served at path, with its
// bytes and headers.
func newSmallFile(path string, f repo.Served, body []byte) *smallFile {
	sf := &smallFile{sha256: f.SHA256, modTime: f.ModTime, body: body, header: fileHeader(path, f)}
	sf.plain = sf.header.Clone()
	// What http.ServeContent sets on a 200 (net/http fs.go: setLastModified
	// skips the zero time and the Unix epoch).
	if !f.ModTime.IsZero() && !f.ModTime.Equal(time.Unix(0, 0)) {
		sf.plain.Set("Last-Modified", f.ModTime.UTC().Format(http.TimeFormat))
	}
	sf.plain.Set("Accept-Ranges", "bytes")
	sf.plain.Set("Content-Length", strconv.Itoa(len(body)))
	return sf
}

// conditional lists the request headers that make http.ServeContent
// answer other than 200 with the whole body.
var conditional = [...]string{"Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"}

// serve answers the request with sf: a GET or HEAD without Range or
// conditions with the headers made once and the bytes, as
// http.ServeContent would; anything else through http.ServeContent
// (Range, conditional requests).
func (sf *smallFile) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if sf.isPlain(r) {
		for k, v := range sf.plain {
			h[k] = v
		}
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(sf.body)
		}
		return
	}
	for k, v := range sf.header {
		h[k] = v
	}
	http.ServeContent(w, r, "", sf.modTime, bytes.NewReader(sf.body))
}

// isPlain reports whether r asks for the whole file without conditions.
func (sf *smallFile) isPlain(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	for _, k := range conditional {
		if len(r.Header[k]) > 0 {
			return false
		}
	}
	return true
}
