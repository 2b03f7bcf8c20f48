// Package api is Pier's HTTP interface (echo/v4): the upload, publish and
// listing API under /api/v1, the published repository files, the public
// keys, client setup snippets and health checks. Routes are declared in one
// place (Server.routes) and one error handler maps domain errors to HTTP
// status codes; nothing outside this package knows about HTTP.
package api

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/metrics"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/mirror"
)

// Config configures the HTTP server.
type Config struct {
	// PublicURL is the URL clients reach Pier at, used in setup snippets.
	// Empty means it is derived from each request's Host.
	PublicURL string
	// MaxUploadSize is the largest accepted package in bytes.
	MaxUploadSize int64
	// GCGrace spares unreferenced blobs younger than this in POST /gc.
	GCGrace time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// for the client address (rate limiting, audit, logs). Empty: the
	// connection's peer address is the client's.
	TrustedProxies []*net.IPNet
	// Limits bound connections, slow clients and concurrent uploads;
	// zero fields take their defaults.
	Limits Limits
	// Uploaders are the signature rules of .changes uploads, first match
	// wins: a .changes for a matching target must be signed by one of the
	// rule's keys (403 otherwise).
	Uploaders []Uploaders
	// TargetsAllow, when not empty, lists the stream/distro/release glob
	// patterns of the targets that uploads, promotions and publishes may
	// create (422 otherwise); existing targets are not affected.
	TargetsAllow []string
}

// KeyFile is one public key file served under /keys/.
type KeyFile struct {
	Name        string // file name, e.g. "pier.asc"
	ContentType string
	Data        []byte
}

// Deps are what the server works with, wired in cmd.
type Deps struct {
	Service *repo.Service
	// Keys are served under /keys/<name>.
	Keys []KeyFile
	// Fingerprint is the primary OpenPGP key's, for setup snippets.
	Fingerprint string
	// Fingerprints are all signing keys' fingerprints, primary first.
	Fingerprints []string
	// Auth checks tokens and knows the private targets; it may be
	// reconfigured at run time (SIGHUP).
	Auth *auth.Authenticator
	// Audit records changes (nil: not recorded) and serves GET
	// /api/v1/audit.
	Audit audit.Store
	// Mirrors reports mirror sync state for GET /api/v1/mirrors (nil: none).
	Mirrors interface{ Status() []mirror.Status }
	// Metrics, when set, counts requests and serves /metrics.
	Metrics *metrics.Metrics
	// Ready checks what /readyz reports (catalog, blob store, keys).
	Ready func(ctx context.Context) error
	Log   *slog.Logger
}

// Server is the HTTP server.
type Server struct {
	cfg Config
	svc *repo.Service
	// rt is what a reload changes: public URL, trusted proxies, allowed
	// targets, GC grace, keys.
	rt      atomic.Pointer[runtime]
	auth    *auth.Authenticator
	audit   audit.Store
	mirrors interface{ Status() []mirror.Status }
	metrics *metrics.Metrics
	ready   func(ctx context.Context) error
	log     *slog.Logger
	e       *echo.Echo
	// Uploads in progress per token name and per client address.
	tokenUploads, clientUploads *slots
	// apiRoutes are the /api/v1 routes, for apiMiss.
	apiRoutes []apiRoute
	// small serves small published files from memory.
	small smallFiles
	// pairs gives a client the signature of the root it was served.
	pairs rootPairs
	// ids makes the request ids of requests that bring none.
	ids requestIDs
}

// requestIDs makes request ids: 16 hex digits, a random prefix drawn at
// start and a counter, so that making one reads no randomness and ids
// stay unique across restarts in practice.
type requestIDs struct {
	prefix uint32
	n      atomic.Uint32
}

// seed draws the random prefix.
func (r *requestIDs) seed() {
	var b [4]byte
	rand.Read(b[:])
	r.prefix = binary.BigEndian.Uint32(b[:])
}

// next returns a new id.
func (r *requestIDs) next() string {
	const digits = "0123456789abcdef"
	v := uint64(r.prefix)<<32 | uint64(r.n.Add(1))
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// apiRoute is one /api/v1 route: its path segments below /api/v1
// (":name" matches any one segment) and its methods.
type apiRoute struct {
	segs    []string
	methods []string
}

func (r apiRoute) matches(segs []string) bool {
	if len(segs) != len(r.segs) {
		return false
	}
	for i, s := range r.segs {
		if !strings.HasPrefix(s, ":") && s != segs[i] {
			return false
		}
	}
	return true
}

// apiMiss answers a request under /api/ that no route took: 405 with
// Allow (RFC 9110, 15.5.6) when the path is an API route's with another
// method, 404 otherwise.
func (s *Server) apiMiss(c echo.Context) error {
	req := c.Request()
	rest, _ := strings.CutPrefix(req.URL.EscapedPath(), "/api/v1/")
	segs := strings.Split(rest, "/")
	var allow []string
	for _, r := range s.apiRoutes {
		if r.matches(segs) {
			allow = append(allow, r.methods...)
		}
	}
	// The messages do not repeat the path: a reply names nothing the
	// server holds, whatever the URL.
	if len(allow) == 0 {
		return echo.NewHTTPError(http.StatusNotFound, "no such API route (the routes are listed in the README, HTTP API)")
	}
	c.Response().Header().Set("Allow", strings.Join(allow, ", "))
	return echo.NewHTTPError(http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on this API route; allowed: %s",
		req.Method, strings.Join(allow, ", ")))
}

// New returns a server. cfg.Limits must be valid once defaulted (see
// Limits.Validate).
func New(cfg Config, d Deps) *Server {
	cfg.Limits.Defaults()
	s := &Server{cfg: cfg, svc: d.Service, auth: d.Auth,
		audit: d.Audit, mirrors: d.Mirrors, metrics: d.Metrics, ready: d.Ready, log: d.Log, e: echo.New(),
		tokenUploads: newSlots(cfg.Limits.MaxUploadsPerToken), clientUploads: newSlots(cfg.Limits.MaxUploadsPerClient)}
	fprs := d.Fingerprints
	if len(fprs) == 0 && d.Fingerprint != "" {
		fprs = []string{d.Fingerprint}
	}
	s.ids.seed()
	s.rt.Store(&runtime{})
	s.Reconfigure(cfg)
	s.SetKeys(d.Keys, fprs)
	s.e.HideBanner = true
	s.e.HidePort = true
	s.e.HTTPErrorHandler = s.handleError
	// The trusted proxies can change (Reconfigure): the extractor in force
	// is read per request.
	s.e.IPExtractor = func(r *http.Request) string { return s.rt.Load().extractIP(r) }
	s.routes()
	return s
}

// Handler returns the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.e }

func (s *Server) routes() {
	e := s.e
	e.Use(s.observe)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", s.readyz)
	if s.metrics != nil {
		e.GET("/metrics", echo.WrapHandler(s.metrics.Handler()))
	}
	e.GET("/keys/:name", s.publicKey)
	e.HEAD("/keys/:name", s.publicKey)
	e.GET("/setup/:stream/:distro/:release", s.setup)

	// Every /api/v1 route authenticates and names the scope it needs (see
	// need); the target is the route's :stream/:distro/:release. GET
	// routes answer HEAD too. Wrong methods and unknown API paths get 405
	// (with Allow) or 404 from apiMiss.
	api := func(method, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
		mw = append([]echo.MiddlewareFunc{s.authenticate}, mw...)
		r := apiRoute{segs: strings.Split(strings.TrimPrefix(path, "/"), "/"), methods: []string{method}}
		if method == http.MethodGet {
			r.methods = append(r.methods, http.MethodHead)
		}
		for _, m := range r.methods {
			e.Add(m, "/api/v1"+path, h, mw...)
		}
		s.apiRoutes = append(s.apiRoutes, r)
	}
	api("GET", "/targets", s.listTargets, s.need(anyToken))
	api("DELETE", "/targets/:stream/:distro/:release", s.removeTarget, s.need(auth.Delete))
	api("GET", "/targets/:stream/:distro/:release/packages", s.listPackages, s.need(auth.Read))
	api("POST", "/targets/:stream/:distro/:release/packages", s.upload, s.need(auth.Upload), s.uploadSlot)
	api("POST", "/targets/:stream/:distro/:release/sources", s.uploadSet(false), s.need(auth.Upload), s.uploadSlot)
	api("POST", "/targets/:stream/:distro/:release/changes", s.uploadSet(true), s.need(auth.Upload), s.uploadSlot)
	api("POST", "/targets/:stream/:distro/:release/publish", s.publish, s.need(auth.Publish))
	api("DELETE", "/targets/:stream/:distro/:release/packages/:name/:version/:arch", s.deletePackage, s.need(auth.Delete))
	api("GET", "/targets/:stream/:distro/:release/generations", s.listGenerations, s.need(auth.Read))
	api("POST", "/targets/:stream/:distro/:release/rollback", s.rollback, s.need(auth.Publish))
	api("POST", "/targets/:stream/:distro/:release/promote", s.promote, s.need(auth.Promote))   // read on the source: in promote
	api("POST", "/targets/:stream/:distro/:release/snapshot", s.snapshot, s.need(auth.Publish)) // upload on the new target: in snapshot
	api("GET", "/targets/:stream/:distro/:release/pins", s.listPins, s.need(auth.Read))
	api("PUT", "/targets/:stream/:distro/:release/pins/:name/:version", s.pin, s.need(auth.Publish))
	api("DELETE", "/targets/:stream/:distro/:release/pins/:name/:version", s.unpin, s.need(auth.Publish))
	api("POST", "/targets/:stream/:distro/:release/prune", s.prune, s.need(auth.Delete))
	api("POST", "/gc", s.collectGarbage, s.need(auth.Admin))
	api("GET", "/mirrors", s.listMirrors, s.need(auth.Read))
	api("POST", "/tokens", s.createToken, s.need(auth.Admin))
	api("GET", "/tokens", s.listTokens, s.need(auth.Admin))
	api("DELETE", "/tokens/:name", s.revokeToken, s.need(auth.Admin))
	api("GET", "/audit", s.auditLog, s.need(auth.Admin))

	s.setupFileRoutes(e) // pier.repo, pier.sources, pier.repositories under each target's root
	e.GET("/*", s.serveFile)
	e.HEAD("/*", s.serveFile)
}

// observe gives every request an id (X-Request-Id, taken from the client
// when it sends one), holds its body and response to the limits, logs one
// line per request, and a warning for every refused write with its
// reason, and counts it by route and status (a client that went away
// counts as 499, never as a server error).
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		id := req.Header.Get(requestIDHeader)
		if id == "" || len(id) > 64 {
			id = s.ids.next()
		}
		// The response header is where requestID finds it (no echo
		// context store, which is a map made per request).
		c.Response().Header()[requestIDHeader] = []string{id}
		s.limitIO(c)
		ctx := req.Context()
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		code := c.Response().Status
		if st, ok := c.Get(statusKey).(int); ok && st == StatusClientClosed {
			code = st
		}
		route := c.Path()
		if s.log.Enabled(ctx, slog.LevelInfo) {
			// Typed attributes: nothing is boxed into an interface.
			s.log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("id", id), slog.String("method", req.Method),
				slog.String("route", route), slog.String("path", req.URL.Path), slog.Int("status", code),
				slog.Int64("bytes", c.Response().Size), slog.Int64("duration_ms", time.Since(start).Milliseconds()),
				slog.String("remote", c.RealIP()))
		}
		if isWrite(req.Method) && code >= 400 && code < 500 && code != StatusClientClosed {
			reason, _ := c.Get(reasonKey).(string)
			s.log.Warn("write refused", "id", id, "method", req.Method, "path", req.URL.Path, "target", targetParam(c),
				"token", principalName(c), "status", code, "reason", reason, "remote", c.RealIP())
		}
		if s.metrics != nil {
			s.metrics.Request(route, code)
		}
		return nil
	}
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch:
		return true
	}
	return false
}

// targetParam returns the route's stream/distro/release as given ("" on
// routes without a target).
func targetParam(c echo.Context) string {
	if !hasTarget(c) {
		return ""
	}
	return c.Param("stream") + "/" + c.Param("distro") + "/" + c.Param("release")
}

// Context keys: the status and message handleError (or a multipart
// upload) gave the client, for the request log.
const (
	statusKey = "status"
	reasonKey = "reason"
)

// requestIDHeader carries the request id (canonical form).
const requestIDHeader = "X-Request-Id"

// requestID returns the request's id, which observe put in the response
// header.
func requestID(c echo.Context) string {
	if v := c.Response().Header()[requestIDHeader]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// readyz answers 200 when the catalog answers, the blob store takes a
// write and the keys are loaded, and 503 with the reason otherwise.
func (s *Server) readyz(c echo.Context) error {
	if s.ready != nil {
		if err := s.ready(c.Request().Context()); err != nil {
			return c.JSON(http.StatusServiceUnavailable, errorBody{Error: "not ready: " + err.Error()})
		}
	}
	return c.String(http.StatusOK, "ready\n")
}

func target(c echo.Context) (repo.Target, error) {
	t := repo.Target{Stream: c.Param("stream"), Distro: c.Param("distro"), Release: c.Param("release")}
	return t, t.Validate()
}

type errorBody struct {
	Error     string `json:"error"`
	RequestID string `json:"request_id,omitempty"`
}

// failed logs and counts err, one failure of the request, and returns the
// status and message the client gets: server errors at ERROR (a full disk
// also raises pier_storage_full_total), a client that went away or was
// too slow at INFO (those are not the server's failures).
func (s *Server) failed(c echo.Context, err error) (int, string) {
	code := status(err)
	msg := message(err, code)
	req := c.Request()
	attrs := []any{"id", requestID(c), "method", req.Method, "path", req.URL.Path, "err", err}
	var be *bodyError
	switch {
	case errors.As(err, &be) && be.write:
		s.log.Info("client stopped taking the response", attrs...)
	case code == http.StatusInsufficientStorage:
		s.log.Error("disk full: request refused", attrs...)
		if s.metrics != nil {
			s.metrics.StorageFull()
		}
	case code >= 500:
		s.log.Error("request failed", attrs...)
	case code == StatusClientClosed:
		s.log.Info("client went away mid-request", attrs...)
	case code == http.StatusRequestTimeout:
		s.log.Info("client too slow: request body cut", attrs...)
	}
	c.Set(statusKey, code)
	c.Set(reasonKey, msg)
	return code, msg
}

func (s *Server) handleError(err error, c echo.Context) {
	if (errors.Is(err, echo.ErrNotFound) || errors.Is(err, echo.ErrMethodNotAllowed)) && strings.HasPrefix(c.Request().URL.Path, "/api/") {
		err = s.apiMiss(c)
	}
	code, msg := s.failed(c, err)
	if c.Response().Committed {
		// The status went out already; the log line says what it was.
		c.Set(statusKey, c.Response().Status)
		return
	}
	code = wireStatus(code)
	if c.Request().Method == http.MethodHead {
		c.NoContent(code)
		return
	}
	c.JSON(code, errorBody{Error: msg, RequestID: requestID(c)})
}
