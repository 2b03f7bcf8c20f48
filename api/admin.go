package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	// Expires is a duration from now ("90d", "12h"), a date (2006-01-02)
	// or an RFC 3339 time; empty: never.
	Expires string `json:"expires"`
}

// TokenReply is the reply to POST /api/v1/tokens: the stored token and,
// this once, the token itself.
type TokenReply struct {
	auth.Token
	Secret string `json:"token"`
}

// createToken makes a token (admin scope). The reply holds the token; Pier
// keeps only its hash.
func (s *Server) createToken(c echo.Context) error {
	var req TokenRequest
	if err := decodeJSON(c, &req, 64<<10, `{"name": …, "scopes": […], "expires": …}`); err != nil {
		return err
	}
	expires, err := auth.ParseExpiry(req.Expires, time.Now())
	if err != nil {
		return err
	}
	ev := s.event(c, audit.TokenCreate, repo.Target{}, tokenDetail(&auth.Token{Name: req.Name, Scopes: req.Scopes, Expires: expires}))
	secret, tok, err := s.auth.Create(s.inContext(c, ev), req.Name, req.Scopes, expires)
	if err != nil {
		return err
	}
	s.settle(c, ev)
	return c.JSON(http.StatusCreated, TokenReply{Token: *tok, Secret: secret})
}

// tokenDetail is what the audit log says about a token: never the token.
func tokenDetail(t *auth.Token) map[string]any {
	d := map[string]any{"name": t.Name, "scopes": t.Scopes}
	if !t.Expires.IsZero() {
		d["expires"] = t.Expires
	}
	return d
}

// listTokens lists every token (admin scope): names, scopes, expiry, last
// use; never a token or its hash.
func (s *Server) listTokens(c echo.Context) error {
	ts, err := s.auth.List(c.Request().Context())
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []auth.Token{}
	}
	return c.JSON(http.StatusOK, ts)
}

// revokeToken removes a stored token (admin scope); it is refused from
// the next request on.
func (s *Server) revokeToken(c echo.Context) error {
	name := c.Param("name")
	ev := s.event(c, audit.TokenRevoke, repo.Target{}, map[string]string{"name": name})
	if err := s.auth.Revoke(s.inContext(c, ev), name); err != nil {
		return err
	}
	s.settle(c, ev)
	return c.JSON(http.StatusOK, map[string]string{"revoked": name, "request_id": requestID(c)})
}

// auditLog lists audit events, newest first (admin scope). Query
// parameters: target (a target or a glob), action, actor, since (RFC 3339
// time or a duration back from now such as 24h or 7d) and limit.
func (s *Server) auditLog(c echo.Context) error {
	if s.audit == nil {
		return c.JSON(http.StatusOK, []audit.Event{})
	}
	q := audit.Query{Target: c.QueryParam("target"), Action: c.QueryParam("action"), Actor: c.QueryParam("actor")}
	if v := c.QueryParam("since"); v != "" {
		since, err := ParseSince(v, time.Now())
		if err != nil {
			return err
		}
		q.Since = since
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > audit.MaxLimit {
			return fmt.Errorf("limit %q must be 1-%d: %w", v, audit.MaxLimit, repo.ErrInvalid)
		}
		q.Limit = n
	}
	es, err := s.audit.AuditEvents(c.Request().Context(), q)
	if err != nil {
		return err
	}
	if es == nil {
		es = []audit.Event{}
	}
	return c.JSON(http.StatusOK, es)
}

// ParseSince reads an audit "since": an RFC 3339 time, a date, or a
// duration back from now ("24h", "7d").
func ParseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	d, err := auth.ParseDuration(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("since %q: want an RFC 3339 time, a date or a duration such as 24h or 7d: %w", v, repo.ErrInvalid)
	}
	return now.Add(-d), nil
}

// uploadDetail is what the audit log says about one uploaded file: the
// package and whether it was added or already there, or why it was
// refused; outcome is created, unchanged, refused (4xx), aborted (the
// client went away: status 499), timeout (too slow: 408) or failed (5xx).
func uploadDetail(filename string, res *repo.IngestResult, err error) map[string]any {
	d := map[string]any{}
	if filename != "" {
		d["filename"] = filename
	}
	if err != nil {
		code := status(err)
		d["status"], d["error"], d["outcome"] = code, message(err, code), "refused"
		switch {
		case fault(err) != "":
			d["outcome"] = fault(err)
		case code >= 500:
			d["outcome"] = "failed"
		}
		return d
	}
	p := res.Package
	d["name"], d["version"], d["architecture"], d["sha256"], d["size"] = p.Name, p.Version, p.Arch, p.SHA256, p.Size
	d["status"], d["created"], d["outcome"] = http.StatusOK, res.Created, "unchanged"
	if res.Created {
		d["status"], d["outcome"] = http.StatusCreated, "created"
	}
	return d
}
