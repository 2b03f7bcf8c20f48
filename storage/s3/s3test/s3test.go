// Package s3test starts a real S3-compatible server (versitygw, posix
// backend) for tests: the storage/s3, mirror and end-to-end tests share it.
package s3test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is its URL, http://127.0.0.1:PORT.
	Endpoint string
	// Access and Secret are its credentials.
	Access, Secret string
	// Dir holds one subdirectory per bucket, one file per object.
	Dir string
}

// Binary returns the versitygw binary (PATH, then $(go env GOPATH)/bin).
// When it is missing the test is skipped, or failed when CI=true.
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if gp, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(strings.Split(string(gp), ":")[0]), "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("versitygw is required in CI (.ci/versitygw.sh installs it)")
	}
	t.Skip("versitygw not installed")
	return ""
}

// Start runs versitygw on a free 127.0.0.1 port with the buckets created,
// and stops it (SIGTERM, then SIGKILL) when the test ends.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	for _, b := range buckets {
		if err := os.Mkdir(filepath.Join(dir, b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	k := make([]byte, 16)
	rand.Read(k)
	s := &Server{Endpoint: "http://" + addr, Access: "pier" + hex.EncodeToString(k[:4]), Secret: hex.EncodeToString(k), Dir: dir}
	cmd := exec.Command(bin, "--port", addr, "--access", s.Access, "--secret", s.Secret, "--quiet", "posix", dir)
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
			return s
		}
		if i > 100 {
			t.Fatalf("versitygw did not start:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
