package web

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pierhq/pier/repo"
)

// treeRoots are the repository trees that get directory listings.
var treeRoots = []string{"deb/", "rpm/", "apk/"}

// listable reports whether r asks for a folder of a repository tree: a GET
// or HEAD of a path under deb/, rpm/ or apk/ that ends in "/", or that is
// no file but has files under it (answered with a redirect to the
// folder).
func (s *Server) listable(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if !slices.ContainsFunc(treeRoots, func(root string) bool { return strings.HasPrefix(p, root) || p+"/" == root }) {
		return false
	}
	if strings.HasSuffix(p, "/") {
		return true
	}
	if _, ok := s.d.Service.Lookup(p); ok {
		return false
	}
	for range s.d.Service.ServedPaths(p + "/") {
		return true
	}
	return false
}

// listingPage is the data of a directory listing.
type listingPage struct {
	Path    string
	Parent  string
	Crumbs  []crumb
	Entries []listEntry
}

func (p *listingPage) title() string { return "Index of /" + p.Path }

// crumb is one link of the path above a listing.
type crumb struct{ Name, URL string }

// listEntry is one file or folder of a listing.
type listEntry struct {
	Name    string
	URL     string
	Dir     bool
	Size    int64
	ModTime time.Time
}

// listing answers a folder of a repository tree with its entries, like a
// web server's autoindex: the folders and files right under it that the
// viewer may read (a file is readable when one of the targets holding it
// is, as the file itself is served). A folder with nothing readable is
// handed to next, which answers as for any missing path (401 under a
// private target, 404 elsewhere), so a listing reveals nothing a download
// would not.
func (s *Server) listing(w http.ResponseWriter, r *http.Request, next http.Handler) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	if !strings.HasSuffix(p, "/") {
		http.Redirect(w, r, "/"+p+"/", http.StatusMovedPermanently)
		return
	}
	v, err := s.viewer(r)
	if err != nil {
		s.fail(w, r, &viewer{}, err)
		return
	}
	readable := map[repo.Target]bool{}
	canRead := func(ts []repo.Target) bool {
		for _, t := range ts {
			ok, seen := readable[t]
			if !seen {
				ok = s.canRead(v, t)
				readable[t] = ok
			}
			if ok {
				return true
			}
		}
		return false
	}
	dirs := map[string]*listEntry{}
	var entries []listEntry
	for path := range s.d.Service.ServedPaths(p) {
		f, ok := s.d.Service.Lookup(path)
		if !ok || !canRead(f.Targets) {
			continue
		}
		rest := path[len(p):]
		if name, _, isDir := strings.Cut(rest, "/"); isDir {
			d := dirs[name]
			if d == nil {
				d = &listEntry{Name: name + "/", URL: "/" + p + name + "/", Dir: true}
				dirs[name] = d
			}
			if f.ModTime.After(d.ModTime) {
				d.ModTime = f.ModTime
			}
			continue
		}
		entries = append(entries, listEntry{Name: rest, URL: "/" + path, Size: f.Size, ModTime: f.ModTime})
	}
	if len(entries) == 0 && len(dirs) == 0 {
		next.ServeHTTP(w, r)
		return
	}
	for _, d := range dirs {
		entries = append(entries, *d)
	}
	slices.SortFunc(entries, func(a, b listEntry) int {
		if a.Dir != b.Dir {
			if a.Dir {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	lp := &listingPage{Path: p, Entries: entries}
	parts := strings.Split(strings.TrimSuffix(p, "/"), "/")
	for i := range parts {
		lp.Crumbs = append(lp.Crumbs, crumb{Name: parts[i], URL: "/" + strings.Join(parts[:i+1], "/") + "/"})
	}
	if len(parts) > 1 {
		lp.Parent = "/" + strings.Join(parts[:len(parts)-1], "/") + "/"
	} else {
		lp.Parent = "/"
	}
	s.render(w, r, http.StatusOK, "listing", v, lp)
}
