package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// cookieName names the session cookie. The cookie holds a random id; the
// catalog keeps only its SHA-256.
const cookieName = "pier_session"

// viewer is who looks at a page: anonymous (p nil) or signed in.
type viewer struct {
	p    *auth.Principal
	hash string // the session's hash ("" when anonymous)
	csrf string // the session's form token
}

// Name returns the signed-in token's name ("" when anonymous).
func (v *viewer) Name() string {
	if v == nil || v.p == nil {
		return ""
	}
	return v.p.Name
}

// CSRF returns the token a form of this viewer must carry.
func (v *viewer) CSRF() string {
	if v == nil {
		return ""
	}
	return v.csrf
}

// viewer resolves the request's session. A session that expired, or whose
// token was revoked, changed its scopes or expired, is ended and the
// viewer is anonymous.
func (s *Server) viewer(r *http.Request) (*viewer, error) {
	v := &viewer{}
	c, err := r.Cookie(cookieName)
	if err != nil || s.d.Sessions == nil || c.Value == "" || len(c.Value) > 128 {
		return v, nil
	}
	hash := sessionHash(c.Value)
	ctx := r.Context()
	sess, err := s.d.Sessions.SessionByHash(ctx, hash)
	if errors.Is(err, repo.ErrNotFound) {
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	if !s.d.Now().Before(sess.Expires) {
		return v, s.d.Sessions.DeleteSession(ctx, hash)
	}
	ok, err := s.tokenStands(r, sess)
	if err != nil {
		return nil, err
	}
	if !ok {
		return v, s.d.Sessions.DeleteSession(ctx, hash)
	}
	scopes, err := auth.ParseScopes(sess.Scopes)
	if err != nil {
		return v, s.d.Sessions.DeleteSession(ctx, hash)
	}
	return &viewer{p: &auth.Principal{Name: sess.TokenName, Scopes: scopes, Expires: sess.Expires}, hash: hash,
		csrf: csrfToken(c.Value)}, nil
}

// tokenStands reports whether the token a session was opened with still
// exists with the same scopes (not revoked, not replaced).
func (s *Server) tokenStands(r *http.Request, sess *catalog.Session) (bool, error) {
	ts, err := s.d.Auth.List(r.Context())
	if err != nil {
		return false, err
	}
	now := s.d.Now()
	for _, t := range ts {
		if t.Name == sess.TokenName {
			return slices.Equal(t.Scopes, sess.Scopes) && (t.Expires.IsZero() || now.Before(t.Expires)), nil
		}
	}
	return false, nil
}

// sessionHash is the catalog's key of a session id.
func sessionHash(id string) string {
	h := sha256.Sum256([]byte("pier-session:" + id))
	return hex.EncodeToString(h[:])
}

// csrfToken is the form token of the session with id: derived from the
// id (which only the cookie holds, HttpOnly), so a page of another site
// can neither read nor compute it.
func csrfToken(id string) string {
	h := sha256.Sum256([]byte("pier-csrf:" + id))
	return hex.EncodeToString(h[:16])
}

// checkForm checks a state-changing form post: it must come from this
// site (Origin, when the browser sends it, names this host; Sec-Fetch-Site
// is same-origin when sent) and carry the session's form token.
func checkForm(r *http.Request, v *viewer) error {
	if err := checkOrigin(r); err != nil {
		return err
	}
	if v.csrf == "" || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(v.csrf)) != 1 {
		return &httpError{http.StatusForbidden, "the form expired or did not come from Pier: reload the page and try again"}
	}
	return nil
}

// checkOrigin refuses a form post another site's page sent: Origin, when
// the browser sends it, must name this host, and Sec-Fetch-Site, when
// sent, must be same-origin. Sign-in has no session yet, so no form token:
// these headers and the SameSite=Strict cookie decide.
func checkOrigin(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return &httpError{http.StatusForbidden, "this form must be sent from Pier's own pages"}
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return &httpError{http.StatusForbidden, "this form must be sent from Pier's own pages"}
		}
	}
	return nil
}

// signinPage is the sign-in form.
type signinPage struct {
	Next    string
	Message string
}

func (s *Server) signinForm(w http.ResponseWriter, r *http.Request) {
	v, err := s.viewer(r)
	if err != nil {
		s.fail(w, r, &viewer{}, err)
		return
	}
	s.render(w, r, http.StatusOK, "signin", v, &signinPage{Next: localPath(r.URL.Query().Get("next"))})
}

// signin checks the token of the form (with the authenticator's
// failed-attempt limit) and opens a session: a random id in an HttpOnly,
// SameSite=Strict cookie (Secure over TLS), the id's hash with the
// token's name and scopes in the catalog, for SessionTTL but never past
// the token's expiry.
func (s *Server) signin(w http.ResponseWriter, r *http.Request) {
	anon := &viewer{}
	if s.d.Sessions == nil {
		s.fail(w, r, anon, &httpError{http.StatusNotFound, "this catalog keeps no sessions: sign-in is unavailable"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := checkOrigin(r); err != nil {
		s.fail(w, r, anon, err)
		return
	}
	next := localPath(r.PostFormValue("next"))
	tok := strings.TrimSpace(r.PostFormValue("token"))
	p, err := s.d.Auth.Authenticate(r.Context(), s.d.ClientAddr(r), tok)
	var rl *auth.RateLimitedError
	switch {
	case errors.As(err, &rl):
		w.Header().Set("Retry-After", strconvSeconds(rl.RetryAfter))
		s.render(w, r, http.StatusTooManyRequests, "signin", anon, &signinPage{Next: next, Message: rl.Error()})
		return
	case errors.Is(err, auth.ErrUnknownToken), errors.Is(err, auth.ErrExpired):
		s.d.Log.Warn("web: sign-in refused", "remote", s.d.ClientAddr(r), "reason", err.Error())
		s.render(w, r, http.StatusUnauthorized, "signin", anon, &signinPage{Next: next,
			Message: "token not accepted (unknown, revoked, expired or mistyped)"})
		return
	case err != nil:
		s.fail(w, r, anon, err)
		return
	}
	raw, err := tokenScopes(r, s.d.Auth, p.Name)
	if err != nil {
		s.fail(w, r, anon, err)
		return
	}
	b := make([]byte, 32)
	rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	now := s.d.Now()
	exp := now.Add(s.cfg.SessionTTL)
	if !p.Expires.IsZero() && p.Expires.Before(exp) {
		exp = p.Expires
	}
	if err := s.d.Sessions.CreateSession(r.Context(), &catalog.Session{Hash: sessionHash(id), TokenName: p.Name,
		Scopes: raw, Created: now, Expires: exp}); err != nil {
		s.fail(w, r, anon, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, Expires: exp})
	s.d.Log.Info("web: signed in", "token", p.Name, "remote", s.d.ClientAddr(r))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// tokenScopes returns the scopes of the token named name as the
// authenticator lists them (the session's snapshot).
func tokenScopes(r *http.Request, a *auth.Authenticator, name string) ([]string, error) {
	ts, err := a.List(r.Context())
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.Name == name {
			return t.Scopes, nil
		}
	}
	return nil, &httpError{http.StatusUnauthorized, "token not accepted"}
}

// signout ends the session (a form post with the session's form token)
// and clears the cookie.
func (s *Server) signout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	v, err := s.viewer(r)
	if err != nil {
		s.fail(w, r, &viewer{}, err)
		return
	}
	if v.hash != "" {
		if err := checkForm(r, v); err != nil {
			s.fail(w, r, v, err)
			return
		}
		if err := s.d.Sessions.DeleteSession(r.Context(), v.hash); err != nil {
			s.fail(w, r, v, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// localPath returns p when it is a path on this site, "/" otherwise (no
// open redirects).
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}

func strconvSeconds(d time.Duration) string { return strconv.Itoa(int(math.Ceil(d.Seconds()))) }

func (p *signinPage) title() string { return "Sign in" }
