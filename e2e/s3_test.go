package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/storage/s3/s3test"
)

// startVersitygw runs a real S3-compatible server with one bucket and
// returns its endpoint, credentials and the directory holding the objects.
func startVersitygw(t testing.TB, bucket string) (endpoint, access, secret, dir string) {
	t.Helper()
	srv := s3test.Start(t, bucket)
	return srv.Endpoint, srv.Access, srv.Secret, srv.Dir
}

// TestS3BlobStore runs pier serve with `storage: {type: s3}` against a real
// versitygw: uploads land in the bucket (the data dir holds no package
// bytes), and the real apt-get installs from Pier serving those blobs,
// Range requests included.
func TestS3BlobStore(t *testing.T) {
	need(t, "apt-get")
	endpoint, access, secret, objects := startVersitygw(t, "pier-blobs")
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`storage:
  type: s3
  s3:
    bucket: pier-blobs
    prefix: blobs/
    endpoint: %s
    path_style: true
    access_key_id: %s
    secret_access_key: %s
`, endpoint, access, secret)), 0o600)
	s := startServer(t, "", "PIER_CONFIG="+cfg)
	pkgs := map[string][]byte{
		"s3-one:amd64": mkdeb(t, "s3-one", "1.0", "amd64", strings.Repeat("one ", 3000)),
		"s3-two":       mkdeb(t, "s3-two", "2.0", "all", "two"),
	}
	paths := map[string]string{}
	for k, b := range pkgs {
		code, r := s.upload("5.8/debian/bookworm", b, "?publish=false")
		if code != 201 {
			t.Fatalf("upload %s: %d %v", k, code, r)
		}
		paths[k] = r["path"].(string)
		// The blob is an object in the bucket, not a file in the data dir.
		h := sha(b)
		if _, err := os.Stat(filepath.Join(objects, "pier-blobs", "blobs", "sha256", h[:2], h)); err != nil {
			t.Errorf("%s: no object in the bucket: %v", k, err)
		}
	}
	s.publish("5.8/debian/bookworm")
	if ents, _ := os.ReadDir(filepath.Join(s.data, "blobs")); len(ents) != 0 {
		t.Errorf("data dir holds blobs with storage type s3: %v", ents)
	}
	apt := newApt(t, sourceLine(writeKey(t, s, t.TempDir()), s.url, "5.8", "bookworm"))
	apt.update()
	for k, want := range pkgs {
		if got := apt.download(k); !bytes.Equal(got, want) {
			t.Errorf("%s: downloaded bytes differ", k)
		}
	}
	// A Range request is answered from the object (ranged GET), not the whole.
	req, _ := http.NewRequest("GET", s.url+"/"+paths["s3-one:amd64"], nil)
	req.Header.Set("Range", "bytes=100-199")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, pkgs["s3-one:amd64"][100:200]) {
		t.Errorf("Range from S3: %d, %d bytes", resp.StatusCode, len(part))
	}
	code, body, _ := s.get("/deb/5.8/dists/bookworm/InRelease")
	if code != 200 || !bytes.HasPrefix(body, []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		t.Fatalf("InRelease from S3: %d", code)
	}

	// Garbage collection in S3: once s3-two is deleted and the generations
	// holding it are older than the retained three, pier gc deletes its
	// object from the bucket and keeps everything still served.
	if code, body := s.do("DELETE", "/api/v1/targets/5.8/debian/bookworm/packages/s3-two/2.0/all?publish=false", nil); code != 200 {
		t.Fatalf("delete s3-two: %d %s", code, body)
	}
	for range 3 {
		s.publish("5.8/debian/bookworm")
	}
	object := func(b []byte) string {
		h := sha(b)
		return filepath.Join(objects, "pier-blobs", "blobs", "sha256", h[:2], h)
	}
	out, err := exec.Command(pierBin, "gc", "--data", s.data, "--config", cfg, "--grace", "0s").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "forgot 1 generation(s) and 1 removed package(s)") {
		t.Fatalf("pier gc: %v\n%s", err, out)
	}
	if _, err := os.Stat(object(pkgs["s3-two"])); !os.IsNotExist(err) {
		t.Errorf("s3-two's object is still in the bucket after gc: %v", err)
	}
	if _, err := os.Stat(object(pkgs["s3-one:amd64"])); err != nil {
		t.Errorf("s3-one's object was collected: %v", err)
	}
	apt.update()
	if got := apt.download("s3-one:amd64"); !bytes.Equal(got, pkgs["s3-one:amd64"]) {
		t.Errorf("s3-one after gc: downloaded bytes differ")
	}
}
