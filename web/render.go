package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/pierhq/pier/repo"
)

// pages are the parsed templates, one set per page (the layout and the
// page's own file).
type pages struct {
	byName map[string]*template.Template
}

// layoutData is what the layout template gets: the page's title and data,
// the viewer, and the asset URLs.
type layoutData struct {
	Title  string
	Viewer *viewer
	Page   any
	// Query is the search box's text.
	Query string
	// Path is the request's path (for the sign-in form's next).
	Path string
}

// loadPages parses every templates/*.html but the layout as one page each.
func loadPages(as *assets) (*pages, error) {
	funcs := template.FuncMap{
		"asset": func(name string) (string, error) { return as.url(name) },
		"bytes": humanBytes,
		"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"ago":   ago,
		"pathEscape": func(s string) string {
			return url.PathEscape(s)
		},
		"targetURL": func(t repo.Target) string {
			return "/targets/" + url.PathEscape(t.Stream) + "/" + url.PathEscape(t.Distro) + "/" + url.PathEscape(t.Release)
		},
		"packageURL": func(name string, t repo.Target, version, arch string) string {
			q := url.Values{}
			if version != "" {
				q.Set("target", t.String())
				q.Set("version", version)
				q.Set("arch", arch)
			}
			u := "/packages/" + url.PathEscape(name)
			if len(q) > 0 {
				u += "?" + q.Encode()
			}
			return u
		},
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: parse template %s: %w", n, err)
		}
		p.byName[base] = t
	}
	return p, nil
}

// render executes page name with data in the layout and sends it.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, v *viewer, data titled) {
	t, ok := s.pages.byName[name]
	if !ok {
		http.Error(w, "no template "+name, http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	ld := layoutData{Title: data.title(), Viewer: v, Page: data, Path: r.URL.RequestURI()}
	if sp, ok := data.(*searchPage); ok {
		ld.Query = sp.Q
	}
	if err := t.Execute(&buf, ld); err != nil {
		s.d.Log.Error("web: render", "page", name, "err", err)
		http.Error(w, "the page could not be rendered; the log says why", http.StatusInternalServerError)
		return
	}
	// Pages differ by viewer: no shared cache may keep them.
	w.Header().Set("Cache-Control", "private, no-cache")
	send(w, r, code, "text/html; charset=utf-8", buf.Bytes())
}

// titled is a page's data: it names the page's title.
type titled interface{ title() string }

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
}
