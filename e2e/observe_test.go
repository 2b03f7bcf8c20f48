package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// scrape returns the value of every sample in /metrics by its full name
// with labels, e.g. `pier_uploads_total{format="deb",result="created"}`.
func scrape(t *testing.T, s *server) map[string]float64 {
	t.Helper()
	code, body, _ := s.get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err == nil {
			out[l[:i]] = v
		}
	}
	return out
}

// TestObservability scrapes /metrics before and after uploads and a
// publish (the counters move), checks the request id of an upload in its
// reply, its response header and the server's JSON log, and that /readyz
// fails while the blob store cannot be written.
func TestObservability(t *testing.T) {
	s := startServer(t, "")
	before := scrape(t, s)
	good := mkdeb(t, "obs", "1.0", "amd64", "obs")
	req, _ := http.NewRequest("POST", s.url+"/api/v1/targets/5.8/debian/bookworm/packages?publish=false", bytes.NewReader(good))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("X-Request-Id", "ci-job-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var reply struct {
		RequestID string `json:"request_id"`
	}
	jsonDecode(t, resp, &reply)
	if resp.StatusCode != 201 || reply.RequestID != "ci-job-42" || resp.Header.Get("X-Request-Id") != "ci-job-42" {
		t.Errorf("request id: %d reply %q header %q", resp.StatusCode, reply.RequestID, resp.Header.Get("X-Request-Id"))
	}
	if code, r := s.upload("5.8/debian/bookworm", []byte("not a package"), ""); code != 422 || r["request_id"] == "" {
		t.Errorf("bad upload: %d %v", code, r)
	}
	s.publish("5.8/debian/bookworm")
	after := scrape(t, s)
	for name, delta := range map[string]float64{
		`pier_uploads_total{format="deb",result="created"}`:                                              1,
		`pier_uploads_rejected_total{format="deb",reason="bad_package"}`:                                 1,
		`pier_publishes_total{format="deb",result="ok"}`:                                                 1,
		`pier_http_requests_total{code="201",route="/api/v1/targets/:stream/:distro/:release/packages"}`: 1,
		`pier_signing_operations_total{kind="clearsign"}`:                                                1,
	} {
		if got := after[name] - before[name]; got < delta {
			t.Errorf("%s moved by %v, want at least %v", name, got, delta)
		}
	}
	if after[`pier_target_packages{format="deb",target="5.8/debian/bookworm"}`] != 1 ||
		after[`pier_target_bytes{format="deb",target="5.8/debian/bookworm"}`] != float64(len(good)) {
		t.Errorf("target gauges: %v %v", after[`pier_target_packages{format="deb",target="5.8/debian/bookworm"}`],
			after[`pier_target_bytes{format="deb",target="5.8/debian/bookworm"}`])
	}
	if !strings.Contains(s.logs(), `"id":"ci-job-42"`) {
		t.Errorf("the JSON log has no line with the request id")
	}

	if code, _, _ := s.get("/readyz"); code != 200 {
		t.Fatalf("/readyz: %d", code)
	}
	// Make the blob store unwritable: its write area becomes a file.
	tmp := filepath.Join(s.data, "blobs", ".tmp")
	os.RemoveAll(tmp)
	os.WriteFile(tmp, []byte("in the way"), 0o644)
	code, body, _ := s.get("/readyz")
	if code != 503 || !strings.Contains(string(body), "blob store") {
		t.Errorf("/readyz with an unwritable blob store: %d %s", code, body)
	}
	os.Remove(tmp)
	os.Mkdir(tmp, 0o755)
	if code, body, _ := s.get("/readyz"); code != 200 {
		t.Errorf("/readyz after repair: %d %s", code, body)
	}

	// The request log is written in groups by one goroutine: a burst of
	// concurrent requests is logged whole, one line each, and what is
	// still queued when serve stops is written before it exits.
	const burst = 100
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", s.url+"/readyz", nil)
			req.Header.Set("X-Request-Id", fmt.Sprintf("burst-%03d", i))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("burst request %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	s.stop()
	seen := map[string]int{}
	for line := range strings.SplitSeq(s.logs(), "\n") {
		if !strings.Contains(line, `"id":"burst-`) {
			continue
		}
		var l struct{ Msg, ID string }
		if err := json.Unmarshal([]byte(line), &l); err != nil || l.Msg != "request" {
			t.Errorf("log line is not one whole request line (%v): %q", err, line)
			continue
		}
		seen[l.ID]++
	}
	for i := range burst {
		if id := fmt.Sprintf("burst-%03d", i); seen[id] != 1 {
			t.Errorf("request %s logged %d times, want once", id, seen[id])
		}
	}
}

func jsonDecode(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
