package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

// TestSmallFileServeMatchesServeContent: a small file served with its
// prepared headers answers every request exactly as http.ServeContent
// does (status, every header, body), plain GET and HEAD (the prepared
// path) and ranges and conditional requests (ServeContent's own), for a
// file with a time and one without.
func TestSmallFileServeMatchesServeContent(t *testing.T) {
	body := []byte("Origin: Pier\nLabel: Pier\nSuite: bookworm\n")
	mod := time.Date(2026, 12, 4, 14, 39, 41, 0, time.UTC)
	for _, modTime := range []time.Time{mod, {}, time.Unix(0, 0)} {
		f := repo.Served{SHA256: "85cf3bbc167cda3ac10c99d373427abb5525ba9db9495fa1c1b6eb12984e224c", Size: int64(len(body)),
			Kind: repo.KindRoot, ModTime: modTime}
		const path = "deb/5.8/debian/dists/bookworm/InRelease"
		sf := newSmallFile(path, f, body)
		for _, tc := range []struct {
			name   string
			method string
			hdr    map[string]string
		}{
			{"GET", "GET", nil},
			{"HEAD", "HEAD", nil},
			{"range", "GET", map[string]string{"Range": "bytes=0-9"}},
			{"bad range", "GET", map[string]string{"Range": "bytes=900-999"}},
			{"if-none-match hit", "GET", map[string]string{"If-None-Match": `"` + f.SHA256 + `"`}},
			{"if-none-match miss", "GET", map[string]string{"If-None-Match": `"other"`}},
			{"if-modified-since", "GET", map[string]string{"If-Modified-Since": mod.Format(http.TimeFormat)}},
			{"if-unmodified-since", "GET", map[string]string{"If-Unmodified-Since": mod.Add(-time.Hour).Format(http.TimeFormat)}},
			{"if-match miss", "GET", map[string]string{"If-Match": `"other"`}},
			{"if-range", "GET", map[string]string{"Range": "bytes=0-3", "If-Range": `"other"`}},
			{"POST", "POST", nil},
		} {
			t.Run(tc.name+"/"+modTime.String(), func(t *testing.T) {
				r := httptest.NewRequest(tc.method, "/"+path, nil)
				for k, v := range tc.hdr {
					r.Header.Set(k, v)
				}
				got := httptest.NewRecorder()
				sf.serve(got, r)
				want := httptest.NewRecorder()
				for k, v := range fileHeader(path, f) {
					want.Header()[k] = v
				}
				http.ServeContent(want, r, "", modTime, bytes.NewReader(body))
				if got.Code != want.Code || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
					t.Errorf("status %d, body %q; ServeContent: %d, %q", got.Code, got.Body, want.Code, want.Body)
				}
				if !reflect.DeepEqual(got.Header(), want.Header()) {
					t.Errorf("header\n%v\nServeContent's\n%v", got.Header(), want.Header())
				}
			})
		}
	}
}
