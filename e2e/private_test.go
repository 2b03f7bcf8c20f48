package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// This file proves tokens, private targets and the audit log with the
// built pier binary and the real clients: apt-get with an auth.conf entry
// and dnf with username/password in its .repo read a private target, and
// without (or with wrong) credentials they fail and the server answers 401.

// privateServer starts pier serve with the targets matching patterns
// private.
func privateServer(t *testing.T, private ...string) *server {
	t.Helper()
	q := make([]string, len(private))
	for i, p := range private {
		q[i] = fmt.Sprintf("%q", p)
	}
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	if err := os.WriteFile(cfg, []byte("auth:\n  private: ["+strings.Join(q, ", ")+"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return startServer(t, "", "PIER_CONFIG="+cfg)
}

// pier runs the pier binary with args and returns stdout; it fails the
// test when pier fails.
func pier(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(pierBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pier %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// createToken runs `pier token create` on the server's data dir and
// returns the token, the last line of stdout.
func createToken(t *testing.T, s *server, name string, args ...string) string {
	t.Helper()
	out := pier(t, nil, append([]string{"token", "create", name, "--data", s.data}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	tok := lines[len(lines)-1]
	if !regexp.MustCompile(`^pier_[0-9a-f]{64}$`).MatchString(tok) {
		t.Fatalf("pier token create: the last line is not a token:\n%s", out)
	}
	return tok
}

// answered reports whether the server logged an answer with status code
// to a request for path.
func answered(s *server, path string, code int) bool {
	return strings.Contains(s.logs(), fmt.Sprintf(`"path":%q,"status":%d`, path, code))
}

// heredoc returns the body of the first unquoted heredoc (<<EOF) in a
// setup text after the line containing marker, with $PIER_READ_TOKEN
// replaced by token.
func heredoc(t *testing.T, setup, marker, token string) string {
	t.Helper()
	_, rest, ok := strings.Cut(setup, marker)
	if ok {
		_, rest, ok = strings.Cut(rest, "<<EOF\n")
	}
	body, _, ok2 := strings.Cut(rest, "\nEOF\n")
	if !ok || !ok2 {
		t.Fatalf("no <<EOF block after %q in the setup text:\n%s", marker, setup)
	}
	if !strings.Contains(body, "$PIER_READ_TOKEN") {
		t.Fatalf("the block after %q does not use $PIER_READ_TOKEN:\n%s", marker, body)
	}
	return strings.ReplaceAll(body, "$PIER_READ_TOKEN", token) + "\n"
}

// TestPrivateApt: the real apt-get reads a private deb target with the
// auth.conf entry GET /setup prints and a read token made with
// `pier token create`; without credentials and with a wrong token it fails
// and the server answered 401, with a token of another target 403. A
// public target of the same server stays anonymous.
func TestPrivateApt(t *testing.T) {
	need(t, "apt-get")
	s := privateServer(t, "5.8/debian/bookworm")
	pkg := mkdeb(t, "private-hello", "1.0-1", "amd64", "secret payload")
	if code, r := s.upload("5.8/debian/bookworm", pkg, "?publish=false"); code != 201 {
		t.Fatalf("upload: %d %v", code, r)
	}
	if code, r := s.upload("5.7/debian/bookworm", mkdeb(t, "public-hello", "1.0-1", "amd64", "public"), "?publish=false"); code != 201 {
		t.Fatalf("upload: %d %v", code, r)
	}
	s.publish("5.8/debian/bookworm")
	s.publish("5.7/debian/bookworm")
	reader := createToken(t, s, "apt-reader", "--scope", "read:5.8/debian/*", "--expires", "1d")
	other := createToken(t, s, "other-reader", "--scope", "read:5.7/*/*")
	key := writeKey(t, s, t.TempDir())
	// /setup of a private target needs the read token too.
	if code, _, _ := s.get("/setup/5.8/debian/bookworm"); code != 401 {
		t.Errorf("/setup without a token: %d", code)
	}
	code, setupText := s.getBasic("/setup/5.8/debian/bookworm", reader)
	if code != 200 {
		t.Fatalf("/setup: %d", code)
	}
	const inrel = "/deb/5.8/debian/dists/bookworm/InRelease"

	for _, c := range []struct {
		name, token string
		code        int
	}{{"no credentials", "", 401}, {"wrong token", "pier_" + strings.Repeat("ab", 32), 401},
		{"token of another target", other, 403}} {
		before := answers(s, inrel, c.code)
		apt := newApt(t, sourceLine(key, s.url, "5.8", "bookworm"))
		if c.token != "" {
			apt.auth(heredoc(t, string(setupText), "auth.conf.d", c.token))
		}
		out, err := apt.run("update")
		if err == nil && len(problems(out)) == 0 {
			t.Errorf("%s: apt-get update succeeded on a private target:\n%s", c.name, out)
		}
		if !strings.Contains(out, fmt.Sprint(c.code)) {
			t.Errorf("%s: apt-get does not report %d:\n%s", c.name, c.code, out)
		}
		if apt.listsFor("5.8_dists_bookworm") {
			t.Errorf("%s: apt stored the private Packages list", c.name)
		}
		if !answeredSince(s, inrel, c.code, before) {
			t.Errorf("%s: the server did not answer %d for %s:\n%s", c.name, c.code, inrel, s.logs())
		}
	}

	apt := newApt(t, sourceLine(key, s.url, "5.8", "bookworm")+sourceLine(key, s.url, "5.7", "bookworm"))
	apt.auth(heredoc(t, string(setupText), "auth.conf.d", reader))
	apt.update()
	if got := apt.download("private-hello"); !bytes.Equal(got, pkg) {
		t.Error("apt-get download private-hello: bytes differ from the upload")
	}
	if got := apt.download("public-hello"); len(got) == 0 {
		t.Error("apt-get download public-hello failed")
	}
	if !answered(s, inrel, 200) {
		t.Errorf("no 200 for %s with the token", inrel)
	}
	// The public target needs no token.
	if code, _, _ := s.get("/deb/5.7/dists/bookworm/InRelease"); code != 200 {
		t.Errorf("public target: %d", code)
	}

	// Revoked, the token stops working at once.
	pier(t, nil, "token", "revoke", "apt-reader", "--data", s.data)
	apt = newApt(t, sourceLine(key, s.url, "5.8", "bookworm"))
	apt.auth(heredoc(t, string(setupText), "auth.conf.d", reader))
	if out, err := apt.run("update"); (err == nil && len(problems(out)) == 0) || !strings.Contains(out, "401") {
		t.Errorf("apt-get update with a revoked token:\n%s", out)
	}
}

// auth writes an entry into the client's auth.conf.d (mode 0600, as apt
// wants it).
func (a *aptClient) auth(entry string) {
	a.t.Helper()
	dir := filepath.Join(a.dir, "etc/auth.conf.d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		a.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pier.conf"), []byte(entry), 0o600); err != nil {
		a.t.Fatal(err)
	}
}

// TestPrivateDnf: the real dnf reads a private rpm target with the .repo
// that GET /setup prints (username/password) and a read token made through
// the API; without credentials and with a wrong password it fails and the
// server answered 401.
func TestPrivateDnf(t *testing.T) {
	need(t, "dnf")
	s := privateServer(t, "5.8/el/*")
	rpm := mkrpm(t, "private-hello", "", "1.0", "amd64", "el9 private")
	if code, r := s.upload("5.8/el/9", rpm, "?publish=false"); code != 201 {
		t.Fatalf("upload: %d %v", code, r)
	}
	s.publish("5.8/el/9")
	code, body := s.do("POST", "/api/v1/tokens", strings.NewReader(`{"name":"dnf-reader","scopes":["read:5.8/el/9"],"expires":"90d"}`))
	var made struct{ Token, Name string }
	if code != 201 || json.Unmarshal(body, &made) != nil || made.Token == "" {
		t.Fatalf("POST /api/v1/tokens: %d %s", code, body)
	}
	code, setupText := s.getBasic("/setup/5.8/el/9", made.Token)
	if code != 200 || !strings.Contains(string(setupText), "username=pier") {
		t.Fatalf("/setup/5.8/el/9: %d\n%s", code, setupText)
	}
	id := "pier-5.8-el-9"
	const repomd = "/rpm/5.8/el/9/repodata/repomd.xml"

	// Without credentials, and with a wrong token: 401, dnf fails.
	key, _ := rpmKeyring(t, s)
	noCreds := newDnf(t, "pier", dnfRepo("pier", s.url+"/rpm/5.8/el/9/"), key)
	if out, err := noCreds.run("makecache"); err == nil {
		t.Errorf("dnf makecache without credentials succeeded:\n%s", out)
	}
	wrong := newDnf(t, id, heredoc(t, string(setupText), "yum.repos.d", "pier_"+strings.Repeat("cd", 32)), nil)
	if out, err := wrong.run("makecache"); err == nil {
		t.Errorf("dnf makecache with a wrong token succeeded:\n%s", out)
	}
	if !answered(s, repomd, 401) {
		t.Errorf("the server did not answer 401 for %s:\n%s", repomd, s.logs())
	}

	// The setup .repo with the token: dnf verifies and downloads.
	dnf := newDnf(t, id, heredoc(t, string(setupText), "yum.repos.d", made.Token), nil)
	dnf.must("makecache")
	files, out, err := dnf.download("private-hello")
	if err != nil || !bytes.Equal(files["private-hello-1.0-1.x86_64.rpm"], rpm) {
		t.Errorf("dnf download private-hello with the token: %v\n%s", err, out)
	}
	if !answered(s, repomd, 200) {
		t.Errorf("no 200 for %s with the token", repomd)
	}
}

// TestTokenCLI: pier token create prints the token alone as the last line;
// list shows names, scopes, expiry and last use, never a token; the
// token's scope is enforced; an expired token is refused; revoke works on
// a running server's data dir; pier audit shows every token change with
// actor cli:<user>.
func TestTokenCLI(t *testing.T) {
	s := startServer(t, "")
	up := createToken(t, s, "ci-upload", "--scope", "upload:5.8/*/*", "--scope", "publish:5.8/*/*", "--expires", "90d")
	short := createToken(t, s, "short", "--scope", "read", "--expires", "1s")
	list := pier(t, nil, "token", "list", "--data", s.data)
	if !regexp.MustCompile(`(?m)^ci-upload\s+upload:5.8/\*/\* publish:5.8/\*/\*\s+\d{4}-\d\d-\d\dT\S+\s+-\s+api$`).MatchString(list) ||
		!regexp.MustCompile(`(?m)^admin\s+admin\s+never\s+-\s+config$`).MatchString(list) || strings.Contains(list, up) {
		t.Errorf("pier token list:\n%s", list)
	}
	pkg := mkdeb(t, "tok-cli", "1.0", "amd64", "x")
	if code := withToken(t, s, "POST", "/api/v1/targets/5.8/debian/bookworm/packages", up, bytes.NewReader(pkg)); code != 201 {
		t.Errorf("upload with the upload token: %d", code)
	}
	if code := withToken(t, s, "POST", "/api/v1/targets/5.7/debian/bookworm/packages", up, bytes.NewReader(pkg)); code != 403 {
		t.Errorf("upload to another stream: %d", code)
	}
	if code := withToken(t, s, "DELETE", "/api/v1/targets/5.8/debian/bookworm/packages/tok-cli/1.0/amd64", up, nil); code != 403 {
		t.Errorf("delete with the upload token: %d", code)
	}
	// The token expires one second after its creation: wait for that.
	waitFor(t, 10*time.Second, "the 1s token to expire (401)", func() bool {
		return withToken(t, s, "GET", "/api/v1/targets", short, nil) == 401
	})
	var js []map[string]any
	if err := json.Unmarshal([]byte(pier(t, nil, "token", "list", "--json", "--data", s.data)), &js); err != nil || len(js) != 3 {
		t.Errorf("pier token list --json: %v %v", err, js)
	}
	for _, e := range js {
		if e["name"] == "ci-upload" && e["last_used"] == nil {
			t.Errorf("ci-upload has no last use: %v", e)
		}
	}
	pier(t, nil, "token", "revoke", "ci-upload", "--data", s.data)
	if code := withToken(t, s, "POST", "/api/v1/targets/5.8/debian/bookworm/publish", up, nil); code != 401 {
		t.Errorf("revoked token: %d, want 401", code)
	}
	// Refusals: unknown scope, a configuration name, a taken name, a past expiry.
	for _, args := range [][]string{{"x", "--scope", "write"}, {"admin", "--scope", "read"}, {"short", "--scope", "read"},
		{"y", "--scope", "read", "--expires", "2001-01-01"}, {"z"}} {
		cmd := exec.Command(pierBin, append([]string{"token", "create", "--data", s.data}, args...)...)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("pier token create %v succeeded:\n%s", args, out)
		}
	}
	out := pier(t, nil, "audit", "--data", s.data, "--action", "token.create")
	if n := strings.Count(out, "token.create"); n != 2 || !strings.Contains(out, "cli:") || !strings.Contains(out, `"name":"ci-upload"`) {
		t.Errorf("pier audit --action token.create:\n%s", out)
	}
	if out := pier(t, nil, "audit", "--data", s.data, "--action", "token.revoke"); !strings.Contains(out, "ci-upload") {
		t.Errorf("pier audit --action token.revoke:\n%s", out)
	}
}

// TestAuditPush: pier push sends the CI job and commit from GitHub
// Actions' or GitLab CI's environment (flags override), and both
// GET /api/v1/audit and pier audit show who uploaded what from where.
func TestAuditPush(t *testing.T) {
	s := startServer(t, "")
	tok := createToken(t, s, "gh-actions", "--scope", "upload:nightly/*/*")
	dir := t.TempDir()
	a := filepath.Join(dir, "a.deb")
	b := filepath.Join(dir, "b.deb")
	os.WriteFile(a, mkdeb(t, "audit-a", "1.0", "amd64", "a"), 0o644)
	os.WriteFile(b, mkdeb(t, "audit-b", "1.0", "amd64", "b"), 0o644)
	gh := []string{"PIER_SERVER=" + s.url, "PIER_TOKEN=" + tok, "GITHUB_SERVER_URL=https://github.example", "GITHUB_REPOSITORY=acme/app",
		"GITHUB_RUN_ID=77", "GITHUB_SHA=deadbeef", "CI_JOB_URL=", "CI_COMMIT_SHA="}
	pier(t, gh, "push", "nightly/debian/bookworm", a)
	gl := []string{"PIER_SERVER=" + s.url, "PIER_TOKEN=" + tok, "GITHUB_RUN_ID=", "CI_JOB_URL=https://gitlab.example/acme/app/-/jobs/9",
		"CI_COMMIT_SHA=cafe"}
	pier(t, gl, "push", "--ci-commit", "f00d", "nightly/debian/bookworm", b)

	code, body := s.do("GET", "/api/v1/audit?action=upload&target=nightly/debian/bookworm", nil)
	var es []struct {
		Actor, Action, Target, Remote string
		CIJobURL                      string `json:"ci_job_url"`
		CICommit                      string `json:"ci_commit"`
		RequestID                     string `json:"request_id"`
		Detail                        map[string]any
	}
	if code != 200 || json.Unmarshal(body, &es) != nil || len(es) != 2 {
		t.Fatalf("GET /api/v1/audit: %d %s", code, body)
	}
	if e := es[1]; e.Actor != "gh-actions" || e.CIJobURL != "https://github.example/acme/app/actions/runs/77" || e.CICommit != "deadbeef" ||
		e.Remote != "127.0.0.1" || e.RequestID == "" || e.Detail["name"] != "audit-a" || e.Detail["status"] != float64(201) {
		t.Errorf("GitHub upload event: %+v", e)
	}
	if e := es[0]; e.CIJobURL != "https://gitlab.example/acme/app/-/jobs/9" || e.CICommit != "f00d" || e.Detail["name"] != "audit-b" {
		t.Errorf("GitLab upload event: %+v", e)
	}
	out := pier(t, nil, "audit", "--data", s.data, "--target", "nightly/*", "--limit", "1")
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "gh-actions") || !strings.Contains(out, "audit-b") ||
		!strings.Contains(out, "https://gitlab.example/acme/app/-/jobs/9 f00d") {
		t.Errorf("pier audit --target nightly/* --limit 1:\n%s", out)
	}
	var js []map[string]any
	if err := json.Unmarshal([]byte(pier(t, nil, "audit", "--json", "--data", s.data, "--actor", "gh-actions")), &js); err != nil || len(js) != 2 {
		t.Errorf("pier audit --json --actor gh-actions: %v %d", err, len(js))
	}
}

// TestTokenConfigReload: tokens named in the config (from the environment
// and from a file) work with their scopes and their names in the audit
// log; SIGHUP applies a changed token file and a changed list of private
// targets without a restart; an invalid auth section is refused and the
// running one stays.
func TestTokenConfigReload(t *testing.T) {
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "reader.token")
	os.WriteFile(tokFile, []byte("reader-one\n"), 0o600)
	cfgPath := filepath.Join(dir, "pier.yaml")
	writeCfg := func(private string) {
		os.WriteFile(cfgPath, []byte(`auth:
  tokens:
    - name: env-ci
      token_env: PIER_TEST_CI_TOKEN
      scopes: ["upload:5.8/*/*", "publish:5.8/*/*"]
    - name: file-reader
      token_file: `+tokFile+`
      scopes: ["read:5.8/*/*"]
  private: `+private+`
`), 0o600)
	}
	writeCfg("[]")
	s := startServer(t, "", "PIER_CONFIG="+cfgPath, "PIER_TEST_CI_TOKEN=ci-secret-123")
	pkg := mkdeb(t, "cfg-tok", "1.0", "amd64", "x")
	if code := withToken(t, s, "POST", "/api/v1/targets/5.8/debian/bookworm/packages?publish=false", "ci-secret-123", bytes.NewReader(pkg)); code != 201 {
		t.Fatalf("upload with the env token: %d", code)
	}
	if code := withToken(t, s, "POST", "/api/v1/targets/5.8/debian/bookworm/publish", "ci-secret-123", nil); code != 200 {
		t.Fatalf("publish with the env token: %d", code)
	}
	const inrel = "/deb/5.8/dists/bookworm/InRelease"
	if code, _, _ := s.get(inrel); code != 200 {
		t.Fatalf("public InRelease: %d", code)
	}
	basic := func(token string) int {
		req, _ := http.NewRequest("GET", s.url+inrel, nil)
		req.SetBasicAuth("pier", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	writeCfg(`["5.8/*/*"]`)
	os.WriteFile(tokFile, []byte("reader-two\n"), 0o600)
	s.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for code, _, _ := s.get(inrel); code != 401; code, _, _ = s.get(inrel) {
		if time.Now().After(deadline) {
			t.Fatalf("the target did not become private after SIGHUP (%d)\n%s", code, s.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := basic("reader-two"); code != 200 {
		t.Errorf("the new file token: %d", code)
	}
	if code := basic("reader-one"); code != 401 {
		t.Errorf("the old file token: %d", code)
	}
	list := pier(t, nil, "token", "list", "--data", s.data, "--config", cfgPath)
	if !regexp.MustCompile(`(?m)^env-ci\s+upload:5.8/\*/\* publish:5.8/\*/\*\s+never\s+-\s+config$`).MatchString(list) {
		t.Errorf("pier token list:\n%s", list)
	}
	if out := pier(t, nil, "audit", "--data", s.data, "--actor", "env-ci"); strings.Count(out, "env-ci") != 2 {
		t.Errorf("pier audit --actor env-ci:\n%s", out)
	}

	// An invalid auth section is refused; the target stays private.
	writeCfg(`["5.8"]`)
	s.cmd.Process.Signal(syscall.SIGHUP)
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(s.logs(), "reload refused") {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal logged\n%s", s.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _, _ := s.get(inrel); code != 401 {
		t.Errorf("after a refused reload: %d", code)
	}
}
