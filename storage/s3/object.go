package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierhq/pier/storage"
)

// skipLimit is the largest forward Seek that a Read follows by discarding
// bytes of the open response instead of sending a new ranged GET.
const skipLimit = 256 << 10

var (
	// errChanged reports that the object opened was overwritten or deleted
	// before a ranged read could fetch more of it.
	errChanged = errors.New("s3: object changed or deleted since Open")
	// errClosed reports a use of a closed Object.
	errClosed = errors.New("s3: object already closed")
)

// object is an open S3 object: it reads the body of Open's GetObject, and
// after a Seek elsewhere the body of a ranged GET pinned to the ETag Open
// saw. It is not safe for concurrent use.
type object struct {
	b *Backend
	// ctx is Open's context. io.Reader has no context parameter, and
	// storage.Backend.Open lets an object tie its reads to Open's context,
	// so the object keeps it for the GETs it issues until Close.
	ctx  context.Context
	full string // S3 key
	etag string // ETag of the version opened; "" if the server sent none
	info storage.Info

	pos     int64         // offset of the next Read
	body    io.ReadCloser // open response body, or nil
	bodyPos int64         // offset of body's next byte
	bodyEnd int64         // offset after body's last byte
	resumes int           // failed body reads resumed since the last good one
	closed  bool
}

// Info implements storage.Object.
func (o *object) Info() storage.Info { return o.info }

// Read implements io.Reader. A body that breaks off is resumed with a
// ranged GET from where it stopped, at most Config.MaxRetries times in a
// row.
func (o *object) Read(p []byte) (int, error) {
	if o.closed {
		return 0, errClosed
	}
	if o.pos >= o.info.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if err := o.position(); err != nil {
			return 0, err
		}
		if rem := o.bodyEnd - o.pos; int64(len(p)) > rem {
			p = p[:rem]
		}
		n, err := o.body.Read(p)
		o.pos += int64(n)
		o.bodyPos += int64(n)
		if o.bodyPos >= o.bodyEnd {
			// Everything the response promised: read its EOF, so the
			// connection can be reused, and let it go.
			var rest [1]byte
			o.body.Read(rest[:])
			o.closeBody()
			err = nil
		}
		if err == nil {
			if n > 0 {
				o.resumes = 0
				return n, nil
			}
			continue
		}
		o.closeBody()
		if cerr := o.ctx.Err(); cerr != nil {
			return n, fmt.Errorf("read %q: %w", o.info.Key, cerr)
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if o.resumes >= max(o.b.cfg.MaxRetries, 0) {
			return n, fmt.Errorf("read %q at offset %d: %w", o.info.Key, o.pos, err)
		}
		o.resumes++
		if n > 0 {
			return n, nil
		}
	}
}

// position makes body an open response that continues at pos: the current
// one if it is there or a little before, else a new ranged GET.
func (o *object) position() error {
	if o.body != nil {
		if o.bodyPos == o.pos {
			return nil
		}
		if d := o.pos - o.bodyPos; d > 0 && d <= skipLimit && o.pos < o.bodyEnd {
			if _, err := io.CopyN(io.Discard, o.body, d); err == nil {
				o.bodyPos = o.pos
				return nil
			}
		}
		o.closeBody()
	}
	return o.get()
}

// get opens a ranged GET from pos to the end, pinned to the opened version.
func (o *object) get() error {
	in := &s3.GetObjectInput{
		Bucket: aws.String(o.b.cfg.Bucket),
		Key:    aws.String(o.full),
		Range:  aws.String(fmt.Sprintf("bytes=%d-", o.pos)),
	}
	if o.etag != "" {
		in.IfMatch = aws.String(o.etag)
	}
	out, err := o.b.client.GetObject(o.ctx, in)
	if err != nil {
		if o.ctx.Err() == nil && (isNotFound(err) || httpStatus(err) == http.StatusPreconditionFailed) {
			return fmt.Errorf("read %q at offset %d: %w", o.info.Key, o.pos, errChanged)
		}
		return fmt.Errorf("read %q at offset %d: %w", o.info.Key, o.pos, requestError(o.ctx, err))
	}
	end, err := o.checkRange(out)
	if err != nil {
		out.Body.Close()
		return fmt.Errorf("read %q at offset %d: %w", o.info.Key, o.pos, err)
	}
	o.body, o.bodyPos, o.bodyEnd = out.Body, o.pos, end
	return nil
}

// checkRange checks that a ranged GET's response holds the opened version
// from pos on, and returns the offset after its last byte.
func (o *object) checkRange(out *s3.GetObjectOutput) (int64, error) {
	if o.etag != "" && out.ETag != nil && *out.ETag != o.etag {
		return 0, errChanged
	}
	length := aws.ToInt64(out.ContentLength)
	if out.ContentRange == nil {
		// A server that ignores Range sends the whole object: fine from 0.
		if o.pos == 0 && length == o.info.Size {
			return length, nil
		}
		return 0, fmt.Errorf("s3: ranged GET answered without Content-Range")
	}
	var start, last, total int64
	if _, err := fmt.Sscanf(*out.ContentRange, "bytes %d-%d/%d", &start, &last, &total); err != nil {
		return 0, fmt.Errorf("s3: ranged GET answered with Content-Range %q", *out.ContentRange)
	}
	if total != o.info.Size {
		return 0, errChanged
	}
	if start != o.pos || last < start || last >= total || length != last-start+1 {
		return 0, fmt.Errorf("s3: ranged GET from %d answered with Content-Range %q and %d bytes", o.pos, *out.ContentRange, length)
	}
	return last + 1, nil
}

// closeBody closes the open response body, if any.
func (o *object) closeBody() {
	if o.body != nil {
		o.body.Close()
		o.body = nil
	}
}

// Seek implements io.Seeker. It only moves the offset; the next Read
// fetches from there.
func (o *object) Seek(offset int64, whence int) (int64, error) {
	if o.closed {
		return 0, errClosed
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = o.pos + offset
	case io.SeekEnd:
		abs = o.info.Size + offset
	default:
		return 0, fmt.Errorf("seek %q: invalid whence %d", o.info.Key, whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("seek %q: negative position %d", o.info.Key, abs)
	}
	o.pos = abs
	return abs, nil
}

// Close implements io.Closer.
func (o *object) Close() error {
	if o.closed {
		return errClosed
	}
	o.closeBody()
	o.closed = true
	return nil
}
