package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestNoLeakOfPrivateTargets: with a private target hush/ubuntu/zesty and
// public ones beside it, nothing an anonymous client can fetch names the
// private target's stream or release: /metrics (which sums it under
// target="private"), /setup of the private target, of public ones and of
// targets that do not exist (inside and outside the private pattern, with
// public neighbours of the same distro), API error bodies, a missing path,
// the private target's files, /keys, /healthz and /readyz, headers
// included. The same /setup with a read token on it does show it.
func TestNoLeakOfPrivateTargets(t *testing.T) {
	s := privateServer(t, "hush/*/*")
	for _, tg := range []string{"hush/ubuntu/zesty", "5.8/ubuntu/jammy", "5.8/debian/bookworm"} {
		if code, r := s.upload(tg, mkdeb(t, "leaky", "1.0", "amd64", tg), "?publish=false"); code != 201 {
			t.Fatalf("upload to %s: %d %v", tg, code, r)
		}
		s.publish(tg)
	}
	secret := []string{"hush", "zesty"}

	paths := []string{
		"/metrics",
		"/setup/hush/ubuntu/zesty",
		"/setup/hush/ubuntu/nothing",  // inside the private pattern, missing
		"/setup/5.8/ubuntu/nothing",   // missing, public neighbours share its distro
		"/setup/nothing/ubuntu/focal", // missing, same distro as the private target
		"/setup/5.8/ubuntu/jammy",
		"/setup/5.8/debian/bookworm",
		"/api/v1/targets",
		"/api/v1/targets/hush/ubuntu/zesty/packages",
		"/api/v1/targets/5.8/ubuntu/jammy/generations",
		"/api/v1/mirrors",
		"/api/v1/audit",
		"/api/v1/nothing",
		"/api/v1/targets/hush/ubuntu/zesty/publish", // GET on a POST route
		"/deb/hush/dists/zesty/InRelease",
		"/deb/hush/dists/zesty/Release",
		"/deb/nothing/dists/nothing/InRelease",
		"/nothing",
		"/keys/pier.asc",
		"/keys/nothing",
		"/healthz",
		"/readyz",
	}
	for _, p := range paths {
		for _, method := range []string{"GET", "HEAD", "POST"} {
			req, _ := http.NewRequest(method, s.url+p, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("%s %s: %d %s", method, p, resp.StatusCode, body)
			}
			var hdr strings.Builder
			resp.Header.Write(&hdr)
			for _, w := range secret {
				if strings.Contains(string(body), w) || strings.Contains(hdr.String(), w) {
					t.Errorf("%s %s (%d) shows %q:\n%s\n%s", method, p, resp.StatusCode, w, hdr.String(), body)
				}
			}
		}
	}
	// The aggregate is there, and the public targets keep their series.
	m := scrape(t, s)
	if m[`pier_target_packages{format="",target="private"}`] != 1 || m[`pier_target_packages{format="deb",target="5.8/ubuntu/jammy"}`] != 1 {
		t.Errorf("target gauges: private %v, 5.8/ubuntu/jammy %v", m[`pier_target_packages{format="",target="private"}`],
			m[`pier_target_packages{format="deb",target="5.8/ubuntu/jammy"}`])
	}
	// The private target's own setup and the 404 list show it to a reader.
	reader := readToken(t, s, "hush-reader", "hush/ubuntu/zesty")
	for _, c := range []struct{ path, want string }{
		{"/setup/hush/ubuntu/zesty", "zesty"},
		{"/setup/5.8/ubuntu/nothing", "hush/ubuntu/zesty"},
	} {
		req, _ := http.NewRequest("GET", s.url+c.path, nil)
		req.SetBasicAuth("pier", reader)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), c.want) {
			t.Errorf("%s with the read token: %d %s", c.path, resp.StatusCode, body)
		}
	}
}
