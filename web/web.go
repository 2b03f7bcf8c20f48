// Package web is Pier's web interface: server-rendered pages (html/template,
// a little vanilla JavaScript for copy buttons, usable with JavaScript off)
// that show what Pier serves, the packages of each target, the versions of
// a package across targets, search by name and by installed file, a
// target's history with diffs and rollback, directory listings of the
// repository trees, and sign-in with a token into a server-side session.
//
// It is a room of its own beside api/: it calls the same repo.Service
// methods the JSON API calls (no second source of truth), checks access
// with the same auth.Authenticator (a private target never shows up for a
// viewer without read on it), and hands every request it does not own to
// the next handler (the API and the repository files). Templates and
// assets are embedded; assets are served under content-hashed names with
// long cache lifetimes, and text is compressed with zstd or gzip.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// Config configures the web interface.
type Config struct {
	// SessionTTL bounds a sign-in session (never past its token's
	// expiry); 0 means 12 hours.
	SessionTTL time.Duration
	// PageSize is the number of packages per page of a target; 0 means 50.
	PageSize int
	// IndexPoll is how often Run indexes new packages for search by file;
	// 0 means 2 s.
	IndexPoll time.Duration
}

// Deps are what the web interface works with, wired in cmd.
type Deps struct {
	Service *repo.Service
	// Auth checks tokens at sign-in and knows the private targets.
	Auth *auth.Authenticator
	// Audit, when set, names uploaders and publishers for viewers with the
	// admin scope (who may read the audit log), and records rollbacks.
	Audit audit.Store
	// Search, when set, answers searches and the package pages; without it
	// search is unavailable.
	Search repo.SearchIndex
	// Sessions, when set, keeps sign-in sessions; without it sign-in is
	// unavailable.
	Sessions catalog.SessionStore
	// Fingerprints returns the signing keys' fingerprints, primary first
	// (a function: the key ring may be reloaded).
	Fingerprints func() []string
	// ClientAddr returns a request's client address, for the failed
	// sign-in limit and the logs (behind trusted proxies, from
	// X-Forwarded-For, as the API finds it); nil means the peer's address.
	ClientAddr func(r *http.Request) string
	// PublicURL returns the configured public URL ("" derives it from
	// each request, as the API does).
	PublicURL func() string
	// Now is the clock of sessions; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Server is the web interface.
type Server struct {
	cfg    Config
	d      Deps
	pages  *pages
	assets *assets
	index  *indexer
	keys   *keyCache
	mux    *http.ServeMux
	// roots are the path prefixes of the mux's routes (see mayRoute).
	roots []string
}

// New returns the web interface. It parses the embedded templates and
// compresses the embedded assets once.
func New(cfg Config, d Deps) (*Server, error) {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 50
	}
	if cfg.IndexPoll <= 0 {
		cfg.IndexPoll = 2 * time.Second
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Fingerprints == nil {
		d.Fingerprints = func() []string { return nil }
	}
	if d.ClientAddr == nil {
		d.ClientAddr = peerAddr
	}
	if d.PublicURL == nil {
		d.PublicURL = func() string { return "" }
	}
	as, err := loadAssets()
	if err != nil {
		return nil, err
	}
	pg, err := loadPages(as)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, d: d, pages: pg, assets: as, mux: http.NewServeMux(), keys: newKeyCache(d.Service, 16)}
	if d.Search != nil {
		s.index = &indexer{search: d.Search, svc: d.Service, log: d.Log}
	}
	s.routes()
	return s, nil
}

// Run indexes new packages for search by file every IndexPoll, and deletes
// expired sessions, until ctx ends.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.IndexPoll)
	defer t.Stop()
	for {
		if s.index != nil {
			if err := s.Index(ctx); err != nil && ctx.Err() == nil {
				s.d.Log.Warn("web: index packages for search", "err", err)
			}
		}
		if s.d.Sessions != nil {
			if _, err := s.d.Sessions.DeleteExpiredSessions(ctx, s.d.Now()); err != nil && ctx.Err() == nil {
				s.d.Log.Warn("web: delete expired sessions", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Index indexes, for search by file, every package row recorded since the
// last call (Run calls it every IndexPoll). Without a search index it does
// nothing.
func (s *Server) Index(ctx context.Context) error {
	_, err := s.index.catchUp(ctx, 0)
	return err
}

// Handler returns the web interface in front of next: the pages, the
// assets and the directory listings of the repository trees are answered
// here, everything else (the API, repository files, /setup, /keys) by
// next.
func (s *Server) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A repository file (the hot path) skips the mux match, which
		// costs allocations per request.
		if s.mayRoute(r.URL.Path) {
			if _, pattern := s.mux.Handler(r); pattern != "" {
				// ServeHTTP, not the returned handler: it sets the path values.
				s.observe(s.mux).ServeHTTP(w, r)
				return
			}
		}
		if s.listable(r) {
			s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.listing(w, r, next) })).ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// mayRoute reports whether the mux may answer a request for path: a path
// under one of its routes' first segments, or one that is not clean
// (which the mux redirects to the clean path, as net/http's ServeMux
// does for every pattern).
func (s *Server) mayRoute(p string) bool {
	if p == "" || p == "/" {
		return true
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	if np != p {
		return true
	}
	for _, r := range s.roots {
		if strings.HasPrefix(p, r) {
			return true
		}
	}
	return false
}

func (s *Server) routes() {
	m := routeMux{s}
	m.HandleFunc("GET /{$}", s.home)
	m.HandleFunc("GET /targets/{stream}/{distro}/{release}", s.target)
	m.HandleFunc("GET /targets/{stream}/{distro}/{release}/history", s.history)
	m.HandleFunc("GET /targets/{stream}/{distro}/{release}/diff", s.diff)
	m.HandleFunc("POST /targets/{stream}/{distro}/{release}/rollback", s.rollback)
	m.HandleFunc("GET /packages/{name}", s.packagePage)
	m.HandleFunc("GET /search", s.search)
	m.HandleFunc("GET /signin", s.signinForm)
	m.HandleFunc("POST /signin", s.signin)
	m.HandleFunc("POST /signout", s.signout)
	m.HandleFunc("GET /static/{file}", s.static)
}

// routeMux registers routes on the server's mux and records their roots:
// "/" for "/{$}", else the pattern's first path segment ("/targets/" for
// "/targets/{stream}/…", "/search" for "/search").
type routeMux struct{ s *Server }

func (m routeMux) HandleFunc(pattern string, h http.HandlerFunc) {
	m.s.mux.HandleFunc(pattern, h)
	_, p, _ := strings.Cut(pattern, " ")
	if p == "/{$}" {
		return // "/" is always the mux's
	}
	if i := strings.IndexByte(p[1:], '/'); i >= 0 {
		p = p[:i+2]
	}
	m.s.roots = append(m.s.roots, p)
}

// statusWriter records the status a handler wrote, for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// observe logs one line per request and sets the headers every page
// carries: a content security policy that allows only Pier's own assets,
// no framing, no MIME sniffing.
func (s *Server) observe(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		s.d.Log.Info("request", "method", r.Method, "route", "web", "path", r.URL.Path, "status", sw.status,
			"bytes", sw.bytes, "duration_ms", time.Since(start).Milliseconds(), "remote", s.d.ClientAddr(r))
	})
}

// peerAddr is the address of the connection's peer.
func peerAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// baseURL is Pier's public URL for r, as the API derives it.
func (s *Server) baseURL(r *http.Request) string {
	if u := s.d.PublicURL(); u != "" {
		return strings.TrimSuffix(u, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// fail renders the error page for err: 404 for what is missing (or not
// visible to the viewer), 400 for bad requests, 409 for conflicts, 500
// (logged) otherwise.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	code, msg := http.StatusInternalServerError, "the server failed; the log says why"
	var he *httpError
	switch {
	case errors.As(err, &he):
		code, msg = he.code, he.msg
	case errors.Is(err, repo.ErrNotFound):
		code, msg = http.StatusNotFound, "not found"
	case errors.Is(err, repo.ErrInvalid):
		code, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, repo.ErrConflict):
		code, msg = http.StatusConflict, err.Error()
	default:
		s.d.Log.Error("web: request failed", "path", r.URL.Path, "err", err)
	}
	s.render(w, r, code, "error", v, &errorPage{Code: code, Status: http.StatusText(code), Message: msg})
}

// httpError is a failure with the status and message the viewer gets.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s", e.code, e.msg) }

func notFound() error { return &httpError{http.StatusNotFound, "not found"} }
