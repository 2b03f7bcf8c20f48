package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
)

// FuzzRequests: whatever method, path, Content-Type and body a client
// with the admin token sends (uploads in any framing, JSON bodies, query
// parameters), the answer is never a 5xx, and every error is a JSON
// message.
func FuzzRequests(f *testing.F) {
	const tg = "/api/v1/targets/5.8/debian/bookworm"
	deb := mkdeb(f, "seed", "1.0")
	mp, ct := multipartBody(f, [2]string{"file", string(deb)})
	for _, s := range []struct {
		method, path, ct string
		body             []byte
	}{
		{"POST", tg + "/packages?publish=false", "application/octet-stream", deb},
		{"POST", tg + "/packages?publish=false", ct, mp},
		{"POST", tg + "/packages?publish=false", ct, mp[:len(mp)/2]},
		{"POST", tg + "/packages?publish=false", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--x--\r\n")},
		{"POST", tg + "/packages?publish=maybe&component=a%2Fb", "", []byte("x")},
		{"POST", tg + "/promote", "application/json", []byte(`{"from":"5.8/debian/bookworm","packages":["seed=1.0"],"publish":false}`)},
		{"POST", tg + "/rollback", "application/json", []byte(`{"generation":-1}`)},
		{"POST", "/api/v1/tokens", "application/json", []byte(`{"name":"n","scopes":["read:5.8/*/*"],"expires":"1d"}`)},
		{"GET", "/api/v1/audit?since=1h&limit=5&target=5.8/*", "", nil},
		{"DELETE", tg + "/packages/seed/1.0/amd64?publish=false", "", nil},
		{"PUT", tg + "/pins/seed/1.0", "", nil},
		{"POST", tg + "/prune?dry_run=true", "", nil},
		{"GET", "/setup/5.8/debian/bookworm", "", nil},
		{"HEAD", "/api/v1/targets", "", nil},
	} {
		f.Add(s.method, s.path, s.ct, s.body)
	}
	e := newEnv(f, auth.Config{Failures: -1}, api.Config{})
	f.Fuzz(func(t *testing.T, method, path, ct string, body []byte) {
		if strings.Contains(path, "/publish") && !strings.Contains(path, "publish=false") {
			return // scheduled publishes outlive the test (publish.delay of an hour)
		}
		r, err := http.NewRequest(method, path, bytes.NewReader(body))
		if err != nil || r.URL.IsAbs() || !strings.HasPrefix(r.URL.Path, "/") {
			return
		}
		r.Header.Set("Authorization", "Bearer "+adminSecret)
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { e.h.ServeHTTP(w, r); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s %s (%q, %d bytes): no answer after 10s", method, path, ct, len(body))
		}
		if w.Code >= 500 {
			t.Fatalf("%s %s (%q, %d bytes): %d %s", method, path, ct, len(body), w.Code, w.Body)
		}
		if w.Code >= 400 && method != http.MethodHead {
			var eb struct{ Error string }
			var many []struct{ Error string }
			if (json.Unmarshal(w.Body.Bytes(), &eb) != nil || eb.Error == "") && (json.Unmarshal(w.Body.Bytes(), &many) != nil || len(many) == 0) {
				t.Fatalf("%s %s: %d without a JSON message: %q", method, path, w.Code, w.Body)
			}
		}
	})
}
