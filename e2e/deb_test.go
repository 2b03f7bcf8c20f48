package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pierhq/pier/repo/deb/debtest"
)

func mkdeb(t testing.TB, name, version, arch, payload string) []byte {
	t.Helper()
	b, err := debtest.Build(debtest.Options{Package: name, Version: version, Arch: arch,
		Description: "test package " + name + "\n built by the e2e test",
		Files:       map[string][]byte{"usr/share/doc/" + name + "/payload": []byte(payload)}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAptEndToEnd uploads debs for two releases of one stream and two
// architectures plus an arch:all package, and has the real apt-get update
// and download them.
func TestAptEndToEnd(t *testing.T) {
	need(t, "apt-get")
	s := startServer(t, "")

	bookworm := map[string][]byte{
		"hello:amd64":     mkdeb(t, "hello", "1.0-1", "amd64", "bookworm amd64"),
		"hello:arm64":     mkdeb(t, "hello", "1.0-1", "arm64", "bookworm arm64"),
		"hello-doc":       mkdeb(t, "hello-doc", "1:2.0~rc1-3", "all", "docs"),
		"libhello1:amd64": mkdeb(t, "libhello1", "1.0-1", "amd64", "lib"),
	}
	// Same file name (hello_1.0-1_amd64.deb) as in bookworm, other bytes: the
	// pool must keep both.
	noble := map[string][]byte{
		"hello:amd64": mkdeb(t, "hello", "1.0-1", "amd64", "noble amd64, other bytes"),
	}
	for _, k := range []string{"hello:amd64", "hello:arm64", "hello-doc", "libhello1:amd64"} {
		code, reply := s.upload("5.8/debian/bookworm", bookworm[k], "")
		if code != http.StatusCreated {
			t.Fatalf("upload %s: %d %v", k, code, reply)
		}
		if reply["sha256"] != sha(bookworm[k]) || reply["size"].(float64) != float64(len(bookworm[k])) ||
			!strings.HasPrefix(reply["path"].(string), "deb/5.8/debian/pool/main/") {
			t.Fatalf("upload %s: reply %v", k, reply)
		}
	}
	// Multipart upload, field "file".
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "hello_1.0-1_amd64.deb")
	fw.Write(noble["hello:amd64"])
	mw.Close()
	code, body := s.do("POST", "/api/v1/targets/5.8/ubuntu/noble/packages?component=main", &mp, "Content-Type", mw.FormDataContentType())
	if code != http.StatusCreated {
		t.Fatalf("multipart upload: %d %s", code, body)
	}

	// Byte-identical re-upload: 200. Same name+version+arch, other bytes: 409.
	if code, reply := s.upload("5.8/debian/bookworm", bookworm["hello:amd64"], ""); code != http.StatusOK {
		t.Fatalf("identical re-upload: %d %v", code, reply)
	}
	if code, reply := s.upload("5.8/debian/bookworm", noble["hello:amd64"], ""); code != http.StatusConflict {
		t.Fatalf("conflicting upload: %d %v", code, reply)
	}

	s.publish("5.8/debian/bookworm")
	s.publish("5.8/ubuntu/noble")

	dir := t.TempDir()
	key := writeKey(t, s, dir)

	apt := newApt(t, sourceLine(key, s.url, "5.8", "bookworm"))
	apt.update()
	if !apt.listsFor("binary-arm64") || !apt.listsFor("binary-amd64") {
		t.Fatalf("apt did not fetch both architectures' lists")
	}
	for k, want := range bookworm {
		if got := apt.download(k); !bytes.Equal(got, want) {
			t.Errorf("bookworm %s: downloaded bytes differ from the upload", k)
		}
	}
	// The arch:all package is listed in both architectures' lists apt fetched.
	for _, arch := range []string{"amd64", "arm64"} {
		if !apt.listContains("binary-"+arch, "Package: hello-doc\n") {
			t.Errorf("hello-doc is missing from apt's %s list", arch)
		}
	}

	aptNoble := newApt(t, strings.Replace(sourceLine(key, s.url, "5.8", "noble"), "/deb/5.8/debian ", "/deb/5.8/ubuntu ", 1))
	aptNoble.update()
	if got := aptNoble.download("hello:amd64"); !bytes.Equal(got, noble["hello:amd64"]) {
		t.Errorf("noble hello: downloaded bytes differ from the upload (pool collision?)")
	}
	// And bookworm still gets its own.
	if got := apt.download("hello:amd64"); !bytes.Equal(got, bookworm["hello:amd64"]) {
		t.Errorf("bookworm hello changed after noble publish")
	}

	// The wrong key must make apt-get update fail.
	other := startServer(t, "")
	wrongDir := t.TempDir()
	wrongKey := writeKey(t, other, wrongDir)
	bad := newApt(t, sourceLine(wrongKey, s.url, "5.8", "bookworm"))
	out, err := bad.run("update")
	if err == nil && len(problems(out)) == 0 {
		t.Fatalf("apt-get update with the wrong key succeeded:\n%s", out)
	}
	if !strings.Contains(out, "NO_PUBKEY") && !strings.Contains(out, "not signed") && !strings.Contains(out, "signature") {
		t.Errorf("apt-get update with the wrong key failed for another reason:\n%s", out)
	}
}

// TestServingHeaders checks HEAD, Range, ETag/If-None-Match, Content-Type
// and Cache-Control on published files, the keys and the setup snippet.
func TestServingHeaders(t *testing.T) {
	s := startServer(t, "")
	pkg := mkdeb(t, "hdr", "1.0", "amd64", strings.Repeat("x", 5000))
	code, reply := s.upload("5.8/debian/bookworm", pkg, "?publish=false")
	if code != 201 {
		t.Fatalf("upload: %d %v", code, reply)
	}
	s.publish("5.8/debian/bookworm")
	poolPath := "/" + reply["path"].(string)

	code, body, h := s.get(poolPath)
	if code != 200 || !bytes.Equal(body, pkg) {
		t.Fatalf("GET pool file: %d", code)
	}
	if h.Get("ETag") != `"`+sha(pkg)+`"` || !strings.Contains(h.Get("Cache-Control"), "immutable") ||
		h.Get("Content-Type") != "application/vnd.debian.binary-package" || h.Get("Last-Modified") == "" {
		t.Errorf("pool headers: %v", h)
	}
	req, _ := http.NewRequest("GET", s.url+poolPath, nil)
	req.Header.Set("Range", "bytes=10-19")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 20)
	n, _ := resp.Body.Read(part)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part[:n], pkg[10:20]) {
		t.Errorf("Range: %d %q", resp.StatusCode, part[:n])
	}
	req, _ = http.NewRequest("GET", s.url+poolPath, nil)
	req.Header.Set("If-None-Match", `"`+sha(pkg)+`"`)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
	resp, err = http.Head(s.url + "/deb/5.8/dists/bookworm/InRelease")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "no-cache") || resp.ContentLength <= 0 {
		t.Errorf("HEAD InRelease: %d %v", resp.StatusCode, resp.Header)
	}
	if code, _, _ := s.get("/deb/5.8/dists/bookworm/nope"); code != 404 {
		t.Errorf("missing file: %d", code)
	}
	code, asc, _ := s.get("/keys/pier.asc")
	if code != 200 || !bytes.HasPrefix(asc, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
		t.Errorf("/keys/pier.asc: %d %.40q", code, asc)
	}
	code, setup, _ := s.get("/setup/5.8/debian/bookworm")
	for _, want := range []string{"/keys/pier.gpg", "Signed-By:", "URIs: " + s.url + "/deb/5.8", "Suites: bookworm", "Components: main"} {
		if code != 200 || !bytes.Contains(setup, []byte(want)) {
			t.Errorf("setup lacks %q:\n%s", want, setup)
		}
	}
	code, list := s.do("GET", "/api/v1/targets/5.8/debian/bookworm/packages", nil)
	var pkgs []map[string]any
	if err := json.Unmarshal(list, &pkgs); code != 200 || err != nil || len(pkgs) != 1 || pkgs[0]["name"] != "hdr" ||
		pkgs[0]["sha256"] != sha(pkg) || pkgs[0]["architecture"] != "amd64" {
		t.Errorf("package list: %d %s", code, list)
	}
	if code, _, _ := s.get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	// Auth: no token 401, a refused token 401 with error="invalid_token".
	resp, _ = http.Post(s.url+"/api/v1/targets/5.8/debian/bookworm/packages", "application/octet-stream", bytes.NewReader(pkg))
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", s.url+"/api/v1/targets/5.8/debian/bookworm/packages", bytes.NewReader(pkg))
	req.Header.Set("Authorization", "Bearer wrong")
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="pier", error="invalid_token"` {
		t.Errorf("wrong token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// snapshot returns what a target serves: InRelease and every index and
// package it names, keyed by path.
func snapshot(t *testing.T, s *server, release string) map[string]string {
	t.Helper()
	out := map[string]string{}
	code, inrel, _ := s.get("/deb/5.8/dists/" + release + "/InRelease")
	if code != 200 {
		return out
	}
	out["InRelease"] = sha(inrel)
	for _, l := range strings.Split(string(inrel), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && len(f[0]) == 64 && strings.HasSuffix(f[2], "Packages") {
			_, body, _ := s.get("/deb/5.8/dists/" + release + "/" + f[2])
			out[f[2]] = sha(body)
			for _, pl := range strings.Split(string(body), "\n") {
				if fn, ok := strings.CutPrefix(pl, "Filename: "); ok {
					_, b, _ := s.get("/deb/5.8/" + fn)
					out[fn] = sha(b)
				}
			}
		}
	}
	return out
}

// TestBadInput sends broken and hostile uploads: each gets a 4xx with a
// message naming the problem, and the repository serves exactly what it
// served before.
func TestBadInput(t *testing.T) {
	s := startServer(t, "")
	good := mkdeb(t, "good", "1.0", "amd64", "good")
	if code, r := s.upload("5.8/debian/bookworm", good, "?publish=false"); code != 201 {
		t.Fatalf("upload: %d %v", code, r)
	}
	s.publish("5.8/debian/bookworm")
	before := snapshot(t, s, "bookworm")
	if len(before) < 3 {
		t.Fatalf("snapshot too small: %v", before)
	}

	build := func(o debtest.Options) []byte {
		if o.Package == "" && o.Control == "" {
			o.Package = "x"
		}
		if o.Version == "" {
			o.Version = "1.0"
		}
		if o.Arch == "" {
			o.Arch = "amd64"
		}
		b, err := debtest.Build(o)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rpmLead := append([]byte{0xed, 0xab, 0xee, 0xdb, 3, 0, 0, 0}, bytes.Repeat([]byte{0}, 200)...)
	cases := []struct {
		name string
		body []byte
		want string // substring of the error message
	}{
		{"empty", nil, "empty"},
		{"truncated", good[:len(good)/2], ""},
		{"truncated header", good[:70], ""},
		{"rpm to debian", rpmLead, "rpm"},
		{"no Package", build(debtest.Options{Control: "Version: 1.0\nArchitecture: amd64\nDescription: x\n"}), "Package"},
		{"no Version", build(debtest.Options{Control: "Package: x\nArchitecture: amd64\nDescription: x\n"}), "Version"},
		{"no Architecture", build(debtest.Options{Control: "Package: x\nVersion: 1.0\nDescription: x\n"}), "Architecture"},
		{"path traversal", build(debtest.Options{ControlEntries: []debtest.Entry{{Name: "../../evil", Data: []byte("x")}}}), ".."},
		{"bomb", build(debtest.Options{Padding: 64 << 20}), "expands"},
		{"300-char name", build(debtest.Options{Package: strings.Repeat("a", 300)}), "name"},
		{"not a package", []byte("hello world, I am a text file\n"), "not a deb"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, reply := s.upload("5.8/debian/bookworm", c.body, "")
			msg, _ := reply["error"].(string)
			if code < 400 || code >= 500 || msg == "" {
				t.Fatalf("%s: want 4xx with a message, got %d %v", c.name, code, reply)
			}
			if !strings.Contains(strings.ToLower(msg), strings.ToLower(c.want)) {
				t.Errorf("%s: message %q does not mention %q", c.name, msg, c.want)
			}
			t.Logf("%s: %d %s", c.name, code, msg)
		})
	}
	s.publish("5.8/debian/bookworm")
	after := snapshot(t, s, "bookworm")
	delete(before, "InRelease") // re-published: new Date, same content
	delete(after, "InRelease")
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("served content changed:\nbefore %v\nafter  %v", before, after)
	}
	ents := tempFiles(filepath.Join(s.data, "tmp"))
	if len(ents) != 0 {
		t.Errorf("upload temp files left: %v", ents)
	}
}

// TestConcurrentUploads sends 20 uploads at once: all end up published, by
// fewer publishes than uploads.
func TestConcurrentUploads(t *testing.T) {
	s := startServer(t, "")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		pkg := mkdeb(t, fmt.Sprintf("conc%02d", i), "1.0", "amd64", fmt.Sprint(i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, r := s.upload("nightly/debian/bookworm", pkg, ""); code != 201 {
				errs <- fmt.Sprintf("upload %d: %d %v", i, code, r)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// An explicit publish answers once every upload above is live.
	s.publish("nightly/debian/bookworm")
	_, body := s.do("GET", "/api/v1/targets", nil)
	var ts []struct {
		Stream, Distro, Release string
		Packages                int
		Generation              struct{ ID, Packages int }
	}
	if err := json.Unmarshal(body, &ts); err != nil || len(ts) != 1 {
		t.Fatalf("targets: %s", body)
	}
	if ts[0].Packages != n || ts[0].Generation.Packages != n {
		t.Fatalf("want %d packages published, got %+v", n, ts[0])
	}
	if ts[0].Generation.ID >= n {
		t.Errorf("uploads were not coalesced: %d generations for %d uploads", ts[0].Generation.ID, n)
	}
	t.Logf("%d uploads, %d generations", n, ts[0].Generation.ID)
	code, pk, _ := s.get("/deb/nightly/dists/bookworm/main/binary-amd64/Packages")
	if code != 200 || strings.Count(string(pk), "Package: conc") != n {
		t.Errorf("Packages does not list all %d packages", n)
	}
}
