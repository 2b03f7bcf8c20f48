package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestMayRoute: the guard in front of the mux never hides a request the
// mux answers (a route, or the redirect of an unclean path), and lets
// repository files, keys and the API past without a mux match.
func TestMayRoute(t *testing.T) {
	s := &Server{mux: http.NewServeMux()}
	s.routes()
	for _, tc := range []struct {
		path string
		repo bool // a path the mux never takes: must skip it
	}{
		{"/", false},
		{"/targets/5.8/debian/bookworm", false},
		{"/targets/5.8/debian/bookworm/history", false},
		{"/targets/5.8/debian/bookworm/rollback", false},
		{"/packages/hello", false},
		{"/search", false},
		{"/signin", false},
		{"/signout", false},
		{"/static/app.css", false},
		{"/%74argets/5.8/debian/bookworm", false},
		{"/deb//5.8/x", false},
		{"/deb/5.8/../../targets/a/b/c", false},
		{"/deb/./5.8", false},
		{"/deb/5.8/debian/dists/bookworm/InRelease", true},
		{"/deb/5.8/debian/pool/main/h/hello/0123456789ab/hello_1.0_amd64.deb", true},
		{"/rpm/5.8/el/9/repodata/repomd.xml", true},
		{"/apk/5.8/alpine/v3.20/main/x86_64/APKINDEX.tar.gz", true},
		{"/keys/pier.asc", true},
		{"/api/v1/targets", true},
		{"/setup/5.8/debian/bookworm", true},
	} {
		for _, method := range []string{"GET", "HEAD", "POST"} {
			r := httptest.NewRequest(method, tc.path, nil)
			_, pattern := s.mux.Handler(r)
			may := s.mayRoute(r.URL.Path)
			if pattern != "" && !may {
				t.Errorf("%s %s: the mux answers it (%q) but mayRoute skips it", method, tc.path, pattern)
			}
			if tc.repo && may {
				t.Errorf("%s %s: mayRoute sends a repository path to the mux", method, tc.path)
			}
		}
	}
}
