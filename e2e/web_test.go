package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/pierhq/pier/repo/deb/debtest"
)

// This file proves the web interface in a real browser: Debian's chromium,
// headless, driven through the DevTools protocol (chromedp). Any
// JavaScript exception, console error, failed request or HTTP error answer
// fails the test. Screenshots of the main pages go to
// e2e/artifacts/web/ (git-ignored); with PIER_UPDATE_SCREENSHOTS=1 they
// also replace the committed ones in docs/screenshots/.

// browserProblems collects what must not happen in the browser.
type browserProblems struct {
	mu   sync.Mutex
	list []string
}

func (b *browserProblems) add(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.list = append(b.list, fmt.Sprintf(format, args...))
}

func (b *browserProblems) check(t *testing.T, step string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.list) > 0 {
		t.Fatalf("%s: the browser reported:\n%s", step, strings.Join(b.list, "\n"))
	}
}

// newBrowser starts a headless chromium as root with a fresh profile and
// returns its context; problems collects exceptions, console errors and
// failed requests.
func newBrowser(t *testing.T, problems *browserProblems) context.Context {
	t.Helper()
	bin := need(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	urls := map[network.RequestID]string{}
	var mu sync.Mutex
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	listen := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems.add("JavaScript exception at %s:%d: %s", d.URL, d.LineNumber, msg)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value))
				}
				problems.add("console.%s: %s", e.Type, strings.Join(args, " "))
			}
		case *network.EventRequestWillBeSent:
			mu.Lock()
			urls[e.RequestID] = e.Request.URL
			mu.Unlock()
		case *network.EventLoadingFailed:
			mu.Lock()
			u := urls[e.RequestID]
			mu.Unlock()
			if !e.Canceled {
				problems.add("request failed: %s: %s", u, e.ErrorText)
			}
		case *network.EventResponseReceived:
			if e.Response.Status >= 400 {
				problems.add("HTTP %d for %s", int(e.Response.Status), e.Response.URL)
			}
		}
	})
	if listen != nil {
		t.Fatalf("listen to chromium: %v", listen)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("enable the network domain: %v", err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable the runtime domain: %v", err)
	}
	return ctx
}

// screenshot saves the page as name.png under e2e/artifacts/web/ (and
// docs/screenshots/ with PIER_UPDATE_SCREENSHOTS=1).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dirs := []string{filepath.Join("artifacts", "web")}
	if os.Getenv("PIER_UPDATE_SCREENSHOTS") == "1" {
		dirs = append(dirs, filepath.Join("..", "docs", "screenshots"))
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWebInterface walks the web interface as a user does: home, a
// target, search by name and by file, the package page with versions in
// two streams, the setup lines copied to the clipboard and compared with
// /setup, sign-in with a read token that reveals a private target, sign
// out, and a directory listing walked down to a pool file whose download
// has the sha256 the package page states.
func TestWebInterface(t *testing.T) {
	problems := &browserProblems{}
	ctx := newBrowser(t, problems)
	s := privateServer(t, "secret/*/*")
	for _, u := range []struct{ target, version, file string }{
		{"5.8/debian/bookworm", "5.8.2-1", "usr/sbin/kamailio"},
		{"5.7/debian/bookworm", "5.7.9-1", "usr/sbin/kamailio"},
		{"secret/debian/bookworm", "1.0-1", "usr/sbin/topsecret"},
	} {
		name := "kamailio"
		if strings.HasPrefix(u.target, "secret") {
			name = "topsecret"
		}
		pkg := buildDeb(t, debtest.Options{Package: name, Version: u.version, Arch: "amd64",
			Description: "the " + name + " SIP server\n Routes SIP traffic.",
			Fields:      []debtest.Field{{Name: "Homepage", Value: "https://example.org/" + name}},
			Files:       map[string][]byte{u.file: []byte(name + " " + u.version), "usr/share/doc/" + name + "/copyright": []byte("MIT")}})
		if code, body := s.upload(u.target, pkg, "?publish=false"); code != 201 {
			t.Fatalf("upload %s: %d %v", u.target, code, body)
		}
		s.publish(u.target)
	}
	reader := createToken(t, s, "web-reader", "--scope", "read:secret/*/*")
	// do runs steps (at most 30 s); get one step with a value. Each fails
	// the test on an error or on anything the browser reported meanwhile.
	do := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(tctx, steps...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		problems.check(t, step)
	}
	text := func(step, sel string) string {
		t.Helper()
		return get(t, ctx, problems, step, chromedp.Text(sel))
	}
	awaited := chromedp.EvalAwaitPromise

	// Home: the public targets, not the private one.
	do("home", chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(`a[href="/targets/5.8/debian/bookworm"]`))
	if main := text("home", "main"); strings.Contains(main, "secret") || !strings.Contains(main, "Stream 5.7") {
		t.Fatalf("home page (anonymous):\n%s", main)
	}
	screenshot(t, ctx, "home")
	do("home at 360 px", chromedp.EmulateViewport(360, 740), chromedp.Reload(), chromedp.WaitVisible("#q"))
	if width := get(t, ctx, problems, "width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); width > 360 {
		t.Errorf("at 360 px wide the home page is %d px wide", width)
	}
	screenshot(t, ctx, "home-360px")
	do("desktop again", chromedp.EmulateViewport(1280, 900))

	// A target, and its setup lines through the copy button.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: s.url}); err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	do("target", chromedp.Navigate(s.url+"/"), chromedp.Click(`a[href="/targets/5.8/debian/bookworm"]`),
		chromedp.WaitVisible(`button.copy[data-copy="setup"]`), chromedp.Click(`button.copy[data-copy="setup"]`))
	get(t, ctx, problems, "copied", chromedp.Poll[bool](`document.querySelector('button.copy[data-copy="setup"]').textContent === "Copied"`,
		chromedp.WithPollingTimeout(5*time.Second)))
	copied := get(t, ctx, problems, "read the clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, awaited))
	code, setup, _ := s.get("/setup/5.8/debian/bookworm")
	if code != 200 || copied != string(setup) {
		t.Errorf("copied setup lines:\n%s\n/setup (%d):\n%s", copied, code, setup)
	}
	screenshot(t, ctx, "target")

	// Search by name, then by a file the package ships.
	hits := func() []string {
		return get(t, ctx, problems, "hits", chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll("a.hit")).map(a => a.closest("tr").innerText)`))
	}
	do("search by name", chromedp.SetValue("#q", "kamail"), chromedp.Submit("#q"), chromedp.WaitVisible("#result-count"))
	if h := hits(); len(h) != 2 {
		t.Errorf("search for kamail: %q, want kamailio in 5.8 and 5.7", h)
	}
	do("search by file", chromedp.SetValue("#q", "/usr/sbin/kamailio"), chromedp.Submit("#q"), chromedp.WaitVisible("#result-count"))
	if h := hits(); len(h) != 2 || !strings.Contains(h[0], "/usr/sbin/kamailio") {
		t.Errorf("search for /usr/sbin/kamailio: %q", h)
	}
	screenshot(t, ctx, "search")

	// The package page: versions in both streams, metadata, download.
	do("package", chromedp.Click("a.hit"), chromedp.WaitVisible("#sha256"))
	versions := get(t, ctx, problems, "versions", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("table.versions tbody tr")).map(r => r.innerText)`))
	if all := strings.Join(versions, "\n"); len(versions) != 2 || !strings.Contains(all, "5.8/debian/bookworm") ||
		!strings.Contains(all, "5.7/debian/bookworm") {
		t.Errorf("package versions: %q, want 5.8 and 5.7", versions)
	}
	sum := text("sha256", "#sha256")
	download := get(t, ctx, problems, "download link", chromedp.AttributeValue("#download", "href")).Value
	main := text("package", "main")
	for _, want := range []string{"apt-get install kamailio=", "Routes SIP traffic.", "https://example.org/kamailio", "/usr/sbin/kamailio"} {
		if !strings.Contains(main, want) {
			t.Errorf("package page lacks %q", want)
		}
	}
	screenshot(t, ctx, "package")
	do("history", chromedp.Navigate(s.url+"/targets/5.8/debian/bookworm/history"), chromedp.WaitVisible("table.generations"))
	screenshot(t, ctx, "history")

	// Sign in with a read token: the private target appears; sign out.
	do("sign in", chromedp.Navigate(s.url+"/"), chromedp.Click("#signin"), chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", reader), chromedp.Submit("#token"),
		chromedp.WaitVisible(`a[href="/targets/secret/debian/bookworm"]`))
	if who := text("who", "#who"); who != "web-reader" {
		t.Errorf("signed in as %q", who)
	}
	screenshot(t, ctx, "signed-in")
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.url}})
	if err != nil {
		t.Fatal(err)
	}
	if c := cookies.Cookies; len(c) != 1 || !c[0].HTTPOnly || c[0].SameSite != network.CookieSameSiteStrict || c[0].Value == reader {
		t.Errorf("session cookies %+v: want one HttpOnly, SameSite=Strict cookie without the token", c)
	}
	do("sign out", chromedp.Click("#signout"), chromedp.WaitVisible("#signin"))
	if n := get(t, ctx, problems, "private links", chromedp.Evaluate[int](
		`document.querySelectorAll('a[href="/targets/secret/debian/bookworm"]').length`)); n != 0 {
		t.Error("the private target is still shown after sign-out")
	}

	// A directory listing from /deb/ down to the pool file, downloaded in
	// the browser and hashed there.
	do("listing", chromedp.Navigate(s.url+"/deb/"), chromedp.WaitVisible("table.listing"))
	for path := "/deb/"; ; {
		links := get(t, ctx, problems, "listing "+path, chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll("table.listing a")).map(a => a.getAttribute("href"))`))
		next := ""
		for _, l := range links {
			if len(l) > len(path) && strings.HasPrefix(download, l) {
				next = l
			}
		}
		if next == "" {
			t.Fatalf("%s lists no step towards %s: %q", path, download, links)
		}
		if next == download {
			screenshot(t, ctx, "listing")
			got := get(t, ctx, problems, "download", chromedp.Evaluate[string](fmt.Sprintf(
				`fetch(%q).then(r => r.arrayBuffer()).then(b => crypto.subtle.digest("SHA-256", b))
				.then(d => Array.from(new Uint8Array(d)).map(x => x.toString(16).padStart(2, "0")).join(""))`, next), awaited))
			if got != sum {
				t.Errorf("downloaded %s: sha256 %s, the package page says %s", next, got, sum)
			}
			return
		}
		do("open "+next, chromedp.Click(fmt.Sprintf(`table.listing a[href=%q]`, next)), chromedp.WaitVisible("table.listing"))
		path = next
	}
}

// get runs one browser step that yields a value, failing t on an error or
// on anything the browser reported meanwhile.
func get[T any](t *testing.T, ctx context.Context, problems *browserProblems, step string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	problems.check(t, step)
	return v
}
