package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Session is a signed-in browser session of the web interface: the
// cookie holds a random id, the catalog only its SHA-256 (Hash), with a
// snapshot of the token it was opened with (name and scopes; the token
// itself is never kept).
type Session struct {
	Hash      string
	TokenName string
	Scopes    []string
	// Created and Expires are kept to the second.
	Created time.Time
	Expires time.Time
}

// SessionStore is an optional part of a catalog: the web interface's
// sessions, by hash. The contracts of repo.Catalog hold. It writes no
// audit event (signing in changes nothing Pier serves).
type SessionStore interface {
	// CreateSession records s; a hash already taken is an error wrapping
	// repo.ErrConflict.
	CreateSession(ctx context.Context, s *Session) error
	// SessionByHash returns the session whose Hash is hash, expired or
	// not, or an error wrapping repo.ErrNotFound.
	SessionByHash(ctx context.Context, hash string) (*Session, error)
	// DeleteSession ends the session whose Hash is hash; an unknown hash
	// is not an error (signing out twice is harmless).
	DeleteSession(ctx context.Context, hash string) error
	// DeleteExpiredSessions deletes the sessions whose Expires is at or
	// before now and returns how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)
}

// SessionColumns returns how a catalog stores s besides its hash: the
// scopes as a JSON array, the times as unix seconds.
func SessionColumns(s *Session) (scopes string, created, expires int64, err error) {
	b, err := json.Marshal(s.Scopes)
	if err != nil {
		return "", 0, 0, fmt.Errorf("encode session scopes: %w", err)
	}
	return string(b), s.Created.Unix(), s.Expires.Unix(), nil
}

// SessionFromColumns is the Session that SessionColumns stored.
func SessionFromColumns(hash, tokenName, scopes string, created, expires int64) (*Session, error) {
	s := &Session{Hash: hash, TokenName: tokenName, Created: time.Unix(created, 0).UTC(), Expires: time.Unix(expires, 0).UTC()}
	if err := json.Unmarshal([]byte(scopes), &s.Scopes); err != nil {
		return nil, fmt.Errorf("decode session scopes: %w", err)
	}
	return s, nil
}
