package catalogtest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// searchIndex returns e's catalog as a repo.SearchIndex, skipping the
// test for implementations without one (the web interface then offers no
// search by file).
func searchIndex(t *testing.T, e *env) repo.SearchIndex {
	si, ok := e.c.(repo.SearchIndex)
	if !ok {
		t.Skipf("%T implements no repo.SearchIndex", e.c)
	}
	return si
}

// hitNames renders hits as "name version target[ file]".
func hitNames(hs []repo.SearchHit) []string {
	var out []string
	for _, h := range hs {
		s := fmt.Sprintf("%s %s %s", h.Package.Name, h.Package.Version, h.Target)
		if h.File != "" {
			s += " " + h.File
		}
		out = append(out, s)
	}
	return out
}

// testSearchIndex: the cursor moves only forward and covers every row in
// id order; searches by name (substring, case-insensitive, prefixes first
// by lower-case name) and by file (exact or under a folder) see only live
// rows of the targets asked for; a removed row drops out and comes back
// when restored.
func testSearchIndex(t *testing.T, e *env) {
	si := searchIndex(t, e)
	ctx := t.Context()
	a, b, c := e.target("5.8/debian/bookworm").ID, e.target("5.8/debian/trixie").ID, e.target("secret/debian/bookworm").ID
	if n, err := si.SearchIndexed(ctx); err != nil || n != 0 {
		t.Fatalf("SearchIndexed on a new catalog = %d, %v; want 0", n, err)
	}
	k1 := e.add(a, pkg("kamailio", "5.8.1", "k1"))
	k2 := e.add(b, pkg("kamailio", "5.8.2", "k2"))
	ku := e.add(a, pkg("Kamailio-utils", "5.8.1", "ku"))
	xk := e.add(a, pkg("xkam", "1", "xk"))
	sec := e.add(c, pkg("kamailio", "9.9", "ks"))
	all := []*repo.Package{k1, k2, ku, xk, sec}
	rows, err := si.UnindexedPackages(ctx, 0, 3)
	if err != nil || len(rows) != 3 {
		t.Fatalf("UnindexedPackages(0, 3) = %d rows, %v", len(rows), err)
	}
	rest, err := si.UnindexedPackages(ctx, rows[2].Package.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	rows = append(rows, rest...)
	if len(rows) != len(all) {
		t.Fatalf("UnindexedPackages gave %d rows, want %d", len(rows), len(all))
	}
	for i, r := range rows {
		if r.Package.ID != all[i].ID || string(r.Package.Meta) != string(all[i].Meta) || r.Package.Name != all[i].Name {
			t.Errorf("row %d: %+v, want %s (id %d) with its Meta", i, r.Package, all[i].Name, all[i].ID)
		}
	}
	if rows[1].TargetID != b || rows[1].Target != tg("5.8/debian/trixie") {
		t.Errorf("row 1's target = %d %s, want %d 5.8/debian/trixie", rows[1].TargetID, rows[1].Target, b)
	}
	files := map[int64][]string{k1.ID: {"/usr/sbin/kamailio", "/usr/lib/kamailio/a.so"}, k2.ID: {"/usr/sbin/kamailio"},
		ku.ID: {"/usr/bin/kamcmd"}, sec.ID: {"/usr/sbin/kamailio"}}
	var entries []repo.SearchEntry
	for _, p := range all {
		entries = append(entries, repo.SearchEntry{PackageID: p.ID, Name: p.Name, Files: files[p.ID]})
	}
	if err := si.IndexSearch(ctx, ku.ID, entries); err != nil { // up to ku: k1, k2, ku
		t.Fatal(err)
	}
	if err := si.IndexSearch(ctx, sec.ID, entries); err != nil { // the rest; k1's entries again are ignored
		t.Fatal(err)
	}
	if err := si.IndexSearch(ctx, k1.ID, []repo.SearchEntry{{PackageID: k1.ID, Name: "late", Files: []string{"/late"}}}); err != nil {
		t.Fatal(err)
	}
	if n, err := si.SearchIndexed(ctx); err != nil || n != sec.ID {
		t.Fatalf("SearchIndexed = %d, %v; want %d (the cursor never moves back)", n, err, sec.ID)
	}
	check := func(what string, hs []repo.SearchHit, err error, want ...string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := hitNames(hs); !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	pub := []int64{a, b}
	hs, err := si.SearchFiles(ctx, "/usr/sbin/kamailio", pub, 0)
	check("SearchFiles(/usr/sbin/kamailio, public)", hs, err,
		"kamailio 5.8.1 5.8/debian/bookworm /usr/sbin/kamailio", "kamailio 5.8.2 5.8/debian/trixie /usr/sbin/kamailio")
	hs, err = si.SearchFiles(ctx, "/usr/sbin/kamailio", []int64{c}, 0)
	check("SearchFiles(/usr/sbin/kamailio, secret)", hs, err, "kamailio 9.9 secret/debian/bookworm /usr/sbin/kamailio")
	hs, err = si.SearchFiles(ctx, "/usr/lib/", pub, 0)
	check("SearchFiles(/usr/lib/)", hs, err, "kamailio 5.8.1 5.8/debian/bookworm /usr/lib/kamailio/a.so")
	hs, err = si.SearchFiles(ctx, "/late", pub, 0)
	check("SearchFiles(/late): entries below the cursor are ignored", hs, err)
	hs, err = si.SearchFiles(ctx, "/usr/sbin/kamailio", pub, 1)
	check("SearchFiles with limit 1", hs, err, "kamailio 5.8.1 5.8/debian/bookworm /usr/sbin/kamailio")
	hs, err = si.SearchNames(ctx, "KAM", pub, 0)
	check("SearchNames(KAM)", hs, err, "kamailio 5.8.1 5.8/debian/bookworm", "kamailio 5.8.2 5.8/debian/trixie",
		"Kamailio-utils 5.8.1 5.8/debian/bookworm", "xkam 1 5.8/debian/bookworm")
	hs, err = si.SearchNames(ctx, "mail", pub, 2)
	check("SearchNames(mail) with limit 2", hs, err, "Kamailio-utils 5.8.1 5.8/debian/bookworm", "kamailio 5.8.1 5.8/debian/bookworm")
	hs, err = si.SearchNames(ctx, "kam", nil, 0)
	check("SearchNames without targets", hs, err)
	hs, err = si.SearchNames(ctx, "late", pub, 0)
	check("SearchNames(late): names below the cursor are ignored", hs, err)
	hs, err = si.SearchNames(ctx, "k_m", pub, 0)
	check("SearchNames(k_m): _ is no wildcard", hs, err)
	hs, err = si.PackagesNamed(ctx, "kamailio", []int64{a, b, c})
	check("PackagesNamed(kamailio)", hs, err, "kamailio 5.8.1 5.8/debian/bookworm", "kamailio 5.8.2 5.8/debian/trixie",
		"kamailio 9.9 secret/debian/bookworm")

	if err := e.c.DeletePackage(ctx, a, "kamailio", "5.8.1", "amd64"); err != nil {
		t.Fatal(err)
	}
	hs, err = si.SearchFiles(ctx, "/usr/sbin/kamailio", pub, 0)
	check("SearchFiles after a delete", hs, err, "kamailio 5.8.2 5.8/debian/trixie /usr/sbin/kamailio")
	hs, err = si.PackagesNamed(ctx, "kamailio", pub)
	check("PackagesNamed after a delete", hs, err, "kamailio 5.8.2 5.8/debian/trixie")
	if err := e.c.SetLivePackages(ctx, a, []int64{k1.ID, ku.ID, xk.ID}); err != nil {
		t.Fatal(err)
	}
	hs, err = si.SearchFiles(ctx, "/usr/lib/kamailio/a.so", pub, 0)
	check("SearchFiles after a restore", hs, err, "kamailio 5.8.1 5.8/debian/bookworm /usr/lib/kamailio/a.so")
	if _, err := si.SearchNames(ctxDone(t), "kam", pub, 0); err == nil {
		t.Error("SearchNames with a done ctx succeeded")
	}
}

// sessions returns e's catalog as a catalog.SessionStore, skipping the test
// for implementations without one (the web interface then offers no
// sign-in).
func sessions(t *testing.T, e *env) catalog.SessionStore {
	ss, ok := e.c.(catalog.SessionStore)
	if !ok {
		t.Skipf("%T implements no catalog.SessionStore", e.c)
	}
	return ss
}

// testSessions: a session comes back by hash with its token snapshot and
// times (to the second), hashes are unique, deleting is idempotent, and
// expired sessions are deleted by DeleteExpiredSessions, from any handle.
func testSessions(t *testing.T, e *env) {
	ss := sessions(t, e)
	ctx := t.Context()
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	s := &catalog.Session{Hash: "h1", TokenName: "ci", Scopes: []string{"read:5.8/*/*", "publish"}, Created: now,
		Expires: now.Add(12 * time.Hour)}
	if err := ss.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "a session with a taken hash", ss.CreateSession(ctx, &catalog.Session{Hash: "h1", TokenName: "x", Created: now,
		Expires: now}), repo.ErrConflict)
	if err := ss.CreateSession(ctx, &catalog.Session{Hash: "h2", TokenName: "old", Scopes: []string{"read"}, Created: now,
		Expires: now.Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	other := sessions(t, &env{c: e.open()})
	got, err := other.SessionByHash(ctx, "h1")
	if err != nil || got.TokenName != "ci" || !slices.Equal(got.Scopes, s.Scopes) || !got.Created.Equal(now) ||
		!got.Expires.Equal(s.Expires) {
		t.Fatalf("SessionByHash(h1) on another handle = %+v, %v", got, err)
	}
	if n, err := ss.DeleteExpiredSessions(ctx, now); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 1", n, err)
	}
	wantErr(t, "an expired session after DeleteExpiredSessions", errOf(ss.SessionByHash(ctx, "h2")), repo.ErrNotFound)
	if err := ss.DeleteSession(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if err := ss.DeleteSession(ctx, "h1"); err != nil {
		t.Fatalf("DeleteSession twice: %v", err)
	}
	wantErr(t, "a deleted session", errOf(ss.SessionByHash(ctx, "h1")), repo.ErrNotFound)
}
