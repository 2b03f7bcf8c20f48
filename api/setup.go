package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// maxNearby bounds each list of nearby targets in a 404 of /setup.
const maxNearby = 20

// setup answers GET /setup/{stream}/{distro}/{release} with the lines that
// add the target to a client. A private target (auth.private) needs a
// token with read on it, HTTP Basic or Bearer (401 without one or with a
// refused one, 403 when it lacks read); that is checked before whether the
// target exists, so an anonymous caller learns nothing of private targets.
// A target without a published generation is 404, with the published
// targets of the same stream or distro that the caller may read.
func (s *Server) setup(c echo.Context) error {
	t, err := target(c)
	if err != nil {
		return err
	}
	private := s.auth != nil && s.auth.Private(t)
	if private {
		if _, err := s.readAccess(c, []repo.Target{t}); err != nil {
			return err
		}
	}
	ctx := c.Request().Context()
	heads, err := s.svc.Heads(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(heads, func(ti repo.TargetInfo) bool { return ti.Target == t && ti.Current != nil })
	spec, specErr := s.svc.Spec(t.Distro)
	if i < 0 || specErr != nil {
		return s.noSuchTarget(c, t, heads, specErr)
	}
	sw, ok := spec.Format.(repo.SetupWriter)
	if !ok {
		return fmt.Errorf("no setup instructions for %s targets: %w", spec.Format.Name(), repo.ErrNotFound)
	}
	rt := s.rt.Load()
	info := repo.SetupInfo{BaseURL: s.baseURL(c), Components: []string{"main"}, Fingerprints: rt.fprs,
		Private: private}
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
	return c.String(http.StatusOK, sw.Setup(t, info))
}

// noSuchTarget is the 404 of /setup for t: it names the published targets
// of t's stream and of t's distro that the caller may read (public ones,
// and private ones its token reads), and the known distros when t's is
// unknown.
func (s *Server) noSuchTarget(c echo.Context, t repo.Target, heads []repo.TargetInfo, specErr error) error {
	var stream, distro []string
	needToken := false
	for _, h := range heads {
		if h.Current != nil && (h.Stream == t.Stream || h.Distro == t.Distro) && s.auth != nil && s.auth.Private(h.Target) {
			needToken = true
		}
	}
	var p *auth.Principal
	if needToken {
		var err error
		if p, err = s.optionalPrincipal(c); err != nil {
			return err
		}
	}
	for _, h := range heads {
		if h.Current == nil || h.Target == t {
			continue
		}
		if s.auth != nil && s.auth.Private(h.Target) && !p.Allows(auth.Read, h.Target) {
			continue
		}
		if h.Stream == t.Stream && len(stream) < maxNearby {
			stream = append(stream, h.Target.String())
		}
		if h.Distro == t.Distro && len(distro) < maxNearby {
			distro = append(distro, h.Target.String())
		}
	}
	slices.Sort(stream)
	slices.Sort(distro)
	var b strings.Builder
	fmt.Fprintf(&b, "no published target %s", t)
	if specErr != nil {
		fmt.Fprintf(&b, " (%s)", strings.TrimSuffix(specErr.Error(), ": "+repo.ErrInvalid.Error()))
	}
	if len(stream) == 0 && len(distro) == 0 {
		b.WriteString("; no published target shares its stream or distro")
	}
	if len(stream) > 0 {
		fmt.Fprintf(&b, "; stream %s has %s", t.Stream, strings.Join(stream, ", "))
	}
	if len(distro) > 0 {
		fmt.Fprintf(&b, "; distro %s has %s", t.Distro, strings.Join(distro, ", "))
	}
	return echo.NewHTTPError(http.StatusNotFound, b.String())
}
