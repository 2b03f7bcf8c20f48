package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func withToken(t *testing.T, s *server, method, path, token string, body io.Reader) int {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, body)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// slowUpload starts an upload whose body arrives in two halves; send the
// second half by closing release. It returns the status once answered.
func slowUpload(s *server, token string, pkg []byte) (release chan struct{}, status chan int) {
	release, status = make(chan struct{}), make(chan int, 1)
	pr, pw := io.Pipe()
	go func() {
		pw.Write(pkg[:len(pkg)/2])
		<-release
		pw.Write(pkg[len(pkg)/2:])
		pw.Close()
	}()
	go func() {
		req, _ := http.NewRequest("POST", s.url+"/api/v1/targets/5.8/debian/bookworm/packages", pr)
		req.Header.Set("Authorization", "Bearer "+token)
		req.ContentLength = int64(len(pkg))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	return release, status
}

// TestSIGHUPTokens: a changed token file takes effect on SIGHUP (old token
// refused, new accepted) while an upload in flight with the old token
// completes; an invalid config is refused and the old one stays in force.
func TestSIGHUPTokens(t *testing.T) {
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	os.WriteFile(tokFile, []byte("tok-one\n"), 0o600)
	cfg := filepath.Join(dir, "pier.yaml")
	os.WriteFile(cfg, []byte("auth:\n  admin_token_file: "+tokFile+"\n"), 0o600)
	s := startServer(t, "", "PIER_CONFIG="+cfg, "PIER_ADMIN_TOKEN=")
	if code := withToken(t, s, "GET", "/api/v1/targets", "tok-one", nil); code != 200 {
		t.Fatalf("tok-one: %d", code)
	}
	release, status := slowUpload(s, "tok-one", mkdeb(t, "hup", "1.0", "amd64", strings.Repeat("h", 1<<20)))
	waitUploadsInFlight(t, s, 1)

	os.WriteFile(tokFile, []byte("tok-two\n"), 0o600)
	s.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for withToken(t, s, "GET", "/api/v1/targets", "tok-two", nil) != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("tok-two never accepted after SIGHUP\n%s", s.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := withToken(t, s, "GET", "/api/v1/targets", "tok-one", nil); code != 401 {
		t.Errorf("tok-one after reload: %d", code)
	}
	close(release)
	if code := <-status; code != 201 {
		t.Errorf("upload in flight across SIGHUP: %d", code)
	}

	os.WriteFile(cfg, []byte("auth:\n  admin_token_file: "+tokFile+"\nnot_a_key: 1\n"), 0o600)
	os.WriteFile(tokFile, []byte("tok-three\n"), 0o600)
	s.cmd.Process.Signal(syscall.SIGHUP)
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(s.logs(), "reload refused") {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal logged\n%s", s.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(s.logs(), "not_a_key") {
		t.Errorf("the log does not say why the reload was refused")
	}
	if withToken(t, s, "GET", "/api/v1/targets", "tok-two", nil) != 200 || withToken(t, s, "GET", "/api/v1/targets", "tok-three", nil) != 401 {
		t.Errorf("after a refused reload the old token must stay in force")
	}
}

// TestSIGTERMDuringUpload: SIGTERM while an upload streams in: the upload
// completes and is acknowledged, the server exits 0, nothing half-written
// remains, and after a restart the package is there.
func TestSIGTERMDuringUpload(t *testing.T) {
	s := startServer(t, "")
	pkg := mkdeb(t, "term", "1.0", "amd64", strings.Repeat("t", 4<<20))
	release, status := slowUpload(s, testToken, pkg)
	waitUploadsInFlight(t, s, 1)
	s.cmd.Process.Signal(syscall.SIGTERM)
	waitLog(t, s, "shutting down")
	close(release)
	if code := <-status; code != 201 {
		t.Fatalf("upload across SIGTERM: %d\n%s", code, s.logs())
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}
	if s.waitErr != nil {
		t.Errorf("exit status: %v\n%s", s.waitErr, s.logs())
	}
	if ents := tempFiles(filepath.Join(s.data, "tmp")); len(ents) != 0 {
		t.Errorf("leftovers in tmp: %v", ents)
	}
	r := startServer(t, s.data)
	code, body := r.do("GET", "/api/v1/targets/5.8/debian/bookworm/packages", nil)
	if code != 200 || !bytes.Contains(body, []byte(`"name":"term"`)) {
		t.Errorf("after restart: %d %s", code, body)
	}
}

// TestSdNotify: under a Type=notify unit pier sends READY=1 once it
// listens, RELOADING=1/READY=1 around a SIGHUP and STOPPING=1 on SIGTERM.
func TestSdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	next := func(want string) {
		t.Helper()
		select {
		case msg := <-got:
			if !strings.HasPrefix(msg, want) {
				t.Errorf("notify: %q, want %q", msg, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no %q notification", want)
		}
	}
	s := startServer(t, "", "NOTIFY_SOCKET="+sock)
	next("READY=1")
	if code, _, _ := s.get("/healthz"); code != 200 {
		t.Errorf("healthz after READY: %d", code)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	next("RELOADING=1")
	next("READY=1")
	s.cmd.Process.Signal(syscall.SIGTERM)
	next("STOPPING=1")
}

// TestSIGHUPReload: SIGHUP applies changed target settings (deb origin) and
// a new mirror while serving: the next publish carries the new Origin and
// lands in the new mirror, which GET /api/v1/mirrors lists.
func TestSIGHUPReload(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "pier.yaml")
	os.WriteFile(cfg, []byte("deb:\n  origin: First\n"), 0o600)
	s := startServer(t, "", "PIER_CONFIG="+cfg)
	if code, r := s.upload("5.8/debian/bookworm", mkdeb(t, "reload-a", "1.0", "amd64", "a"), "?publish=false"); code != 201 {
		t.Fatalf("upload: %d %v", code, r)
	}
	s.publish("5.8/debian/bookworm")
	if _, b, _ := s.get("/deb/5.8/dists/bookworm/Release"); !bytes.Contains(b, []byte("Origin: First\n")) {
		t.Fatalf("Release:\n%s", b)
	}
	mirrorDir := t.TempDir()
	os.WriteFile(cfg, []byte("deb:\n  origin: Second\nmirrors:\n  - name: www\n    type: dir\n    path: "+mirrorDir+"\n"), 0o600)
	s.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.logs(), "reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged\n%s", s.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, r := s.upload("5.8/debian/bookworm", mkdeb(t, "reload-b", "1.0", "amd64", "b"), "?publish=false"); code != 201 {
		t.Fatalf("upload: %d %v", code, r)
	}
	s.publish("5.8/debian/bookworm")
	if _, b, _ := s.get("/deb/5.8/dists/bookworm/Release"); !bytes.Contains(b, []byte("Origin: Second\n")) {
		t.Errorf("Release after reload:\n%s", b)
	}
	for {
		b, err := os.ReadFile(filepath.Join(mirrorDir, "deb/5.8/dists/bookworm/Release"))
		if err == nil && bytes.Contains(b, []byte("Origin: Second\n")) {
			break
		}
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("the new mirror never got the new generation")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := s.do("GET", "/api/v1/mirrors", nil); code != 200 || !bytes.Contains(body, []byte(`"name":"www"`)) {
		t.Errorf("mirrors after reload: %d %s", code, body)
	}
}
