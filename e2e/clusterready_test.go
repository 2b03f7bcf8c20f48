package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/pgtest"
)

// cutter forwards TCP connections to a target until it is cut: then it
// closes every connection and refuses new ones, as a network partition
// between a node and a service would look, until it is mended.
type cutter struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newCutter(t *testing.T, target string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); c.setCut(true) })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			if c.cut {
				c.mu.Unlock()
				in.Close()
				continue
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				c.mu.Unlock()
				in.Close()
				continue
			}
			c.conns[in], c.conns[out] = true, true
			c.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return c
}

func (c *cutter) addr() string { return c.ln.Addr().String() }

// setCut cuts (true) or mends (false) the link.
func (c *cutter) setCut(cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = cut
	if cut {
		for conn := range c.conns {
			conn.Close()
			delete(c.conns, conn)
		}
	}
}

// TestClusterReadyz: a node on PostgreSQL and S3 reports not ready on
// /readyz while it cannot reach PostgreSQL (the server stopped) or S3 (the
// link cut), and ready again once they are back, without a restart.
func TestClusterReadyz(t *testing.T) {
	pg := pgtest.Start(t)
	dsn := pg.NewDatabase(t)
	endpoint, access, secret, _ := startVersitygw(t, "pier-ready")
	s3link := newCutter(t, endpoint[len("http://"):])
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`catalog:
  type: postgres
storage:
  type: s3
  s3:
    bucket: pier-ready
    endpoint: http://%s
    path_style: true
    access_key_id: %s
    secret_access_key: %s
`, s3link.addr(), access, secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "PIER_CONFIG="+cfg, "PIER_DATABASE_URL="+dsn)
	ready := func() int { code, _, _ := s.get("/readyz"); return code }
	wait := func(want int, what string) {
		t.Helper()
		waitFor(t, 60*time.Second, what, func() bool { return ready() == want })
	}
	wait(200, "ready at start")
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	wait(503, "not ready without PostgreSQL")
	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	wait(200, "ready again with PostgreSQL back")
	s3link.setCut(true)
	wait(503, "not ready without S3")
	s3link.setCut(false)
	wait(200, "ready again with S3 back")
	// The node works after both came back: an upload and a publish.
	if code, r := s.upload("5.8/debian/bookworm", mkdeb(t, "after", "1.0", "amd64", "x"), ""); code != 201 {
		t.Fatalf("upload after the outages: %d %v\n%s", code, r, s.logs())
	}
	s.publish("5.8/debian/bookworm")
}
