package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lastUpload returns the detail of the newest upload in the audit log.
func lastUpload(t *testing.T, s *server) map[string]any {
	t.Helper()
	code, body := s.do("GET", "/api/v1/audit?action=upload&limit=1", nil)
	var es []struct {
		Detail map[string]any `json:"detail"`
	}
	if code != 200 || json.Unmarshal(body, &es) != nil {
		t.Fatalf("audit: %d %s", code, body)
	}
	if len(es) == 0 {
		return nil
	}
	return es[0].Detail
}

// uploadsLeft lists the upload temp files in the server's data dir.
func uploadsLeft(s *server) []string {
	m, _ := filepath.Glob(filepath.Join(s.data, "tmp", "upload-*"))
	return m
}

// serverClosed reads c until the server closes it and returns what it
// read; it fails when the server keeps it open for limit.
func serverClosed(t *testing.T, c net.Conn, limit time.Duration) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(limit))
	var got bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the server kept the connection open for %s (read %q)", limit, got.Bytes())
			}
			return got.Bytes()
		}
	}
}

func dial(t *testing.T, s *server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestConnectionTimeouts runs pier serve with 2 s limits: an idle
// keep-alive connection and a connection that never sends a request are
// closed by the server; an upload trickling at 10 bytes/s is cut (408,
// audited as "timeout", its temp file removed) while the rest of the
// server is unaffected; a client that hangs up mid-upload is logged at
// INFO, audited as 499 "aborted" and counted as 499, never as a server
// error.
func TestConnectionTimeouts(t *testing.T) {
	s := configServer(t, "server:\n  idle_timeout: 2s\n  read_header_timeout: 2s\n  body_min_rate: 1KiB\n  body_rate_window: 2s\n")
	pkg := mkdeb(t, "trickled", "1.0", "amd64", strings.Repeat("payload ", 200))
	const up = "/api/v1/targets/5.8/debian/bookworm/packages?publish=false"

	t.Run("idle keep-alive", func(t *testing.T) {
		c := dial(t, s)
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: pier\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 || resp.Close {
			t.Fatalf("keep-alive request: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		start := time.Now()
		if rest := serverClosed(t, c, 30*time.Second); len(rest) != 0 {
			t.Errorf("more bytes on an idle connection: %q", rest)
		}
		t.Logf("idle connection closed after %s", time.Since(start).Round(100*time.Millisecond))
	})
	t.Run("silent connection", func(t *testing.T) {
		serverClosed(t, dial(t, s), 30*time.Second)
	})
	t.Run("upload at 10 bytes/s", func(t *testing.T) {
		c := dial(t, s)
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: pier\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", up, testToken, len(pkg))
		go func() {
			for _, b := range pkg {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond) // the slow client
			}
		}()
		start := time.Now()
		got := serverClosed(t, c, 60*time.Second)
		if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 408")) {
			t.Errorf("reply to the slow upload: %q", got)
		}
		t.Logf("slow upload cut after %s", time.Since(start).Round(100*time.Millisecond))
		waitFor(t, 10*time.Second, "the slow upload to be audited", func() bool {
			d := lastUpload(t, s)
			return d["outcome"] == "timeout" && d["status"] == float64(408)
		})
		waitFor(t, 10*time.Second, "the upload's temp file to go", func() bool { return len(uploadsLeft(s)) == 0 })
		if code, r := s.upload("5.8/debian/bookworm", mkdeb(t, "fast", "1.0", "amd64", "x"), "?publish=false"); code != 201 {
			t.Errorf("a normal upload after the cut: %d %v", code, r)
		}
	})
	t.Run("client hangs up mid-upload", func(t *testing.T) {
		c := dial(t, s)
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: pier\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", up, testToken, len(pkg))
		c.Write(pkg[:len(pkg)/2])
		c.Close()
		waitFor(t, 10*time.Second, "the aborted upload to be audited", func() bool {
			d := lastUpload(t, s)
			return d["outcome"] == "aborted" && d["status"] == float64(499)
		})
		waitFor(t, 10*time.Second, "the upload's temp file to go", func() bool { return len(uploadsLeft(s)) == 0 })
		m := scrape(t, s)
		if m[`pier_http_requests_total{code="499",route="/api/v1/targets/:stream/:distro/:release/packages"}`] != 1 {
			t.Errorf("the aborted upload is not counted as 499")
		}
		for k, v := range m {
			if strings.HasPrefix(k, `pier_http_requests_total{code="5`) && v > 0 {
				t.Errorf("a server error was counted: %s", k)
			}
		}
		waitFor(t, 10*time.Second, "the abort in the log", func() bool {
			return strings.Contains(s.logs(), `"level":"INFO","msg":"client went away mid-request"`)
		})
		if strings.Contains(s.logs(), `"level":"ERROR"`) {
			t.Errorf("an ERROR was logged:\n%s", s.logs())
		}
	})
}

// TestUploadCapPerClient: with max_uploads_per_client 2, a third upload
// from the same address while two run gets 429 with Retry-After, before
// its body is read; once they end, uploads go through again.
func TestUploadCapPerClient(t *testing.T) {
	s := configServer(t, "server:\n  max_uploads_per_client: 2\n")
	const up = "/api/v1/targets/5.8/debian/bookworm/packages?publish=false"
	type held struct {
		release chan struct{}
		code    chan int
	}
	hold := func(name string) held {
		pkg := mkdeb(t, name, "1.0", "amd64", name)
		h := held{make(chan struct{}), make(chan int, 1)}
		pr, pw := io.Pipe()
		go func() {
			pw.Write(pkg[:len(pkg)/2])
			<-h.release
			pw.Write(pkg[len(pkg)/2:])
			pw.Close()
		}()
		go func() {
			req, _ := http.NewRequest("POST", s.url+up, pr)
			req.ContentLength = int64(len(pkg))
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				h.code <- 0
				return
			}
			resp.Body.Close()
			h.code <- resp.StatusCode
		}()
		return h
	}
	a, b := hold("held-a"), hold("held-b")
	waitFor(t, 20*time.Second, "two uploads in progress", func() bool { return scrape(t, s)["pier_uploads_in_progress"] == 2 })

	req, _ := http.NewRequest("POST", s.url+up, bytes.NewReader(mkdeb(t, "third", "1.0", "amd64", "3")))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(body), "already runs 2 uploads") {
		t.Errorf("third upload: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	// (The server's stderr reaches the test through a pipe, a little later.)
	waitFor(t, 10*time.Second, "the refusal in the log", func() bool {
		return strings.Contains(s.logs(), `"level":"WARN","msg":"write refused"`) && strings.Contains(s.logs(), `"status":429`)
	})
	close(a.release)
	close(b.release)
	if ca, cb := <-a.code, <-b.code; ca != 201 || cb != 201 {
		t.Errorf("held uploads: %d %d", ca, cb)
	}
	if code, r := s.upload("5.8/debian/bookworm", mkdeb(t, "third", "1.0", "amd64", "3"), "?publish=false"); code != 201 {
		t.Errorf("the third upload once the others ended: %d %v", code, r)
	}
}

// TestPushDir: `pier push TARGET DIR` walks the directory as pier import
// does (.deb, .rpm and .apk files, other files skipped); a directory
// without packages and a path that is not a regular file are refused
// before anything is sent; the server never answers 5xx.
func TestPushDir(t *testing.T) {
	s := startServer(t, "")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "a.deb"), mkdeb(t, "dir-a", "1.0", "amd64", "a"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "b.deb"), mkdeb(t, "dir-b", "1.0", "amd64", "b"), 0o644)
	os.WriteFile(filepath.Join(dir, "NOTES.txt"), []byte("not a package"), 0o644)
	env := []string{"PIER_SERVER=" + s.url, "PIER_TOKEN=" + testToken}
	out := pier(t, env, "push", "5.8/debian/bookworm", dir)
	for _, want := range []string{"added dir-a 1.0 amd64 " + filepath.Join(dir, "a.deb"), "added dir-b 1.0 amd64 " + filepath.Join(dir, "sub", "b.deb")} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "NOTES") {
		t.Errorf("push sent NOTES.txt:\n%s", out)
	}
	before := scrape(t, s)
	for _, c := range []struct{ arg, says string }{
		{t.TempDir(), "no package files found"},
		{"/dev/null", "/dev/null is not a regular file"},
		{filepath.Join(dir, "missing.deb"), "no such file"},
	} {
		cmd := exec.Command(pierBin, "push", "5.8/debian/bookworm", c.arg)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.says) {
			t.Errorf("push %s: %v, want a refusal saying %q:\n%s", c.arg, err, c.says, out)
		}
	}
	after := scrape(t, s)
	route := `pier_http_requests_total{code="201",route="/api/v1/targets/:stream/:distro/:release/packages"}`
	for k, v := range after {
		if strings.HasPrefix(k, "pier_http_requests_total") && v != before[k] && k != route && !strings.Contains(k, `route="/metrics"`) {
			t.Errorf("a refused push reached the server: %s", k)
		}
		if strings.HasPrefix(k, `pier_http_requests_total{code="5`) {
			t.Errorf("a server error was counted: %s", k)
		}
	}
}

// TestPushRetries429: pier push waits the Retry-After of a 429 (the
// token's uploads are at their cap) and sends the file again.
func TestPushRetries429(t *testing.T) {
	s := configServer(t, "server:\n  max_uploads_per_token: 1\n")
	pkg := mkdeb(t, "holder", "1.0", "amd64", "h")
	pr, pw := io.Pipe()
	release := make(chan struct{})
	go func() {
		pw.Write(pkg[:len(pkg)/2])
		<-release
		pw.Write(pkg[len(pkg)/2:])
		pw.Close()
	}()
	heldDone := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", s.url+"/api/v1/targets/5.8/debian/bookworm/packages?publish=false", pr)
		req.ContentLength = int64(len(pkg))
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			heldDone <- 0
			return
		}
		resp.Body.Close()
		heldDone <- resp.StatusCode
	}()
	waitFor(t, 20*time.Second, "the held upload", func() bool { return scrape(t, s)["pier_uploads_in_progress"] == 1 })

	file := filepath.Join(t.TempDir(), "pushed.deb")
	os.WriteFile(file, mkdeb(t, "pushed", "1.0", "amd64", "p"), 0o644)
	cmd := exec.Command(pierBin, "push", "--publish=false", "5.8/debian/bookworm", file)
	cmd.Env = append(os.Environ(), "PIER_SERVER="+s.url, "PIER_TOKEN="+testToken)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const refused = `pier_http_requests_total{code="429",route="/api/v1/targets/:stream/:distro/:release/packages"}`
	waitFor(t, 20*time.Second, "pier push to be refused 429", func() bool { return scrape(t, s)[refused] >= 1 })
	close(release)
	if code := <-heldDone; code != 201 {
		t.Errorf("held upload: %d", code)
	}
	if err := cmd.Wait(); err != nil || !strings.Contains(stdout.String(), "added pushed 1.0 amd64") ||
		!strings.Contains(stderr.String(), "429") || !strings.Contains(stderr.String(), "in 5s") {
		t.Errorf("pier push: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
}
