package api

import (
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// runtime is the part of the server's configuration that a reload
// (SIGHUP) changes while it serves: swapped whole, read per request.
type runtime struct {
	publicURL string
	trusted   []*net.IPNet
	extractIP echo.IPExtractor
	allow     []string
	uploaders []Uploaders
	gcGrace   time.Duration
	// keys are served under /keys/; fprs name the signing keys in setup
	// snippets, primary first.
	keys map[string]KeyFile
	fprs []string
}

// Reconfigure applies the reloadable settings of cfg: PublicURL,
// TrustedProxies, TargetsAllow, Uploaders and GCGrace. The others (limits, upload
// size) keep the values the server was made with.
func (s *Server) Reconfigure(cfg Config) {
	for {
		old := s.rt.Load()
		next := *old
		next.publicURL, next.trusted, next.allow = cfg.PublicURL, cfg.TrustedProxies, cfg.TargetsAllow
		next.extractIP = ipExtractor(cfg.TrustedProxies)
		next.gcGrace = cfg.GCGrace
		next.uploaders = cfg.Uploaders
		if s.rt.CompareAndSwap(old, &next) {
			return
		}
	}
}

// SetKeys replaces the public keys served under /keys/ and the
// fingerprints setup snippets name (a reload that changed the signing
// keys).
func (s *Server) SetKeys(keys []KeyFile, fingerprints []string) {
	m := make(map[string]KeyFile, len(keys))
	for _, k := range keys {
		m[k.Name] = k
	}
	for {
		old := s.rt.Load()
		next := *old
		next.keys, next.fprs = m, fingerprints
		if s.rt.CompareAndSwap(old, &next) {
			return
		}
	}
}

// fromTrustedProxy reports whether the request's peer is one of the
// trusted proxies, whose X-Forwarded-* headers count.
func (rt *runtime) fromTrustedProxy(r *http.Request) bool {
	if len(rt.trusted) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	for _, n := range rt.trusted {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// firstValue is the first entry of a comma-separated header (a chain of
// proxies appends to it; the first is the client's side).
func firstValue(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.TrimSpace(v)
}

// validHost accepts a host[:port] as an X-Forwarded-Host may carry it:
// letters, digits, dots, dashes, a bracketed IPv6 address, a port.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(".-:[]_", r):
		default:
			return false
		}
	}
	return true
}

// baseURL is the URL clients reach Pier at, for setup snippets and every
// absolute URL Pier writes: public_url when set; else the request's
// scheme (https when it came over TLS) and Host, overridden by
// X-Forwarded-Proto and X-Forwarded-Host when the request comes from a
// trusted proxy (auth.trusted_proxies) and only then.
func (s *Server) baseURL(c echo.Context) string {
	rt := s.rt.Load()
	if rt.publicURL != "" {
		return strings.TrimSuffix(rt.publicURL, "/")
	}
	r := c.Request()
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if rt.fromTrustedProxy(r) {
		if p := strings.ToLower(firstValue(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstValue(r.Header.Get("X-Forwarded-Host")); validHost(h) {
			host = h
		}
	}
	return scheme + "://" + host
}
