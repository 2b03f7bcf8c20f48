package web

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// canRead reports whether v may see t: t is public, or v holds read on it.
func (s *Server) canRead(v *viewer, t repo.Target) bool {
	return s.d.Auth == nil || !s.d.Auth.Private(t) || v.p.Allows(auth.Read, t)
}

// seesAudit reports whether v may see who did what (the audit log needs
// the admin scope in the API).
func (s *Server) seesAudit(v *viewer) bool { return s.d.Audit != nil && v.p.IsAdmin() }

// visible returns the live targets of ts that v may read.
func (s *Server) visible(v *viewer, ts []repo.TargetInfo) []repo.TargetInfo {
	var out []repo.TargetInfo
	for _, t := range repo.LiveTargets(ts) {
		if s.canRead(v, t.Target) {
			out = append(out, t)
		}
	}
	return out
}

// page resolves the viewer and calls fn; a failure renders the error page.
func (s *Server) page(w http.ResponseWriter, r *http.Request, fn func(v *viewer) error) {
	v, err := s.viewer(r)
	if err != nil {
		s.fail(w, r, &viewer{}, err)
		return
	}
	if err := fn(v); err != nil {
		s.fail(w, r, v, err)
	}
}

// targetOf returns the target of the request's path and its catalog
// record; a target v may not read answers exactly like one that does not
// exist.
func (s *Server) targetOf(r *http.Request, v *viewer) (*repo.TargetInfo, error) {
	t := repo.Target{Stream: r.PathValue("stream"), Distro: r.PathValue("distro"), Release: r.PathValue("release")}
	if t.Validate() != nil || !s.canRead(v, t) {
		return nil, notFound()
	}
	ti, err := s.d.Service.FindTarget(r.Context(), t)
	if errors.Is(err, repo.ErrNotFound) {
		return nil, notFound()
	}
	return ti, err
}

// errorPage is the data of the error page.
type errorPage struct {
	Code    int
	Status  string
	Message string
}

func (p *errorPage) title() string { return p.Status }

// homePage is the data of /.
type homePage struct {
	Streams      []streamGroup
	Fingerprints []string
	Hidden       bool // some targets are private and the viewer is anonymous
}

func (p *homePage) title() string { return "Pier" }

// streamGroup is one stream's targets, by distro and release.
type streamGroup struct {
	Stream  string
	Targets []repo.TargetInfo
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, func(v *viewer) error {
		// Heads, not Targets: the package counts shown are the published
		// ones (the current generation's), which need no count of rows.
		ts, err := s.d.Service.Heads(r.Context())
		if err != nil {
			return err
		}
		live := repo.LiveTargets(ts)
		vis := s.visible(v, live)
		p := &homePage{Fingerprints: s.d.Fingerprints(), Hidden: len(vis) < len(live) && v.p == nil}
		for _, t := range vis {
			if n := len(p.Streams); n == 0 || p.Streams[n-1].Stream != t.Stream {
				p.Streams = append(p.Streams, streamGroup{Stream: t.Stream})
			}
			g := &p.Streams[len(p.Streams)-1]
			g.Targets = append(g.Targets, t)
		}
		s.render(w, r, http.StatusOK, "home", v, p)
		return nil
	})
}

// setupFiler is the optional format power behind the API's one-file setup
// downloads (api/setupfiles.go): the paths it serves a target's setup at.
type setupFiler interface {
	SetupFilePaths(t repo.Target) []string
}

// targetPage is the data of a target's page.
type targetPage struct {
	T       *repo.TargetInfo
	Private bool
	Setup   string
	// SetupFiles are the one-file setup downloads the API serves for the
	// target (pier.sources, pier.repo, pier.repositories).
	SetupFiles []string
	// Rows are this page's packages.
	Rows    []packageRow
	Total   int // packages matching the filter
	All     int // packages of the target
	Archs   []string
	Filter  packageFilter
	Pages   []pageLink
	Prev    string
	Next    string
	Audit   bool
	Publish bool
}

func (p *targetPage) title() string { return p.T.Target.String() }

// packageRow is one row of a target's package list.
type packageRow struct {
	repo.Package
	Uploader string
}

// packageFilter is the list's query: name substring, architecture, sort
// key (name, version, uploaded) and order, page.
type packageFilter struct {
	Name, Arch, Sort string
	Desc             bool
	Page             int
}

// pageLink is one link of the pagination.
type pageLink struct {
	N       int
	URL     string
	Current bool
}

func (f packageFilter) url(base string, page int) string {
	q := url.Values{}
	if f.Name != "" {
		q.Set("name", f.Name)
	}
	if f.Arch != "" {
		q.Set("arch", f.Arch)
	}
	if f.Sort != "" && f.Sort != "name" {
		q.Set("sort", f.Sort)
	}
	if f.Desc {
		q.Set("order", "desc")
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if len(q) == 0 {
		return base
	}
	return base + "?" + q.Encode()
}

func parseFilter(r *http.Request) packageFilter {
	q := r.URL.Query()
	f := packageFilter{Name: strings.TrimSpace(q.Get("name")), Arch: q.Get("arch"), Sort: q.Get("sort"), Desc: q.Get("order") == "desc"}
	if !slices.Contains([]string{"name", "version", "uploaded"}, f.Sort) {
		f.Sort = "name"
	}
	f.Page, _ = strconv.Atoi(q.Get("page"))
	f.Page = max(f.Page, 1)
	return f
}

func (s *Server) target(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, func(v *viewer) error {
		ti, err := s.targetOf(r, v)
		if err != nil {
			return err
		}
		p, err := s.targetData(r, v, ti, parseFilter(r))
		if err != nil {
			return err
		}
		s.render(w, r, http.StatusOK, "target", v, p)
		return nil
	})
}

// targetData builds a target's page: setup text, one page of its package
// list filtered and sorted.
func (s *Server) targetData(r *http.Request, v *viewer, ti *repo.TargetInfo, f packageFilter) (*targetPage, error) {
	ctx := r.Context()
	t := ti.Target
	p := &targetPage{T: ti, Filter: f, Private: s.d.Auth != nil && s.d.Auth.Private(t), Audit: s.seesAudit(v),
		Publish: v.p.Allows(auth.Publish, t)}
	ks, err := s.keys.get(ctx, ti)
	if err != nil {
		return nil, err
	}
	if ti.Current != nil {
		fprs := s.d.Fingerprints()
		setup, err := s.d.Service.SetupText(ctx, t, repo.SetupInfo{BaseURL: s.baseURL(r), Fingerprint: first(fprs),
			Fingerprints: fprs, Private: p.Private, Components: ks.comps})
		if err != nil && !errors.Is(err, repo.ErrNotFound) {
			return nil, err
		}
		p.Setup = setup
		if spec, err := s.d.Service.Spec(t.Distro); err == nil {
			if sf, ok := spec.Format.(setupFiler); ok {
				for _, path := range sf.SetupFilePaths(t) {
					p.SetupFiles = append(p.SetupFiles, "/"+path)
				}
			}
		}
	}
	p.All, p.Archs = len(ks.pkgs), ks.archs
	name := strings.ToLower(f.Name)
	var kept []*repo.Package
	for i := range ks.pkgs {
		pk := &ks.pkgs[i]
		if (name == "" || strings.Contains(strings.ToLower(pk.Name), name)) && (f.Arch == "" || pk.Arch == f.Arch) {
			kept = append(kept, pk)
		}
	}
	byName := func(a, b *repo.Package) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c // versions compared only within a name (cmp.Or evaluates every argument)
		}
		return cmp.Or(s.d.Service.Compare(t, a.Version, b.Version), strings.Compare(a.Arch, b.Arch))
	}
	order := byName
	switch f.Sort {
	case "version":
		order = func(a, b *repo.Package) int {
			if c := s.d.Service.Compare(t, a.Version, b.Version); c != 0 {
				return c
			}
			return byName(a, b)
		}
	case "uploaded":
		order = func(a, b *repo.Package) int {
			if c := a.Uploaded.Compare(b.Uploaded); c != 0 {
				return c
			}
			return byName(a, b)
		}
	}
	if f.Desc {
		asc := order
		order = func(a, b *repo.Package) int { return asc(b, a) }
	}
	p.Total = len(kept)
	size := s.cfg.PageSize
	pages := max((p.Total+size-1)/size, 1)
	f.Page = min(f.Page, pages)
	p.Filter.Page = f.Page
	// Only the rows of this page need sorting in full: select them first.
	from, to := (f.Page-1)*size, min(f.Page*size, p.Total)
	rows := topK(kept, to, order)[from:]
	base := "/targets/" + url.PathEscape(t.Stream) + "/" + url.PathEscape(t.Distro) + "/" + url.PathEscape(t.Release)
	for n := 1; n <= pages; n++ {
		if n == 1 || n == pages || (n >= f.Page-3 && n <= f.Page+3) {
			p.Pages = append(p.Pages, pageLink{N: n, URL: f.url(base, n), Current: n == f.Page})
		}
	}
	if f.Page > 1 {
		p.Prev = f.url(base, f.Page-1)
	}
	if f.Page < pages {
		p.Next = f.url(base, f.Page+1)
	}
	var uploaders map[string]string
	if p.Audit && len(rows) > 0 {
		if uploaders, err = s.uploaders(ctx, t); err != nil {
			return nil, err
		}
	}
	for _, pk := range rows {
		p.Rows = append(p.Rows, packageRow{Package: *pk, Uploader: uploaders[pk.SHA256]})
	}
	return p, nil
}

// topK returns the k first elements of ps in order, sorted, reordering ps.
// A page of 50 out of 10,000 needs a partial selection, not a full sort.
func topK(ps []*repo.Package, k int, order func(a, b *repo.Package) int) []*repo.Package {
	if k <= 0 {
		return nil
	}
	if k >= len(ps)/4 {
		slices.SortFunc(ps, order)
		return ps[:k]
	}
	// A bounded insertion: keep the k smallest seen so far, sorted.
	best := make([]*repo.Package, 0, k+1)
	for _, p := range ps {
		if len(best) == k && order(p, best[k-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(best, p, order)
		best = slices.Insert(best, i, p)
		if len(best) > k {
			best = best[:k]
		}
	}
	return best
}

// uploaders maps the sha256 of t's packages to the token that uploaded
// them, from the audit log.
func (s *Server) uploaders(ctx context.Context, t repo.Target) (map[string]string, error) {
	evs, err := s.d.Audit.AuditEvents(ctx, audit.Query{Target: t.String(), Action: audit.Upload, Limit: audit.MaxLimit})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range evs {
		var d struct {
			SHA256  string `json:"sha256"`
			Outcome string `json:"outcome"`
		}
		if json.Unmarshal(e.Detail, &d) == nil && d.Outcome == "created" && d.SHA256 != "" {
			if _, seen := out[d.SHA256]; !seen {
				out[d.SHA256] = e.Actor
			}
		}
	}
	return out, nil
}

func first(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}

// packagePage is the data of /packages/{name}.
type packagePage struct {
	Name    string
	Targets []packageTarget
	Sel     *repo.Package
	SelT    repo.Target
	Details *repo.Details
	// Files are the first maxFiles of Details.Files; More counts the rest.
	Files    []string
	More     int
	Download string
	Install  string
}

func (p *packagePage) title() string { return p.Name }

// maxFiles bounds the file list a package page shows.
const maxFiles = 500

// packageTarget is one target holding versions of the package.
type packageTarget struct {
	T        repo.Target
	Versions []repo.Package
}

func (s *Server) packagePage(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, func(v *viewer) error {
		if s.d.Search == nil {
			return &httpError{http.StatusNotFound, "package pages need a catalog with a search index"}
		}
		ctx := r.Context()
		name := r.PathValue("name")
		heads, err := s.d.Service.Heads(ctx)
		if err != nil {
			return err
		}
		var ids []int64
		for _, t := range s.visible(v, heads) {
			ids = append(ids, t.ID)
		}
		hits, err := s.d.Search.PackagesNamed(ctx, name, ids)
		if err != nil {
			return err
		}
		if len(hits) == 0 {
			return notFound()
		}
		p := &packagePage{Name: name}
		for _, h := range hits {
			if n := len(p.Targets); n == 0 || p.Targets[n-1].T != h.Target {
				p.Targets = append(p.Targets, packageTarget{T: h.Target})
			}
			pt := &p.Targets[len(p.Targets)-1]
			pt.Versions = append(pt.Versions, h.Package)
		}
		for i := range p.Targets {
			pt := &p.Targets[i]
			slices.SortFunc(pt.Versions, func(a, b repo.Package) int {
				return cmp.Or(-s.d.Service.Compare(pt.T, a.Version, b.Version), strings.Compare(a.Arch, b.Arch))
			})
		}
		slices.SortFunc(p.Targets, func(a, b packageTarget) int { return strings.Compare(a.T.String(), b.T.String()) })
		q := r.URL.Query()
		sel, selT := &p.Targets[0].Versions[0], p.Targets[0].T
		if tq := q.Get("target"); tq != "" {
			found := false
			for _, pt := range p.Targets {
				for i, pv := range pt.Versions {
					if pt.T.String() == tq && pv.Version == q.Get("version") && pv.Arch == q.Get("arch") {
						sel, selT, found = &pt.Versions[i], pt.T, true
					}
				}
			}
			if !found {
				return notFound()
			}
		}
		full, err := s.d.Service.FindPackage(ctx, selT, sel.Name, sel.Version, sel.Arch)
		if err != nil {
			return err
		}
		p.Sel, p.SelT = full, selT
		if p.Details, err = s.d.Service.Describe(selT, full); err != nil && !errors.Is(err, repo.ErrNotFound) {
			return err
		}
		if p.Details != nil {
			p.Files = p.Details.Files
			if len(p.Files) > maxFiles {
				p.Files, p.More = p.Files[:maxFiles], len(p.Files)-maxFiles
			}
		}
		if path := s.d.Service.PackagePath(selT, full); path != "" {
			p.Download = "/" + path
		}
		p.Install = s.d.Service.InstallCommand(selT, full)
		s.render(w, r, http.StatusOK, "package", v, p)
		return nil
	})
}

// searchPage is the data of /search.
type searchPage struct {
	Q       string
	ByFile  bool
	Hits    []repo.SearchHit
	Limit   int
	Pending bool // the file index is still catching up
	Took    time.Duration
}

func (p *searchPage) title() string {
	if p.Q == "" {
		return "Search"
	}
	return "Search: " + p.Q
}

// searchLimit bounds a search's results.
const searchLimit = 200

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, func(v *viewer) error {
		start := time.Now()
		p := &searchPage{Q: strings.TrimSpace(r.URL.Query().Get("q")), Limit: searchLimit}
		if len(p.Q) > 256 {
			return &httpError{http.StatusBadRequest, "the search text is longer than 256 bytes"}
		}
		if p.Q != "" {
			if s.d.Search == nil {
				return &httpError{http.StatusNotFound, "search needs a catalog with a search index"}
			}
			ctx := r.Context()
			heads, err := s.d.Service.Heads(ctx)
			if err != nil {
				return err
			}
			var ids []int64
			for _, t := range s.visible(v, heads) {
				ids = append(ids, t.ID)
			}
			// New uploads are indexed here too, a batch at a time, so a
			// search right after an upload finds them.
			more, err := s.index.catchUp(ctx, searchCatchUp)
			if err != nil {
				return err
			}
			p.Pending = more
			p.ByFile = strings.HasPrefix(p.Q, "/")
			if p.ByFile {
				p.Hits, err = s.d.Search.SearchFiles(ctx, p.Q, ids, searchLimit)
				if err != nil {
					return err
				}
			} else if p.Hits, err = s.d.Search.SearchNames(ctx, p.Q, ids, searchLimit); err != nil {
				return err
			}
		}
		p.Took = time.Since(start).Round(time.Millisecond)
		s.render(w, r, http.StatusOK, "search", v, p)
		return nil
	})
}

// historyPage is the data of a target's history.
type historyPage struct {
	T           *repo.TargetInfo
	Generations []generationRow
	Publish     bool
	Audit       bool
	Done        string
}

func (p *historyPage) title() string { return "History of " + p.T.Target.String() }

// generationRow is one generation with who made it (for viewers who see
// the audit log).
type generationRow struct {
	repo.Generation
	Current  bool
	Retained bool
	Actor    string
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, func(v *viewer) error {
		ti, err := s.targetOf(r, v)
		if err != nil {
			return err
		}
		ctx := r.Context()
		gens, err := s.d.Service.Generations(ctx, ti.Target)
		if err != nil {
			return err
		}
		kept, err := s.d.Service.Retained(ctx, ti)
		if err != nil {
			return err
		}
		p := &historyPage{T: ti, Publish: v.p.Allows(auth.Publish, ti.Target), Audit: s.seesAudit(v), Done: r.URL.Query().Get("done")}
		actors := map[int64]string{}
		if p.Audit {
			evs, err := s.d.Audit.AuditEvents(ctx, audit.Query{Target: ti.Target.String(), Limit: audit.MaxLimit})
			if err != nil {
				return err
			}
			for _, e := range evs {
				var d struct {
					Generation int64 `json:"generation"`
				}
				if (e.Action == audit.Publish || e.Action == audit.Rollback) && json.Unmarshal(e.Detail, &d) == nil && d.Generation > 0 {
					if _, seen := actors[d.Generation]; !seen {
						actors[d.Generation] = e.Actor
					}
				}
			}
		}
		for _, g := range gens {
			row := generationRow{Generation: g, Actor: actors[g.Seq],
				Current:  ti.Current != nil && g.Seq == ti.Current.Seq,
				Retained: slices.ContainsFunc(kept, func(k repo.Generation) bool { return k.Seq == g.Seq })}
			p.Generations = append(p.Generations, row)
		}
		s.render(w, r, http.StatusOK, "history", v, p)
		return nil
	})
}

// diffPage is the data of a diff between two generations.
type diffPage struct {
	T    *repo.TargetInfo
	Diff *repo.GenerationDiff
}

func (p *diffPage) title() string { return "Changes in " + p.T.Target.String() }

func (s *Server) diff(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, func(v *viewer) error {
		ti, err := s.targetOf(r, v)
		if err != nil {
			return err
		}
		from, err1 := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
		to, err2 := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64)
		if err1 != nil || err2 != nil || from < 1 || to < 1 {
			return &httpError{http.StatusBadRequest, "a diff needs from=N and to=M, two generation numbers"}
		}
		d, err := s.d.Service.DiffGenerations(r.Context(), ti.Target, from, to)
		if err != nil {
			return err
		}
		s.render(w, r, http.StatusOK, "diff", v, &diffPage{T: ti, Diff: d})
		return nil
	})
}

// rollback republishes a generation's package set: a form post from the
// history page, with the session's form token, by a viewer holding publish
// on the target. It is audited like the API's rollback.
func (s *Server) rollback(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	s.page(w, r, func(v *viewer) error {
		ti, err := s.targetOf(r, v)
		if err != nil {
			return err
		}
		if err := checkForm(r, v); err != nil {
			return err
		}
		t := ti.Target
		if !v.p.Allows(auth.Publish, t) {
			return &httpError{http.StatusForbidden, "rollback needs a token with publish on " + t.String()}
		}
		seq, err := strconv.ParseInt(r.PostFormValue("generation"), 10, 64)
		if err != nil || seq < 1 {
			return &httpError{http.StatusBadRequest, "rollback needs a generation number"}
		}
		ev := &audit.Event{Actor: v.Name(), Action: audit.Rollback, Target: t.String(), Remote: s.d.ClientAddr(r),
			Detail: audit.Detail(map[string]any{"to": seq, "via": "web"})}
		ctx := r.Context()
		if s.d.Audit != nil {
			ctx = audit.WithEvent(ctx, ev)
		}
		gen, err := s.d.Service.Rollback(ctx, t, seq)
		if err != nil {
			return err
		}
		if s.d.Audit != nil && !ev.Recorded() {
			ev.Set("generation", gen.Seq)
			if err := s.d.Audit.RecordAudit(context.WithoutCancel(ctx), ev); err != nil {
				s.d.Log.Error("web: record audit event", "action", ev.Action, "target", ev.Target, "err", err)
			}
		}
		s.d.Log.Info("web: rollback", "target", t.String(), "to", seq, "generation", gen.Seq, "token", v.Name())
		u := "/targets/" + url.PathEscape(t.Stream) + "/" + url.PathEscape(t.Distro) + "/" + url.PathEscape(t.Release) +
			"/history?done=" + strconv.FormatInt(gen.Seq, 10)
		http.Redirect(w, r, u, http.StatusSeeOther)
		return nil
	})
}
