// Package e2e runs the pier binary as users do and checks it with the real
// clients (apt-get, …). Tests here skip when a client is missing only
// outside CI; with CI=true a missing tool is a failure.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var pierBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pier-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pierBin = filepath.Join(dir, "pier")
	// The test-only hooks (PIER_TEST_CRASHPOINT, PIER_TEST_CLOCK_FILE,
	// PIER_TEST_DEFAULT_CONFIG) exist only with -tags piertest.
	// PIER_E2E_RACE=1 builds pier with the race detector.
	args := []string{"build", "-tags", "piertest", "-o", pierBin}
	if os.Getenv("PIER_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/pier")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build pier:", err)
		os.Exit(1)
	}
	// Every pier the tests run ignores the host's /etc/pier/pier.yaml:
	// a test names its config (or sets PIER_TEST_DEFAULT_CONFIG itself).
	os.Setenv("PIER_TEST_DEFAULT_CONFIG", filepath.Join(dir, "no-default-config.yaml"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need returns the path of tool, skipping the test when it is missing
// outside CI and failing it in CI.
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI but not installed", tool)
		}
		t.Skipf("%s not installed", tool)
	}
	return p
}

const testToken = "test-admin-token"

// server is a running `pier serve`.
type server struct {
	t       testing.TB
	data    string
	url     string
	cmd     *exec.Cmd
	mu      sync.Mutex
	log     bytes.Buffer
	done    chan struct{}
	env     []string
	listen  string
	waitErr error
	// client makes the requests of do, get and getBasic (nil: the default
	// client; a TLS test sets one that trusts its CA).
	client *http.Client
	// redirect is the HTTP redirect listener's URL (tls.redirect_listen).
	redirect string
}

// httpClient is the client the helpers use.
func (s *server) httpClient() *http.Client {
	if s.client != nil {
		return s.client
	}
	return http.DefaultClient
}

// startServer runs pier serve on a free port with data dir data (a new temp
// dir when empty) and extra environment.
func startServer(t testing.TB, data string, env ...string) *server {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	s := &server{t: t, data: data, env: env, listen: "127.0.0.1:0"}
	s.start()
	t.Cleanup(func() {
		s.stop()
		if strings.Contains(s.logs(), "DATA RACE") {
			t.Errorf("pier serve reported a data race:\n%s", s.logs())
		}
	})
	return s
}

var (
	urlRE      = regexp.MustCompile(`serving .* on (https?://\S+)`)
	redirectRE = regexp.MustCompile(`redirecting (http://\S+) to https`)
)

func (s *server) start() {
	t := s.t
	t.Helper()
	cmd := exec.Command(pierBin, "serve", "--data", s.data, "--listen", s.listen)
	cmd.Env = append(os.Environ(), "PIER_ADMIN_TOKEN="+testToken)
	cmd.Env = append(cmd.Env, s.env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &lockedWriter{mu: &s.mu, w: &s.log}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			if m := urlRE.FindStringSubmatch(line); m != nil {
				urlc <- m[1]
			}
			if m := redirectRE.FindStringSubmatch(line); m != nil {
				s.mu.Lock()
				s.redirect = m[1]
				s.mu.Unlock()
			}
		}
	}()
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	select {
	case u := <-urlc:
		s.url = u
		// Keep the same port over restarts.
		s.listen = strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	case <-s.done:
		t.Fatalf("pier serve exited: %v\n%s", s.waitErr, s.logs())
	case <-time.After(120 * time.Second):
		t.Fatalf("pier serve did not start\n%s", s.logs())
	}
}

func (s *server) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// stop ends the server with SIGTERM.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// kill ends the server with SIGKILL and waits for it.
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// do sends a request with the admin token and returns status and body.
func (s *server) do(method, path string, body io.Reader, hdr ...string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.httpClient().Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// upload posts pkg as a raw body to target and returns status and reply.
func (s *server) upload(target string, pkg []byte, query string) (int, map[string]any) {
	s.t.Helper()
	code, body := s.do("POST", "/api/v1/targets/"+target+"/packages"+query, bytes.NewReader(pkg))
	var m map[string]any
	json.Unmarshal(body, &m)
	if m == nil {
		m = map[string]any{"raw": string(body)}
	}
	return code, m
}

// publish publishes target and fails the test on error.
func (s *server) publish(target string) {
	s.t.Helper()
	code, body := s.do("POST", "/api/v1/targets/"+target+"/publish", nil)
	if code != 200 {
		s.t.Fatalf("publish %s: %d %s", target, code, body)
	}
}

// get fetches a public path without a token.
func (s *server) get(path string) (int, []byte, http.Header) {
	s.t.Helper()
	resp, err := s.httpClient().Get(s.url + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// tempFiles lists the files in a temporary directory of a data dir
// (tmp/, blobs/.tmp/), leaving out the lock files by which running
// processes own their temporary files (.owner-*.lock).
func tempFiles(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".owner-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// configServer runs pier serve with a config file holding yaml.
func configServer(t *testing.T, yaml string) *server {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return startServer(t, "", "PIER_CONFIG="+cfg)
}

// waitFor polls cond every 20ms until it holds, failing the test after
// limit with what.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// getBasic fetches path with HTTP Basic pier:token, as a package manager
// (or curl -u) sends a read token.
func (s *server) getBasic(path, token string) (int, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.SetBasicAuth("pier", token)
	resp, err := s.httpClient().Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
