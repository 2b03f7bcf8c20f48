package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/pierhq/pier/storage"
)

// Blobs is the content-addressed blob store: every package and index file is
// stored once under its sha256, immutable.
type Blobs struct {
	b storage.Backend
}

// NewBlobs returns a blob store over b.
func NewBlobs(b storage.Backend) *Blobs { return &Blobs{b: b} }

// blobPrefix is the storage key prefix of every blob.
const blobPrefix = "sha256/"

// Key returns the storage key of the blob with that sha256.
func Key(sum string) string { return blobPrefix + sum[:2] + "/" + sum }

// Has reports whether the blob exists.
func (s *Blobs) Has(ctx context.Context, sum string) (bool, error) {
	_, err := s.b.Stat(ctx, Key(sum))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat blob %s: %w", sum, err)
	}
	return true, nil
}

// PutFile moves the local file at path (whose sha256 the caller computed
// while writing it) into the store. The file is gone afterwards unless an
// error is returned. With durable false, a backend that can defer syncing
// does, and the caller must call Sync before relying on the blob.
func (s *Blobs) PutFile(ctx context.Context, sum, path string, durable bool) error {
	if ok, err := s.Has(ctx, sum); err != nil {
		return err
	} else if ok {
		return removeStored(path)
	}
	if ds, ok := s.b.(storage.DeferredSyncer); ok && !durable {
		if err := ds.PutFileNoSync(ctx, Key(sum), path); err != nil {
			return fmt.Errorf("store blob %s: %w", sum, err)
		}
		return nil
	}
	if fp, ok := s.b.(storage.FilePutter); ok {
		if err := fp.PutFile(ctx, Key(sum), path); err != nil {
			return fmt.Errorf("store blob %s: %w", sum, err)
		}
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store blob %s: %w", sum, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store blob %s: %w", sum, err)
	}
	if err := s.b.Put(ctx, Key(sum), f, st.Size(), storage.PutOptions{}); err != nil {
		return fmt.Errorf("store blob %s: %w", sum, err)
	}
	f.Close()
	return removeStored(path)
}

// removeStored removes a local file whose bytes the store holds now.
func removeStored(path string) error {
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stored file: %w", err)
	}
	return nil
}

// Sync makes blobs stored with PutFile(…, false) durable.
func (s *Blobs) Sync(ctx context.Context) error {
	if ds, ok := s.b.(storage.DeferredSyncer); ok {
		if err := ds.Sync(ctx); err != nil {
			return fmt.Errorf("sync blob store: %w", err)
		}
	}
	return nil
}

// PutBytes stores data and returns its sha256. Storing an existing blob is
// a no-op.
func (s *Blobs) PutBytes(ctx context.Context, data []byte) (string, error) {
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	return sum, s.putSum(ctx, sum, data)
}

// putSum stores data whose sha256 the caller computed.
func (s *Blobs) putSum(ctx context.Context, sum string, data []byte) error {
	if ok, err := s.Has(ctx, sum); err != nil {
		return err
	} else if ok {
		return nil
	}
	if err := s.b.Put(ctx, Key(sum), bytes.NewReader(data), int64(len(data)), storage.PutOptions{}); err != nil {
		return fmt.Errorf("store blob %s: %w", sum, err)
	}
	return nil
}

// Open opens the blob with that sha256.
func (s *Blobs) Open(ctx context.Context, sum string) (storage.Object, error) {
	o, err := s.b.Open(ctx, Key(sum))
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", sum, err)
	}
	return o, nil
}

// ReadAll returns the content of a small blob and checks its hash.
func (s *Blobs) ReadAll(ctx context.Context, sum string) ([]byte, error) {
	o, err := s.Open(ctx, sum)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	data, err := readSized(o, o.Info().Size)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", sum, err)
	}
	h := sha256.Sum256(data)
	if hex.EncodeToString(h[:]) != sum {
		return nil, fmt.Errorf("blob %s is corrupt (content hash differs)", sum)
	}
	return data, nil
}

// readSized reads r to its end into one buffer with room for size bytes
// (a manifest or an index of several MB grew through io.ReadAll's
// doublings), then whatever else is there.
func readSized(r io.Reader, size int64) ([]byte, error) {
	var buf bytes.Buffer
	if size >= 0 && size < maxPrealloc {
		buf.Grow(int(size) + bytes.MinRead) // ReadFrom grows a buffer with less room than MinRead
	}
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// maxPrealloc bounds what readSized allocates on a stored size's word.
const maxPrealloc = 1 << 30

// Size returns the size of the blob with that sha256, or an error wrapping
// fs.ErrNotExist when it is missing.
func (s *Blobs) Size(ctx context.Context, sum string) (int64, error) {
	info, err := s.b.Stat(ctx, Key(sum))
	if err != nil {
		return 0, fmt.Errorf("stat blob %s: %w", sum, err)
	}
	return info.Size, nil
}

// Check reads the blob with that sha256 to its end and checks that its
// content hashes to it.
func (s *Blobs) Check(ctx context.Context, sum string) error {
	o, err := s.Open(ctx, sum)
	if err != nil {
		return err
	}
	defer o.Close()
	h := sha256.New()
	if _, err := io.Copy(h, o); err != nil {
		return fmt.Errorf("read blob %s: %w", sum, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("blob %s is corrupt: its content hashes to %s", sum, got)
	}
	return nil
}
