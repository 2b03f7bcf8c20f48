package repo

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/pierhq/pier/storage"
)

// uploadPrefix starts the name of every upload file in TmpDir, followed by
// the writer's storage.Owner tag and '-'.
const uploadPrefix = "upload-"

// upload is a received file in TmpDir.
type upload struct {
	path string
	size int64
	sums Sums
	head []byte
	// tap, when not nil, saw every byte of the upload (see Tapper).
	tap io.Writer
}

func (u *upload) discard() {
	if u.path != "" {
		os.Remove(u.path)
	}
}

// recvSpec says how to receive an upload: the digests to compute, whether
// to fsync it, a check of its first bytes (sniffLen of them, or all of
// a shorter upload) that stops the transfer when it fails, and the
// format's tap (see Tapper), which sees the bytes in the same read.
type recvSpec struct {
	digests []Digest
	durable bool
	sniff   func(head []byte) error
	tap     func() io.Writer
}

// sniffLen is how many bytes an upload's format is recognised from.
const sniffLen = 4096

// source produces an upload in the temp dir, received as rs says.
type source func(ctx context.Context, rs recvSpec) (*upload, error)

// fromReader streams r into a new temp file.
func (in *ingester) fromReader(r io.Reader) source {
	return func(ctx context.Context, rs recvSpec) (*upload, error) {
		return in.receive(ctx, r, rs)
	}
}

// fromLink hard-links the local file at path into the temp dir and hashes
// it by reading; it copies instead when a link is impossible (another
// filesystem, a blob store that is not a directory).
func (in *ingester) fromLink(path string) source {
	return func(ctx context.Context, rs recvSpec) (*upload, error) {
		if _, ok := in.d.blobs.b.(storage.FilePutter); ok {
			up, err := in.linkUpload(ctx, path, rs)
			if err == nil || !errors.Is(err, errNoLink) {
				return up, err
			}
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		defer f.Close()
		return in.receive(ctx, f, rs)
	}
}

// receive streams r into a temp file, computing digests in the same pass,
// and fsyncs it when rs says so.
func (in *ingester) receive(ctx context.Context, r io.Reader, rs recvSpec) (*upload, error) {
	f, err := os.CreateTemp(in.d.opts.TmpDir, uploadPrefix+in.owner.Tag()+"-*")
	if err != nil {
		return nil, fmt.Errorf("create upload file: %w", err)
	}
	up := &upload{path: f.Name(), sums: Sums{}}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			up.discard()
		}
	}()
	if err := in.digest(ctx, up, r, f, rs); err != nil {
		return nil, err
	}
	if rs.durable {
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("sync upload: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close upload: %w", err)
	}
	ok = true
	return up, nil
}

var errNoLink = errors.New("cannot hard-link")

func (in *ingester) linkUpload(ctx context.Context, path string, rs recvSpec) (*upload, error) {
	var rnd [8]byte
	rand.Read(rnd[:])
	name := filepath.Join(in.d.opts.TmpDir, uploadPrefix+in.owner.Tag()+"-link-"+hex.EncodeToString(rnd[:]))
	if err := os.Link(path, name); err != nil {
		return nil, fmt.Errorf("%w %s: %w", errNoLink, path, err)
	}
	up := &upload{path: name, sums: Sums{}}
	f, err := os.Open(name)
	if err != nil {
		up.discard()
		return nil, fmt.Errorf("open linked upload: %w", err)
	}
	defer f.Close()
	if err := in.digest(ctx, up, f, nil, rs); err != nil {
		up.discard()
		return nil, err
	}
	return up, nil
}

// digest reads r to its end (at most the upload limit), copying it to w
// when w is not nil, and fills up's size, digests and head. It stops as
// soon as rs.sniff refuses the first bytes.
func (in *ingester) digest(ctx context.Context, up *upload, r io.Reader, w io.Writer, rs recvSpec) error {
	hashes := map[Digest]hash.Hash{SHA256: sha256.New()}
	for _, d := range rs.digests {
		if _, done := hashes[d]; !done {
			hashes[d] = newHash(d)
		}
	}
	head := &headWriter{max: sniffLen, check: rs.sniff}
	// The head goes first: a refused head stops the copy before anything
	// else of it is written.
	ws := []io.Writer{head}
	if w != nil {
		ws = append(ws, w)
	}
	for _, h := range hashes {
		ws = append(ws, h)
	}
	var tap io.Writer
	if rs.tap != nil {
		if tap = rs.tap(); tap != nil {
			ws = append(ws, tap)
		}
	}
	limit := in.d.opts.MaxUploadSize
	if limit <= 0 {
		limit = 2 << 30
	}
	n, err := io.Copy(io.MultiWriter(ws...), &ctxReader{ctx: ctx, r: io.LimitReader(r, limit+1)})
	if head.err != nil {
		return head.err
	}
	if err != nil {
		return fmt.Errorf("receive upload: %w", err)
	}
	if n > limit {
		return fmt.Errorf("upload is larger than the limit of %d bytes: %w", limit, ErrTooLarge)
	}
	up.size = n
	up.head = head.buf
	up.tap = tap
	for d, h := range hashes {
		up.sums[d] = hex.EncodeToString(h.Sum(nil))
	}
	return nil
}

// rewrite lets the format rewrite the upload (rpm signing) into a new temp
// file; it returns nil when the format keeps the upload as it is.
func (in *ingester) rewrite(ctx context.Context, rw Rewriter, t Target, up *upload, digests []Digest, durable bool) (*upload, error) {
	src, err := os.Open(up.path)
	if err != nil {
		return nil, fmt.Errorf("reopen upload: %w", err)
	}
	defer src.Close()
	pr, pw := io.Pipe()
	type result struct {
		changed bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		var changed bool
		var err error
		defer func() {
			// A rewriter bug must not take the server down (this goroutine
			// is outside any handler's recovery): report a bad package.
			if r := recover(); r != nil {
				changed, err = false, BadPackage(fmt.Sprintf("rewriting (signing) this package failed: %v", r))
			}
			pw.CloseWithError(err)
			done <- result{changed, err}
		}()
		changed, err = rw.Rewrite(ctx, t, src, up.size, pw)
	}()
	// A format that keeps the upload as it is writes nothing: find that out
	// before creating a second temp file (file creation dominates a bulk
	// import).
	br := bufio.NewReader(pr)
	if _, perr := br.Peek(1); perr != nil {
		pr.CloseWithError(perr)
		res := <-done
		if res.err != nil {
			return nil, res.err
		}
		if !res.changed {
			return nil, nil
		}
		return nil, fmt.Errorf("rewrite of the upload produced no bytes: %w", ErrBadPackage)
	}
	up2, err := in.receive(ctx, br, recvSpec{digests: digests, durable: durable})
	pr.CloseWithError(err)
	res := <-done
	if res.err != nil {
		if up2 != nil {
			up2.discard()
		}
		return nil, res.err
	}
	if err != nil {
		return nil, err
	}
	if !res.changed {
		up2.discard()
		return nil, nil
	}
	return up2, nil
}

func newHash(d Digest) hash.Hash {
	switch d {
	case MD5:
		return md5.New()
	case SHA1:
		return sha1.New()
	case SHA512:
		return sha512.New()
	default:
		return sha256.New()
	}
}

// headWriter keeps the first max bytes written to it and, when it has
// them, runs check on them; a failed check fails the write (and is kept in
// err).
type headWriter struct {
	buf   []byte
	max   int
	check func([]byte) error
	err   error
}

func (h *headWriter) Write(p []byte) (int, error) {
	if room := h.max - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
		if len(h.buf) == h.max && h.check != nil {
			if h.err = h.check(h.buf); h.err != nil {
				return 0, h.err
			}
		}
	}
	return len(p), nil
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
