package e2e

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metric returns the value of the series name (with its labels, as
// /metrics prints them) on s, or -1 when s does not export it.
func (s *server) metric(name string) float64 {
	s.t.Helper()
	_, body, _ := s.get("/metrics")
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// waitUploadsInFlight waits until s is receiving n uploads: the event
// tests wait on instead of sleeping after starting a slow upload.
func waitUploadsInFlight(t *testing.T, s *server, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, "uploads in flight", func() bool { return s.metric("pier_uploads_in_progress") >= float64(n) })
}

// waitLog waits until s's log holds text.
func waitLog(t *testing.T, s *server, text string) {
	t.Helper()
	waitFor(t, 30*time.Second, "the log line "+strconv.Quote(text), func() bool { return strings.Contains(s.logs(), text) })
}

// uploading reports whether the server at url is receiving an upload
// (pier_uploads_in_progress > 0); for goroutines, which cannot fail a test.
func uploading(url string) bool {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "pier_uploads_in_progress "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && f > 0
		}
	}
	return false
}
