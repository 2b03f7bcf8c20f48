package api_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"testing"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
)

// fileConnListener hands out connections that count the ReadFrom calls
// whose source is a file (what TCPConn.ReadFrom sends with sendfile).
type fileConnListener struct {
	net.Listener
	files, bytes *atomic.Int64
}

func (l fileConnListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &fileConn{TCPConn: c.(*net.TCPConn), l: l}, nil
}

type fileConn struct {
	*net.TCPConn
	l fileConnListener
}

func (c *fileConn) ReadFrom(r io.Reader) (int64, error) {
	src := r
	if lr, ok := r.(*io.LimitedReader); ok {
		src = lr.R
	}
	n, err := c.TCPConn.ReadFrom(r)
	if _, ok := src.(*os.File); ok {
		c.l.files.Add(1)
		c.l.bytes.Add(n)
	}
	return n, err
}

// TestLargeFileSendfile: a package file of the local blob store reaches
// the connection's ReadFrom as an *os.File through echo's response, the
// deadline writer and the connection cap, so the kernel sends it with
// sendfile; Range requests take the same path and the bytes are right.
func TestLargeFileSendfile(t *testing.T) {
	e := newEnv(t, auth.Config{}, api.Config{})
	noise := make([]byte, 3<<20)
	rand.Read(noise)
	big, err := debWithPayload("bigfile", noise)
	if err != nil {
		t.Fatal(err)
	}
	w := e.do(req{method: "POST", path: "/api/v1/targets/5.8/debian/bookworm/packages?publish=false", body: big, bearer: adminSecret})
	var up api.UploadResult
	if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &up) != nil || up.Path == "" {
		t.Fatalf("upload: %d %s", w.Code, w.Body)
	}
	e.publish("5.8/debian/bookworm")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var files, sent atomic.Int64
	hs := e.srv.HTTPServer()
	go hs.Serve(e.srv.Listener(fileConnListener{Listener: ln, files: &files, bytes: &sent}))
	t.Cleanup(func() { hs.Close() })
	url := "http://" + ln.Addr().String() + "/" + up.Path

	for _, tc := range []struct {
		name   string
		rng    string
		status int
		want   []byte
	}{
		{"whole file", "", 200, big},
		{"range", "bytes=1000-2099999", 206, big[1000:2100000]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files.Store(0)
			sent.Store(0)
			r, _ := http.NewRequest("GET", url, nil)
			if tc.rng != "" {
				r.Header.Set("Range", tc.rng)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != tc.status || !bytes.Equal(body, tc.want) {
				t.Fatalf("GET %s: %d, %d bytes (want %d, %d bytes), %v", tc.rng, resp.StatusCode, len(body), tc.status, len(tc.want), err)
			}
			// net/http copies the first 512 bytes itself before it hands
			// the rest to the connection.
			if files.Load() == 0 || sent.Load() < int64(len(tc.want))-512 {
				t.Errorf("the connection's ReadFrom sent %d bytes of a file in %d calls; want all but the first 512 of %d",
					sent.Load(), files.Load(), len(tc.want))
			}
		})
	}
}
