package catalogtest

import (
	"slices"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// testTokens: tokens are found by hash with their scopes and times (to the
// second), names and hashes are unique, revocation removes them, last use
// only moves forward, and the list is in byte order of names.
func testTokens(t *testing.T, e *env) {
	ctx := t.Context()
	created := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	ci := &catalog.Token{Name: "ci", Hash: "hash-ci", Scopes: []string{"upload:5.8/*/*", "read"}, Created: created,
		Expires: created.Add(90 * 24 * time.Hour)}
	for _, tok := range []*catalog.Token{ci, {Name: "b", Hash: "hash-b", Scopes: []string{"admin"}, Created: created},
		{Name: "Z", Hash: "hash-z", Scopes: []string{"read"}, Created: created.Add(time.Second)}} {
		if err := e.c.CreateToken(ctx, tok); err != nil {
			t.Fatalf("CreateToken(%s): %v", tok.Name, err)
		}
	}
	for _, dup := range []*catalog.Token{
		{Name: "ci", Hash: "hash-other", Scopes: []string{"read"}, Created: created},
		{Name: "other", Hash: "hash-ci", Scopes: []string{"read"}, Created: created},
	} {
		wantErr(t, "a token with a taken name or hash ("+dup.Name+")", e.c.CreateToken(ctx, dup), repo.ErrConflict)
	}
	got, err := e.c.TokenByHash(ctx, "hash-ci")
	if err != nil || got.Name != "ci" || !slices.Equal(got.Scopes, ci.Scopes) || !got.Created.Equal(created) ||
		!got.Expires.Equal(ci.Expires) || !got.LastUsed.IsZero() || got.Hash != "hash-ci" {
		t.Fatalf("TokenByHash: %+v %v", got, err)
	}
	wantErr(t, "an unknown hash", errOf(e.c.TokenByHash(ctx, "nope")), repo.ErrNotFound)
	used := created.Add(time.Hour + 300*time.Millisecond)
	if err := e.c.TouchToken(ctx, "ci", used); err != nil {
		t.Fatal(err)
	}
	if err := e.c.TouchToken(ctx, "ci", created); err != nil { // never moves back
		t.Fatal(err)
	}
	if err := e.c.TouchToken(ctx, "revoked-meanwhile", used); err != nil {
		t.Errorf("touching an unknown token: %v", err)
	}
	list, err := e.c.Tokens(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("Tokens: %+v %v", list, err)
	}
	var names []string
	for _, tok := range list {
		names = append(names, tok.Name)
	}
	if !slices.Equal(names, []string{"Z", "b", "ci"}) {
		t.Errorf("Tokens order: %v", names)
	}
	if !list[1].Expires.IsZero() || !list[2].LastUsed.Equal(used.Truncate(time.Second)) || list[2].LastUsed.Location() != time.UTC {
		t.Errorf("Tokens times: %+v", list)
	}
	if err := e.c.DeleteToken(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "a second revocation", e.c.DeleteToken(ctx, "ci"), repo.ErrNotFound)
	wantErr(t, "the revoked token's hash", errOf(e.c.TokenByHash(ctx, "hash-ci")), repo.ErrNotFound)
	// The name is free again.
	if err := e.c.CreateToken(ctx, &catalog.Token{Name: "ci", Hash: "hash-ci-2", Scopes: []string{"read"}, Created: created}); err != nil {
		t.Errorf("re-creating a revoked name: %v", err)
	}
}
