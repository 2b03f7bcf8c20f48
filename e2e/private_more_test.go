package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goapk "github.com/chainguard-dev/go-apk/pkg/apk"
	apkfs "github.com/chainguard-dev/go-apk/pkg/fs"
)

// This file proves private rpm targets with the real zypper and private apk
// targets with go-apk (plus the apk-tools checks of apkInstallOne), each
// configured exactly as GET /setup says, with a token that has read on the
// one target only; without credentials and with a wrong token they fail
// and the server answered 401, with a token of another target 403.

// readToken creates a token with `pier token create NAME --scope
// read:<target>` and checks that it holds that one scope: pier token list
// shows read:<target> alone, and the API refuses it an upload there.
func readToken(t *testing.T, s *server, name, target string) string {
	t.Helper()
	tok := createToken(t, s, name, "--scope", "read:"+target)
	var list []struct {
		Name   string
		Scopes []string
	}
	if err := json.Unmarshal([]byte(pier(t, nil, "token", "list", "--json", "--data", s.data)), &list); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list, func(e struct {
		Name   string
		Scopes []string
	}) bool {
		return e.Name == name
	})
	if i < 0 || !slices.Equal(list[i].Scopes, []string{"read:" + target}) {
		t.Fatalf("pier token list --json: %s is not read:%s alone: %+v", name, target, list)
	}
	if code := withToken(t, s, "POST", "/api/v1/targets/"+target+"/publish", tok, nil); code != http.StatusForbidden {
		t.Fatalf("publish with the read token %s: %d, want 403", name, code)
	}
	return tok
}

// basicGet fetches path of s with HTTP Basic pier:token and returns the
// status.
func basicGet(t *testing.T, s *server, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.SetBasicAuth("pier", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// answers counts the server's logged answers with status code to requests
// for path.
func answers(s *server, path string, code int) int {
	return strings.Count(s.logs(), fmt.Sprintf(`"path":%q,"status":%d`, path, code))
}

// answeredSince reports whether the server logged more than before answers
// with status code to requests for path, waiting a few seconds for the log
// line: the server writes it after the answer, so a client can be done
// before it appears.
func answeredSince(s *server, path string, code, before int) bool {
	for deadline := time.Now().Add(5 * time.Second); answers(s, path, code) <= before; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// tokenRefusals counts the server's warnings of an unknown or expired
// token sent for path: a client that logs one sent the credentials it was
// given.
func tokenRefusals(s *server, path string) int {
	re := regexp.MustCompile(`"msg":"authentication failed"[^\n]*"path":` + regexp.QuoteMeta(strconv.Quote(path)))
	return len(re.FindAllString(s.logs(), -1))
}

// ---------------------------------------------------------------------------
// zypper

// zypperSetupStep is one step of a zypper setup text, in order: a
// directory made (install -d), a file written (tee) or a mode changed
// (chmod).
type zypperSetupStep struct {
	op   string // "dir", "file" or "chmod"
	path string
	body string
	mode os.FileMode
}

// zypperSetup is what a zypper setup text does.
type zypperSetup struct {
	keyURL string            // sudo rpm --import
	steps  []zypperSetupStep // install -d, tee, chmod
	alias  string            // of the .repo written to /etc/zypp/repos.d
	repo   string            // its text
	zypper [][]string        // the zypper commands, without "sudo zypper"
}

// parseZypperSetup reads a zypper setup text line by line as sh would run
// it, with $PIER_READ_TOKEN set to token in the unquoted heredocs. Any line
// it does not know fails the test, so the test follows the text and
// nothing else.
func parseZypperSetup(t *testing.T, text, token string) zypperSetup {
	t.Helper()
	var z zypperSetup
	var (
		importRE  = regexp.MustCompile(`^sudo rpm --import (\S+)$`)
		installRE = regexp.MustCompile(`^sudo install -d -m (0[0-7]{3}) (/\S+)$`)
		teeRE     = regexp.MustCompile(`^sudo tee (/\S+?)(?: >/dev/null)? <<('EOF'|EOF)$`)
		chmodRE   = regexp.MustCompile(`^sudo chmod (0[0-7]{3}) (/\S+)$`)
		guardRE   = regexp.MustCompile(`^: "\$\{PIER_READ_TOKEN:\?[^"$]*\}"$`)
		repoRE    = regexp.MustCompile(`^/etc/zypp/repos\.d/([^/]+)\.repo$`)
	)
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case guardRE.MatchString(l):
			if token == "" {
				t.Fatalf("setup text: %q needs PIER_READ_TOKEN", l)
			}
		case importRE.MatchString(l):
			z.keyURL = importRE.FindStringSubmatch(l)[1]
		case installRE.MatchString(l):
			m := installRE.FindStringSubmatch(l)
			mode, _ := strconv.ParseUint(m[1], 8, 32)
			z.steps = append(z.steps, zypperSetupStep{op: "dir", path: m[2], mode: os.FileMode(mode)})
		case chmodRE.MatchString(l):
			m := chmodRE.FindStringSubmatch(l)
			mode, _ := strconv.ParseUint(m[1], 8, 32)
			z.steps = append(z.steps, zypperSetupStep{op: "chmod", path: m[2], mode: os.FileMode(mode)})
		case teeRE.MatchString(l):
			m := teeRE.FindStringSubmatch(l)
			var body []string
			for i++; i < len(lines) && lines[i] != "EOF"; i++ {
				body = append(body, lines[i])
			}
			if i == len(lines) {
				t.Fatalf("setup text: the heredoc of %q has no EOF line", l)
			}
			b := strings.Join(body, "\n") + "\n"
			if m[2] == "EOF" { // unquoted: sh expands it
				b = strings.ReplaceAll(b, "$PIER_READ_TOKEN", token)
				if strings.ContainsAny(b, "$`\\") {
					t.Fatalf("setup text: the heredoc of %q holds an expansion the test does not know:\n%s", l, b)
				}
			}
			z.steps = append(z.steps, zypperSetupStep{op: "file", path: m[1], body: b, mode: 0o644})
			if rm := repoRE.FindStringSubmatch(m[1]); rm != nil {
				z.alias, z.repo = rm[1], b
			}
		case strings.HasPrefix(l, "sudo zypper "):
			z.zypper = append(z.zypper, strings.Fields(strings.TrimPrefix(l, "sudo zypper ")))
		default:
			t.Fatalf("setup text: unknown line %q:\n%s", l, text)
		}
	}
	if z.keyURL == "" || z.alias == "" || len(z.zypper) == 0 {
		t.Fatalf("setup text: no rpm --import, .repo or zypper command:\n%s", text)
	}
	return z
}

// newZypperFromSetup sets up a zypper sandbox as the setup text z says:
// the key it imports (fetched without credentials), the .repo z.repo, then
// each other directory, file and mode below the sandbox's root. Steps for
// which skip returns true are left out.
func newZypperFromSetup(t *testing.T, z zypperSetup, skip func(zypperSetupStep) bool) *zypperClient {
	t.Helper()
	key, err := rpmFetcher("")(z.keyURL)
	if err != nil {
		t.Fatalf("the key of the setup text: %v", err)
	}
	zc := newZypper(t, z.alias, z.repo, key)
	repoFile := "/etc/zypp/repos.d/" + z.alias + ".repo"
	for _, st := range z.steps {
		if (skip != nil && skip(st)) || (st.op == "file" && st.path == repoFile) {
			continue // newZypper wrote the .repo
		}
		p := filepath.Join(zc.root, st.path)
		switch st.op {
		case "dir":
			err = os.MkdirAll(p, st.mode)
		case "file":
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				err = os.WriteFile(p, []byte(st.body), st.mode)
			}
		case "chmod":
			err = os.Chmod(p, st.mode)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return zc
}

// TestPrivateZypper: the real zypper (confined, --root) refreshes a private
// opensuse/15.6 target and downloads a package with the credentials file
// and the ?credentials= .repo that GET /setup prints and a token with read
// on that target only; without credentials, with the .repo but no
// credentials file and with a wrong token it fails and the server answered
// 401, with a token of another private target 403.
func TestPrivateZypper(t *testing.T) {
	need(t, "zypper")
	need(t, "rpm")
	const target, other = "5.8/opensuse/15.6", "5.8/opensuse/15.5"
	s := privateServer(t, "5.8/opensuse/*")
	pkg := mkrpm(t, "private-hello", "", "1.0", "amd64", "suse private payload")
	for _, tg := range []string{target, other} {
		if code, r := s.upload(tg, pkg, "?publish=false"); code != 201 {
			t.Fatalf("upload to %s: %d %v", tg, code, r)
		}
		s.publish(tg)
	}
	reader := readToken(t, s, "zypper-reader", target)
	otherReader := readToken(t, s, "other-reader", other)
	const repomd = "/rpm/" + target + "/repodata/repomd.xml"
	const pkgPath = "/rpm/" + target + "/x86_64/private-hello-1.0-1.x86_64.rpm"
	for _, c := range []struct {
		path, token string
		want        int
	}{{repomd, "", 401}, {pkgPath, "", 401}, {repomd, otherReader, 403}, {pkgPath, otherReader, 403},
		{"/rpm/" + other + "/repodata/repomd.xml", reader, 403}, {repomd, reader, 200}, {pkgPath, reader, 200}} {
		code := 0
		if c.token == "" {
			code, _, _ = s.get(c.path)
		} else {
			code = basicGet(t, s, c.path, c.token)
		}
		if code != c.want {
			t.Errorf("GET %s (token %t): %d, want %d", c.path, c.token != "", code, c.want)
		}
	}

	code, body := s.getBasic("/setup/"+target, reader)
	if code != 200 {
		t.Fatalf("/setup/%s: %d", target, code)
	}
	setupText := string(body)
	id := "pier-5.8-opensuse-15.6"
	good := parseZypperSetup(t, setupText, reader)
	baseURL := s.url + "/rpm/" + target + "/"
	if good.alias != id || rpmRepoOption(good.repo, "baseurl") != baseURL+"?credentials="+id ||
		!slices.EqualFunc(good.zypper, [][]string{{"refresh", id}}, slices.Equal) {
		t.Fatalf("setup text for %s: alias %q, zypper %q:\n%s", target, good.alias, good.zypper, setupText)
	}
	var creds string
	for _, st := range good.steps {
		if st.op == "file" && strings.HasPrefix(st.path, "/etc/zypp/credentials.d/") {
			creds = st.path
		}
	}
	if creds == "" {
		t.Fatalf("the setup text writes no credentials file:\n%s", setupText)
	}
	isCreds := func(st zypperSetupStep) bool { return st.path == creds }
	refresh := func(zc *zypperClient) (string, error) {
		return zc.run(good.zypper[0]...)
	}

	for _, c := range []struct {
		name    string
		unknown bool // whether zypper sends a token the server does not know
		code    int  // the server's answer
		zc      func() *zypperClient
	}{
		{"no credentials", false, 401, func() *zypperClient {
			// The .repo as for a public target: no ?credentials=, no file.
			plain := strings.Replace(good.repo, "?credentials="+id, "", 1)
			return newZypperFromSetup(t, zypperSetup{keyURL: good.keyURL, alias: id, repo: plain}, nil)
		}},
		{"no credentials file", false, 401, func() *zypperClient { return newZypperFromSetup(t, good, isCreds) }},
		{"wrong token", true, 401, func() *zypperClient {
			return newZypperFromSetup(t, parseZypperSetup(t, setupText, "pier_"+strings.Repeat("ef", 32)), nil)
		}},
		{"token of another target", false, 403, func() *zypperClient {
			return newZypperFromSetup(t, parseZypperSetup(t, setupText, otherReader), nil)
		}},
	} {
		before, refusals := answers(s, repomd, c.code), tokenRefusals(s, repomd)
		zc := c.zc()
		out, err := refresh(zc)
		// zypper reports 401 as "Login failed … returned error: 401" and
		// 403 as "Permission to access '…' denied."
		want := []string{"Login failed", "returned error: 401"}
		if c.code == 403 {
			want = []string{"Permission to access", "denied"}
		}
		if err == nil || !strings.Contains(out, want[0]) || !strings.Contains(out, want[1]) {
			t.Errorf("%s: zypper refresh did not fail with %d: %v\n%s", c.name, c.code, err, out)
		}
		if !answeredSince(s, repomd, c.code, before) {
			t.Errorf("%s: the server did not answer zypper %d for %s:\n%s", c.name, c.code, repomd, s.logs())
		}
		if c.unknown && tokenRefusals(s, repomd) == refusals {
			t.Errorf("%s: the server saw no token from zypper for %s:\n%s", c.name, repomd, s.logs())
		}
		if got, _ := zc.download(id, "private-hello", "x86_64/private-hello-1.0-1.x86_64.rpm"); got != nil {
			t.Errorf("%s: zypper downloaded the private package", c.name)
		}
		t.Logf("%s: zypper refresh: %v\n%s", c.name, err, lastLines(out, 5))
	}

	// As the setup text says, with the read token: zypper verifies and
	// downloads.
	before := answers(s, repomd, 200)
	beforePkg := answers(s, pkgPath, 200)
	zc := newZypperFromSetup(t, good, nil)
	if fi, err := os.Stat(filepath.Join(zc.root, creds)); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file %s: mode %v, want 0600", creds, fi.Mode().Perm())
	}
	if out, err := refresh(zc); err != nil || !strings.Contains(out, "refreshed") {
		t.Fatalf("zypper %s with the setup text and the read token: %v\n%s", strings.Join(good.zypper[0], " "), err, out)
	}
	if got, out := zc.download(id, "private-hello", "x86_64/private-hello-1.0-1.x86_64.rpm"); !bytes.Equal(got, pkg) {
		t.Errorf("zypper download with the read token: no file or other bytes than the upload:\n%s", out)
	}
	if !answeredSince(s, repomd, 200, before) || !answeredSince(s, pkgPath, 200, beforePkg) {
		t.Errorf("the server did not answer zypper 200 for %s and %s with the token", repomd, pkgPath)
	}
}

// lastLines returns the last n lines of out, trimmed.
func lastLines(out string, n int) string {
	ls := strings.Split(strings.TrimSpace(out), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

// ---------------------------------------------------------------------------
// apk

// apkPrivateSetup reads a private apk setup text: the key file it installs
// (name and URL, fetched without credentials: keys are public) and the
// repository lines it adds to /etc/apk/repositories, with $PIER_READ_TOKEN
// set to token. Any line it does not know fails the test.
func apkPrivateSetup(t *testing.T, text, token string) (keyName, keyURL string, repos []string) {
	t.Helper()
	var (
		guardRE = regexp.MustCompile(`^: "\$\{PIER_READ_TOKEN:\?[^"$]*\}"$`)
		keyRE   = regexp.MustCompile(`^wget -O /etc/apk/keys/(\S+\.rsa\.pub) (\S+)$`)
		repoRE  = regexp.MustCompile(`^echo "([^"]+)" >> /etc/apk/repositories$`)
	)
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		switch {
		case l == "" || strings.HasPrefix(l, "#") || l == "apk update":
		case guardRE.MatchString(l):
		case keyRE.MatchString(l):
			m := keyRE.FindStringSubmatch(l)
			keyName, keyURL = m[1], m[2]
		case repoRE.MatchString(l):
			r := strings.ReplaceAll(repoRE.FindStringSubmatch(l)[1], "$PIER_READ_TOKEN", token)
			if strings.ContainsAny(r, "$`\\") {
				t.Fatalf("setup text: %q holds an expansion the test does not know", l)
			}
			repos = append(repos, r)
		default:
			t.Fatalf("setup text: unknown line %q:\n%s", l, text)
		}
	}
	if keyName == "" || len(repos) == 0 {
		t.Fatalf("setup text: no key or repository line:\n%s", text)
	}
	return keyName, keyURL, repos
}

// TestPrivateApk: go-apk reads a private alpine/v3.20 target through the
// repository URL that GET /setup prints (https://pier:$PIER_READ_TOKEN@…)
// with a token that has read on that target only: it fetches and verifies
// the index and downloads the package, which pass the apk-tools checks of
// apkInstallOne. Without credentials and with a wrong token go-apk fails
// to read the index and the server answered 401, with a token of another
// private target 403; the package itself is refused without credentials
// too.
func TestPrivateApk(t *testing.T) {
	const target, other = "5.8/alpine/v3.20", "5.8/alpine/v3.19"
	s := privateServer(t, "5.8/alpine/*")
	pkg := apkBuild(t, "private-hello", "x86_64", "alpine private payload", nil)
	for _, tg := range []string{target, other} {
		if code, r := s.upload(tg, pkg, "?publish=false"); code != 201 {
			t.Fatalf("upload to %s: %d %v", tg, code, r)
		}
		s.publish(tg)
	}
	reader := readToken(t, s, "apk-reader", target)
	otherReader := readToken(t, s, "other-reader", other)
	const index = apkRepo + "/x86_64/APKINDEX.tar.gz"
	const pkgPath = apkRepo + "/x86_64/private-hello-" + apkVersion + ".apk"

	code, body := s.getBasic("/setup/"+target, reader)
	if code != 200 {
		t.Fatalf("/setup/%s: %d", target, code)
	}
	setupText := string(body)
	keyName, keyURL, repos := apkPrivateSetup(t, setupText, reader)
	host := strings.TrimPrefix(s.url, "http://")
	if want := "http://pier:" + reader + "@" + host + apkRepo; !slices.Equal(repos, []string{want}) {
		t.Fatalf("setup text: repositories %q, want %q:\n%s", repos, want, setupText)
	}
	code, pubPEM, _ := s.get(strings.TrimPrefix(keyURL, s.url))
	if code != 200 || !strings.HasPrefix(keyURL, s.url+"/keys/") {
		t.Fatalf("the key of the setup text, %s: %d", keyURL, code)
	}

	// Refused: go-apk fails to read the index, the server answered 401
	// (403 for a valid token without read on the target).
	// goapkIndexes gives each go-apk call URLs of its own (go-apk caches
	// an index, or its error, per URL for the life of the process).
	ctx := context.Background()
	client := &http.Client{Timeout: time.Minute}
	for _, c := range []struct {
		name, token string
		unknown     bool // whether the server does not know the token
		code        int
	}{{"no credentials", "", false, 401}, {"wrong token", "pier_" + strings.Repeat("ab", 32), true, 401},
		{"token of another target", otherReader, false, 403}} {
		repoURL := s.url + apkRepo
		if c.token != "" {
			_, _, rs := apkPrivateSetup(t, setupText, c.token)
			repoURL = rs[0]
		}
		before, refusals := answers(s, index, c.code), tokenRefusals(s, index)
		_, _, _, err := goapkIndexes(ctx, t, client, []string{repoURL}, map[string][]byte{keyName: pubPEM}, "x86_64")
		if err == nil || !strings.Contains(err.Error(), fmt.Sprint(c.code)) {
			t.Errorf("%s: go-apk index: want a %d failure, got %v", c.name, c.code, err)
		}
		if !answeredSince(s, index, c.code, before) {
			t.Errorf("%s: the server did not answer go-apk %d for %s", c.name, c.code, index)
		}
		if c.unknown && tokenRefusals(s, index) == refusals {
			t.Errorf("%s: the server saw no token from go-apk for %s", c.name, index)
		}
	}

	// As the setup text says, with the read token.
	before, beforePkg := answers(s, index, 200), answers(s, pkgPath, 200)
	apkInstallOne(t, repos[0], keyName, pubPEM, pkg)
	if !answeredSince(s, index, 200, before) || !answeredSince(s, pkgPath, 200, beforePkg) {
		t.Errorf("the server did not answer 200 for %s and %s with the token", index, pkgPath)
	}

	// The package, too, needs the token: go-apk fetching it from the
	// repository without credentials fails with 401.
	idx, _, _, err := goapkIndexes(ctx, t, client, repos, map[string][]byte{keyName: pubPEM}, "x86_64")
	if err != nil || len(idx) != 1 || len(idx[0].Packages()) != 1 {
		t.Fatalf("go-apk index with the token: %v", err)
	}
	bare := goapk.NewRepositoryPackage(idx[0].Packages()[0].Package,
		(&goapk.Repository{URI: s.url + apkRepo + "/x86_64"}).WithIndex(nil))
	a, err := goapk.New(goapk.WithFS(apkfs.NewMemFS()), goapk.WithArch("x86_64"))
	if err != nil {
		t.Fatal(err)
	}
	a.SetClient(client)
	before = answers(s, pkgPath, 401)
	if rc, err := a.FetchPackage(ctx, bare); err == nil || !strings.Contains(err.Error(), "401") {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("go-apk fetched %s without credentials: %v", bare.URL(), err)
	}
	if !answeredSince(s, pkgPath, 401, before) {
		t.Errorf("the server did not answer go-apk 401 for %s", pkgPath)
	}
}
