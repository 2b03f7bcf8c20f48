package api

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Large files go out with the kernel's sendfile(2) when the blob store is
// local disk: http.ServeContent copies an *os.File into the
// http.ResponseWriter it is given, and that copy reaches the TCP
// connection's ReadFrom (which calls sendfile) only if every writer in
// between is an io.ReaderFrom: echo's Response (fileWriter), the
// deadline-extending writer (deadlineWriter.ReadFrom), net/http's
// response, and the connection of the listener that caps connections
// (limitConn).

// Bounds of one sendfile chunk (see deadlineWriter.ReadFrom). The first
// chunk is what one Write of io.Copy carried before; a chunk never
// exceeds what Go hands one sendfile(2) call.
const (
	minSendChunk = 32 << 10
	maxSendChunk = 4 << 20
)

// writerOnly hides a writer's ReadFrom, so io.Copy into it uses Write.
type writerOnly struct{ io.Writer }

// ReadFrom sends src to the client through the wrapped writer's ReadFrom
// (sendfile for a file on a TCP connection), in chunks, keeping Write's
// rule: a client that takes nothing for WriteTimeout is cut, one that
// reads slowly but steadily gets the whole file. Before each chunk the
// write deadline is extended (at most every timeout/8, as in Write), and
// a chunk is what the client took in an eighth of the timeout during the
// previous one, at most twice the previous chunk (from 32 KiB, the size
// of one Write of io.Copy, up to 4 MiB), so a client that keeps its pace,
// or slows down up to seven times, finishes every chunk in time. (Write
// cut only a client that took nothing for the timeout; a client whose
// pace drops more than sevenfold within one chunk can now be cut too.)
func (w *deadlineWriter) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	if !ok || w.off {
		return io.Copy(writerOnly{w}, src)
	}
	// sendfile sees through one io.LimitedReader (what ServeContent
	// passes) to the *os.File: chunks are cut from its limit, not by
	// wrapping it in another.
	r, left := src, int64(-1)
	if lr, ok := src.(*io.LimitedReader); ok {
		r, left = lr.R, lr.N
		defer func() { lr.N = left }()
	}
	var total int64
	chunk := int64(minSendChunk)
	for left != 0 {
		now := time.Now()
		if now.Sub(w.last) >= w.timeout/8 {
			if err := w.rc.SetWriteDeadline(now.Add(w.timeout)); errors.Is(err, http.ErrNotSupported) {
				w.off = true
				n, err := io.Copy(writerOnly{w}, &io.LimitedReader{R: r, N: nonNegative(left)})
				left -= n
				return total + n, err
			}
			w.last = now
		}
		want := chunk
		if left > 0 {
			want = min(chunk, left)
		}
		n, err := rf.ReadFrom(&io.LimitedReader{R: r, N: want})
		total += n
		if left > 0 {
			left -= n
		}
		if err != nil {
			return total, clientWriteError(err)
		}
		if n < want {
			return total, nil // r ended
		}
		// At most twice the last chunk: while the socket buffers fill,
		// a chunk goes faster than the client reads.
		next := 2 * n
		if el := time.Since(now); el > 0 {
			next = min(next, int64(float64(n)*float64(w.timeout/8)/float64(el)))
		}
		chunk = min(max(next, minSendChunk), maxSendChunk)
	}
	return total, nil
}

// nonNegative is n, or a limit without end for -1 (no limit).
func nonNegative(n int64) int64 {
	if n < 0 {
		return 1<<63 - 1
	}
	return n
}

// fileWriter is echo's Response with a ReadFrom that reaches the wrapped
// writer's, for http.ServeContent; Pier registers no echo after-write
// hooks (which would need the bytes).
type fileWriter struct{ *echo.Response }

// ReadFrom commits the response like Response.Write does and copies src
// through the wrapped writer's ReadFrom, counting the bytes in Size.
func (w fileWriter) ReadFrom(src io.Reader) (int64, error) {
	r := w.Response
	if !r.Committed {
		if r.Status == 0 {
			r.Status = http.StatusOK
		}
		r.WriteHeader(r.Status)
	}
	var n int64
	var err error
	if rf, ok := r.Writer.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{r.Writer}, src)
	}
	r.Size += n
	return n, err
}

// limitListener caps the open connections like
// golang.org/x/net/netutil.LimitListener (Accept waits for a free slot,
// Close of a connection gives it back), with connections that keep the
// TCP connection's ReadFrom (sendfile).
type limitListener struct {
	net.Listener
	sem       chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

// Close closes the listener and wakes an Accept waiting for a slot.
func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitConn is an accepted connection holding a slot until closed.
type limitConn struct {
	net.Conn
	releaseOnce sync.Once
	release     func()
}

// Close closes the connection and frees its slot (once).
func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.releaseOnce.Do(c.release)
	return err
}

// ReadFrom is the connection's own (sendfile on a TCP connection).
func (c *limitConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}

// Unwrap returns the accepted connection.
func (c *limitConn) Unwrap() net.Conn { return c.Conn }
