package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// targetState is the publish state of a target in GET /api/v1/targets.
type targetState struct {
	Stream, Distro, Release string
	State                   string `json:"publish_state"`
	Error                   string `json:"publish_error"`
	Revision                int64  `json:"revision"`
}

// waitPublished waits until every target in targets is in publish state
// "published", at most within; it fails the test with the states it saw.
func (s *server) waitPublished(within time.Duration, targets ...string) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, body := s.do("GET", "/api/v1/targets", nil)
		if code != 200 {
			s.t.Fatalf("GET /api/v1/targets: %d %s", code, body)
		}
		var ts []targetState
		if err := json.Unmarshal(body, &ts); err != nil {
			s.t.Fatalf("decode targets: %v", err)
		}
		states := map[string]targetState{}
		for _, t := range ts {
			states[t.Stream+"/"+t.Distro+"/"+t.Release] = t
		}
		done := true
		for _, t := range targets {
			done = done && states[t].State == "published"
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("targets not published within %s: %+v\n%s", within, states, s.logs())
		}
		time.Sleep(100 * time.Millisecond) // polling an observable state, bounded by the deadline
	}
}

// acked is an upload Pier acknowledged: where it is published and the
// sha256 of the bytes served there.
type acked struct{ path, sha256 string }

// TestCrashAcknowledgedUploads kills pier serve with SIGKILL at random
// moments while 8 clients upload debs and rpms in parallel; after each
// restart, every upload that got a 2xx is served within 10 s, with its
// bytes, without any further request (no upload, no publish), and the
// published repositories pass pier verify. Before the fix, tens of
// acknowledged packages per round stayed unpublished.
func TestCrashAcknowledgedUploads(t *testing.T) {
	data := t.TempDir()
	const debTarget, rpmTarget = "5.8/debian/bookworm", "5.8/el/9"
	rounds := 3
	var mu sync.Mutex
	all := map[string]acked{}
	for round := range rounds {
		s := startServer(t, data)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		counts := make([]int, 8)
		for c := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					name := fmt.Sprintf("r%dc%dn%d", round, c, i)
					var pkg []byte
					target := debTarget
					if c%2 == 1 {
						target = rpmTarget
						pkg = mkrpm(t, "p"+name, "", "1.0", "amd64", name)
					} else {
						pkg = mkdeb(t, "p"+name, "1.0", "amd64", name)
					}
					code, path, err := uploadPath(s, target, pkg)
					if err != nil || code/100 != 2 {
						continue // refused or cut by the kill: not acknowledged
					}
					sum := sha256.Sum256(pkg)
					mu.Lock()
					all[name] = acked{path, hex.EncodeToString(sum[:])}
					mu.Unlock()
					counts[c]++
				}
			}()
		}
		time.Sleep(time.Duration(300+rand.IntN(900)) * time.Millisecond) // a random moment of the upload stream
		s.kill()
		close(stop)
		wg.Wait()
		n := 0
		for _, c := range counts {
			n += c
		}
		r := startServer(t, data)
		start := time.Now()
		r.waitPublished(10*time.Second, debTarget, rpmTarget)
		took := time.Since(start)
		missing := 0
		mu.Lock()
		for name, a := range all {
			code, body, _ := r.get("/" + a.path)
			sum := sha256.Sum256(body)
			if code != 200 || hex.EncodeToString(sum[:]) != a.sha256 {
				missing++
				t.Errorf("round %d: acknowledged %s not served at %s (%d)", round, name, a.path, code)
			}
		}
		total := len(all)
		mu.Unlock()
		t.Logf("round %d: %d uploads acknowledged this round, %d in all; all served %s after restart; %d missing",
			round, n, total, took.Round(10*time.Millisecond), missing)
		r.stop()
	}
	t.Logf("pier verify:\n%s", pier(t, nil, "verify", "--data", data))
}

// uploadPath uploads pkg to target and returns the status and the path the
// package is published at.
func uploadPath(s *server, target string, pkg []byte) (int, string, error) {
	req, _ := http.NewRequest("POST", s.url+"/api/v1/targets/"+target+"/packages", bytes.NewReader(pkg))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var r struct{ Path string }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return resp.StatusCode, "", err
	}
	return resp.StatusCode, r.Path, nil
}

// TestPublishAfterDiskFull: with the data dir on a small tmpfs, a publish
// that fails because the disk is full leaves the previous generation
// served, the target says failed with the error, /readyz stays honest,
// and once space is back Pier publishes on its own (no further request):
// the package acknowledged before the disk filled is served.
func TestPublishAfterDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test mounts a tmpfs")
		}
		t.Skip("needs root to mount a tmpfs")
	}
	need(t, "mount")
	data := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", data).Run() })
	const target = "5.8/debian/bookworm"
	s := startServer(t, data)
	first := mkdeb(t, "first", "1.0", "amd64", "first")
	if code, r := s.upload(target, first, ""); code != 201 {
		t.Fatalf("upload: %d %v", code, r)
	}
	s.waitPublished(10*time.Second, target)
	_, before, _ := s.get("/deb/5.8/debian/dists/bookworm/InRelease")

	second := mkdeb(t, "second", "1.0", "amd64", strings.Repeat("payload ", 1000))
	code, path, err := uploadPath(s, target, append([]byte(nil), second...))
	if err != nil || code != 201 {
		t.Fatalf("upload second: %d %v", code, err)
	}
	// Fill the disk, leaving a few KB: the publish cannot store its indexes.
	filler := filepath.Join(data, "filler")
	var st syscall.Statfs_t
	if err := syscall.Statfs(data, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<16)
	for written := int64(0); written < free-8<<10; written += int64(len(chunk)) {
		if _, err := f.Write(chunk[:min(int64(len(chunk)), free-8<<10-written)]); err != nil {
			break
		}
	}
	f.Close()
	pcode, body := s.do("POST", "/api/v1/targets/"+target+"/publish", nil)
	if pcode < 500 {
		t.Fatalf("publish on a full disk answered %d %s", pcode, body)
	}
	if _, after, _ := s.get("/deb/5.8/debian/dists/bookworm/InRelease"); !bytes.Equal(before, after) {
		t.Errorf("the served InRelease changed during the failed publish")
	}
	code, tbody := s.do("GET", "/api/v1/targets", nil)
	if code != 200 || !strings.Contains(string(tbody), `"publish_state":"failed"`) || !strings.Contains(string(tbody), "no space left") {
		t.Errorf("targets during the failure: %d %s", code, tbody)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	s.waitPublished(30*time.Second, target)
	if code, got, _ := s.get("/" + path); code != 200 || !bytes.Equal(got, second) {
		t.Errorf("the package acknowledged before the disk filled is not served after space came back: %d", code)
	}
}
