// Package storage defines Backend, the small object-store interface under
// Pier's blob store and its sync targets, and the rules every implementation
// keeps.
//
// An object is a byte string stored under a key. Keys are slash-separated
// paths such as "pool/main/h/hello/hello_2.12-1_amd64.deb" (see [ValidKey]).
// Implementations live in sub-packages (storage/local, later an S3 one); each
// must pass the single conformance suite in storage/storagetest, which is the
// executable form of the contracts written on [Backend].
//
// Optional powers are separate interfaces found by type assertion:
// [FilePutter] for backends that can take over a local file without copying
// it, and [Filer] for objects backed by an open local file.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors; test for them with errors.Is. A missing object is
// reported with fs.ErrNotExist, as in io/fs.
var (
	// ErrInvalidKey marks a key that ValidKey rejects (or that a backend
	// reserves for itself).
	ErrInvalidKey = errors.New("storage: invalid key")
	// ErrSizeMismatch marks a Put whose reader delivered a different number
	// of bytes than the size the caller announced. Nothing is stored.
	ErrSizeMismatch = errors.New("storage: size mismatch")
)

// MaxKeyLen is the longest key in bytes, the limit of S3 object keys.
const MaxKeyLen = 1024

// Backend stores objects by key ("a/b/c", slash-separated, no leading slash,
// no "." or ".." elements; see ValidKey).
//
// Every method may be called concurrently with any other, on the same key or
// different keys. Every method returns an error wrapping ErrInvalidKey for a
// key ValidKey rejects, and an error wrapping ctx.Err() (errors.Is(err,
// context.Canceled)) when ctx is done before the operation completes.
//
// A key names either an object or a "directory" of other keys, not both: a
// file-system backend cannot hold both "a" and "a/b", and may reject the Put
// that would need it. Callers must not rely on such pairs.
type Backend interface {
	// Put stores the object atomically: readers see the old object or the
	// whole new one, never a part. size may be -1 if unknown; otherwise
	// exactly size bytes must come from r, or Put fails with
	// ErrSizeMismatch. Put reads r until EOF (or size bytes) and does not
	// close it. When Put returns nil the object is durable (it survives a
	// crash); when it returns an error the previous object, if any, is
	// unchanged. A backend that cannot keep opts.Metadata, ContentType or
	// CacheControl drops them; it never stores them wrong.
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) error
	// Open returns a reader positioned at offset 0; missing key → error
	// wrapping fs.ErrNotExist. The reader sees one version of the object from
	// start to end even if the object is overwritten or deleted meanwhile
	// (or fails; it never mixes versions). ctx covers the open; a backend may
	// also tie the reads to it, so keep ctx alive until Close. The caller
	// must Close the Object.
	Open(ctx context.Context, key string) (Object, error)
	// Stat returns size (and metadata) or fs.ErrNotExist.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes key; deleting a missing key is not an error
	// (idempotent). Readers that opened the object before may finish.
	Delete(ctx context.Context, key string) error
	// List calls fn for every key under prefix, in lexical order.
	//
	// prefix is a plain string prefix, as in S3: "dists/b" matches
	// "dists/bookworm/InRelease"; "" lists everything. Keys put or deleted
	// while List runs may or may not be reported. If fn returns an error,
	// List stops and returns that error unwrapped.
	List(ctx context.Context, prefix string, fn func(Info) error) error
}

// Object is an open stored object: an io.ReadSeekCloser (so
// http.ServeContent can answer Range requests) plus its Info.
type Object interface {
	io.ReadSeekCloser
	// Info describes the version of the object being read.
	Info() Info
}

// Info describes a stored object.
type Info struct {
	// Key is the object's key.
	Key string
	// Size is the object's length in bytes.
	Size int64
	// ModTime is when the object was last written.
	ModTime time.Time
	// Metadata is the PutOptions.Metadata stored with the object, or nil if
	// the backend does not keep metadata.
	Metadata map[string]string
}

// PutOptions carries the HTTP-facing attributes of an object, for backends
// (object stores) that serve objects themselves. Backends that cannot keep
// them drop them.
type PutOptions struct {
	// ContentType is the object's media type, e.g. "application/gzip".
	ContentType string
	// CacheControl is the Cache-Control header the object is served with.
	CacheControl string
	// Metadata is user metadata (S3 x-amz-meta-*): lower-case ASCII names,
	// short ASCII values.
	Metadata map[string]string
}

// FilePutter is an optional interface of a Backend that can take over a local
// file, so that a large upload already on disk is not copied a second time.
type FilePutter interface {
	// PutFile stores the file at path under key with Put's guarantees and
	// moves it: on success path no longer exists; on error it is left in
	// place. A backend on the same file system renames the file into place
	// (after syncing it); otherwise it copies it and removes path.
	PutFile(ctx context.Context, key, path string) error
}

// DeferredSyncer is an optional interface of a FilePutter that can move
// many files into place without syncing each one, then make them all durable
// at once: a bulk import pays one sync instead of two per file.
type DeferredSyncer interface {
	// PutFileNoSync is PutFile without durability: after a crash the object
	// may be missing or empty until Sync has returned.
	PutFileNoSync(ctx context.Context, key, path string) error
	// Sync makes every earlier PutFileNoSync durable.
	Sync(ctx context.Context) error
}

// Filer is an optional interface of an Object backed by an open local file.
// A server may pass File() to http.ServeContent instead of the Object, so
// the kernel can send it with sendfile(2). The file belongs to the Object:
// do not close it; Close the Object.
type Filer interface {
	File() *os.File
}

// ValidKey reports whether key is a valid object key, returning an error
// wrapping ErrInvalidKey that says why if not. A valid key is non-empty
// UTF-8 of at most MaxKeyLen bytes, made of elements separated by single
// slashes, with no leading or trailing slash, no empty, "." or ".."
// element, and no backslash or control character. Such a key is safe to use
// as a relative file path and as an S3 object key.
func ValidKey(key string) error {
	reason := ""
	switch {
	case key == "":
		reason = "empty"
	case len(key) > MaxKeyLen:
		reason = fmt.Sprintf("longer than %d bytes", MaxKeyLen)
	case !utf8.ValidString(key):
		reason = "not UTF-8"
	case strings.HasPrefix(key, "/"):
		reason = "leading slash"
	case strings.HasSuffix(key, "/"):
		reason = "trailing slash"
	}
	if reason == "" {
		for _, r := range key {
			if r < 0x20 || r == 0x7f || r == '\\' {
				reason = fmt.Sprintf("contains %q", r)
				break
			}
		}
	}
	if reason == "" {
		for elem := range strings.SplitSeq(key, "/") {
			switch elem {
			case "":
				reason = "empty path element"
			case ".", "..":
				reason = fmt.Sprintf("%q path element", elem)
			}
			if reason != "" {
				break
			}
		}
	}
	if reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, reason)
	}
	return nil
}
