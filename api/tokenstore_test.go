package api_test

import (
	"context"
	"time"

	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo/catalog"
)

// tokenStore is the catalog's token table as an auth.Store, wired as
// cmd/pier wires it (auth and the catalog implementations do not import
// each other).
type tokenStore struct{ cat catalog.TokenStore }

func (s tokenStore) CreateToken(ctx context.Context, t *auth.Token) error {
	return s.cat.CreateToken(ctx, &catalog.Token{Name: t.Name, Hash: t.Hash, Scopes: t.Scopes, Created: t.Created,
		Expires: t.Expires, LastUsed: t.LastUsed})
}

func (s tokenStore) TokenByHash(ctx context.Context, hash string) (*auth.Token, error) {
	ct, err := s.cat.TokenByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	t := authToken(ct)
	return &t, nil
}

func (s tokenStore) Tokens(ctx context.Context) ([]auth.Token, error) {
	cts, err := s.cat.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]auth.Token, len(cts))
	for i := range cts {
		out[i] = authToken(&cts[i])
	}
	return out, nil
}

func (s tokenStore) DeleteToken(ctx context.Context, name string) error {
	return s.cat.DeleteToken(ctx, name)
}

func (s tokenStore) TouchToken(ctx context.Context, name string, at time.Time) error {
	return s.cat.TouchToken(ctx, name, at)
}

func authToken(t *catalog.Token) auth.Token {
	return auth.Token{Name: t.Name, Hash: t.Hash, Scopes: t.Scopes, Created: t.Created, Expires: t.Expires, LastUsed: t.LastUsed}
}
