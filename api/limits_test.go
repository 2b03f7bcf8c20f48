package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/auth"
)

// live serves e on a real listener (the limits act on connections) and
// returns its address and the http.Server; smallSend shrinks the send
// buffer of every accepted connection so that a client that stops reading
// stalls the server's writes quickly.
func (e *env) live(smallSend bool, connState ...func(net.Conn, http.ConnState)) (string, *http.Server) {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	hs := e.srv.HTTPServer()
	var l net.Listener = ln
	if smallSend {
		l = sendBufListener{ln}
	}
	if len(connState) > 0 {
		hs.ConnState = connState[0] // set before Serve: the server reads it from its goroutines
	}
	go hs.Serve(e.srv.Listener(l))
	e.t.Cleanup(func() { hs.Close() })
	return ln.Addr().String(), hs
}

type sendBufListener struct{ net.Listener }

func (l sendBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

// dialSmall connects with a small receive buffer.
func dialSmall(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitClosed reads c until the server closes it (EOF or reset) and
// returns how long that took and what was read; it fails after limit.
func waitClosed(t *testing.T, c net.Conn, limit time.Duration) (time.Duration, []byte) {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	var got bytes.Buffer
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the server kept the connection open for %s", limit)
			}
			return time.Since(start), got.Bytes()
		}
	}
}

// TestIdleAndSilentConnections: a keep-alive connection is closed after
// the idle timeout, a connection that sends nothing or trickles its
// headers after the header timeout.
func TestIdleAndSilentConnections(t *testing.T) {
	e := newEnv(t, auth.Config{}, api.Config{Limits: api.Limits{IdleTimeout: time.Second, ReadHeaderTimeout: time.Second}})
	addr, _ := e.live(false)

	t.Run("idle keep-alive", func(t *testing.T) {
		c := dialSmall(t, addr)
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 || resp.Close {
			t.Fatalf("keep-alive request: %v %v", resp, err)
		}
		resp.Body.Close()
		if d, _ := waitClosed(t, c, 20*time.Second); d < 500*time.Millisecond {
			t.Errorf("closed after %s, before the idle timeout", d)
		}
	})
	t.Run("silent", func(t *testing.T) {
		c := dialSmall(t, addr)
		waitClosed(t, c, 20*time.Second)
	})
	t.Run("headers trickling", func(t *testing.T) {
		c := dialSmall(t, addr)
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\n")
		go func() {
			// One header line every 200ms, until the server hangs up.
			for i := 0; ; i++ {
				time.Sleep(200 * time.Millisecond)
				if _, err := fmt.Fprintf(c, "X-Slow-%d: 1\r\n", i); err != nil {
					return
				}
			}
		}()
		_, got := waitClosed(t, c, 20*time.Second)
		if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 408")) {
			t.Errorf("answer to trickled headers: %q", got)
		}
	})
}

// TestSlowBody: an upload slower than body_min_rate over a window is cut
// (408, audited as "timeout", nothing recorded), while an upload that
// keeps the rate completes even though it lasts longer than a window.
func TestSlowBody(t *testing.T) {
	e := newEnv(t, auth.Config{}, api.Config{Limits: api.Limits{BodyMinRate: 4000, BodyRateWindow: time.Second}})
	addr, _ := e.live(false)
	pkg := mkdeb(t, "trickle", "1.0")
	noise := make([]byte, 60000)
	rand.Read(noise)
	steady, err := debWithPayload("steady", noise)
	if err != nil {
		t.Fatal(err)
	}
	const path = "/api/v1/targets/5.8/debian/bookworm/packages?publish=false"

	t.Run("1 byte per 50ms is cut", func(t *testing.T) {
		c := dialSmall(t, addr)
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", path, adminSecret, len(pkg))
		go func() {
			for _, b := range pkg {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond) // the slow client
			}
		}()
		d, got := waitClosed(t, c, 30*time.Second)
		if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 408")) {
			t.Errorf("answer: %q", got)
		}
		if d > 10*time.Second {
			t.Errorf("cut after %s", d)
		}
		// The handler records the refusal once it has answered.
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, dt := lastDetailMaybe(e)
			if dt["outcome"] == "timeout" && dt["status"] == float64(408) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no timeout audited: %v", dt)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("an unread body trickled after a refusal is cut", func(t *testing.T) {
		// No token: 401 before the body is read; net/http then drains
		// the body, which must not let the client hold the connection.
		c := dialSmall(t, addr)
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", path)
		go func() {
			for {
				if _, err := c.Write([]byte{0}); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond) // the slow client
			}
		}()
		_, got := waitClosed(t, c, 30*time.Second)
		if !bytes.HasPrefix(got, []byte("HTTP/1.1 401")) {
			t.Errorf("answer: %q", got)
		}
	})
	t.Run("steady but longer than a window completes", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			// 6 pieces, 300ms apart: about 1.5 s in all, at 40 kB/s.
			step := len(steady)/6 + 1
			for i := 0; i < len(steady); i += step {
				pw.Write(steady[i:min(i+step, len(steady))])
				time.Sleep(300 * time.Millisecond)
			}
			pw.Close()
		}()
		req, _ := http.NewRequest("POST", "http://"+addr+path, pr)
		req.ContentLength = int64(len(steady))
		req.Header.Set("Authorization", "Bearer "+adminSecret)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Errorf("steady upload: %d %s", resp.StatusCode, body)
		}
		if time.Since(start) < 1200*time.Millisecond {
			t.Errorf("the upload took only %s: it does not prove a deadline extended", time.Since(start))
		}
	})
	if ps, _ := e.svc.Packages(context.Background(), mustTarget(t, "5.8/debian/bookworm")); len(ps) != 1 || ps[0].Name != "steady" {
		t.Errorf("packages: %v", ps)
	}
}

func lastDetailMaybe(e *env) (bool, map[string]any) {
	ev := e.events()
	if len(ev) == 0 {
		return false, nil
	}
	var d map[string]any
	json.Unmarshal(ev[0].Detail, &d)
	return true, d
}

// TestDownloads: a client that stops reading a large file is cut after
// write_timeout; one that reads slowly but steadily gets the whole file
// even though it takes twice as long as write_timeout.
func TestDownloads(t *testing.T) {
	e := newEnv(t, auth.Config{}, api.Config{Limits: api.Limits{WriteTimeout: 1500 * time.Millisecond}})
	noise := make([]byte, 1<<20)
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
	var mu sync.Mutex
	closed := map[string]chan struct{}{}
	closedCh := func(a string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if closed[a] == nil {
			closed[a] = make(chan struct{})
		}
		return closed[a]
	}
	addr, _ := e.live(true, func(c net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			close(closedCh(c.RemoteAddr().String()))
		}
	})
	get := "GET /" + up.Path + " HTTP/1.1\r\nHost: x\r\n\r\n"

	t.Run("stalled reader is cut", func(t *testing.T) {
		c := dialSmall(t, addr)
		fmt.Fprint(c, get)
		select {
		case <-closedCh(c.LocalAddr().String()):
		case <-time.After(20 * time.Second):
			t.Fatal("the server still writes to a reader that stopped")
		}
		_, got := waitClosed(t, c, 10*time.Second)
		if len(got) >= len(big) {
			t.Errorf("the stalled reader got %d bytes of %d", len(got), len(big))
		}
	})
	t.Run("slow steady reader completes", func(t *testing.T) {
		c := dialSmall(t, addr)
		fmt.Fprint(c, get)
		start := time.Now()
		// 32 KiB every 100ms: 1 MiB in about 3.2 s, twice the write timeout.
		br := bufio.NewReader(&pacedReader{r: c, chunk: 32 << 10, every: 100 * time.Millisecond})
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(body, big) {
			t.Errorf("slow download: %d of %d bytes, %v", len(body), len(big), err)
		}
		if time.Since(start) < 2*time.Second {
			t.Errorf("the download took only %s: it does not prove a deadline extended", time.Since(start))
		}
	})
}

// pacedReader reads at most chunk bytes every interval.
type pacedReader struct {
	r     io.Reader
	chunk int
	every time.Duration
	left  int
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		time.Sleep(p.every)
		p.left = p.chunk
	}
	n, err := p.r.Read(b[:min(len(b), p.left)])
	p.left -= n
	return n, err
}

// TestUploadCaps: beyond max_uploads_per_client running uploads from one
// address, and beyond max_uploads_per_token for one token, an upload gets
// 429 with Retry-After before its body is read; the slots come back when
// uploads end.
func TestUploadCaps(t *testing.T) {
	_, proxy, _ := net.ParseCIDR("127.0.0.1/32")
	e := newEnv(t, auth.Config{Failures: -1}, api.Config{TrustedProxies: []*net.IPNet{proxy},
		Limits: api.Limits{MaxUploadsPerClient: 1, MaxUploadsPerToken: 2, BodyMinRate: -1}})
	addr, _ := e.live(false)
	t1 := e.token("ci-one", "upload")
	t2 := e.token("ci-two", "upload")
	const path = "/api/v1/targets/5.8/debian/bookworm/packages?publish=false"
	probe := mkdeb(t, "probe", "1.0")

	send := func(token, from string, body io.Reader, size int64) (int, string, http.Header) {
		req, _ := http.NewRequest("POST", "http://"+addr+path, body)
		req.ContentLength = size
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Forwarded-For", from)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	// hold starts an upload that sends half its body and waits for release.
	type held struct {
		release chan struct{}
		code    chan int
	}
	hold := func(token, from, name string) held {
		pkg := mkdeb(t, name, "1.0")
		h := held{make(chan struct{}), make(chan int, 1)}
		pr, pw := io.Pipe()
		go func() {
			pw.Write(pkg[:len(pkg)/2])
			<-h.release
			pw.Write(pkg[len(pkg)/2:])
			pw.Close()
		}()
		go func() {
			code, _, _ := send(token, from, pr, int64(len(pkg)))
			h.code <- code
		}()
		return h
	}
	// running waits until n uploads hold their slots.
	running := func(n float64) {
		deadline := time.Now().Add(20 * time.Second)
		for e.scrape()["pier_uploads_in_progress"] != n {
			if time.Now().After(deadline) {
				t.Fatalf("never %v uploads in progress", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// busy sends a probe from `from` with token and wants 429.
	busy := func(token, from string) (string, http.Header) {
		code, body, hdr := send(token, from, bytes.NewReader(probe), int64(len(probe)))
		if code != http.StatusTooManyRequests {
			t.Fatalf("probe from %s: %d %s", from, code, body)
		}
		return body, hdr
	}

	a := hold(t1, "198.51.100.1", "held-a")
	running(1)
	body, hdr := busy(t2, "198.51.100.1")
	if !strings.Contains(body, "your address (198.51.100.1) already runs 1 uploads") || hdr.Get("Retry-After") == "" {
		t.Errorf("per-client refusal: %s, Retry-After %q", body, hdr.Get("Retry-After"))
	}
	b := hold(t1, "198.51.100.2", "held-b")
	running(2)
	busy(t2, "198.51.100.2")
	// Token ci-one runs two uploads: a third from a fresh address is refused.
	code, body, hdr := send(t1, "198.51.100.3", bytes.NewReader(probe), int64(len(probe)))
	if code != http.StatusTooManyRequests || !strings.Contains(body, "token ci-one already runs 2 uploads") || hdr.Get("Retry-After") == "" {
		t.Errorf("per-token refusal: %d %s", code, body)
	}
	// Another token from a fresh address goes through.
	if code, body, _ := send(t2, "198.51.100.3", bytes.NewReader(probe), int64(len(probe))); code != 200 && code != 201 {
		t.Errorf("ci-two from a free address: %d %s", code, body)
	}
	close(a.release)
	close(b.release)
	if ca, cb := <-a.code, <-b.code; ca != 201 || cb != 201 {
		t.Errorf("held uploads: %d %d", ca, cb)
	}
	running(0)
	// The slots are free again.
	if code, body, _ := send(t1, "198.51.100.1", bytes.NewReader(probe), int64(len(probe))); code != 200 {
		t.Errorf("after the held uploads ended: %d %s", code, body)
	}
}

// TestConnectionCap: with max_connections open, the next connection is
// served only once one of them is closed (here by the header timeout).
func TestConnectionCap(t *testing.T) {
	e := newEnv(t, auth.Config{}, api.Config{Limits: api.Limits{MaxConnections: 2, ReadHeaderTimeout: time.Second}})
	addr, _ := e.live(false)
	start := time.Now()
	for range 2 {
		c := dialSmall(t, addr) // silent: holds a slot until the header timeout
		fmt.Fprint(c, "G")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := time.Since(start); resp.StatusCode != 200 || d < 700*time.Millisecond {
		t.Errorf("third connection: %d after %s; want 200 only after a slot was freed (about 1s)", resp.StatusCode, d)
	}
}
