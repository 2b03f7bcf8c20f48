package main

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

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
	// The optional parts are methods of the implementation, not of the
	// wrapper that holds it with its lock session.
	var impl any = st.a.cat
	if o, ok := impl.(*openedCatalog); ok {
		impl = o.Store
	}
	search, _ := impl.(repo.SearchIndex)
	sessions, _ := impl.(catalog.SessionStore)
	proxies, err := st.cfg.Auth.trustedProxies()
	if err != nil {
		return err
	}
	// The client address as the API finds it (api's ipExtractor): the
	// peer, or behind auth.trusted_proxies the nearest untrusted
	// X-Forwarded-For entry. A reload's new proxies reach the API only.
	clientAddr := echo.ExtractIPDirect()
	if len(proxies) > 0 {
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range proxies {
			opts = append(opts, echo.TrustIPRange(n))
		}
		clientAddr = echo.ExtractIPFromXFFHeader(opts...)
	}
	w, err := web.New(web.Config{}, web.Deps{Service: st.a.svc, Auth: st.authn, Audit: st.a.cat, Search: search,
		Sessions: sessions, Fingerprints: func() []string { return st.a.keys.set().pgp.Fingerprints() },
		ClientAddr: clientAddr, PublicURL: func() string { return *st.publicURL.Load() }, Log: st.log})
	if err != nil {
		return err
	}
	hs.Handler = w.Handler(hs.Handler)
	go w.Run(ctx)
	return nil
}
