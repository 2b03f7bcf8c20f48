package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pierhq/pier/repo"
)

// setupFiler is implemented by formats that serve a target's client setup
// as one file under the target's canonical root (a .repo, a deb822
// .sources, apk's repositories lines), for clients that add a repository
// from a URL.
type setupFiler interface {
	// SetupFilePaths returns the paths, relative to Pier's public root, at
	// which t's setup file is served. None of them can be a published file.
	SetupFilePaths(t repo.Target) []string
	// SetupFile returns the file's text for t. keys is the armored public
	// key ring (/keys/pier.asc), for formats that embed it.
	SetupFile(t repo.Target, info repo.SetupInfo, keys []byte) string
}

// setupFileRoutes adds the routes of the one-file setup downloads, one per
// path shape of the formats' SetupFilePaths. A request on such a route
// that names no setup file (a wrong distro for the shape, another file
// name) is served as any published file.
func (s *Server) setupFileRoutes(e *echo.Echo) {
	for _, p := range []string{
		"/rpm/:stream/:distro/:release/:file",              // pier.repo and <id>.repo
		"/deb/:stream/:distro/dists/:release/pier.sources", // beside InRelease
		"/apk/:stream/:distro/:release/pier.repositories",  // beside the component folders
	} {
		e.GET(p, s.setupFile)
		e.HEAD(p, s.setupFile)
	}
}

// setupFile serves a target's setup file (see setupFiler) with the privacy
// of the target's own files: a private target's needs a token with read on
// it (checked before whether the target exists, so the answer to an
// anonymous caller does not tell), and a target without a published
// generation is 404.
func (s *Server) setupFile(c echo.Context) error {
	if strings.Contains(c.Param("file"), "/") {
		// Deeper than a setup file (rpm's repodata/…): a published file,
		// without asking the format for its setup paths on every request.
		return s.serveFile(c)
	}
	t, err := target(c)
	if err != nil {
		return s.serveFile(c)
	}
	spec, err := s.svc.Spec(t.Distro)
	if err != nil {
		return s.serveFile(c)
	}
	sf, ok := spec.Format.(setupFiler)
	if !ok || !slices.Contains(sf.SetupFilePaths(t), strings.TrimPrefix(c.Request().URL.Path, "/")) {
		return s.serveFile(c)
	}
	if err := s.authorizeFile(c, []repo.Target{t}); err != nil {
		return err
	}
	ctx := c.Request().Context()
	heads, err := s.svc.Heads(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(heads, func(ti repo.TargetInfo) bool { return ti.Target == t && ti.Current != nil }) {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	private := s.auth != nil && s.auth.Private(t)
	rt := s.rt.Load()
	info := repo.SetupInfo{BaseURL: s.baseURL(c), Components: []string{"main"}, Fingerprints: rt.fprs, Private: private}
	if len(rt.fprs) > 0 {
		info.Fingerprint = rt.fprs[0]
	}
	ps, err := s.svc.Packages(ctx, t)
	if err != nil {
		return err
	}
	var comps []string
	for _, p := range ps {
		if !slices.Contains(comps, p.Component) {
			comps = append(comps, p.Component)
		}
	}
	if len(comps) > 0 {
		info.Components = comps
	}
	body := []byte(sf.SetupFile(t, info, rt.keys["pier.asc"].Data))
	sum := sha256.Sum256(body)
	h := c.Response().Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	if private {
		h.Set("Cache-Control", "private, no-cache")
	} else {
		h.Set("Cache-Control", "public, no-cache")
	}
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, bytes.NewReader(body))
	return nil
}
