// Package api is Pier's HTTP interface (echo/v4): the upload, publish and
// listing API under /api/v1, the published repository files, the public
// keys, client setup snippets and health checks. Routes are declared in one
// place (Server.routes) and one error handler maps domain errors to HTTP
// status codes; nothing outside this package knows about HTTP.
package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

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
	// Tokens holds the bearer tokens that authorise API calls; it may be
	// swapped at run time (SIGHUP).
	Tokens *Tokens
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
	tokens  *Tokens
	mirrors interface{ Status() []mirror.Status }
	metrics *metrics.Metrics
	ready   func(ctx context.Context) error
	log     *slog.Logger
	e       *echo.Echo
}

// New returns a server.
func New(cfg Config, d Deps) *Server {
	s := &Server{cfg: cfg, svc: d.Service, keys: map[string]KeyFile{}, fpr: d.Fingerprint, fprs: d.Fingerprints, tokens: d.Tokens,
		mirrors: d.Mirrors, metrics: d.Metrics, ready: d.Ready, log: d.Log, e: echo.New()}
	for _, k := range d.Keys {
		s.keys[k.Name] = k
	}
	s.e.HideBanner = true
	s.e.HidePort = true
	s.e.HTTPErrorHandler = s.handleError
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

	v1 := e.Group("/api/v1", s.auth)
	v1.GET("/targets", s.listTargets)
	v1.GET("/targets/:stream/:distro/:release/packages", s.listPackages)
	v1.POST("/targets/:stream/:distro/:release/packages", s.upload)
	v1.POST("/targets/:stream/:distro/:release/publish", s.publish)
	v1.DELETE("/targets/:stream/:distro/:release/packages/:name/:version/:arch", s.deletePackage)
	v1.GET("/targets/:stream/:distro/:release/generations", s.listGenerations)
	v1.POST("/targets/:stream/:distro/:release/rollback", s.rollback)
	v1.POST("/targets/:stream/:distro/:release/promote", s.promote)
	v1.GET("/targets/:stream/:distro/:release/pins", s.listPins)
	v1.PUT("/targets/:stream/:distro/:release/pins/:name/:version", s.pin)
	v1.DELETE("/targets/:stream/:distro/:release/pins/:name/:version", s.unpin)
	v1.POST("/targets/:stream/:distro/:release/prune", s.prune)
	v1.POST("/gc", s.collectGarbage)
	v1.GET("/mirrors", s.listMirrors)

	e.GET("/*", s.serveFile)
	e.HEAD("/*", s.serveFile)
}

// Tokens is the set of accepted API tokens, safe to swap while requests
// are served.
type Tokens struct {
	cur atomic.Pointer[[][]byte]
}

// NewTokens returns a set holding tokens.
func NewTokens(tokens ...string) *Tokens {
	t := &Tokens{}
	t.Set(tokens...)
	return t
}

// Set replaces the accepted tokens.
func (t *Tokens) Set(tokens ...string) {
	bs := make([][]byte, 0, len(tokens))
	for _, tok := range tokens {
		if tok != "" {
			bs = append(bs, []byte(tok))
		}
	}
	t.cur.Store(&bs)
}

// Check reports whether tok is accepted, comparing in constant time.
func (t *Tokens) Check(tok string) bool {
	ok := 0
	for _, b := range *t.cur.Load() {
		ok |= subtle.ConstantTimeCompare([]byte(tok), b)
	}
	return ok == 1
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

// auth requires "Authorization: Bearer <token>": 401 without one, 403 with
// a wrong one.
func (s *Server) auth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="pier"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "missing bearer token (Authorization: Bearer <token>)")
		}
		if !s.tokens.Check(tok) {
			return echo.NewHTTPError(http.StatusForbidden, "token not accepted")
		}
		return next(c)
	}
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
