// Package storagetest is the conformance suite for storage.Backend: the one
// set of tests every backend (local directory, S3-compatible store) must
// pass. It checks the contracts written on storage.Backend, including atomic
// overwrite under concurrent readers, fs.ErrNotExist for missing keys,
// idempotent Delete, lexical List order with prefixes, key validation, Seek
// and HTTP Range reads, unknown sizes, context cancellation and large
// streamed objects.
//
// A backend's test calls [Run] with a constructor that returns a fresh,
// empty backend for each subtest.
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/storage"
)

// Run runs the conformance suite. newBackend must return a new, empty
// backend each time it is called (it is called once per subtest, and
// subtests run in parallel); it should register its cleanup with t.Cleanup.
func Run(t *testing.T, newBackend func(t *testing.T) storage.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b storage.Backend)
	}{
		{"RoundTrip", testRoundTrip},
		{"UnknownSize", testUnknownSize},
		{"SizeMismatch", testSizeMismatch},
		{"Overwrite", testOverwrite},
		{"AtomicOverwrite", testAtomicOverwrite},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"List", testList},
		{"ListStops", testListStops},
		{"InvalidKeys", testInvalidKeys},
		{"Seek", testSeek},
		{"ServeContentRange", testServeContentRange},
		{"ContextCanceled", testContextCanceled},
		{"CanceledMidStream", testCanceledMidStream},
		{"ReaderError", testReaderError},
		{"Large", testLarge},
		{"ConcurrentKeys", testConcurrentKeys},
		{"Metadata", testMetadata},
		{"PutFile", testPutFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newBackend(t))
		})
	}
}

// put stores data under key or fails the test.
func put(t *testing.T, b storage.Backend, key string, data []byte) {
	t.Helper()
	if err := b.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{}); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

// get reads the object under key or fails the test.
func get(t *testing.T, b storage.Backend, key string) []byte {
	t.Helper()
	o, err := b.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer o.Close()
	data, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data
}

// mustNotExist checks that Stat and Open report key missing.
func mustNotExist(t *testing.T, b storage.Backend, key string) {
	t.Helper()
	if _, err := b.Stat(t.Context(), key); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(%q) error = %v, want fs.ErrNotExist", key, err)
	}
	o, err := b.Open(t.Context(), key)
	if err == nil {
		o.Close()
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(%q) error = %v, want fs.ErrNotExist", key, err)
	}
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// stream returns a reader of n deterministic pseudo-random bytes that does
// not hold them in memory.
func stream(seed byte, n int64) io.Reader {
	var key [32]byte
	key[0] = seed
	return io.LimitReader(rand.NewChaCha8(key), n)
}

// onlyReader hides every method but Read, so backends cannot learn the size
// or seek.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func checkInfo(t *testing.T, what string, info storage.Info, key string, size int64) {
	t.Helper()
	if info.Key != key {
		t.Errorf("%s: Key = %q, want %q", what, info.Key, key)
	}
	if info.Size != size {
		t.Errorf("%s: Size = %d, want %d", what, info.Size, size)
	}
	if info.ModTime.IsZero() {
		t.Errorf("%s: zero ModTime", what)
	} else if d := time.Since(info.ModTime); d > 24*time.Hour || d < -24*time.Hour {
		t.Errorf("%s: ModTime %v is far from now", what, info.ModTime)
	}
}

func testRoundTrip(t *testing.T, b storage.Backend) {
	tests := []struct {
		key  string
		data []byte
	}{
		{"a", []byte("hello")},
		{"empty", nil},
		{"dir/sub/file.txt", []byte("nested\n")},
		{"pool/main/h/hello/hello_2.12-1_amd64.deb", randomBytes(1, 100<<10)},
		{"with space/plus+at@eq=comma,tilde~", []byte("odd characters")},
		{"ünïcödé/日本語", []byte("unicode")},
		{"dir/.hidden", []byte("dot file")},
		{"dists/bookworm/main/by-hash/SHA256/" + strings.Repeat("ab", 32), []byte("by-hash")},
	}
	for _, tt := range tests {
		put(t, b, tt.key, tt.data)
	}
	for _, tt := range tests {
		ctx := t.Context()
		o, err := b.Open(ctx, tt.key)
		if err != nil {
			t.Fatalf("Open(%q): %v", tt.key, err)
		}
		checkInfo(t, "Open("+tt.key+").Info", o.Info(), tt.key, int64(len(tt.data)))
		got, err := io.ReadAll(o)
		if err != nil {
			t.Fatalf("read %q: %v", tt.key, err)
		}
		if !bytes.Equal(got, tt.data) {
			t.Errorf("%q: read %d bytes that differ from the %d put", tt.key, len(got), len(tt.data))
		}
		if f, ok := o.(storage.Filer); ok {
			fi, err := f.File().Stat()
			if err != nil || fi.Size() != int64(len(tt.data)) {
				t.Errorf("%q: Filer file: %v, %v", tt.key, fi, err)
			}
		}
		if err := o.Close(); err != nil {
			t.Errorf("Close(%q): %v", tt.key, err)
		}
		info, err := b.Stat(ctx, tt.key)
		if err != nil {
			t.Fatalf("Stat(%q): %v", tt.key, err)
		}
		checkInfo(t, "Stat("+tt.key+")", info, tt.key, int64(len(tt.data)))
	}
}

func testUnknownSize(t *testing.T, b storage.Backend) {
	for _, n := range []int{0, 1, 1<<20 + 1} {
		key := fmt.Sprintf("unknown/%d", n)
		data := randomBytes(uint64(n), n)
		if err := b.Put(t.Context(), key, onlyReader{bytes.NewReader(data)}, -1, storage.PutOptions{}); err != nil {
			t.Fatalf("Put(%q, size -1): %v", key, err)
		}
		if got := get(t, b, key); !bytes.Equal(got, data) {
			t.Errorf("%q: content differs", key)
		}
		info, err := b.Stat(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		checkInfo(t, "Stat", info, key, int64(n))
	}
}

func testSizeMismatch(t *testing.T, b storage.Backend) {
	old := []byte("old content")
	put(t, b, "existing", old)
	tests := []struct {
		name     string
		data     []byte
		announce int64
	}{
		{"short", []byte("12345"), 10},
		{"long", []byte("1234567890"), 5},
		{"empty announced", nil, 1},
		{"data for zero", []byte("x"), 0},
	}
	for _, tt := range tests {
		for _, key := range []string{"fresh/" + tt.name, "existing"} {
			err := b.Put(t.Context(), key, onlyReader{bytes.NewReader(tt.data)}, tt.announce, storage.PutOptions{})
			if !errors.Is(err, storage.ErrSizeMismatch) {
				t.Errorf("%s: Put(%q) error = %v, want ErrSizeMismatch", tt.name, key, err)
			}
		}
		mustNotExist(t, b, "fresh/"+tt.name)
		if got := get(t, b, "existing"); !bytes.Equal(got, old) {
			t.Errorf("%s: failed Put changed the existing object to %q", tt.name, got)
		}
	}
}

func testOverwrite(t *testing.T, b storage.Backend) {
	put(t, b, "k", randomBytes(1, 5000))
	second := []byte("shorter")
	put(t, b, "k", second)
	if got := get(t, b, "k"); !bytes.Equal(got, second) {
		t.Errorf("after overwrite read %q", got)
	}
	info, err := b.Stat(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	checkInfo(t, "Stat", info, "k", int64(len(second)))
	third := randomBytes(3, 9000)
	put(t, b, "k", third)
	if got := get(t, b, "k"); !bytes.Equal(got, third) {
		t.Error("after second overwrite content differs")
	}
}

// version returns the content of version v of the object in the atomic
// overwrite test: its length and every byte depend on v, and the first 8
// bytes name v, so a reader can tell a whole version from a mix.
func version(v uint64) []byte {
	const base = 1 << 20
	data := make([]byte, base+int(v%7)*4099)
	binary.BigEndian.PutUint64(data, v)
	for i := 8; i < len(data); i++ {
		data[i] = byte((uint64(i)*31 + v) % 251)
	}
	return data
}

// checkVersion reports whether data is exactly one version.
func checkVersion(data []byte) error {
	if len(data) < 8 {
		return fmt.Errorf("read only %d bytes", len(data))
	}
	v := binary.BigEndian.Uint64(data)
	if want := version(v); !bytes.Equal(data, want) {
		return fmt.Errorf("read %d bytes that are not version %d (%d bytes): a partial or mixed object", len(data), v, len(want))
	}
	return nil
}

func testAtomicOverwrite(t *testing.T, b storage.Backend) {
	const key = "dists/stable/InRelease"
	const writes = 16
	put(t, b, key, version(0))

	// A reader that opens the object before the overwrites and reads it
	// slowly must see the old version whole (or fail), never a mix.
	slow, err := b.Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	first := make([]byte, 1000)
	if _, err := io.ReadFull(slow, first); err != nil {
		t.Fatal(err)
	}

	var done atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				o, err := b.Open(t.Context(), key)
				if err != nil {
					errs <- fmt.Errorf("open during overwrite: %w", err)
					return
				}
				data, err := io.ReadAll(o)
				o.Close()
				if err != nil {
					errs <- fmt.Errorf("read during overwrite: %w", err)
					return
				}
				if err := checkVersion(data); err != nil {
					errs <- err
					return
				}
				if int64(len(data)) != o.Info().Size {
					errs <- fmt.Errorf("Info().Size %d, read %d bytes", o.Info().Size, len(data))
					return
				}
				reads.Add(1)
			}
		}()
	}
	for v := uint64(1); v <= writes; v++ {
		data := version(v)
		if err := b.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{}); err != nil {
			t.Errorf("Put version %d: %v", v, err)
			break
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if reads.Load() == 0 {
		t.Log("readers finished no read during the overwrites")
	}
	if err := checkVersion(get(t, b, key)); err != nil {
		t.Errorf("final object: %v", err)
	}
	rest, err := io.ReadAll(slow)
	if err == nil {
		if err := checkVersion(append(first, rest...)); err != nil {
			t.Errorf("reader opened before the overwrites: %v", err)
		}
	}
}

func testMissing(t *testing.T, b storage.Backend) {
	put(t, b, "dir/file", []byte("x"))
	for _, key := range []string{"nope", "nope/deeper", "dir", "dir/fil", "dir/file/below", "dir/other"} {
		mustNotExist(t, b, key)
		if err := b.Delete(t.Context(), key); err != nil {
			t.Errorf("Delete(%q) of a missing key: %v", key, err)
		}
	}
	if got := get(t, b, "dir/file"); string(got) != "x" {
		t.Errorf("deleting missing keys changed dir/file to %q", got)
	}
}

func testDelete(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	data := randomBytes(7, 64<<10)
	put(t, b, "a/b/c", data)
	put(t, b, "a/other", []byte("stays"))
	early, err := b.Open(ctx, "a/b/c")
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()
	for i := range 2 {
		if err := b.Delete(ctx, "a/b/c"); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	mustNotExist(t, b, "a/b/c")
	if got := get(t, b, "a/other"); string(got) != "stays" {
		t.Errorf("sibling changed to %q", got)
	}
	// A reader opened before the delete may finish, or fail; never garbage.
	if got, err := io.ReadAll(early); err == nil && !bytes.Equal(got, data) {
		t.Error("reader opened before Delete read wrong bytes")
	}
	var keys []string
	if err := b.List(ctx, "", func(i storage.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"a/other"}) {
		t.Errorf("List after Delete = %q, want [a/other]", keys)
	}
	// The emptied "directory" can be used again.
	put(t, b, "a/b/d", []byte("again"))
	if got := get(t, b, "a/b/d"); string(got) != "again" {
		t.Errorf("put after delete read %q", got)
	}
}

func testList(t *testing.T, b storage.Backend) {
	// Chosen so that per-directory order differs from key order:
	// "a-b" < "a.txt" < "a/b" < "ab" because '-' < '.' < '/' < 'b'.
	keys := []string{
		"a.txt", "a/b", "a/c/d", "a/c/e", "a-b", "ab", "B", "b/0", "b/1/x", "z",
		"dists/bookworm/InRelease", "dists/bookworm/main/binary-amd64/Packages",
		"dists/bookworm-updates/InRelease", "dists/bookworm.old/x",
	}
	sizes := map[string]int{}
	for i, k := range keys {
		data := randomBytes(uint64(i), i*3)
		sizes[k] = len(data)
		put(t, b, k, data)
	}
	tests := []struct {
		prefix string
	}{
		{""}, {"a"}, {"a/"}, {"a/c"}, {"a/c/"}, {"a/c/d"}, {"a/c/d/"}, {"b"}, {"B"}, {"b/"},
		{"dists/bookworm"}, {"dists/bookworm/"}, {"dists/bookworm-"}, {"nope"}, {"z"}, {"zz"},
	}
	for _, tt := range tests {
		var want []string
		for _, k := range keys {
			if strings.HasPrefix(k, tt.prefix) {
				want = append(want, k)
			}
		}
		slices.Sort(want)
		var got []string
		err := b.List(t.Context(), tt.prefix, func(i storage.Info) error {
			got = append(got, i.Key)
			if i.Size != int64(sizes[i.Key]) {
				t.Errorf("List(%q): %q has Size %d, want %d", tt.prefix, i.Key, i.Size, sizes[i.Key])
			}
			return nil
		})
		if err != nil {
			t.Fatalf("List(%q): %v", tt.prefix, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, want %q", tt.prefix, got, want)
		}
	}
}

func testListStops(t *testing.T, b storage.Backend) {
	for _, k := range []string{"x/1", "x/2", "x/3", "x/4"} {
		put(t, b, k, []byte(k))
	}
	stop := errors.New("stop here")
	calls := 0
	err := b.List(t.Context(), "x/", func(storage.Info) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("List returned %v, want the callback's error", err)
	}
	if calls != 2 {
		t.Errorf("callback called %d times after returning an error at call 2", calls)
	}
}

func testInvalidKeys(t *testing.T, b storage.Backend) {
	invalid := []string{
		"", "/", "/a", "a/", "a//b", ".", "..", "./a", "a/.", "a/./b", "../a", "a/..", "a/../b",
		"a\x00b", "a\\b", "a\nb", "a\tb", "\x7f", "\xff\xfe", strings.Repeat("k", storage.MaxKeyLen+1),
	}
	ctx := t.Context()
	for _, key := range invalid {
		if err := storage.ValidKey(key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("ValidKey(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := b.Put(ctx, key, strings.NewReader("x"), 1, storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if o, err := b.Open(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			if err == nil {
				o.Close()
			}
			t.Errorf("Open(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := b.Stat(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := b.Delete(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
		if fp, ok := b.(storage.FilePutter); ok {
			if err := fp.PutFile(ctx, key, "/nonexistent/file"); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("PutFile(%q) = %v, want ErrInvalidKey", key, err)
			}
		}
	}
	valid := []string{"a", "a/b", "a.b", "...", "a/.../b", ".a", "a/.b", "a b", "a~b", strings.Repeat("k", storage.MaxKeyLen)}
	for _, key := range valid {
		if err := storage.ValidKey(key); err != nil {
			t.Errorf("ValidKey(%q) = %v, want nil", key, err)
		}
	}
	var n int
	if err := b.List(ctx, "", func(storage.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("rejected Puts left %d objects", n)
	}
}

func testSeek(t *testing.T, b storage.Backend) {
	data := randomBytes(11, 1<<20+123)
	size := int64(len(data))
	put(t, b, "seek", data)
	o, err := b.Open(t.Context(), "seek")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	steps := []struct {
		offset int64
		whence int
		want   int64 // resulting position
		read   int
	}{
		{0, io.SeekStart, 0, 100},
		{1000, io.SeekStart, 1000, 4096},
		{10, io.SeekCurrent, 1000 + 4096 + 10, 77},
		{-500, io.SeekEnd, size - 500, 500},
		{0, io.SeekEnd, size, 0},
		{-1, io.SeekCurrent, size - 1, 1},
		{size / 2, io.SeekStart, size / 2, 1 << 16},
		{0, io.SeekStart, 0, 10},
	}
	for _, s := range steps {
		pos, err := o.Seek(s.offset, s.whence)
		if err != nil {
			t.Fatalf("Seek(%d, %d): %v", s.offset, s.whence, err)
		}
		if pos != s.want {
			t.Fatalf("Seek(%d, %d) = %d, want %d", s.offset, s.whence, pos, s.want)
		}
		buf := make([]byte, s.read)
		if _, err := io.ReadFull(o, buf); err != nil {
			t.Fatalf("read %d at %d: %v", s.read, pos, err)
		}
		if !bytes.Equal(buf, data[pos:pos+int64(s.read)]) {
			t.Fatalf("read at %d returned wrong bytes", pos)
		}
	}
	if _, err := o.Seek(size+10, io.SeekStart); err != nil {
		t.Fatalf("Seek past the end: %v", err)
	}
	if n, err := o.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("Read past the end = %d, %v; want 0, io.EOF", n, err)
	}
	if _, err := o.Seek(-1, io.SeekStart); err == nil {
		t.Error("Seek to a negative position succeeded")
	}
}

func testServeContentRange(t *testing.T, b storage.Backend) {
	data := randomBytes(12, 300<<10)
	put(t, b, "pool/pkg.deb", data)
	n := len(data)
	tests := []struct {
		rangeHdr   string
		wantStatus int
		want       []byte
	}{
		{"", http.StatusOK, data},
		{"bytes=100-199", http.StatusPartialContent, data[100:200]},
		{"bytes=-50", http.StatusPartialContent, data[n-50:]},
		{fmt.Sprintf("bytes=%d-", n-1000), http.StatusPartialContent, data[n-1000:]},
		{fmt.Sprintf("bytes=%d-", n), http.StatusRequestedRangeNotSatisfiable, nil},
	}
	for _, tt := range tests {
		o, err := b.Open(t.Context(), "pool/pkg.deb")
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "/pool/pkg.deb", nil)
		if tt.rangeHdr != "" {
			req.Header.Set("Range", tt.rangeHdr)
		}
		rec := httptest.NewRecorder()
		http.ServeContent(rec, req, "pkg.deb", o.Info().ModTime, o)
		o.Close()
		if rec.Code != tt.wantStatus {
			t.Errorf("Range %q: status %d, want %d", tt.rangeHdr, rec.Code, tt.wantStatus)
			continue
		}
		if tt.want != nil && !bytes.Equal(rec.Body.Bytes(), tt.want) {
			t.Errorf("Range %q: body of %d bytes differs from the %d expected", tt.rangeHdr, rec.Body.Len(), len(tt.want))
		}
	}
}

func testContextCanceled(t *testing.T, b storage.Backend) {
	put(t, b, "there", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := b.Put(ctx, "new", strings.NewReader("y"), 1, storage.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Put: %v, want context.Canceled", err)
	}
	mustNotExist(t, b, "new")
	if o, err := b.Open(ctx, "there"); !errors.Is(err, context.Canceled) {
		if err == nil {
			o.Close()
		}
		t.Errorf("Open: %v, want context.Canceled", err)
	}
	if _, err := b.Stat(ctx, "there"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat: %v, want context.Canceled", err)
	}
	if err := b.Delete(ctx, "there"); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete: %v, want context.Canceled", err)
	}
	if err := b.List(ctx, "", func(storage.Info) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("List: %v, want context.Canceled", err)
	}
	if fp, ok := b.(storage.FilePutter); ok {
		if err := fp.PutFile(ctx, "newfile", "/nonexistent/file"); !errors.Is(err, context.Canceled) {
			t.Errorf("PutFile: %v, want context.Canceled", err)
		}
	}
}

// cancelingReader cancels a context once it has delivered after bytes, and
// keeps delivering.
type cancelingReader struct {
	r      io.Reader
	after  int64
	n      int64
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	if c.n >= c.after {
		c.cancel()
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func testCanceledMidStream(t *testing.T, b storage.Backend) {
	old := []byte("old version")
	put(t, b, "obj", old)
	for _, size := range []int64{8 << 20, -1} {
		ctx, cancel := context.WithCancel(t.Context())
		r := &cancelingReader{r: stream(1, 8<<20), after: 256 << 10, cancel: cancel}
		err := b.Put(ctx, "obj", r, size, storage.PutOptions{})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Put (size %d) canceled mid-stream: %v, want context.Canceled", size, err)
		}
		if got := get(t, b, "obj"); !bytes.Equal(got, old) {
			t.Errorf("canceled Put (size %d) changed the object (%d bytes)", size, len(got))
		}
	}
}

// failingReader returns err after n bytes.
type failingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

func testReaderError(t *testing.T, b storage.Backend) {
	boom := errors.New("reader exploded")
	old := []byte("previous")
	put(t, b, "obj", old)
	for _, key := range []string{"obj", "fresh"} {
		r := &failingReader{r: stream(2, 1<<20), n: 100 << 10, err: boom}
		err := b.Put(t.Context(), key, r, 1<<20, storage.PutOptions{})
		if !errors.Is(err, boom) {
			t.Errorf("Put(%q) with a failing reader: %v, want the reader's error", key, err)
		}
	}
	if got := get(t, b, "obj"); !bytes.Equal(got, old) {
		t.Errorf("failed Put changed the object (%d bytes)", len(got))
	}
	mustNotExist(t, b, "fresh")
}

func testLarge(t *testing.T, b storage.Backend) {
	const size = 20 << 20
	for _, announced := range []int64{size, -1} {
		key := fmt.Sprintf("large/%d", announced)
		h := sha256.New()
		src := io.TeeReader(stream(3, size), h)
		if err := b.Put(t.Context(), key, onlyReader{src}, announced, storage.PutOptions{}); err != nil {
			t.Fatalf("Put %d MiB (size %d): %v", size>>20, announced, err)
		}
		want := h.Sum(nil)
		o, err := b.Open(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		if o.Info().Size != size {
			t.Errorf("Info().Size = %d, want %d", o.Info().Size, size)
		}
		h.Reset()
		n, err := io.Copy(h, o)
		o.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n != size || !bytes.Equal(h.Sum(nil), want) {
			t.Errorf("%q: read %d bytes with a different sha256", key, n)
		}
	}
}

func testConcurrentKeys(t *testing.T, b storage.Backend) {
	const workers, rounds = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := t.Context()
			for i := range rounds {
				// Own keys, plus a shared directory that other workers
				// empty (and a file-system backend may remove) meanwhile.
				for _, key := range []string{fmt.Sprintf("own/%d/%d", w, i), fmt.Sprintf("shared/dir/w%d", w)} {
					data := []byte(key + fmt.Sprint(i))
					if err := b.Put(ctx, key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{}); err != nil {
						errs <- err
						return
					}
					o, err := b.Open(ctx, key)
					if err != nil {
						errs <- err
						return
					}
					got, err := io.ReadAll(o)
					o.Close()
					if err != nil || !bytes.Equal(got, data) {
						errs <- fmt.Errorf("read %q: %q, %v", key, got, err)
						return
					}
					if err := b.Delete(ctx, key); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var left []string
	if err := b.List(t.Context(), "", func(i storage.Info) error { left = append(left, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("objects left after all deletes: %q", left)
	}
}

func testMetadata(t *testing.T, b storage.Backend) {
	opts := storage.PutOptions{
		ContentType:  "text/plain; charset=utf-8",
		CacheControl: "max-age=60",
		Metadata:     map[string]string{"sha256": strings.Repeat("0", 64), "origin": "pier"},
	}
	if err := b.Put(t.Context(), "meta", strings.NewReader("m"), 1, opts); err != nil {
		t.Fatal(err)
	}
	check := func(what string, md map[string]string) {
		if len(md) == 0 {
			return // this backend does not keep metadata
		}
		for k, v := range opts.Metadata {
			if md[k] != v {
				t.Errorf("%s: Metadata[%q] = %q, want %q", what, k, md[k], v)
			}
		}
	}
	info, err := b.Stat(t.Context(), "meta")
	if err != nil {
		t.Fatal(err)
	}
	check("Stat", info.Metadata)
	o, err := b.Open(t.Context(), "meta")
	if err != nil {
		t.Fatal(err)
	}
	check("Open", o.Info().Metadata)
	o.Close()
	// Overwriting without metadata must not keep the old metadata.
	put(t, b, "meta", []byte("n"))
	if info, err := b.Stat(t.Context(), "meta"); err != nil {
		t.Fatal(err)
	} else if len(info.Metadata) != 0 && info.Metadata["origin"] == "pier" {
		t.Error("metadata of the previous version survived an overwrite")
	}
}

func testPutFile(t *testing.T, b storage.Backend) {
	fp, ok := b.(storage.FilePutter)
	if !ok {
		t.Skip("backend does not implement storage.FilePutter")
	}
	ctx := t.Context()
	dir := t.TempDir()
	data := randomBytes(21, 1<<20)
	path := filepath.Join(dir, "upload")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fp.PutFile(ctx, "pool/upload.deb", path); err != nil {
		t.Fatalf("PutFile: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("source still exists after PutFile (stat: %v)", err)
	}
	if got := get(t, b, "pool/upload.deb"); !bytes.Equal(got, data) {
		t.Error("PutFile content differs")
	}
	// Overwrite through PutFile.
	data2 := []byte("replacement")
	if err := os.WriteFile(path, data2, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fp.PutFile(ctx, "pool/upload.deb", path); err != nil {
		t.Fatal(err)
	}
	if got := get(t, b, "pool/upload.deb"); !bytes.Equal(got, data2) {
		t.Error("PutFile overwrite content differs")
	}
	// A missing source fails and leaves the object alone.
	if err := fp.PutFile(ctx, "pool/upload.deb", filepath.Join(dir, "missing")); err == nil {
		t.Error("PutFile of a missing file succeeded")
	}
	if got := get(t, b, "pool/upload.deb"); !bytes.Equal(got, data2) {
		t.Error("failed PutFile changed the object")
	}
	// An invalid key fails and leaves the source in place.
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fp.PutFile(ctx, "../escape", path); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("PutFile with an invalid key: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("source gone after a failed PutFile: %v", err)
	}
}
