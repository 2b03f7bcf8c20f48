package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierhq/pier/storage"
	"github.com/pierhq/pier/storage/storagetest"
)

// testBucket is the bucket every test gateway serves.
const testBucket = "pier-test"

// gateway is a versitygw process, started by a test, serving testBucket
// from a temporary directory.
type gateway struct {
	endpoint string
	access   string
	secret   string
	root     string
}

// findVersitygw returns the versitygw binary from PATH or $(go env
// GOPATH)/bin. When there is none the test is skipped, or fails if CI=true
// (.ci/versitygw.sh installs it).
func findVersitygw(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "versitygw")
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p
			}
		}
	}
	const msg = "versitygw not found in PATH or $(go env GOPATH)/bin; install it with .ci/versitygw.sh"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// randomHex returns n random bytes in hex.
func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// startGateway starts versitygw with random root credentials on a free
// port, waits until it answers, creates testBucket, and stops the process
// (by its PID) when the test ends.
func startGateway(t *testing.T) *gateway {
	t.Helper()
	bin := findVersitygw(t)
	gw := &gateway{access: randomHex(t, 10), secret: randomHex(t, 20), root: t.TempDir()}
	logPath := filepath.Join(t.TempDir(), "versitygw.log")
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr := "127.0.0.1:" + freePort(t)
		logFile, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--port", addr, "--access", gw.access, "--secret", gw.secret, "--quiet", "posix", gw.root)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			logFile.Close()
			t.Fatalf("start versitygw: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); logFile.Close(); close(exited) }()
		stop := func() {
			select {
			case <-exited:
				return
			default:
			}
			syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		}
		if lastErr = waitListening(addr, exited); lastErr == nil {
			t.Cleanup(stop)
			t.Cleanup(func() {
				if t.Failed() {
					if log, err := os.ReadFile(logPath); err == nil && len(log) > 0 {
						t.Logf("versitygw log:\n%s", log)
					}
				}
			})
			gw.endpoint = "http://" + addr
			break
		}
		stop()
	}
	if gw.endpoint == "" {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("versitygw did not start: %v\n%s", lastErr, log)
	}
	client, err := newClient(t.Context(), gw.config(""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return gw
}

// waitListening waits until addr accepts connections, the process exits,
// or 20 seconds pass.
func waitListening(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("versitygw exited")
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not listening after 20s", addr)
}

// config returns a Config for the gateway's bucket under prefix, with
// defaults applied.
func (gw *gateway) config(prefix string) *Config {
	c := &Config{
		Bucket:          testBucket,
		Prefix:          prefix,
		Endpoint:        gw.endpoint,
		PathStyle:       true,
		AccessKeyID:     gw.access,
		SecretAccessKey: gw.secret,
	}
	c.Defaults()
	return c
}

// backend returns a Backend on the gateway under prefix; edit may change
// the config first.
func (gw *gateway) backend(t *testing.T, prefix string, edit func(*Config), optFns ...func(*s3.Options)) *Backend {
	t.Helper()
	cfg := gw.config(prefix)
	if edit != nil {
		edit(cfg)
	}
	b, err := newBackend(t.Context(), *cfg, optFns...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	gw := startGateway(t)
	var n atomic.Int64
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		// A fresh prefix per subtest: they run in parallel in one bucket.
		return gw.backend(t, fmt.Sprintf("conformance/%d/", n.Add(1)), nil)
	})
}

// TestConformanceSmallParts runs the suite with the smallest part size and
// one upload slot, so that its large objects take many parts through a
// single slot shared by all parallel subtests.
func TestConformanceSmallParts(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	gw := startGateway(t)
	var n atomic.Int64
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		return gw.backend(t, fmt.Sprintf("small/%d/", n.Add(1)), func(c *Config) {
			c.PartSize = MinPartSize
			c.Concurrency = 2
		})
	})
}

func put(t *testing.T, b storage.Backend, key string, data []byte) {
	t.Helper()
	if err := b.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{}); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

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

func list(t *testing.T, b storage.Backend, prefix string) []string {
	t.Helper()
	var keys []string
	if err := b.List(t.Context(), prefix, func(i storage.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

// TestPlusAndSpaceKeys checks that '+', ' ' and '%' in keys reach the
// server literally in paths and in List's prefix query parameter: some
// servers decode '+' in a query string (or even a path) as a space.
func TestPlusAndSpaceKeys(t *testing.T) {
	gw := startGateway(t)
	b := gw.backend(t, "plus/", nil)
	keys := []string{
		"pool/main/g/g++/g++_13.2-1_amd64.deb",
		"pool/main/g/g  /g  _13.2-1_amd64.deb",
		"pool/main/g/g%2B%2B/x",
		"a+b", "a b", "a%2Bb", "a%20b",
		"libstdc++6 1+2/file with space+plus",
	}
	for i, k := range keys {
		put(t, b, k, []byte(fmt.Sprintf("object %d: %s", i, k)))
	}
	for i, k := range keys {
		if got, want := string(get(t, b, k)), fmt.Sprintf("object %d: %s", i, k); got != want {
			t.Errorf("Open(%q) read %q, want %q", k, got, want)
		}
		info, err := b.Stat(t.Context(), k)
		if err != nil {
			t.Errorf("Stat(%q): %v", k, err)
		} else if info.Key != k {
			t.Errorf("Stat(%q).Key = %q", k, info.Key)
		}
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"pool/main/g/g++/", []string{"pool/main/g/g++/g++_13.2-1_amd64.deb"}},
		{"pool/main/g/g  /", []string{"pool/main/g/g  /g  _13.2-1_amd64.deb"}},
		{"pool/main/g/g%2B", []string{"pool/main/g/g%2B%2B/x"}},
		{"a+", []string{"a+b"}},
		{"a ", []string{"a b"}},
		{"a%", []string{"a%20b", "a%2Bb"}},
		{"libstdc++6 1+2/", []string{"libstdc++6 1+2/file with space+plus"}},
	}
	for _, tt := range tests {
		if got := list(t, b, tt.prefix); !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
	all := list(t, b, "")
	want := slices.Sorted(slices.Values(keys))
	if !slices.Equal(all, want) {
		t.Errorf("List(\"\") = %q, want %q", all, want)
	}
	// Deleting "a+b" must not delete "a b".
	if err := b.Delete(t.Context(), "a+b"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(t.Context(), "a+b"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat after Delete: %v", err)
	}
	if got := string(get(t, b, "a b")); !strings.HasSuffix(got, ": a b") {
		t.Errorf("a b now reads %q", got)
	}
}

// rawClient returns an SDK client for the gateway, to look at what the
// backend stored.
func (gw *gateway) rawClient(t *testing.T) *s3.Client {
	t.Helper()
	c, err := newClient(t.Context(), gw.config(""))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMultipart uploads objects larger than the part size, of known and
// unknown size, and checks their content, that they really were multipart
// uploads, and that failed uploads leave no parts behind.
func TestMultipart(t *testing.T) {
	gw := startGateway(t)
	raw := gw.rawClient(t)
	const size = 12 << 20
	data := make([]byte, size)
	rand.Read(data)
	want := sha256.Sum256(data)
	for _, concurrency := range []int{1, 4} {
		prefix := fmt.Sprintf("multipart-%d/", concurrency)
		b := gw.backend(t, prefix, func(c *Config) {
			c.PartSize = MinPartSize
			c.Concurrency = concurrency
		})
		for _, announced := range []int64{-1, size} {
			key := fmt.Sprintf("big/%d", announced)
			opts := storage.PutOptions{ContentType: "application/vnd.debian.binary-package", Metadata: map[string]string{"sha256": hex.EncodeToString(want[:])}}
			if err := b.Put(t.Context(), key, struct{ io.Reader }{bytes.NewReader(data)}, announced, opts); err != nil {
				t.Fatalf("concurrency %d: Put(size %d): %v", concurrency, announced, err)
			}
			o, err := b.Open(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			n, err := io.Copy(h, o)
			o.Close()
			if err != nil || n != size || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Errorf("concurrency %d, size %d: read %d bytes (%v), sha256 differs: %t", concurrency, announced, n, err, !bytes.Equal(h.Sum(nil), want[:]))
			}
			if md := o.Info().Metadata; md["sha256"] != hex.EncodeToString(want[:]) {
				t.Errorf("multipart object lost its metadata: %v", md)
			}
			head, err := raw.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(prefix + key)})
			if err != nil {
				t.Fatal(err)
			}
			// 12 MiB in 5 MiB parts: 5 + 5 + 2.
			if etag := aws.ToString(head.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-3") {
				t.Errorf("ETag %s is not that of a 3-part upload", etag)
			}
			if ct := aws.ToString(head.ContentType); ct != opts.ContentType {
				t.Errorf("Content-Type %q, want %q", ct, opts.ContentType)
			}
		}
		// Failures in the middle of a multipart upload abort it.
		boom := errors.New("boom")
		failing := io.MultiReader(bytes.NewReader(data[:11<<20]), iotest.ErrReader(boom))
		if err := b.Put(t.Context(), "big/failed", failing, -1, storage.PutOptions{}); !errors.Is(err, boom) {
			t.Errorf("Put with a failing reader: %v", err)
		}
		if err := b.Put(t.Context(), "big/short", bytes.NewReader(data[:11<<20]), size, storage.PutOptions{}); !errors.Is(err, storage.ErrSizeMismatch) {
			t.Errorf("Put of a short stream: %v", err)
		}
		if err := b.Put(t.Context(), "big/long", bytes.NewReader(data), size-1, storage.PutOptions{}); !errors.Is(err, storage.ErrSizeMismatch) {
			t.Errorf("Put of a long stream: %v", err)
		}
		for _, k := range []string{"big/failed", "big/short", "big/long"} {
			if _, err := b.Stat(t.Context(), k); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat(%q) after a failed Put: %v", k, err)
			}
		}
		uploads, err := raw.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(testBucket), Prefix: aws.String(prefix)})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range uploads.Uploads {
			t.Errorf("multipart upload of %q left behind", aws.ToString(u.Key))
		}
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	gw := startGateway(t)
	raw := gw.rawClient(t)
	b := gw.backend(t, "meta/", func(c *Config) { c.PartSize = MinPartSize })
	opts := storage.PutOptions{
		ContentType:  "application/x-xz",
		CacheControl: "public, max-age=300",
		Metadata:     map[string]string{"sha256": strings.Repeat("ab", 32), "pier-generation": "42", "x.y_z": "a=b; c"},
	}
	for _, tt := range []struct {
		key  string
		size int64
		n    int
	}{
		{"small", 5, 5},
		{"unknown", -1, 5},
		{"multipart", -1, 6 << 20},
	} {
		data := bytes.Repeat([]byte("x"), tt.n)
		if err := b.Put(t.Context(), tt.key, bytes.NewReader(data), tt.size, opts); err != nil {
			t.Fatalf("Put(%q): %v", tt.key, err)
		}
		info, err := b.Stat(t.Context(), tt.key)
		if err != nil {
			t.Fatal(err)
		}
		o, err := b.Open(t.Context(), tt.key)
		if err != nil {
			t.Fatal(err)
		}
		o.Close()
		for what, md := range map[string]map[string]string{"Stat": info.Metadata, "Open": o.Info().Metadata} {
			if !mapsEqual(md, opts.Metadata) {
				t.Errorf("%s(%q).Metadata = %v, want %v", what, tt.key, md, opts.Metadata)
			}
		}
		head, err := raw.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("meta/" + tt.key)})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(head.ContentType); got != opts.ContentType {
			t.Errorf("%q: Content-Type %q, want %q", tt.key, got, opts.ContentType)
		}
		if got := aws.ToString(head.CacheControl); got != opts.CacheControl {
			t.Errorf("%q: Cache-Control %q, want %q", tt.key, got, opts.CacheControl)
		}
	}
	// Metadata that S3 would store differently is refused, not mangled.
	for _, md := range []map[string]string{
		{"Upper": "x"}, {"sp ace": "x"}, {"": "x"}, {"k": "ünï"}, {"k": "line\nbreak"}, {"k": " padded "},
		{"big": strings.Repeat("v", 3000)},
	} {
		err := b.Put(t.Context(), "refused", strings.NewReader("r"), 1, storage.PutOptions{Metadata: md})
		if err == nil {
			t.Errorf("Put with metadata %q succeeded", md)
		}
	}
	if _, err := b.Stat(t.Context(), "refused"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refused Put stored something: %v", err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// recordingClient is an HTTP client that records the GET requests it sends
// and counts the response body bytes the backend reads.
type recordingClient struct {
	inner *awshttp.BuildableClient
	mu    sync.Mutex
	gets  []string // Range header of each GET ("" for none)
	read  atomic.Int64
}

func (c *recordingClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.inner.Do(req)
	if req.Method == http.MethodGet && req.URL.Query().Get("list-type") == "" {
		c.mu.Lock()
		c.gets = append(c.gets, req.Header.Get("Range"))
		c.mu.Unlock()
		if err == nil {
			resp.Body = countingBody{resp.Body, &c.read}
		}
	}
	return resp, err
}

func (c *recordingClient) reset() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.gets
	c.gets = nil
	c.read.Store(0)
	return g
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// TestRangeReads checks that Seek turns into ranged GETs (so a Range
// request does not download the object), that a small forward Seek reuses
// the open response, and that reads after an overwrite or delete fail
// instead of mixing versions.
func TestRangeReads(t *testing.T) {
	gw := startGateway(t)
	rec := &recordingClient{inner: awshttp.NewBuildableClient()}
	b := gw.backend(t, "range/", nil, func(o *s3.Options) { o.HTTPClient = rec })
	const size = 8 << 20
	data := make([]byte, size)
	rand.Read(data)
	put(t, b, "obj", data)

	o, err := b.Open(t.Context(), "obj")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if gets := rec.reset(); len(gets) != 1 || gets[0] != "" {
		t.Errorf("Open sent GETs %q, want one without Range", gets)
	}
	steps := []struct {
		offset    int64
		whence    int
		n         int
		wantRange string // Range of the GET the read sends; "" for none
	}{
		{0, io.SeekStart, 1000, ""},           // Open's response
		{100 << 10, io.SeekCurrent, 1000, ""}, // small skip: same response
		{-4096, io.SeekEnd, 4096, fmt.Sprintf("bytes=%d-", size-4096)},
		{3 << 20, io.SeekStart, 10, fmt.Sprintf("bytes=%d-", 3<<20)}, // backwards: new GET
		{0, io.SeekCurrent, 20, ""},                                  // continues
		{1, io.SeekStart, 1, "bytes=1-"},
	}
	for _, s := range steps {
		rec.reset()
		pos, err := o.Seek(s.offset, s.whence)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, s.n)
		if _, err := io.ReadFull(o, buf); err != nil {
			t.Fatalf("read %d at %d: %v", s.n, pos, err)
		}
		if !bytes.Equal(buf, data[pos:pos+int64(s.n)]) {
			t.Fatalf("read at %d returned wrong bytes", pos)
		}
		gets := rec.reset()
		switch {
		case s.wantRange == "" && len(gets) != 0:
			t.Errorf("read %d at %d sent GETs %q, want none", s.n, pos, gets)
		case s.wantRange != "" && !slices.Equal(gets, []string{s.wantRange}):
			t.Errorf("read %d at %d sent GETs %q, want one with Range %q", s.n, pos, gets, s.wantRange)
		}
	}

	// http.ServeContent with a Range reads little of the object.
	rec.reset()
	o2, err := b.Open(t.Context(), "obj")
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/obj", nil)
	req.Header.Set("Range", "bytes=5000000-5000099")
	w := httptest.NewRecorder()
	http.ServeContent(w, req, "obj", o2.Info().ModTime, o2)
	o2.Close()
	if w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), data[5000000:5000100]) {
		t.Errorf("ServeContent Range: status %d, %d bytes", w.Code, w.Body.Len())
	}
	if n := rec.read.Load(); n > 1<<20 {
		t.Errorf("a 100-byte Range request read %d bytes of response bodies", n)
	}

	// An overwrite after Open: the next ranged read fails; it never
	// returns bytes of the new version.
	for _, change := range []string{"overwrite", "delete"} {
		o, err := b.Open(t.Context(), "obj")
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 100)
		if _, err := io.ReadFull(o, head); err != nil {
			t.Fatal(err)
		}
		if change == "overwrite" {
			other := bytes.Repeat([]byte{'n'}, size)
			put(t, b, "obj", other)
		} else if err := b.Delete(t.Context(), "obj"); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Seek(size/2, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		n, err := io.ReadFull(o, buf)
		if err == nil {
			t.Errorf("%s: read after the change succeeded (new bytes: %t)", change, buf[0] == 'n')
		} else if !errors.Is(err, errChanged) {
			t.Errorf("%s: read after the change: %v, want errChanged", change, err)
		}
		if n > 0 && bytes.Contains(buf[:n], []byte("n")) && !bytes.Equal(buf[:n], data[size/2:size/2+n]) {
			t.Errorf("%s: read bytes of the new version", change)
		}
		o.Close()
		put(t, b, "obj", data)
	}
}

// TestCredentialsNotInErrors checks that neither the right nor a wrong
// secret key shows in errors, and that Config does not print it.
func TestCredentialsNotInErrors(t *testing.T) {
	gw := startGateway(t)
	const wrong = "WRONGsecret+/wrongSECRET0123456789abcdef"
	b := gw.backend(t, "creds/", func(c *Config) {
		c.SecretAccessKey = wrong
		c.MaxRetries = -1
	})
	ctx := t.Context()
	var errs []error
	errs = append(errs, b.Check(ctx))
	errs = append(errs, b.Put(ctx, "k", strings.NewReader("x"), 1, storage.PutOptions{}))
	errs = append(errs, b.Put(ctx, "big", bytes.NewReader(make([]byte, 17<<20)), -1, storage.PutOptions{}))
	_, err := b.Open(ctx, "k")
	errs = append(errs, err)
	_, err = b.Stat(ctx, "k")
	errs = append(errs, err)
	errs = append(errs, b.Delete(ctx, "k"))
	errs = append(errs, b.List(ctx, "", func(storage.Info) error { return nil }))
	for i, err := range errs {
		if err == nil {
			t.Errorf("request %d with a wrong secret succeeded", i)
			continue
		}
		if errors.Is(err, fs.ErrNotExist) {
			t.Errorf("request %d: authentication failure reported as a missing object: %v", i, err)
		}
		for _, secret := range []string{wrong, gw.secret} {
			if msg := fmt.Sprintf("%v %+v %#v", err, err, err); strings.Contains(msg, secret) {
				t.Errorf("request %d: error shows a secret: %s", i, msg)
			}
		}
	}
	t.Logf("example error: %v", errs[0])

	// The right credentials pass Check.
	good := gw.backend(t, "creds/", nil)
	if err := good.Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
	// A missing bucket fails Check (and is no fs.ErrNotExist).
	nob := gw.backend(t, "", func(c *Config) { c.Bucket = "no-such-bucket" })
	if err := nob.Check(ctx); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Check of a missing bucket: %v", err)
	}

	// Printing the Config leaves the secret out.
	cfg := *gw.config("creds/")
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("storage", "config", cfg, "ptr", &cfg)
	for _, s := range []string{
		cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, &cfg), logBuf.String(),
	} {
		if strings.Contains(s, gw.secret) {
			t.Errorf("printed config shows the secret: %s", s)
		}
		if !strings.Contains(s, gw.access) {
			t.Errorf("printed config does not show the access key id: %s", s)
		}
	}
}

// TestKeyFilesAndEnvironment reads the credentials from files, and from the
// SDK's default chain (environment).
func TestKeyFilesAndEnvironment(t *testing.T) {
	gw := startGateway(t)
	dir := t.TempDir()
	idFile, secretFile := filepath.Join(dir, "id"), filepath.Join(dir, "secret")
	os.WriteFile(idFile, []byte(gw.access+"\n"), 0o600)
	os.WriteFile(secretFile, []byte(gw.secret+"\n"), 0o600)
	fromFiles := gw.backend(t, "files/", func(c *Config) {
		c.AccessKeyID, c.SecretAccessKey = "", ""
		c.AccessKeyFile, c.SecretKeyFile = idFile, secretFile
	})
	put(t, fromFiles, "k", []byte("v"))
	if s := fromFiles.Config().String(); strings.Contains(s, gw.secret) {
		t.Errorf("Config shows the secret: %s", s)
	}

	// A missing key file fails New, naming the file but no key.
	cfg := gw.config("files/")
	cfg.AccessKeyID, cfg.SecretAccessKey = "", ""
	cfg.AccessKeyFile, cfg.SecretKeyFile = idFile, filepath.Join(dir, "missing")
	if _, err := New(t.Context(), *cfg); err == nil || !strings.Contains(err.Error(), "missing") || strings.Contains(err.Error(), gw.access) {
		t.Errorf("New with a missing secret_key_file: %v", err)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", gw.access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", gw.secret)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	fromEnv := gw.backend(t, "files/", func(c *Config) { c.AccessKeyID, c.SecretAccessKey = "", "" })
	if got := get(t, fromEnv, "k"); string(got) != "v" {
		t.Errorf("read %q", got)
	}
}

func TestConfigValidate(t *testing.T) {
	valid := func() Config { return Config{Bucket: "b"} }
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string // substring; "" for valid
	}{
		{"minimal", func(*Config) {}, ""},
		{"full", func(c *Config) {
			c.Prefix, c.Endpoint, c.Region, c.PathStyle = "pier/repo/", "https://s3.example.net:9000", "eu-west-1", true
			c.AccessKeyID, c.SecretAccessKey = "id", "secret"
			c.StorageClass, c.ACL, c.ServerSideEncryption = "STANDARD_IA", "public-read", "AES256"
			c.PartSize, c.Concurrency, c.MaxRetries = MinPartSize, 16, -1
		}, ""},
		{"key files", func(c *Config) { c.AccessKeyFile, c.SecretKeyFile = "/run/id", "/run/secret" }, ""},
		{"no bucket", func(c *Config) { c.Bucket = "" }, "bucket must not be empty"},
		{"bucket with slash", func(c *Config) { c.Bucket = "a/b" }, "not a bucket name"},
		{"prefix without slash", func(c *Config) { c.Prefix = "pier" }, "must end with a slash"},
		{"prefix leading slash", func(c *Config) { c.Prefix = "/pier/" }, "leading slash"},
		{"prefix dotdot", func(c *Config) { c.Prefix = "a/../" }, "prefix"},
		{"endpoint scheme", func(c *Config) { c.Endpoint = "s3.example.net" }, "endpoint"},
		{"endpoint userinfo", func(c *Config) { c.Endpoint = "https://user:hunter2@s3.example.net" }, "user information"},
		{"only secret", func(c *Config) { c.SecretAccessKey = "s" }, "set together"},
		{"only id file", func(c *Config) { c.AccessKeyFile = "/id" }, "set together"},
		{"inline and files", func(c *Config) {
			c.AccessKeyID, c.SecretAccessKey, c.AccessKeyFile, c.SecretKeyFile = "i", "s", "/i", "/s"
		}, "not both"},
		{"acl", func(c *Config) { c.ACL = "everyone" }, "canned ACL"},
		{"sse", func(c *Config) { c.ServerSideEncryption = "rot13" }, "server_side_encryption"},
		{"storage class", func(c *Config) { c.StorageClass = "TWO WORDS" }, "storage_class"},
		{"small parts", func(c *Config) { c.PartSize = 1 << 20 }, "part_size"},
		{"huge parts", func(c *Config) { c.PartSize = 6 << 30 }, "part_size"},
		{"concurrency", func(c *Config) { c.Concurrency = -2 }, "concurrency"},
		{"retries", func(c *Config) { c.MaxRetries = -5 }, "max_retries"},
		{"region", func(c *Config) { c.Region = "us east" }, "region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.edit(&c)
			c.Defaults()
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Validate succeeded, want an error with %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Validate: %v, want an error with %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the endpoint's password: %v", err)
			}
		})
	}
	c := Config{Bucket: "b"}
	c.Defaults()
	if c.Region != DefaultRegion || c.PartSize != DefaultPartSize || c.Concurrency != DefaultConcurrency || c.MaxRetries != DefaultMaxRetries {
		t.Errorf("Defaults: %+v", c)
	}
	if _, err := New(context.Background(), Config{}); err == nil {
		t.Error("New with an empty Config succeeded")
	}
	c.Endpoint = "https://user:hunter2@s3.example.net"
	if strings.Contains(c.String(), "hunter2") {
		t.Errorf("String shows the endpoint's password: %s", c)
	}
}
