// Package api is Pier's HTTP interface (echo/v4): the upload, publish and
// listing API under /api/v1, the published repository files, the public
// keys, client setup snippets and health checks. Routes are declared in one
// place (Server.routes) and one error handler maps domain errors to HTTP
// status codes; nothing outside this package knows about HTTP.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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
	cfg     Config
	svc     *repo.Service
	keys    map[string]KeyFile
	fpr     string
	fprs    []string
	auth    *auth.Authenticator
	audit   audit.Store
	mirrors interface{ Status() []mirror.Status }
	metrics *metrics.Metrics
	ready   func(ctx context.Context) error
	log     *slog.Logger
	e       *echo.Echo
}

// New returns a server.
func New(cfg Config, d Deps) *Server {
	s := &Server{cfg: cfg, svc: d.Service, keys: map[string]KeyFile{}, fpr: d.Fingerprint, fprs: d.Fingerprints, auth: d.Auth,
		audit: d.Audit, mirrors: d.Mirrors, metrics: d.Metrics, ready: d.Ready, log: d.Log, e: echo.New()}
	for _, k := range d.Keys {
		s.keys[k.Name] = k
	}
	s.e.HideBanner = true
	s.e.HidePort = true
	s.e.HTTPErrorHandler = s.handleError
	s.e.IPExtractor = ipExtractor(cfg.TrustedProxies)
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

	// Every /api/v1 route names the scope it needs (see need); the target
	// is the route's :stream/:distro/:release.
	v1 := e.Group("/api/v1", s.authenticate)
	v1.GET("/targets", s.listTargets, s.need(anyToken))
	v1.GET("/targets/:stream/:distro/:release/packages", s.listPackages, s.need(auth.Read))
	v1.POST("/targets/:stream/:distro/:release/packages", s.upload, s.need(auth.Upload))
	v1.POST("/targets/:stream/:distro/:release/publish", s.publish, s.need(auth.Publish))
	v1.DELETE("/targets/:stream/:distro/:release/packages/:name/:version/:arch", s.deletePackage, s.need(auth.Delete))
	v1.GET("/targets/:stream/:distro/:release/generations", s.listGenerations, s.need(auth.Read))
	v1.POST("/targets/:stream/:distro/:release/rollback", s.rollback, s.need(auth.Publish))
	v1.POST("/targets/:stream/:distro/:release/promote", s.promote, s.need(auth.Promote)) // read on the source: in promote
	v1.GET("/targets/:stream/:distro/:release/pins", s.listPins, s.need(auth.Read))
	v1.PUT("/targets/:stream/:distro/:release/pins/:name/:version", s.pin, s.need(auth.Publish))
	v1.DELETE("/targets/:stream/:distro/:release/pins/:name/:version", s.unpin, s.need(auth.Publish))
	v1.POST("/targets/:stream/:distro/:release/prune", s.prune, s.need(auth.Delete))
	v1.POST("/gc", s.collectGarbage, s.need(auth.Admin))
	v1.GET("/mirrors", s.listMirrors, s.need(auth.Read))
	v1.POST("/tokens", s.createToken, s.need(auth.Admin))
	v1.GET("/tokens", s.listTokens, s.need(auth.Admin))
	v1.DELETE("/tokens/:name", s.revokeToken, s.need(auth.Admin))
	v1.GET("/audit", s.auditLog, s.need(auth.Admin))

	e.GET("/*", s.serveFile)
	e.HEAD("/*", s.serveFile)
}

// observe gives every request an id (X-Request-Id, taken from the client
// when it sends one), logs one line per request and counts it by route and
// status.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		id := req.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			b := make([]byte, 8)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set(requestIDKey, id)
		c.Response().Header().Set("X-Request-Id", id)
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		code := c.Response().Status
		route := c.Path()
		s.log.Info("request", "id", id, "method", req.Method, "route", route, "path", req.URL.Path, "status", code,
			"bytes", c.Response().Size, "duration_ms", time.Since(start).Milliseconds(), "remote", c.RealIP())
		if s.metrics != nil {
			s.metrics.Request(route, code)
		}
		return nil
	}
}

const requestIDKey = "request_id"

func requestID(c echo.Context) string {
	id, _ := c.Get(requestIDKey).(string)
	return id
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

// status maps a domain error to an HTTP status.
func status(err error) int {
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		return he.Code
	case errors.Is(err, repo.ErrBadPackage):
		return http.StatusUnprocessableEntity
	case errors.Is(err, repo.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, repo.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, repo.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, repo.ErrInvalid):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

// message returns what a client may see of err: the domain message for
// client errors, a generic text for internal ones.
func message(err error, code int) string {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return fmt.Sprint(he.Message)
	}
	if code >= 500 {
		return "internal error; see the server log"
	}
	return err.Error()
}

func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code := status(err)
	if code >= 500 {
		s.log.Error("request failed", "id", requestID(c), "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(code)
		return
	}
	c.JSON(code, errorBody{Error: message(err, code), RequestID: requestID(c)})
}
