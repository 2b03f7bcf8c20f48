package repo_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// tapFormat is the deb format with a tap (repo.Tapper) that hashes what
// it is given, and a ReadTapped that records what its tap saw.
type tapFormat struct {
	repo.Format
	mu   sync.Mutex
	seen []tapSeen
}

// tapSeen is what one tap saw and the upload ReadTapped was called for.
type tapSeen struct {
	tapSHA, uploadSHA string
	tapBytes, size    int64
}

type hashTap struct {
	h hash.Hash
	n int64
}

func (t *hashTap) Write(p []byte) (int, error) {
	t.n += int64(len(p))
	return t.h.Write(p)
}

func (f *tapFormat) Tap() io.Writer { return &hashTap{h: sha256.New()} }

func (f *tapFormat) ReadTapped(ctx context.Context, r io.ReaderAt, size int64, sums repo.Sums, tap io.Writer) (*repo.Parsed, error) {
	ht := tap.(*hashTap)
	f.mu.Lock()
	f.seen = append(f.seen, tapSeen{tapSHA: hex.EncodeToString(ht.h.Sum(nil)), uploadSHA: sums[repo.SHA256], tapBytes: ht.n, size: size})
	f.mu.Unlock()
	return f.Format.Read(ctx, r, size, sums)
}

// TestIngestFeedsTap: an upload, a batch Add and a batch AddLinked each
// give a Tapper format's tap every byte of the package, in the pass that
// hashes it, and parse it with ReadTapped.
func TestIngestFeedsTap(t *testing.T) {
	ctx := context.Background()
	var tf *tapFormat
	svc := newServiceWith(t, repo.Options{}, func(c repo.Catalog) repo.Catalog { return c },
		func(f repo.Format) repo.Format { tf = &tapFormat{Format: f}; return tf })
	pkg := func(version string) []byte {
		b, err := debtest.Build(debtest.Options{Package: "tapped", Version: version, Arch: "amd64",
			Files: map[string][]byte{"usr/share/tapped/data": bytes.Repeat([]byte(version), 50_000)}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var want [][]byte
	b1 := pkg("1.0")
	if _, err := svc.Ingest(ctx, target, bytes.NewReader(b1), repo.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	want = append(want, b1)
	batch := svc.NewBatch(target)
	defer batch.Close()
	b2 := pkg("2.0")
	if _, err := batch.Add(ctx, bytes.NewReader(b2), repo.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	want = append(want, b2)
	b3 := pkg("3.0")
	src := filepath.Join(t.TempDir(), "tapped.deb")
	if err := os.WriteFile(src, b3, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := batch.AddLinked(ctx, src, repo.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	want = append(want, b3)
	if _, errs, err := batch.Commit(ctx); err != nil || errs[0] != nil || errs[1] != nil {
		t.Fatalf("commit: %v %v", err, errs)
	}
	if len(tf.seen) != len(want) {
		t.Fatalf("ReadTapped called %d times, want %d", len(tf.seen), len(want))
	}
	for i, b := range want {
		sum := sha256.Sum256(b)
		s := tf.seen[i]
		if s.tapSHA != hex.EncodeToString(sum[:]) || s.tapBytes != int64(len(b)) || s.uploadSHA != s.tapSHA || s.size != int64(len(b)) {
			t.Errorf("package %d: the tap saw %d bytes (sha256 %s) of an upload of %d bytes (sha256 %s)",
				i, s.tapBytes, s.tapSHA, s.size, s.uploadSHA)
		}
	}
}
