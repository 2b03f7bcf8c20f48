package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSyncToS3 publishes a deb target, runs `pier sync` to a real
// versitygw bucket and to a directory, and has the real apt-get install
// from the bucket's objects served over HTTP. A second sync with nothing
// changed uploads nothing; `pier sync --verify` passes, and fails once an
// object is damaged.
func TestSyncToS3(t *testing.T) {
	need(t, "apt-get")
	endpoint, access, secret, objects := startVersitygw(t, "pier-mirror")
	dirMirror := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`mirrors:
  - name: bucket
    type: s3
    bucket: pier-mirror
    endpoint: %s
    path_style: true
    access_key_id: %s
    secret_access_key: %s
    targets: ["*/*/*"]
  - name: www
    type: dir
    path: %s
    targets: ["5.8/*/*"]
`, endpoint, access, secret, dirMirror)), 0o600)
	s := startServer(t, "", "PIER_CONFIG="+cfg)
	pkgs := map[string][]byte{
		"mir-one:amd64": mkdeb(t, "mir-one", "1.0", "amd64", "one"),
		"mir-two:arm64": mkdeb(t, "mir-two", "1.0", "arm64", "two"),
	}
	for k, b := range pkgs {
		if code, r := s.upload("5.8/debian/bookworm", b, "?publish=false"); code != 201 {
			t.Fatalf("upload %s: %d %v", k, code, r)
		}
	}
	s.publish("5.8/debian/bookworm")
	sync := func(args ...string) (string, error) {
		cmd := exec.Command(pierBin, append([]string{"sync", "--data", s.data}, args...)...)
		cmd.Env = append(os.Environ(), "PIER_CONFIG="+cfg)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := sync()
	if err != nil || !strings.Contains(out, "bucket: uploaded") || !strings.Contains(out, "www: uploaded") {
		t.Fatalf("pier sync: %v\n%s", err, out)
	}
	out, err = sync("bucket")
	if err != nil || !strings.Contains(out, "bucket: uploaded 0 (0 bytes)") {
		t.Errorf("no-op sync uploaded something: %v\n%s", err, out)
	}
	if out, err := sync("--verify"); err != nil || !strings.Contains(out, "bucket: ok") || !strings.Contains(out, "www: ok") {
		t.Errorf("pier sync --verify: %v\n%s", err, out)
	}

	// apt-get against the bucket: versitygw's posix backend keeps each
	// object as a file, so serving that directory serves the bucket.
	mirror := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(objects, "pier-mirror"))))
	defer mirror.Close()
	key := writeKey(t, s, t.TempDir())
	apt := newApt(t, sourceLine(key, mirror.URL, "5.8", "bookworm"))
	apt.update()
	for k, want := range pkgs {
		if got := apt.download(k); !bytes.Equal(got, want) {
			t.Errorf("%s from the mirror differs", k)
		}
	}
	// The directory mirror holds the same tree.
	www := httptest.NewServer(http.FileServer(http.Dir(dirMirror)))
	defer www.Close()
	aptWWW := newApt(t, sourceLine(key, www.URL, "5.8", "bookworm"))
	aptWWW.update()

	// Damage one object: --verify reports it and exits non-zero.
	inrel := filepath.Join(objects, "pier-mirror", "deb/5.8/dists/bookworm/Release")
	os.WriteFile(inrel, []byte("damaged"), 0o644)
	if out, err := sync("--verify", "bucket"); err == nil || !strings.Contains(out, "deb/5.8/dists/bookworm/Release") {
		t.Errorf("verify missed a damaged object: %v\n%s", err, out)
	}
}

// TestAutoSyncReaders: pier serve syncs a directory mirror after every
// publish (GET /api/v1/mirrors shows it), and the real apt-get update,
// run in a loop against the mirror while 20 publishes and their syncs go
// on, never sees a hash mismatch or any other problem.
func TestAutoSyncReaders(t *testing.T) {
	need(t, "apt-get")
	dirMirror := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("publish:\n  delay: 10ms\nmirrors:\n  - name: www\n    type: dir\n    path: %s\n", dirMirror)), 0o600)
	s := startServer(t, "", "PIER_CONFIG="+cfg)
	if code, r := s.upload("5.8/debian/bookworm", mkdeb(t, "auto-0", "1.0", "amd64", "0"), ""); code != 201 {
		t.Fatalf("upload: %d %v", code, r)
	}
	waitMirror := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if b, err := os.ReadFile(filepath.Join(dirMirror, "deb/5.8/dists/bookworm/main/binary-amd64/Packages")); err == nil &&
				strings.Contains(string(b), want) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("the mirror never got %s", want)
	}
	waitMirror("Package: auto-0\n")
	code, body := s.do("GET", "/api/v1/mirrors", nil)
	var st []struct {
		Name       string
		LastOK     string                 `json:"last_ok"`
		LastError  string                 `json:"last_error"`
		LastReport struct{ Uploaded int } `json:"last_report"`
	}
	if err := json.Unmarshal(body, &st); code != 200 || err != nil || len(st) != 1 || st[0].Name != "www" || st[0].LastOK == "" || st[0].LastError != "" {
		t.Fatalf("GET /api/v1/mirrors: %d %s", code, body)
	}

	www := httptest.NewServer(http.FileServer(http.Dir(dirMirror)))
	defer www.Close()
	apt := newApt(t, sourceLine(writeKey(t, s, t.TempDir()), www.URL, "5.8", "bookworm"))
	apt.update()

	done := make(chan struct{})
	var runs int
	var bad []string
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-done:
				return
			default:
			}
			out, err := apt.run("update")
			runs++
			if p := problems(out); err != nil || len(p) > 0 {
				bad = append(bad, fmt.Sprintf("run %d: %v %v", runs, err, p))
			}
		}
	}()
	for i := 1; i <= 20; i++ {
		if code, r := s.upload("5.8/debian/bookworm", mkdeb(t, fmt.Sprintf("auto-%d", i), "1.0", "amd64", fmt.Sprint(i)), "?publish=false"); code != 201 {
			t.Fatalf("upload %d: %d %v", i, code, r)
		}
		s.publish("5.8/debian/bookworm")
	}
	waitMirror("Package: auto-20\n")
	close(done)
	<-readerDone
	if len(bad) > 0 {
		t.Errorf("apt-get update saw problems during syncs:\n%s", strings.Join(bad, "\n"))
	}
	t.Logf("%d apt-get update runs during 20 publishes and syncs", runs)
	apt.update()
	if got := apt.download("auto-20"); len(got) == 0 {
		t.Error("auto-20 not downloadable from the mirror")
	}
}
