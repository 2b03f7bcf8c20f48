package api

import (
	"context"
	"encoding/base64"
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// Headers a CI job sends with its calls so that the audit log says which
// job and commit made a change (pier push sets them from the CI's
// environment).
const (
	HeaderCIJobURL = "X-Pier-CI-Job-URL"
	HeaderCICommit = "X-Pier-CI-Commit"
)

const principalKey = "principal"

// anyToken is the requirement of routes that any valid token may call.
const anyToken auth.Action = ""

// credentials returns the token a request carries: "Authorization: Bearer
// <token>", or HTTP Basic with the token as the password and any user name
// (what apt, dnf, zypper and apk send). ok is false when it carries none.
func credentials(r *http.Request) (token string, ok bool) {
	h := r.Header.Get("Authorization")
	if tok, found := strings.CutPrefix(h, "Bearer "); found {
		tok = strings.TrimSpace(tok)
		return tok, tok != ""
	}
	if enc, found := strings.CutPrefix(h, "Basic "); found {
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
		if err != nil {
			return "", true // a malformed Basic header is a wrong credential
		}
		_, pass, _ := strings.Cut(string(dec), ":")
		return pass, true
	}
	return "", false
}

// WWW-Authenticate challenges. The API asks for a Bearer token (RFC
// 6750), naming invalid_token when the one sent was refused; repository
// files and /setup ask for HTTP Basic, which apt, dnf, zypper and apk
// answer with their configured credentials.
const (
	bearerChallenge       = `Bearer realm="pier"`
	bearerInvalidToken    = `Bearer realm="pier", error="invalid_token"`
	basicChallenge        = `Basic realm="pier"`
	missingTokenMessage   = "missing token (Authorization: Bearer <token>)"
	privateTargetsMessage = "this repository is private: send a token with read on it (HTTP Basic, the token as password)"
)

// authenticate is the middleware of /api/v1: it resolves the request's
// token to a principal. No token, and an unknown (or revoked), malformed
// or expired one, is 401 with a Bearer challenge; a client address with
// too many failed attempts 429 with Retry-After. What a valid token may
// do is for need to say (403).
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok, ok := credentials(c.Request())
		if !ok {
			c.Response().Header().Set("WWW-Authenticate", bearerChallenge)
			return echo.NewHTTPError(http.StatusUnauthorized, missingTokenMessage)
		}
		p, err := s.auth.Authenticate(c.Request().Context(), c.RealIP(), tok)
		if err != nil {
			return s.authFailed(c, err, bearerInvalidToken)
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

// authFailed turns an Authenticate error into the reply: 401 with
// challenge for a refused token, 429 with Retry-After when rate-limited;
// other errors (the token store failing) stay server errors.
func (s *Server) authFailed(c echo.Context, err error, challenge string) error {
	var rl *auth.RateLimitedError
	switch {
	case errors.As(err, &rl):
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(rl.RetryAfter.Seconds()))))
		s.log.Warn("authentication rate-limited", "remote", c.RealIP(), "id", requestID(c))
		return echo.NewHTTPError(http.StatusTooManyRequests, rl.Error())
	case errors.Is(err, auth.ErrUnknownToken), errors.Is(err, auth.ErrExpired):
		s.log.Warn("authentication failed", "remote", c.RealIP(), "id", requestID(c), "path", c.Request().URL.Path,
			"reason", err.Error())
		c.Response().Header().Set("WWW-Authenticate", challenge)
		msg := "token not accepted (unknown, revoked or malformed)"
		if errors.Is(err, auth.ErrExpired) {
			msg = "token expired"
		}
		return echo.NewHTTPError(http.StatusUnauthorized, msg)
	default:
		return err
	}
}

// principal returns the request's principal (nil before authenticate).
func principal(c echo.Context) *auth.Principal {
	p, _ := c.Get(principalKey).(*auth.Principal)
	return p
}

// principalName returns the name of the token the request authenticated
// with ("" when none).
func principalName(c echo.Context) string {
	if p := principal(c); p != nil {
		return p.Name
	}
	return ""
}

// need is the per-route requirement of /api/v1: on routes with a target
// (:stream/:distro/:release) the token needs action on that target; on
// the others, admin needs the admin scope, anyToken any valid token, and
// any other action that action on at least one target. Refusals are 403:
// the token is valid, it lacks the scope.
func (s *Server) need(action auth.Action) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p := principal(c)
			if hasTarget(c) {
				t, err := target(c)
				if err != nil {
					return err
				}
				if err := s.allowed(c, action, t); err != nil {
					return err
				}
				return next(c)
			}
			ok := false
			switch action {
			case anyToken:
				ok = p != nil
			case auth.Admin:
				ok = p.IsAdmin()
			default:
				ok = p.AllowsSome(action)
			}
			if !ok {
				return echo.NewHTTPError(http.StatusForbidden, "token "+principalName(c)+" lacks the "+string(action)+" scope")
			}
			return next(c)
		}
	}
}

func hasTarget(c echo.Context) bool {
	for _, n := range c.ParamNames() {
		if n == "stream" {
			return true
		}
	}
	return false
}

// allowed returns nil when the request's token may do scope on t, and a
// 403 error saying what is missing otherwise. Handlers that touch a second
// target (promote reads its source) call it for that target.
func (s *Server) allowed(c echo.Context, scope auth.Action, t repo.Target) error {
	if principal(c).Allows(scope, t) {
		return nil
	}
	return echo.NewHTTPError(http.StatusForbidden, "token "+principalName(c)+" lacks "+string(scope)+" on "+t.String())
}

// record writes an audit event for a change the request made: the
// principal's name, the client address, the CI headers and the request id.
// t may be the zero Target (no target). A failure to record is logged; the
// change is done by then.
func (s *Server) record(c echo.Context, action string, t repo.Target, detail any) {
	s.settle(c, s.event(c, action, t, detail))
}

// event returns the audit event of a change the request asks for. Put in
// the context of the call that makes the change (inContext), the catalog
// writes it in the same transaction as the change; settle writes it when
// nothing was changed (a refusal, a re-upload of the same bytes).
func (s *Server) event(c echo.Context, action string, t repo.Target, detail any) *audit.Event {
	e := &audit.Event{Actor: principalName(c), Action: action, Detail: audit.Detail(detail), Remote: c.RealIP(),
		CIJobURL: clip(c.Request().Header.Get(HeaderCIJobURL), 2048), CICommit: clip(c.Request().Header.Get(HeaderCICommit), 256),
		RequestID: requestID(c)}
	if t != (repo.Target{}) {
		e.Target = t.String()
	}
	return e
}

// inContext returns the request's context carrying e for the catalog.
func (s *Server) inContext(c echo.Context, e *audit.Event) context.Context {
	if s.audit == nil {
		return c.Request().Context()
	}
	return audit.WithEvent(c.Request().Context(), e)
}

// settle writes e unless the catalog wrote it with the change it records.
// Such a separate write records no change (a refused or idempotent call),
// so a failure of it is logged only.
func (s *Server) settle(c echo.Context, e *audit.Event) {
	if s.audit == nil || e.Recorded() {
		return
	}
	// Recorded even when the client has gone away meanwhile.
	ctx := context.WithoutCancel(c.Request().Context())
	if err := s.audit.RecordAudit(ctx, e); err != nil {
		s.log.Error("record audit event", "id", requestID(c), "action", e.Action, "target", e.Target, "err", err)
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// authorizeFile lets a request for a published file through when one of
// the targets holding it is public, or when it carries a token with read
// on one of them (see readAccess for the refusals).
func (s *Server) authorizeFile(c echo.Context, ts []repo.Target) error {
	if s.auth == nil {
		return nil
	}
	for _, t := range ts {
		if !s.auth.Private(t) {
			return nil
		}
	}
	_, err := s.readAccess(c, ts)
	return err
}

// readAccess checks that the request carries a token with read on one of
// ts, private targets, and returns its principal. Without a token, or
// with an unknown, revoked, malformed or expired one, the answer is 401
// with a Basic challenge, which apt, dnf, zypper and apk answer by sending
// their configured credentials (and report as an authentication failure
// when they have none or wrong ones); with a valid token that lacks read
// on all of them 403; 429 while the client address is rate-limited.
func (s *Server) readAccess(c echo.Context, ts []repo.Target) (*auth.Principal, error) {
	p, err := s.optionalPrincipal(c)
	if err != nil {
		return nil, err
	}
	if p == nil {
		c.Response().Header().Set("WWW-Authenticate", basicChallenge)
		return nil, echo.NewHTTPError(http.StatusUnauthorized, privateTargetsMessage)
	}
	for _, t := range ts {
		if p.Allows(auth.Read, t) {
			return p, nil
		}
	}
	return nil, echo.NewHTTPError(http.StatusForbidden, "token "+p.Name+" lacks read on this repository")
}

// optionalPrincipal resolves the token a request outside /api/v1 carries
// (HTTP Basic or Bearer): nil without one, 401 (Basic challenge) or 429
// when it is refused.
func (s *Server) optionalPrincipal(c echo.Context) (*auth.Principal, error) {
	if p := principal(c); p != nil {
		return p, nil
	}
	tok, ok := credentials(c.Request())
	if !ok || s.auth == nil {
		return nil, nil
	}
	p, err := s.auth.Authenticate(c.Request().Context(), c.RealIP(), tok)
	if err != nil {
		return nil, s.authFailed(c, err, basicChallenge)
	}
	c.Set(principalKey, p)
	return p, nil
}

// ipExtractor returns how the server finds a request's client address:
// the connection's peer, or, when the peer is one of trusted, the nearest
// untrusted address in X-Forwarded-For.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
