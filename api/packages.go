package api

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/pierhq/pier/repo"
)

// Paging of GET …/packages.
//
// Without limit and after, the list is every package of the target, as it
// was before paging existed: a URL users have scripted keeps its meaning,
// and a default page would silently truncate what old scripts read (they
// do not look for a Link header). Paging is asked for with limit (default
// DefaultPackagePage once after is given) and continues with the URL of
// the Link rel="next" header, which is absent on the last page (GitHub's
// convention). The cursor in after is opaque: the id of the last package
// of the page, which keeps pages stable while packages are added or
// removed between two requests (keyset paging, no offset). name and arch
// filter in both modes.
const (
	// DefaultPackagePage is the page size when after is given without
	// limit.
	DefaultPackagePage = 100
	// MaxPackagePage is the largest limit accepted.
	MaxPackagePage = 1000
	// cursorPrefix starts every decoded cursor: a version, so that a
	// later cursor format can tell old cursors apart.
	cursorPrefix = "p1:"
)

// encodeCursor makes the opaque after value that resumes past package id.
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(id, 10)))
}

// decodeCursor reads an after value that encodeCursor made.
func decodeCursor(v string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	s, ok := strings.CutPrefix(string(b), cursorPrefix)
	var id int64
	if err == nil && ok {
		id, err = strconv.ParseInt(s, 10, 64)
	}
	// Only the exact string encodeCursor makes is a cursor (no leading
	// zeros, no other base64 spelling of the same bytes).
	if err != nil || !ok || id < 1 || encodeCursor(id) != v {
		return 0, fmt.Errorf("after %q is not a cursor of this server: pass the after of the Link rel=\"next\" URL of the previous page unchanged: %w", v, repo.ErrInvalid)
	}
	return id, nil
}

// packageQuery reads the paging and filter parameters of GET …/packages;
// paged is false when the request asks for every package (no limit, no
// after).
func packageQuery(c echo.Context) (q repo.PackageQuery, paged bool, err error) {
	qs := c.QueryParams()
	q.Name, q.Arch = qs.Get("name"), qs.Get("arch")
	for _, k := range []string{"limit", "after", "name", "arch"} {
		if vs, ok := qs[k]; ok && (len(vs) != 1 || vs[0] == "") {
			return q, false, fmt.Errorf("query parameter %s must be given once and not empty: %w", k, repo.ErrInvalid)
		}
	}
	_, hasLimit := qs["limit"]
	_, hasAfter := qs["after"]
	paged = hasLimit || hasAfter
	q.Limit = DefaultPackagePage
	if hasLimit {
		v := qs.Get("limit")
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPackagePage {
			return q, false, fmt.Errorf("limit %q must be a number from 1 to %d: %w", v, MaxPackagePage, repo.ErrInvalid)
		}
		q.Limit = n
	}
	if hasAfter {
		if q.After, err = decodeCursor(qs.Get("after")); err != nil {
			return q, false, err
		}
	}
	if !paged {
		q.Limit = math.MaxInt32
	}
	return q, paged, nil
}

// listPackages lists a target's packages as a JSON array, in the order
// they were recorded: all of them, or one page (see DefaultPackagePage).
func (s *Server) listPackages(c echo.Context) error {
	t, err := target(c)
	if err != nil {
		return err
	}
	q, paged, err := packageQuery(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var ps []repo.Package
	var next int64
	if paged || q.Name != "" || q.Arch != "" {
		ps, next, err = s.svc.PackagePage(ctx, t, q)
	} else {
		ps, err = s.svc.Packages(ctx, t)
	}
	if err != nil {
		return err
	}
	if next != 0 {
		v := url.Values{"limit": {strconv.Itoa(q.Limit)}, "after": {encodeCursor(next)}}
		if q.Name != "" {
			v.Set("name", q.Name)
		}
		if q.Arch != "" {
			v.Set("arch", q.Arch)
		}
		link := s.baseURL(c) + "/api/v1/targets/" + t.String() + "/packages?" + v.Encode()
		c.Response().Header().Set("Link", "<"+link+`>; rel="next"`)
	}
	if ps == nil {
		ps = []repo.Package{}
	}
	return c.JSON(http.StatusOK, ps)
}
