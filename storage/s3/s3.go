// Package s3 is a storage.Backend on an S3-compatible object store (AWS S3,
// versitygw, MinIO, Ceph RGW, ...), built on github.com/aws/aws-sdk-go-v2.
//
// An object with key "a/b/c" is the S3 object Config.Prefix+"a/b/c" in
// Config.Bucket. PutOptions become the object's Content-Type, Cache-Control
// and x-amz-meta-* user metadata, so the bucket can serve the repository
// directly (as a website or behind a CDN).
//
// Put uploads an object of known size up to Config.PartSize with one
// PutObject, and anything larger or of unknown size as a streamed multipart
// upload of PartSize parts, at most Config.Concurrency requests at once over
// the whole Backend; it never holds more than Concurrency parts in memory.
// S3 replaces an object atomically when the upload completes, so readers see
// the old or the new object. A failed or canceled Put aborts its multipart
// upload. A Put holds its upload slots while it reads the parts from its
// reader, so a slow reader delays other Puts: give Put local files or other
// fast streams. One caveat S3 leaves: when ctx is canceled while the final request
// (PutObject or CompleteMultipartUpload) is in flight, the server may still
// have stored the new object although Put reports the cancellation.
//
// Open issues one GetObject and reads its body as the caller reads, so a
// plain download costs one request. A Seek to another offset makes the next
// Read issue a ranged GET from there, pinned to the version Open saw with
// If-Match on its ETag: when the object was overwritten or deleted since
// Open, the read fails instead of mixing versions. This is what lets
// http.ServeContent answer Range requests without downloading the object.
//
// Requests are retried by the SDK's standard retryer (exponential backoff
// with jitter, Config.MaxRetries). The SDK's default request checksums
// (CRC32 headers and aws-chunked trailers) are turned off, since several
// S3-compatible services reject them; the SigV4 payload hash, which the SDK
// computes for every upload (bodies are always seekable buffers here),
// protects the bytes instead.
//
// Keys that are not valid storage keys (see storage.ValidKey), such as
// "directory" markers ending in "/", are skipped by List.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/pierhq/pier/storage"
)

// maxParts is the most parts S3 accepts in one multipart upload.
const maxParts = 10000

// abortTimeout bounds the AbortMultipartUpload request a failed Put sends,
// which runs even when the Put's context is canceled.
const abortTimeout = time.Minute

// pooledSize is the smallest object of known size whose Put borrows a
// pooled PartSize buffer instead of allocating one of its own size.
const pooledSize = 1 << 20

// maxMetadataSize is S3's limit on the user metadata of one object, counted
// as the sum of the names' and values' lengths.
const maxMetadataSize = 2 << 10

// Backend is a storage.Backend on an S3 bucket. It is safe for concurrent
// use.
type Backend struct {
	client *s3.Client
	cfg    Config
	// slots bounds the uploads in flight: a Put holds one slot for every
	// part it has in memory.
	slots chan struct{}
	// parts recycles PartSize buffers (*[]byte).
	parts sync.Pool
}

var (
	_ storage.Backend = (*Backend)(nil)
	_ storage.Object  = (*object)(nil)
)

// New returns a backend for the bucket cfg describes. It applies Defaults,
// validates cfg and reads the key files, but sends no request: call Check
// to find out whether the bucket is reachable with these credentials.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	return newBackend(ctx, cfg)
}

// newBackend is New with extra client options, for tests.
func newBackend(ctx context.Context, cfg Config, optFns ...func(*s3.Options)) (*Backend, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client, err := newClient(ctx, &cfg, optFns...)
	if err != nil {
		return nil, err
	}
	b := &Backend{client: client, cfg: cfg, slots: make(chan struct{}, cfg.Concurrency)}
	partSize := cfg.PartSize
	b.parts.New = func() any {
		buf := make([]byte, partSize)
		return &buf
	}
	return b, nil
}

// newClient returns an S3 client for cfg (after Defaults and Validate).
func newClient(ctx context.Context, cfg *Config, optFns ...func(*s3.Options)) (*s3.Client, error) {
	loadOpts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(cfg.Region)}
	id, secret, static, err := cfg.credentials()
	if err != nil {
		return nil, err
	}
	if static {
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(id, secret, "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		// The SDK's message names files and profiles, never secrets.
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	attempts := cfg.MaxRetries + 1
	if cfg.MaxRetries < 0 {
		attempts = 1
	}
	opts := append([]func(*s3.Options){func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = attempts
		})
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}}, optFns...)
	return s3.NewFromConfig(awsCfg, opts...), nil
}

// Config returns the backend's configuration, with defaults applied.
// Its String method leaves the secret key out.
func (b *Backend) Config() Config { return b.cfg }

// Check sends a HeadBucket request: it reports whether the bucket exists
// and the credentials may use it. Call it at startup to fail early.
func (b *Backend) Check(ctx context.Context) error {
	_, err := b.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.cfg.Bucket)})
	if err != nil {
		// Not requestError: a missing bucket is no missing object.
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return fmt.Errorf("s3: check bucket %q: %w", b.cfg.Bucket, err)
	}
	return nil
}

// objectKey validates key and returns the S3 object key.
func (b *Backend) objectKey(key string) (string, error) {
	if err := storage.ValidKey(key); err != nil {
		return "", err
	}
	full := b.cfg.Prefix + key
	if len(full) > storage.MaxKeyLen {
		return "", fmt.Errorf("%w %q: longer than %d bytes with the prefix %q", storage.ErrInvalidKey, key, storage.MaxKeyLen, b.cfg.Prefix)
	}
	return full, nil
}

// Put implements storage.Backend.
func (b *Backend) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) error {
	full, err := b.objectKey(key)
	if err != nil {
		return err
	}
	if err := checkMetadata(opts.Metadata); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if limit := b.cfg.PartSize * maxParts; size > limit {
		return fmt.Errorf("put %q: %d bytes is more than %d parts of part_size %d", key, size, maxParts, b.cfg.PartSize)
	}
	if size >= 0 && size <= b.cfg.PartSize {
		err = b.putSmall(ctx, full, r, size, opts)
	} else {
		err = b.putStream(ctx, full, r, size, opts)
	}
	if err != nil {
		return fmt.Errorf("put %q: %w", key, requestError(ctx, err))
	}
	return nil
}

// putSmall uploads an object of known size up to PartSize with one
// PutObject, after reading it whole so that a size mismatch stores nothing
// and a retry can resend the bytes.
func (b *Backend) putSmall(ctx context.Context, full string, r io.Reader, size int64, opts storage.PutOptions) error {
	release, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	var buf []byte
	if size < pooledSize {
		buf = make([]byte, size)
	} else {
		pb := b.parts.Get().(*[]byte)
		defer b.parts.Put(pb)
		buf = (*pb)[:size]
	}
	n, err := readFull(ctx, r, buf)
	if err == io.EOF {
		return fmt.Errorf("%w: got %d bytes, want %d", storage.ErrSizeMismatch, n, size)
	}
	if err != nil {
		return err
	}
	var one [1]byte
	if m, err := readFull(ctx, r, one[:]); m > 0 {
		return fmt.Errorf("%w: more than %d bytes", storage.ErrSizeMismatch, size)
	} else if err != io.EOF {
		return err
	}
	return b.putObject(ctx, full, buf, opts)
}

// putStream uploads an object of unknown size, or larger than PartSize: one
// PutObject if it turns out to fit in one part, else a multipart upload.
func (b *Backend) putStream(ctx context.Context, full string, r io.Reader, size int64, opts storage.PutOptions) error {
	src := &sizedReader{r: r, size: size}
	if size >= 0 {
		src.r = io.LimitReader(r, size+1) // one byte more reveals a longer stream
	}
	release, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	buf := b.parts.Get().(*[]byte)
	n, err := readFull(ctx, src, *buf)
	if err == io.EOF {
		defer release()
		defer b.parts.Put(buf)
		if err := src.check(); err != nil {
			return err
		}
		return b.putObject(ctx, full, (*buf)[:n], opts)
	}
	if err != nil {
		release()
		b.parts.Put(buf)
		return err
	}
	return b.multipart(ctx, full, src, part{buf: buf, n: n, release: release}, opts)
}

// part is one part of a multipart upload in memory, with its upload slot.
type part struct {
	buf     *[]byte
	n       int
	release func()
}

// multipart uploads src as a multipart upload whose first part, already
// read, is first. It uploads parts concurrently (bounded by the Backend's
// slots) while reading the next, and aborts the upload on any failure.
func (b *Backend) multipart(ctx context.Context, full string, src *sizedReader, first part, opts storage.PutOptions) error {
	create := &s3.CreateMultipartUploadInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(full)}
	b.setCreateOptions(create, opts)
	out, err := b.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		first.release()
		b.parts.Put(first.buf)
		return fmt.Errorf("create multipart upload: %w", err)
	}
	uploadID := out.UploadId

	upCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		completed []types.CompletedPart
	)
	upload := func(num int32, p part) {
		wg.Go(func() {
			defer p.release()
			defer b.parts.Put(p.buf)
			done, err := b.uploadPart(upCtx, full, uploadID, num, (*p.buf)[:p.n])
			if err != nil {
				cancel(err)
				return
			}
			mu.Lock()
			completed = append(completed, done)
			mu.Unlock()
		})
	}
	upload(1, first)
	for num := int32(2); ; num++ {
		release, err := b.acquire(upCtx)
		if err != nil {
			cancel(err)
			break
		}
		buf := b.parts.Get().(*[]byte)
		n, err := readFull(upCtx, src, *buf)
		if n > 0 && num > maxParts {
			err = fmt.Errorf("object is larger than %d parts of part_size %d", maxParts, b.cfg.PartSize)
		}
		if n > 0 && err != nil && err != io.EOF {
			n = 0 // failed: do not upload a part we will abort anyway
		}
		if n > 0 {
			upload(num, part{buf: buf, n: n, release: release})
		} else {
			release()
			b.parts.Put(buf)
		}
		if err == io.EOF {
			if err := src.check(); err != nil {
				cancel(err)
			}
			break
		}
		if err != nil {
			cancel(err)
			break
		}
	}
	wg.Wait()

	if err := context.Cause(upCtx); err != nil {
		return b.abort(ctx, full, uploadID, err)
	}
	slices.SortFunc(completed, func(x, y types.CompletedPart) int { return int(*x.PartNumber - *y.PartNumber) })
	_, err = b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(b.cfg.Bucket),
		Key:             aws.String(full),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	})
	if err != nil {
		return b.abort(ctx, full, uploadID, fmt.Errorf("complete multipart upload: %w", err))
	}
	return nil
}

// uploadPart sends one part of a multipart upload.
func (b *Backend) uploadPart(ctx context.Context, full string, uploadID *string, num int32, data []byte) (types.CompletedPart, error) {
	res, err := b.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:        aws.String(b.cfg.Bucket),
		Key:           aws.String(full),
		UploadId:      uploadID,
		PartNumber:    aws.Int32(num),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		return types.CompletedPart{}, fmt.Errorf("upload part %d: %w", num, err)
	}
	return types.CompletedPart{ETag: res.ETag, PartNumber: aws.Int32(num)}, nil
}

// abort aborts a failed multipart upload, also when ctx is done, and
// returns err, the reason.
func (b *Backend) abort(ctx context.Context, full string, uploadID *string, err error) error {
	abortCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, aerr := b.client.AbortMultipartUpload(abortCtx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(b.cfg.Bucket), Key: aws.String(full), UploadId: uploadID,
	})
	var nsu *types.NoSuchUpload
	if aerr != nil && !errors.As(aerr, &nsu) {
		return fmt.Errorf("%w (abort multipart upload: %v)", err, aerr)
	}
	return err
}

// putObject stores data with one PutObject request.
func (b *Backend) putObject(ctx context.Context, full string, data []byte, opts storage.PutOptions) error {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(b.cfg.Bucket),
		Key:           aws.String(full),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	if opts.CacheControl != "" {
		in.CacheControl = aws.String(opts.CacheControl)
	}
	in.Metadata = opts.Metadata
	in.StorageClass = types.StorageClass(b.cfg.StorageClass)
	in.ACL = types.ObjectCannedACL(b.cfg.ACL)
	in.ServerSideEncryption = types.ServerSideEncryption(b.cfg.ServerSideEncryption)
	for attempt := 0; ; attempt++ {
		_, err := b.client.PutObject(ctx, in)
		if err == nil || attempt >= b.cfg.MaxRetries || !isDirectoryRace(err) {
			return err
		}
		// Resend from the start: the body is a bytes.Reader.
		in.Body = bytes.NewReader(data)
		select {
		case <-time.After(dirRaceBackoff << attempt):
		case <-ctx.Done():
			return err
		}
	}
}

// dirRaceBackoff is the first pause before a PutObject that met a
// directory race is retried; it doubles with every attempt.
const dirRaceBackoff = 10 * time.Millisecond

// isDirectoryRace reports whether err is the 409 ExistingObjectIsDirectory
// with which a gateway over a file system (versitygw's posix backend)
// answers a PutObject whose parent directory a concurrent DeleteObject
// removed as it became empty, between the gateway's mkdir and link. The
// same code answers a real conflict (the key is a directory), which the
// retries do not resolve; AWS S3 never sends it.
func isDirectoryRace(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ExistingObjectIsDirectory"
}

// setCreateOptions sets the object attributes of a multipart upload, as
// putObject does for a PutObject.
func (b *Backend) setCreateOptions(in *s3.CreateMultipartUploadInput, opts storage.PutOptions) {
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	if opts.CacheControl != "" {
		in.CacheControl = aws.String(opts.CacheControl)
	}
	in.Metadata = opts.Metadata
	in.StorageClass = types.StorageClass(b.cfg.StorageClass)
	in.ACL = types.ObjectCannedACL(b.cfg.ACL)
	in.ServerSideEncryption = types.ServerSideEncryption(b.cfg.ServerSideEncryption)
}

// acquire takes an upload slot, waiting for one while ctx allows; the
// returned function gives it back.
func (b *Backend) acquire(ctx context.Context) (func(), error) {
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	select {
	case b.slots <- struct{}{}:
		return sync.OnceFunc(func() { <-b.slots }), nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// readFull reads len(buf) bytes from r like io.ReadFull, checking ctx
// before every read. It returns io.EOF (not io.ErrUnexpectedEOF) whenever r
// ends before buf is full, with the count read so far.
func readFull(ctx context.Context, r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		if ctx.Err() != nil {
			return n, context.Cause(ctx)
		}
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, io.EOF
		}
		if err != nil {
			return n, fmt.Errorf("read: %w", err)
		}
	}
	return n, nil
}

// sizedReader counts the bytes read from r, to check them against size.
type sizedReader struct {
	r    io.Reader
	size int64 // -1: unknown
	n    int64
}

func (s *sizedReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	return n, err
}

// check reports ErrSizeMismatch if the reader, read to its end, delivered
// another count than size.
func (s *sizedReader) check() error {
	switch {
	case s.size < 0 || s.n == s.size:
		return nil
	case s.n > s.size:
		return fmt.Errorf("%w: more than %d bytes", storage.ErrSizeMismatch, s.size)
	default:
		return fmt.Errorf("%w: got %d bytes, want %d", storage.ErrSizeMismatch, s.n, s.size)
	}
}

// checkMetadata rejects user metadata that S3 would store differently:
// names must be lower-case ASCII letters, digits, '-', '_' or '.', values
// printable ASCII without surrounding spaces, all of it within 2 KiB.
func checkMetadata(md map[string]string) error {
	total := 0
	for k, v := range md {
		total += len(k) + len(v)
		if k == "" || strings.ContainsFunc(k, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
		}) {
			return fmt.Errorf("metadata name %q: want lower-case ASCII letters, digits, '-', '_' or '.'", k)
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e }) || strings.TrimSpace(v) != v {
			return fmt.Errorf("metadata %q: value must be printable ASCII without surrounding spaces", k)
		}
	}
	if total > maxMetadataSize {
		return fmt.Errorf("metadata of %d bytes is larger than S3's %d", total, maxMetadataSize)
	}
	return nil
}

// Open implements storage.Backend. The object's reads use ctx: keep it alive
// until Close. The Object is not safe for concurrent use.
func (b *Backend) Open(ctx context.Context, key string) (storage.Object, error) {
	full, err := b.objectKey(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %q: %w", key, err)
	}
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(full)})
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", key, requestError(ctx, err))
	}
	if out.ContentLength == nil || *out.ContentLength < 0 {
		out.Body.Close()
		return nil, fmt.Errorf("open %q: response without Content-Length", key)
	}
	o := &object{
		b:       b,
		ctx:     ctx,
		full:    full,
		etag:    aws.ToString(out.ETag),
		body:    out.Body,
		bodyEnd: *out.ContentLength,
		info: storage.Info{
			Key:      key,
			Size:     *out.ContentLength,
			ModTime:  aws.ToTime(out.LastModified),
			Metadata: metadata(out.Metadata),
		},
	}
	return o, nil
}

// Stat implements storage.Backend.
func (b *Backend) Stat(ctx context.Context, key string) (storage.Info, error) {
	full, err := b.objectKey(key)
	if err != nil {
		return storage.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("stat %q: %w", key, err)
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(full)})
	if err != nil {
		return storage.Info{}, fmt.Errorf("stat %q: %w", key, requestError(ctx, err))
	}
	return storage.Info{
		Key:      key,
		Size:     aws.ToInt64(out.ContentLength),
		ModTime:  aws.ToTime(out.LastModified),
		Metadata: metadata(out.Metadata),
	}, nil
}

// Delete implements storage.Backend.
func (b *Backend) Delete(ctx context.Context, key string) error {
	full, err := b.objectKey(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	_, err = b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(full)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %q: %w", key, requestError(ctx, err))
	}
	return nil
}

// List implements storage.Backend with ListObjectsV2, whose keys come in
// UTF-8 byte order, which is Go's string order.
func (b *Backend) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(b.cfg.Bucket)}
	if p := b.cfg.Prefix + prefix; p != "" {
		in.Prefix = aws.String(p)
	}
	pages := s3.NewListObjectsV2Paginator(b.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %q: %w", prefix, requestError(ctx, err))
		}
		for _, obj := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(obj.Key), b.cfg.Prefix)
			if !ok || !strings.HasPrefix(key, prefix) || storage.ValidKey(key) != nil {
				continue // a directory marker or a name made outside Pier
			}
			if err := fn(storage.Info{Key: key, Size: aws.ToInt64(obj.Size), ModTime: aws.ToTime(obj.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// metadata returns md, or nil if it is empty.
func metadata(md map[string]string) map[string]string {
	if len(md) == 0 {
		return nil
	}
	return md
}

// requestError turns an SDK error into this package's: a missing object
// becomes fs.ErrNotExist, and an error after ctx is done wraps ctx.Err().
func requestError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	if isNotFound(err) {
		return fs.ErrNotExist
	}
	return err
}

// isNotFound reports whether err says the object does not exist.
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		case "", "NotFoundException":
		default:
			return false // NoSuchBucket and the like
		}
	}
	return httpStatus(err) == http.StatusNotFound
}

// httpStatus returns the HTTP status of a failed request, or 0.
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
