package main

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog/sqlite"
)

// TestTokenStore drives the Authenticator through tokenStore over a real
// SQLite catalog: every field crosses the adapter both ways, the catalog's
// sentinel errors reach auth, and the audit event of a token change is
// written with it.
func TestTokenStore(t *testing.T) {
	ctx := context.Background()
	cat, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	st := tokenStore{cat}
	a, err := auth.New(st, auth.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	ev := &audit.Event{Actor: "cli:test", Action: audit.TokenCreate}
	secret, tok, err := a.Create(audit.WithEvent(ctx, ev), "ci", []string{"upload:5.8/*/*"}, expires)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Recorded() {
		t.Error("the token's audit event was not written with it")
	}
	p, err := a.Authenticate(ctx, "127.0.0.1", secret)
	if err != nil || p.Name != "ci" || !p.Expires.Equal(expires) ||
		!p.Allows(auth.Upload, repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}) {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	got, err := st.TokenByHash(ctx, auth.Hash(secret))
	if err != nil || got.Name != tok.Name || got.Hash != tok.Hash || !slices.Equal(got.Scopes, tok.Scopes) ||
		!got.Created.Equal(tok.Created) || !got.Expires.Equal(expires) || got.LastUsed.IsZero() {
		t.Fatalf("TokenByHash: %+v %v (created %+v)", got, err, tok)
	}
	list, err := a.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "ci" || list[0].Source != "api" || list[0].LastUsed.IsZero() {
		t.Fatalf("list: %+v %v", list, err)
	}
	if _, _, err := a.Create(ctx, "ci", []string{"read"}, time.Time{}); !errors.Is(err, repo.ErrConflict) {
		t.Errorf("a second token named ci: %v", err)
	}
	if err := a.Revoke(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, "ci"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("revoking twice: %v", err)
	}
	if _, err := a.Authenticate(ctx, "127.0.0.1", secret); !errors.Is(err, auth.ErrUnknownToken) {
		t.Errorf("a revoked token: %v", err)
	}
}
