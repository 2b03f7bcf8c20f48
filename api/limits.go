package api

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pierhq/pier/repo"
)

// Limits bound what one client can hold of the server: how long a
// connection may sit idle or take to send its headers, how slowly a
// request body may arrive and a response be taken, how many connections
// are open at once, and how many uploads one token or one client address
// runs at once. Zero fields take the defaults (Defaults); -1 turns a rate
// or a cap off.
type Limits struct {
	// ReadHeaderTimeout is how long a client has to send a request's
	// headers, counted from the connection's first byte (or its accept).
	ReadHeaderTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request.
	IdleTimeout time.Duration
	// WriteTimeout is how long one write of a response may block on a
	// client that does not read. It is extended at every write, so a
	// large download on a slow link completes while a stalled reader is
	// cut.
	WriteTimeout time.Duration
	// BodyMinRate is the slowest accepted request body in bytes per
	// second, averaged over BodyRateWindow: every window must bring
	// BodyMinRate*BodyRateWindow bytes (or the body's end), or the
	// request ends with 408. -1: no minimum.
	BodyMinRate int64
	// BodyRateWindow is the period over which BodyMinRate is measured.
	BodyRateWindow time.Duration
	// MaxConnections caps the open connections; more wait in the
	// kernel's accept queue until one closes. -1: no cap.
	MaxConnections int
	// MaxUploadsPerToken caps the uploads one token runs at once; more
	// get 429 with Retry-After. -1: no cap.
	MaxUploadsPerToken int
	// MaxUploadsPerClient caps the uploads one client address runs at
	// once (the address behind trusted proxies); more get 429. -1: no cap.
	MaxUploadsPerClient int
}

// Default limits. A client sends its headers at once and a keep-alive
// connection is reused within seconds (apt, dnf, zypper and apk fetch a
// run of files back to back); a write blocked for a minute means a reader
// that stopped, as 32 KiB in 60 s is 550 B/s; 1 KiB/s is slower than any
// link a CI runner uploads over; a CI job that fans its uploads out (xargs
// -P 20, a matrix's last step) stays under the upload caps, which bound
// the temp files one address or token holds at once while the body rate
// keeps slow holders from lingering.
const (
	DefaultReadHeaderTimeout   = 10 * time.Second
	DefaultIdleTimeout         = 60 * time.Second
	DefaultWriteTimeout        = 60 * time.Second
	DefaultBodyMinRate         = 1 << 10
	DefaultBodyRateWindow      = 30 * time.Second
	DefaultMaxConnections      = 2048
	DefaultMaxUploadsPerToken  = 64
	DefaultMaxUploadsPerClient = 32
)

// uploadRetryAfter is the Retry-After of an upload refused by a cap: about
// the time a small package takes to go through.
const uploadRetryAfter = 5

// Defaults fills the zero fields.
func (l *Limits) Defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&l.IdleTimeout, DefaultIdleTimeout)
	def(&l.WriteTimeout, DefaultWriteTimeout)
	def(&l.BodyRateWindow, DefaultBodyRateWindow)
	if l.BodyMinRate == 0 {
		l.BodyMinRate = DefaultBodyMinRate
	}
	for _, c := range []struct {
		n *int
		v int
	}{{&l.MaxConnections, DefaultMaxConnections}, {&l.MaxUploadsPerToken, DefaultMaxUploadsPerToken},
		{&l.MaxUploadsPerClient, DefaultMaxUploadsPerClient}} {
		if *c.n == 0 {
			*c.n = c.v
		}
	}
}

// Validate checks l after Defaults: positive durations, caps and rate
// positive or -1.
func (l *Limits) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read_header_timeout", l.ReadHeaderTimeout}, {"idle_timeout", l.IdleTimeout}, {"write_timeout", l.WriteTimeout},
		{"body_rate_window", l.BodyRateWindow}} {
		if d.v <= 0 {
			return fmt.Errorf("%s must be positive: %w", d.name, repo.ErrInvalid)
		}
	}
	if l.BodyMinRate < -1 || l.BodyMinRate == 0 {
		return fmt.Errorf("body_min_rate must be positive or -1 (off): %w", repo.ErrInvalid)
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"max_connections", l.MaxConnections}, {"max_uploads_per_token", l.MaxUploadsPerToken},
		{"max_uploads_per_client", l.MaxUploadsPerClient}} {
		if c.v < -1 || c.v == 0 {
			return fmt.Errorf("%s must be positive or -1 (off): %w", c.name, repo.ErrInvalid)
		}
	}
	return nil
}

// HTTPServer returns the http.Server that serves s: header, idle and
// shutdown-friendly timeouts from the limits. There is no overall read or
// write timeout, which would cut large uploads and downloads: request
// bodies are held to a minimum rate and response writes to a stall
// timeout by the middleware (see observe).
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.e,
		ReadHeaderTimeout: s.cfg.Limits.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.Limits.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Listener returns ln capped to MaxConnections open connections (as
// golang.org/x/net/netutil.LimitListener, but its connections keep the
// TCP connection's ReadFrom, so files go out with sendfile): past the
// cap, new connections wait in the kernel's accept queue until one
// closes, so a burst is smoothed rather than refused, and the idle and
// header timeouts free the slots that idle or silent clients hold.
func (s *Server) Listener(ln net.Listener) net.Listener {
	if s.cfg.Limits.MaxConnections > 0 {
		return newLimitListener(ln, s.cfg.Limits.MaxConnections)
	}
	return ln
}

// limitIO wraps the request body so that its read errors say whether the
// client went away or was too slow, and holds it to the minimum rate;
// and wraps the response writer so that each write that blocks longer
// than WriteTimeout fails. The deadlines stay after the handler: they
// bound net/http's draining of an unread body and its final flush, and
// net/http clears them before the connection's next request.
func (s *Server) limitIO(c echo.Context) {
	dw := &deadlineWriter{ResponseWriter: c.Response().Writer, timeout: s.cfg.Limits.WriteTimeout}
	dw.rc = *http.NewResponseController(c.Response().Writer) // one allocation for both
	rc := &dw.rc
	req := c.Request()
	if req.Body != nil && req.Body != http.NoBody {
		b := &rateBody{r: req.Body, rc: rc, window: s.cfg.Limits.BodyRateWindow}
		if s.cfg.Limits.BodyMinRate > 0 {
			// Armed now, not at the first read: a body the handler
			// leaves unread is drained by net/http after it, and a
			// trickling client must not hold the connection then either.
			b.min = max(1, int64(float64(s.cfg.Limits.BodyMinRate)*s.cfg.Limits.BodyRateWindow.Seconds()))
			if err := rc.SetReadDeadline(time.Now().Add(b.window)); err != nil {
				b.min = 0 // the connection cannot tell (a test recorder)
			}
		}
		req.Body = b
	}
	c.Response().Writer = dw
}

// rateBody is a request body held to a minimum rate: each window of
// `window` must bring min bytes, or the connection's read deadline cuts
// the body. Its errors are client faults (see clientBodyError).
type rateBody struct {
	r      io.ReadCloser
	rc     *http.ResponseController
	min    int64 // bytes per window; 0: no minimum
	window time.Duration
	got    int64 // bytes in the current window
	done   bool
}

func (b *rateBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.got += int64(n)
	if b.min > 0 && b.got >= b.min && err == nil {
		b.got = 0
		b.rc.SetReadDeadline(time.Now().Add(b.window))
	}
	if err == io.EOF && b.min > 0 && !b.done {
		// The body ended: no deadline may cut what the handler does
		// next (through the server's background read, which would
		// cancel the request's context). After a failure the deadline
		// stays, so that net/http's draining of the rest of the body
		// fails at once and the connection closes.
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, clientBodyError(err)
}

func (b *rateBody) Close() error { return b.r.Close() }

// deadlineWriter sets the connection's write deadline to timeout from now
// before a write (at most every timeout/8), so a response flows as long as
// the client takes it and stops when it stops.
type deadlineWriter struct {
	http.ResponseWriter
	rc      http.ResponseController
	timeout time.Duration
	last    time.Time
	off     bool
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	if !w.off {
		// Extended every eighth of the timeout at most: a deadline
		// syscall per write would cost, a late extension would cut.
		if now := time.Now(); now.Sub(w.last) >= w.timeout/8 {
			if err := w.rc.SetWriteDeadline(now.Add(w.timeout)); errors.Is(err, http.ErrNotSupported) {
				w.off = true
			}
			w.last = now
		}
	}
	n, err := w.ResponseWriter.Write(p)
	return n, clientWriteError(err)
}

// Unwrap returns the wrapped writer (for http.ResponseController).
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// slots counts what each key (a token, a client address) runs at once.
type slots struct {
	mu  sync.Mutex
	max int // -1: no cap
	n   map[string]int
}

func newSlots(max int) *slots { return &slots{max: max, n: map[string]int{}} }

// acquire takes a slot of key, or reports false when key holds max.
func (s *slots) acquire(key string) bool {
	if s.max < 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[key] >= s.max {
		return false
	}
	s.n[key]++
	return true
}

// release gives back a slot of key.
func (s *slots) release(key string) {
	if s.max < 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[key]--; s.n[key] <= 0 {
		delete(s.n, key)
	}
}

// uploadSlot is the middleware of the upload route: it holds one of the
// token's and one of the client address's upload slots while the upload
// runs, and answers 429 with Retry-After when either is used up (before
// reading the body).
func (s *Server) uploadSlot(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		name, addr := principalName(c), c.RealIP()
		busy := func(who string, max int) error {
			c.Response().Header().Set("Retry-After", strconv.Itoa(uploadRetryAfter))
			return echo.NewHTTPError(http.StatusTooManyRequests,
				fmt.Sprintf("%s already runs %d uploads, the most allowed at once; retry when one has finished", who, max))
		}
		if !s.tokenUploads.acquire(name) {
			return busy("token "+name, s.tokenUploads.max)
		}
		defer s.tokenUploads.release(name)
		if !s.clientUploads.acquire(addr) {
			return busy("your address ("+addr+")", s.clientUploads.max)
		}
		defer s.clientUploads.release(addr)
		if s.metrics != nil {
			defer s.metrics.UploadStarted()()
		}
		return next(c)
	}
}
