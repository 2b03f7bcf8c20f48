package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCrashSafety kills pier serve with SIGKILL at each named point of an
// upload and of a publish (PIER_TEST_CRASHPOINT), and in the middle of a
// streaming upload; after a restart every acknowledged upload is there, the
// target serves the previous or the new generation (real apt-get update
// succeeds), and no temp file is left.
func TestCrashSafety(t *testing.T) {
	need(t, "apt-get")
	data := t.TempDir()
	const target = "5.8/debian/bookworm"
	acked := map[string][]byte{}

	s := startServer(t, data)
	base := mkdeb(t, "base", "1.0", "amd64", "base")
	if code, r := s.upload(target, base, "?publish=false"); code != 201 {
		t.Fatalf("upload: %d %v", code, r)
	}
	acked["base"] = base
	s.publish(target)
	key := writeKey(t, s, t.TempDir())
	s.stop()

	check := func(s *server, point string) {
		t.Helper()
		// Through the distro-less alias: a data dir written before canonical
		// paths keeps being served there.
		apt := newApt(t, aliasSourceLine(key, s.url, "5.8", "bookworm"))
		apt.update()
		// Every acknowledged package is recorded, and a publish now serves it.
		s.publish(target)
		apt.update()
		for name, want := range acked {
			if got := apt.download(name + ":amd64"); !bytes.Equal(got, want) {
				t.Errorf("after crash at %s: %s differs", point, name)
			}
		}
		for _, dir := range []string{"tmp", "blobs/.tmp"} {
			ents := tempFiles(filepath.Join(data, dir))
			if len(ents) != 0 {
				t.Errorf("after crash at %s: leftovers in %s: %v", point, dir, ents)
			}
		}
	}

	points := []string{"upload.received", "upload.stored", "upload.recorded", "publish.before-switch", "publish.after-switch"}
	for i, point := range points {
		s := startServer(t, data, "PIER_TEST_CRASHPOINT="+point)
		name := fmt.Sprintf("crash%d", i)
		pkg := mkdeb(t, name, "1.0", "amd64", point)
		query := ""
		if strings.HasPrefix(point, "publish.") {
			// The upload itself must succeed; the publish it triggers crashes.
			query = "?publish=false"
		}
		code, err := tryUpload(s, target, pkg, query)
		if err == nil && (code == 201 || code == 200) {
			acked[name] = pkg
		}
		if strings.HasPrefix(point, "publish.") {
			if code != 201 {
				t.Fatalf("%s: upload failed: %d %v", point, code, err)
			}
			req, _ := http.NewRequest("POST", s.url+"/api/v1/targets/"+target+"/publish", nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				t.Fatalf("%s: publish answered %d, expected the process to die", point, resp.StatusCode)
			}
		}
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: server did not crash", point)
		}
		t.Logf("%s: upload status %d err %v", point, code, err)
		r := startServer(t, data)
		check(r, point)
		r.stop()
	}

	// SIGKILL in the middle of a streaming upload.
	s = startServer(t, data)
	big := mkdeb(t, "big", "1.0", "amd64", strings.Repeat("0123456789abcdef", 1<<20))
	pr, pw := io.Pipe()
	go func() {
		pw.Write(big[:len(big)/2])
		// Kill once the server is receiving it (bounded: a lost event
		// kills it anyway and the test then checks nothing half-done).
		for deadline := time.Now().Add(30 * time.Second); !uploading(s.url) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		s.kill()
		pw.CloseWithError(io.ErrUnexpectedEOF)
	}()
	req, _ := http.NewRequest("POST", s.url+"/api/v1/targets/"+target+"/packages", pr)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 300 {
			t.Fatalf("half upload acknowledged: %d", resp.StatusCode)
		}
	}
	r := startServer(t, data)
	check(r, "mid-stream")
}

func tryUpload(s *server, target string, pkg []byte, query string) (int, error) {
	req, _ := http.NewRequest("POST", s.url+"/api/v1/targets/"+target+"/packages"+query, bytes.NewReader(pkg))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
