package e2e

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// releaseField returns a field of a Release file.
func releaseField(release, name string) string {
	for _, l := range strings.Split(release, "\n") {
		if v, ok := strings.CutPrefix(l, name+": "); ok {
			return v
		}
	}
	return ""
}

// releaseTime parses a Release date field.
func releaseTime(t *testing.T, release, name string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC1123, releaseField(release, name))
	if err != nil {
		t.Fatalf("Release %s: %v\n%s", name, err, release)
	}
	return v
}

// TestValidUntil publishes, with deb.valid_days 7, on a clock set 8 days
// back (the test hook PIER_TEST_CLOCK_FILE): the Release is already expired
// and the real apt-get refuses it. Then the clock moves to now and Pier, on
// its own (no upload, no publish request), re-signs the roots with a fresh
// Date and Valid-Until; the same apt-get client then updates and downloads.
func TestValidUntil(t *testing.T) {
	need(t, "apt-get")
	dir := t.TempDir()
	clock := filepath.Join(dir, "clock")
	if err := os.WriteFile(clock, []byte("-192h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "pier.yaml")
	os.WriteFile(cfg, []byte("log_level: debug\ndeb:\n  valid_days: 7\n  resign_margin: 48h\n"), 0o644)
	s := startServer(t, "", "PIER_CONFIG="+cfg, "PIER_TEST_CLOCK_FILE="+clock)

	deb := mkdeb(t, "fresh", "1.0-1", "amd64", "valid until")
	if code, reply := s.upload("5.8/debian/bookworm", deb, "?publish=false"); code != http.StatusCreated {
		t.Fatalf("upload: %d %v", code, reply)
	}
	s.publish("5.8/debian/bookworm")
	_, rel, _ := s.get("/deb/5.8/dists/bookworm/Release")
	date, until := releaseTime(t, string(rel), "Date"), releaseTime(t, string(rel), "Valid-Until")
	if d := time.Since(date); d < 191*time.Hour || d > 193*time.Hour {
		t.Fatalf("Date %v is not 8 days ago", date)
	}
	if !until.Equal(date.Add(7*24*time.Hour)) || !until.Before(time.Now()) {
		t.Fatalf("Valid-Until %v, Date %v", until, date)
	}
	_, inRelease, _ := s.get("/deb/5.8/dists/bookworm/InRelease")
	if !bytes.Contains(inRelease, []byte("Valid-Until: "+releaseField(string(rel), "Valid-Until"))) {
		t.Fatal("InRelease does not carry the Valid-Until of Release")
	}

	// Expired: apt-get refuses it.
	apt := newApt(t, sourceLine(writeKey(t, s, t.TempDir()), s.url, "5.8", "bookworm"))
	out, err := apt.run("update")
	if err == nil && len(problems(out)) == 0 {
		t.Fatalf("apt-get update accepted an expired Release:\n%s", out)
	}
	if !strings.Contains(out, "expired") {
		t.Fatalf("apt-get update failed, but not because the Release expired:\n%s", out)
	}
	// Nothing re-signs while the (skewed) clock says the roots are fresh:
	// two whole expiry checks pass without a change.
	checks := strings.Count(s.logs(), "checked roots for expiry")
	waitFor(t, 30*time.Second, "two expiry checks", func() bool {
		return strings.Count(s.logs(), "checked roots for expiry") >= checks+2
	})
	if _, again, _ := s.get("/deb/5.8/dists/bookworm/Release"); !bytes.Equal(again, rel) {
		t.Fatal("the Release changed before it was due")
	}

	// The clock catches up: Pier re-signs on its own.
	if err := os.WriteFile(clock, []byte("0s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	var fresh []byte
	for {
		_, fresh, _ = s.get("/deb/5.8/dists/bookworm/Release")
		if !bytes.Equal(fresh, rel) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Pier did not re-sign the expired Release\n%s", s.logs())
		}
		time.Sleep(250 * time.Millisecond)
	}
	newDate, newUntil := releaseTime(t, string(fresh), "Date"), releaseTime(t, string(fresh), "Valid-Until")
	if d := time.Since(newDate); d < -10*time.Second || d > time.Minute {
		t.Errorf("re-signed Date %v is not now", newDate)
	}
	if !newUntil.Equal(newDate.Add(7 * 24 * time.Hour)) {
		t.Errorf("re-signed Valid-Until %v, Date %v", newUntil, newDate)
	}
	if !strings.Contains(s.logs(), "re-signing roots before they expire") {
		t.Errorf("the log does not say why it published:\n%s", s.logs())
	}
	// Same packages, one more generation, and no upload was needed.
	code, body := s.do("GET", "/api/v1/targets", nil)
	if code != 200 || !strings.Contains(string(body), `"packages":1`) {
		t.Errorf("targets: %d %s", code, body)
	}

	apt.update()
	if got := apt.download("fresh:amd64"); !bytes.Equal(got, deb) {
		t.Error("downloaded bytes differ from the upload")
	}
}
