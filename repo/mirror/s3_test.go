package mirror

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pierhq/pier/storage"
	"github.com/pierhq/pier/storage/s3"
)

// s3Dest starts a real versitygw (skipped outside CI when it is missing,
// a failure in CI) and returns a constructor of fresh bucket prefixes on it.
func s3Dest(t *testing.T) func(t *testing.T) storage.Backend {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		if gp, gerr := exec.Command("go", "env", "GOPATH").Output(); gerr == nil {
			if p := filepath.Join(string(trimNL(gp)), "bin", "versitygw"); fileExists(p) {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("versitygw is required in CI")
		}
		t.Skip("versitygw not installed")
	}
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "mirror"), 0o755)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	k := make([]byte, 16)
	rand.Read(k)
	access, secret := "m"+hex.EncodeToString(k[:4]), hex.EncodeToString(k)
	cmd := exec.Command(bin, "--port", addr, "--access", access, "--secret", secret, "--quiet", "posix", dir)
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
			t.Fatal("versitygw did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	n := 0
	return func(t *testing.T) storage.Backend {
		n++
		cfg := s3.Config{Bucket: "mirror", Prefix: fmt.Sprintf("run%d/", n), Endpoint: "http://" + addr, PathStyle: true,
			AccessKeyID: access, SecretAccessKey: secret}
		cfg.Defaults()
		b, err := s3.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
