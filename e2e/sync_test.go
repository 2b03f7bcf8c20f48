package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
