package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startVersitygw runs a real S3-compatible server (versitygw, posix
// backend) on a free 127.0.0.1 port with one bucket, and returns its
// endpoint, credentials and the directory holding the bucket's objects.
func startVersitygw(t *testing.T, bucket string) (endpoint, access, secret, dir string) {
	t.Helper()
	bin := need(t, "versitygw")
	dir = t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, bucket), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	k := make([]byte, 16)
	rand.Read(k)
	access, secret = "pier"+hex.EncodeToString(k[:4]), hex.EncodeToString(k)
	cmd := exec.Command(bin, "--port", addr, "--access", access, "--secret", secret, "--quiet", "posix", dir)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatalf("versitygw did not start:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "http://" + addr, access, secret, dir
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
}
