// Package catalog is what a Pier catalog implementation provides: one
// database holding the targets, packages, generations, pins and alias
// claims (repo.Catalog, whose small interfaces and contracts are defined in
// repo, the package that uses them), the API tokens (TokenStore, defined
// here over plain types, so that the implementations never import the
// auth package above them) and the audit log (audit.Store). Store is all of
// it: what cmd/pier opens and wires.
//
// Implementations live in sub-packages, one per database, as the blob
// stores live under storage/: repo/catalog/sqlite now, a PostgreSQL one
// next. Each must pass the one conformance suite, repo/catalog/catalogtest,
// the executable form of the contracts written on repo.Catalog, TokenStore
// and audit.Store.
package catalog

import (
	"context"
	"time"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

// Store is a whole catalog: every interface its database serves, and the
// handle's lifetime. The contracts of repo.Catalog (concurrency across
// processes, one transaction per write, audit events of ctx written in the
// change's transaction, the injected clock) hold for TokenStore too.
type Store interface {
	repo.Catalog
	TokenStore
	// RecordAudit sets a zero event Time from the catalog's clock.
	audit.Store
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the handle. Other handles on the same database (other
	// processes) are not affected.
	Close() error
}

// Token is a stored API token: never the token itself, only its hash.
type Token struct {
	Name string
	// Hash is the lower-case hex SHA-256 of the token.
	Hash   string
	Scopes []string
	// Created, Expires (zero: never) and LastUsed (zero: never) are kept
	// to the second.
	Created  time.Time
	Expires  time.Time
	LastUsed time.Time
}

// TokenStore keeps API tokens by name and hash. Names and hashes are unique.
type TokenStore interface {
	// CreateToken records t and writes the events of ctx. A name or hash
	// already taken is an error wrapping repo.ErrConflict; nothing changes.
	CreateToken(ctx context.Context, t *Token) error
	// TokenByHash returns the token whose Hash is hash, or an error
	// wrapping repo.ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	// Tokens lists every token, ordered by name.
	Tokens(ctx context.Context) ([]Token, error)
	// DeleteToken removes the token named name and writes the events of
	// ctx, or returns an error wrapping repo.ErrNotFound.
	DeleteToken(ctx context.Context, name string) error
	// TouchToken sets the LastUsed time of the token named name to at,
	// unless it is later already (it never moves back). An unknown name is
	// not an error (the token may just have been revoked). It writes no
	// event.
	TouchToken(ctx context.Context, name string, at time.Time) error
}
