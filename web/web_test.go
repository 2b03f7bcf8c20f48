package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

// fixture uploads and publishes: kamailio in 5.8 and 5.7 (public) and in
// secret (private), hello in 5.8, topsecret in secret only.
func fixture(t *testing.T) *env {
	e := newEnv(t)
	e.upload("5.8/debian/bookworm", debPkg(t, "kamailio", "5.8.1-1", "usr/sbin/kamailio", "usr/lib/kamailio/a.so"))
	e.upload("5.8/debian/bookworm", debPkg(t, "hello", "1.0-1", "usr/bin/hello"))
	e.upload("5.7/debian/bookworm", debPkg(t, "kamailio", "5.7.3-1", "usr/sbin/kamailio"))
	e.upload("secret/debian/bookworm", debPkg(t, "topsecret", "1.0-1", "usr/sbin/topsecret"))
	e.upload("secret/debian/bookworm", debPkg(t, "kamailio", "9.9-1", "usr/sbin/kamailio"))
	for _, tg := range []string{"5.8/debian/bookworm", "5.7/debian/bookworm", "secret/debian/bookworm"} {
		e.publish(tg)
	}
	return e
}

// TestPrivateNeverShown: every page, listing and search answers an
// anonymous viewer (and one signed in with read on other targets only) as
// if the private target did not exist; a session with read on it shows it.
func TestPrivateNeverShown(t *testing.T) {
	e := fixture(t)
	other := e.signin(e.token("other", "read:5.8/*/*"))
	reader := e.signin(e.token("reader", "read:secret/*/*"))
	pages := []string{"/", "/search?q=kam", "/search?q=topsecret", "/search?q=/usr/sbin/kamailio", "/search?q=/usr/sbin/",
		"/packages/kamailio", "/deb/", "/deb/secret/", "/deb/secret/debian/", "/deb/secret/debian/pool/main/t/"}
	for _, who := range []struct {
		name   string
		cookie *http.Cookie
	}{{"anonymous", nil}, {"read on 5.8 only", other}} {
		for _, p := range pages {
			code, body := e.get(p, who.cookie)
			leak := strings.Contains(body, "secret/debian") || strings.Contains(body, "9.9-1") ||
				(!strings.HasPrefix(p, "/search") && strings.Contains(body, "topsecret"))
			if leak {
				t.Errorf("%s: %s (%d) shows the private target:\n%s", who.name, p, code, body)
			}
		}
		for _, p := range []string{"/targets/secret/debian/bookworm", "/targets/secret/debian/bookworm/history",
			"/packages/topsecret", "/targets/secret/debian/bookworm/diff?from=1&to=1"} {
			if code, _ := e.get(p, who.cookie); code != http.StatusNotFound {
				t.Errorf("%s: %s = %d, want 404", who.name, p, code)
			}
		}
	}
	for _, c := range []struct{ path, want string }{
		{"/", "/targets/secret/debian/bookworm"},
		{"/search?q=topsecret", "secret/debian/bookworm"},
		{"/search?q=/usr/sbin/kamailio", "9.9-1"},
		{"/packages/kamailio", "secret/debian/bookworm"},
		{"/targets/secret/debian/bookworm", "topsecret"},
		{"/deb/secret/debian/pool/main/t/", "topsecret/"},
	} {
		code, body := e.get(c.path, reader)
		if code != http.StatusOK || !strings.Contains(body, c.want) {
			t.Errorf("reader: %s = %d, want 200 naming %q", c.path, code, c.want)
		}
	}
}

// TestSearch: by name (substring, prefixes first) and by installed file,
// with the target and version of each hit.
func TestSearch(t *testing.T) {
	e := fixture(t)
	_, body := e.get("/search?q=/usr/sbin/kamailio", nil)
	hits := regexp.MustCompile(`class="hit" href="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(hits) != 2 || !strings.Contains(hits[0][1], "5.8%2Fdebian") || !strings.Contains(hits[1][1], "5.7%2Fdebian") {
		t.Errorf("file search hits %q, want kamailio in 5.8 and 5.7 (by path, name, then target id)", hits)
	}
	_, body = e.get("/search?q=ell", nil)
	if !strings.Contains(body, ">hello<") || strings.Contains(body, ">kamailio<") {
		t.Errorf("name search for ell: %s", body)
	}
	_, body = e.get("/search?q=/usr/lib/", nil)
	if !strings.Contains(body, "/usr/lib/kamailio/a.so") {
		t.Errorf("folder search found no /usr/lib/kamailio/a.so: %s", body)
	}
}

// TestPackagePage: the versions across targets, the selected version's
// metadata, install command, file list and download link with the sha256
// of the served file.
func TestPackagePage(t *testing.T) {
	e := fixture(t)
	code, body := e.get("/packages/kamailio", nil)
	if code != 200 {
		t.Fatalf("package page: %d", code)
	}
	for _, want := range []string{"5.8/debian/bookworm", "5.7/debian/bookworm", "sudo apt-get install kamailio=5.7.3-1",
		"/usr/sbin/kamailio", "the kamailio package", "Pier Test &lt;test@example.org&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("package page lacks %q", want)
		}
	}
	_, body = e.get("/packages/kamailio?target=5.8%2Fdebian%2Fbookworm&version=5.8.1-1&arch=amd64", nil)
	dl := regexp.MustCompile(`id="download" href="([^"]+)"`).FindStringSubmatch(body)
	sum := regexp.MustCompile(`id="sha256">([0-9a-f]{64})<`).FindStringSubmatch(body)
	if dl == nil || sum == nil || !strings.Contains(body, "/usr/lib/kamailio/a.so") {
		t.Fatalf("selected version: no download link, sha256 or files:\n%s", body)
	}
	w := e.do(req{method: "GET", path: dl[1]})
	got := sha256.Sum256(w.Body.Bytes())
	if w.Code != 200 || hex.EncodeToString(got[:]) != sum[1] {
		t.Errorf("download %s: %d, sha256 %x, page says %s", dl[1], w.Code, got, sum[1])
	}
	if code, _ := e.get("/packages/kamailio?target=5.8%2Fdebian%2Fbookworm&version=0&arch=amd64", nil); code != 404 {
		t.Errorf("a version that is not there: %d, want 404", code)
	}
}

// TestSetupSameAsAPI: the target page's setup lines are /setup's text.
func TestSetupSameAsAPI(t *testing.T) {
	e := fixture(t)
	_, body := e.get("/targets/5.8/debian/bookworm", nil)
	m := regexp.MustCompile(`(?s)<pre id="setup" tabindex="0">(.*?)</pre>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no setup block:\n%s", body)
	}
	w := e.do(req{method: "GET", path: "/setup/5.8/debian/bookworm"})
	if w.Code != 200 || html.UnescapeString(m[1]) != w.Body.String() {
		t.Errorf("setup on the page:\n%s\n/setup (%d):\n%s", html.UnescapeString(m[1]), w.Code, w.Body)
	}
	f := regexp.MustCompile(`class="setup-file" href="([^"]+)"`).FindStringSubmatch(body)
	if f == nil {
		t.Fatal("no one-file setup link")
	}
	if w := e.do(req{method: "GET", path: f[1]}); w.Code != 200 || !strings.Contains(w.Body.String(), "Signed-By:") {
		t.Errorf("one-file setup %s: %d\n%s", f[1], w.Code, w.Body)
	}
}

// TestTargetPackageList: filter by name and architecture, sort, paginate.
func TestTargetPackageList(t *testing.T) {
	e := newEnv(t)
	for i := range 45 {
		e.upload("5.8/debian/bookworm", debPkg(t, "pkg"+string(rune('a'+i%26))+string(rune('a'+i/26)), "1."+string(rune('0'+i%10))))
	}
	rows := func(body string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`<td><a href="/packages/([^"?]+)`).FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	cases := []struct {
		query string
		n     int
		first string
	}{
		{"", 20, "pkgaa"},
		{"?page=3", 5, ""},
		{"?name=PKGB", 2, "pkgba"},
		{"?sort=name&order=desc", 20, "pkgza"},
		{"?arch=i386", 0, ""},
		{"?page=99", 5, ""},
	}
	for _, c := range cases {
		code, body := e.get("/targets/5.8/debian/bookworm"+c.query, nil)
		got := rows(body)
		if code != 200 || len(got) != c.n {
			t.Errorf("%s: %d, %d rows %q, want %d", c.query, code, len(got), got, c.n)
			continue
		}
		if c.first != "" && got[0] != c.first {
			t.Errorf("%s: first row %s, want %s", c.query, got[0], c.first)
		}
	}
}

// TestSessions: sign-in sets an HttpOnly, SameSite=Strict session cookie
// whose id the catalog does not hold (only its hash); a wrong token is
// 401; sign-out needs the form token and ends the session; a revoked token
// ends its sessions.
func TestSessions(t *testing.T) {
	e := fixture(t)
	tok := e.token("reader", "read:secret/*/*")
	w := e.do(req{method: "POST", path: "/signin", form: url.Values{"token": {"pier_wrong"}}})
	if w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 {
		t.Errorf("wrong token: %d, cookies %v", w.Code, w.Result().Cookies())
	}
	w = e.do(req{method: "POST", path: "/signin", form: url.Values{"token": {tok}}, hdr: map[string]string{"Origin": "http://evil.test"}})
	if w.Code != http.StatusForbidden {
		t.Errorf("sign-in from another site: %d, want 403", w.Code)
	}
	c := e.signin(tok)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || strings.Contains(c.Value, tok) {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, no token", c)
	}
	if _, err := e.cat.SessionByHash(context.Background(), c.Value); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("the catalog holds the session id itself: %v", err)
	}
	_, body := e.get("/", c)
	csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(body)
	if csrf == nil || !strings.Contains(body, `id="who">reader<`) {
		t.Fatalf("signed-in page has no sign-out form or name:\n%s", body)
	}
	if w := e.do(req{method: "POST", path: "/signout", form: url.Values{}, cookie: c}); w.Code != http.StatusForbidden {
		t.Errorf("sign-out without the form token: %d, want 403", w.Code)
	}
	if w := e.do(req{method: "POST", path: "/signout", form: url.Values{"csrf": {csrf[1]}}, cookie: c}); w.Code != http.StatusSeeOther {
		t.Errorf("sign-out: %d", w.Code)
	}
	if _, body := e.get("/", c); strings.Contains(body, "secret/") || strings.Contains(body, `id="who"`) {
		t.Error("the session still works after sign-out")
	}
	c = e.signin(tok)
	if err := e.authn.Revoke(context.Background(), "reader"); err != nil {
		t.Fatal(err)
	}
	if _, body := e.get("/", c); strings.Contains(body, "secret/") {
		t.Error("a session outlived its revoked token")
	}
}

// TestRollbackForm: rollback needs publish and the form token; it makes a
// new generation with the old package set and records who did it.
func TestRollbackForm(t *testing.T) {
	e := fixture(t)
	e.upload("5.8/debian/bookworm", debPkg(t, "extra", "1"))
	e.publish("5.8/debian/bookworm") // generation 2 adds extra
	reader := e.signin(e.token("r", "read"))
	pub := e.signin(e.token("p", "read", "publish:5.8/*/*"))
	form := func(c *http.Cookie) string {
		_, body := e.get("/targets/5.8/debian/bookworm/history", c)
		m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(body)
		if m == nil {
			return ""
		}
		return m[1]
	}
	if _, body := e.get("/targets/5.8/debian/bookworm/history", reader); strings.Contains(body, "Roll back to") {
		t.Error("a reader is offered rollback")
	}
	post := func(c *http.Cookie, csrf string) int {
		return e.do(req{method: "POST", path: "/targets/5.8/debian/bookworm/rollback", cookie: c,
			form: url.Values{"csrf": {csrf}, "generation": {"1"}}}).Code
	}
	if code := post(reader, form(reader)); code != http.StatusForbidden {
		t.Errorf("rollback by a reader: %d, want 403", code)
	}
	if code := post(pub, "0000"); code != http.StatusForbidden {
		t.Errorf("rollback with a wrong form token: %d, want 403", code)
	}
	if code := post(pub, form(pub)); code != http.StatusSeeOther {
		t.Fatalf("rollback: %d", code)
	}
	ti, err := e.svc.FindTarget(context.Background(), repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"})
	if err != nil || ti.Current == nil || ti.Current.Seq != 3 || ti.Current.Packages != 2 {
		t.Fatalf("after rollback: %+v %v; want generation 3 with 2 packages", ti.Current, err)
	}
	_, body := e.get("/targets/5.8/debian/bookworm/diff?from=2&to=3", pub)
	if !strings.Contains(body, "− extra 1 amd64") {
		t.Errorf("diff 2→3 does not list extra as removed:\n%s", body)
	}
	evs, _ := e.cat.AuditEvents(context.Background(), auditRollbacks)
	if len(evs) != 1 || evs[0].Actor != "p" {
		t.Errorf("audit rollback events %+v, want one by p", evs)
	}
}

// TestListingAndDownload walks the deb tree from /deb/ down to a pool
// file, each folder listing the next step, and downloads it.
func TestListingAndDownload(t *testing.T) {
	e := fixture(t)
	_, body := e.get("/packages/hello", nil)
	dl := regexp.MustCompile(`id="download" href="([^"]+)"`).FindStringSubmatch(body)
	if dl == nil {
		t.Fatal("no download link on the package page")
	}
	path := "/deb/"
	for path != dl[1] {
		code, body := e.get(path, nil)
		if code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
		var next string
		for _, m := range regexp.MustCompile(`<td><a href="([^"]+)">`).FindAllStringSubmatch(body, -1) {
			if len(m[1]) > len(path) && strings.HasPrefix(dl[1], m[1]) {
				next = m[1]
			}
		}
		if next == "" {
			t.Fatalf("%s lists no step towards %s:\n%s", path, dl[1], body)
		}
		path = next
	}
	w := e.do(req{method: "GET", path: path})
	sum := sha256.Sum256(w.Body.Bytes())
	if w.Code != 200 || hex.EncodeToString(sum[:]) != w.Header().Get("X-Content-Sha256") {
		t.Errorf("download %s: %d, sha256 %x, served as %s", path, w.Code, sum, w.Header().Get("X-Content-Sha256"))
	}
	if code, _ := e.get("/deb/5.8/debian/pool", nil); code != http.StatusMovedPermanently {
		t.Errorf("a folder without its slash: %d, want 301", code)
	}
	if code, _ := e.get("/deb/nothing/", nil); code != http.StatusNotFound {
		t.Errorf("a folder that does not exist: %d, want 404", code)
	}
	if code, _ := e.get("/deb/secret/debian/pool/", nil); code != http.StatusUnauthorized {
		t.Errorf("a private folder, anonymous: %d, want 401 like its files", code)
	}
}

// TestAssetsAndCompression: hashed asset names, immutable caching, zstd
// and gzip for text, security headers.
func TestAssetsAndCompression(t *testing.T) {
	e := fixture(t)
	w := e.do(req{method: "GET", path: "/", hdr: map[string]string{"Accept-Encoding": "gzip, zstd"}})
	if w.Header().Get("Content-Encoding") != "zstd" || !strings.Contains(w.Header().Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("home: encoding %q, CSP %q", w.Header().Get("Content-Encoding"), w.Header().Get("Content-Security-Policy"))
	}
	dec, _ := zstd.NewReader(w.Body)
	page, err := io.ReadAll(dec)
	if err != nil || !strings.Contains(string(page), "Package repositories") {
		t.Fatalf("zstd body: %v", err)
	}
	css := regexp.MustCompile(`href="(/static/app\.[0-9a-f]{16}\.css)"`).FindStringSubmatch(string(page))
	if css == nil {
		t.Fatal("no hashed stylesheet link")
	}
	w = e.do(req{method: "GET", path: css[1], hdr: map[string]string{"Accept-Encoding": "gzip"}})
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
		t.Errorf("asset: %d, %q, %q", w.Code, w.Header().Get("Content-Encoding"), w.Header().Get("Cache-Control"))
	}
	if w := e.do(req{method: "GET", path: "/static/app.css"}); w.Code != 404 {
		t.Errorf("unhashed asset name: %d, want 404", w.Code)
	}
	if w := e.do(req{method: "GET", path: "/"}); w.Header().Get("Content-Encoding") != "" {
		t.Errorf("no Accept-Encoding: encoded %q", w.Header().Get("Content-Encoding"))
	}
}

var auditRollbacks = audit.Query{Action: audit.Rollback}

// TestSessionCookieSecureAndExpiry: over TLS the cookie is Secure; a
// session past its expiry (here: its token's expiry) is refused and
// deleted.
func TestSessionCookieSecureAndExpiry(t *testing.T) {
	e := fixture(t)
	tok := e.token("reader", "read:secret/*/*")
	hr := httptest.NewRequest("POST", "https://pier.test/signin", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	cs := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || len(cs) != 1 || !cs[0].Secure {
		t.Fatalf("sign-in over TLS: %d, cookies %+v; want one Secure cookie", w.Code, cs)
	}
	c := e.signin(tok)
	if _, body := e.get("/", c); !strings.Contains(body, "secret/debian/bookworm") {
		t.Fatal("the session does not work")
	}
	e.skew.Store(int64(12*time.Hour + time.Second))
	if _, body := e.get("/", c); strings.Contains(body, "secret/debian/bookworm") {
		t.Error("a session 12 hours old still shows the private target")
	}
	if _, err := e.cat.SessionByHash(context.Background(), sessionKey(c.Value)); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("the expired session is still stored: %v", err)
	}
	e.skew.Store(0)
	short, _, err := e.authn.Create(context.Background(), "short", []string{"read"}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c = e.signin(short)
	if c.Expires.After(time.Now().Add(time.Hour + time.Minute)) {
		t.Errorf("the session outlives its token: cookie expires %s", c.Expires)
	}
	e.skew.Store(int64(time.Hour + time.Second))
	if _, body := e.get("/", c); strings.Contains(body, "secret/debian/bookworm") {
		t.Error("a session past its token's expiry still shows the private target")
	}
}

// sessionKey is the catalog key of session id (the web package's
// sessionHash).
func sessionKey(id string) string {
	h := sha256.Sum256([]byte("pier-session:" + id))
	return hex.EncodeToString(h[:])
}
