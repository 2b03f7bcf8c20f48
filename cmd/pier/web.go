package main

import (
	"context"
	"net/http"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
	"github.com/pierhq/pier/web"
)

// mountWeb puts the web interface in front of hs's handler (the API and
// the repository files) and runs its background work (indexing new
// packages for search by file, deleting expired sessions) until ctx ends.
// A catalog without a search index or sessions gets a web interface
// without search or sign-in.
func (st *serving) mountWeb(ctx context.Context, hs *http.Server) error {
	search, _ := st.a.cat.(repo.SearchIndex)
	sessions, _ := st.a.cat.(catalog.SessionStore)
	w, err := web.New(web.Config{}, web.Deps{Service: st.a.svc, Auth: st.authn, Audit: st.a.cat, Search: search,
		Sessions: sessions, Fingerprints: st.a.keys.set().pgp.Fingerprints(),
		PublicURL: func() string { return *st.publicURL.Load() }, Log: st.log})
	if err != nil {
		return err
	}
	hs.Handler = w.Handler(hs.Handler)
	go w.Run(ctx)
	return nil
}
