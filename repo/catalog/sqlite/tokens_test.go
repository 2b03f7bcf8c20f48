package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// TestTokenStore: tokens are stored by hash with their scopes and times,
// names are unique, revocation removes them, last use only moves forward,
// and they survive a reopen.
func TestTokenStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	created := time.Unix(1_700_000_000, 0).UTC()
	a := &catalog.Token{Name: "ci", Hash: hashOf("secret-a"), Scopes: []string{"upload:5.8/*/*", "read"}, Created: created,
		Expires: created.Add(90 * 24 * time.Hour)}
	if err := db.CreateToken(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateToken(ctx, &catalog.Token{Name: "ci", Hash: hashOf("other"), Scopes: []string{"read"}, Created: created}); !errors.Is(err, repo.ErrConflict) {
		t.Errorf("same name: %v", err)
	}
	if err := db.CreateToken(ctx, &catalog.Token{Name: "b", Hash: hashOf("secret-b"), Scopes: []string{"admin"}, Created: created}); err != nil {
		t.Fatal(err)
	}
	got, err := db.TokenByHash(ctx, hashOf("secret-a"))
	if err != nil || got.Name != "ci" || fmt.Sprint(got.Scopes) != "[upload:5.8/*/* read]" || !got.Created.Equal(created) ||
		!got.Expires.Equal(a.Expires) || !got.LastUsed.IsZero() {
		t.Fatalf("TokenByHash: %v %+v", err, got)
	}
	if _, err := db.TokenByHash(ctx, hashOf("nope")); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("unknown hash: %v", err)
	}
	used := created.Add(time.Hour)
	if err := db.TouchToken(ctx, "ci", used); err != nil {
		t.Fatal(err)
	}
	db.TouchToken(ctx, "ci", created) // never moves back
	db.Close()

	db = open2(t, path)
	list, err := db.Tokens(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "b" || !list[0].Expires.IsZero() || list[1].Name != "ci" || !list[1].LastUsed.Equal(used) {
		t.Fatalf("Tokens after reopen: %v %+v", err, list)
	}
	if err := db.DeleteToken(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteToken(ctx, "ci"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if _, err := db.TokenByHash(ctx, hashOf("secret-a")); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("revoked token still found: %v", err)
	}
}

func open2(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestAuditStore records events and selects them by target (exact or
// glob), action, actor, time and count, newest first.
func TestAuditStore(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	base := time.Unix(1_700_000_000, 0).UTC()
	events := []audit.Event{
		{Time: base, Actor: "ci", Action: audit.Upload, Target: "5.8/debian/bookworm", Detail: audit.Detail(map[string]any{"name": "a", "status": 201}),
			Remote: "10.0.0.1", CIJobURL: "https://ci.example/job/1", CICommit: "abc", RequestID: "r1"},
		{Time: base.Add(time.Second), Actor: "ci", Action: audit.Upload, Target: "5.8/el/9"},
		{Time: base.Add(2 * time.Second), Actor: "admin", Action: audit.Delete, Target: "5.7/debian/bookworm"},
		{Time: base.Add(3 * time.Second), Actor: "cli:root", Action: audit.TokenCreate, Detail: audit.Detail(nil)},
	}
	for i := range events {
		if err := db.RecordAudit(ctx, &events[i]); err != nil || events[i].ID == 0 {
			t.Fatalf("record: %v", err)
		}
	}
	all, err := db.AuditEvents(ctx, audit.Query{})
	if err != nil || len(all) != 4 || all[0].Action != audit.TokenCreate || all[3].CIJobURL != "https://ci.example/job/1" ||
		all[3].CICommit != "abc" || all[3].RequestID != "r1" || all[3].Remote != "10.0.0.1" || !all[3].Time.Equal(base) || all[0].Detail != nil {
		t.Fatalf("all: %v %+v", err, all)
	}
	var d map[string]any
	if json.Unmarshal(all[3].Detail, &d) != nil || d["name"] != "a" {
		t.Errorf("detail %s", all[3].Detail)
	}
	for _, c := range []struct {
		q    audit.Query
		want []int64
	}{
		{audit.Query{Target: "5.8/el/9"}, []int64{2}},
		{audit.Query{Target: "5.8/*"}, []int64{2, 1}},
		{audit.Query{Action: audit.Upload}, []int64{2, 1}},
		{audit.Query{Actor: "admin"}, []int64{3}},
		{audit.Query{Since: base.Add(2 * time.Second)}, []int64{4, 3}},
		{audit.Query{Limit: 1}, []int64{4}},
		{audit.Query{Action: audit.Upload, Target: "5.7/*"}, nil},
	} {
		got, err := db.AuditEvents(ctx, c.q)
		var ids []int64
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		if err != nil || fmt.Sprint(ids) != fmt.Sprint(c.want) {
			t.Errorf("%+v: %v %v, want %v", c.q, ids, err, c.want)
		}
	}
}

func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
