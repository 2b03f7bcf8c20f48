package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

// fakePier answers uploads from a script of statuses (then 201) and GET
// /api/v1/targets from a script of target states (the last one repeats).
type fakePier struct {
	mu       sync.Mutex
	uploads  []int // statuses to answer, in order; 0 drops the connection
	sent     int
	states   []repo.TargetInfo
	polled   int
	received map[string]int // uploads received per body
}

func (f *fakePier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer tok" {
		http.Error(w, `{"error":"no"}`, http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == "POST":
		body, _ := io.ReadAll(r.Body)
		f.received[string(body)]++
		code := 201
		if f.sent < len(f.uploads) {
			code = f.uploads[f.sent]
		}
		f.sent++
		switch code {
		case 0:
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		case 201, 200:
			json.NewEncoder(w).Encode(map[string]any{"name": "p", "version": "1", "architecture": "all", "path": "deb/x.deb", "created": code == 201})
		default:
			if code == 429 || code == 503 {
				w.Header().Set("Retry-After", "3")
			}
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"error":"status %d"}`, code)
		}
	case r.URL.Path == "/api/v1/targets":
		st := f.states[min(f.polled, len(f.states)-1)]
		f.polled++
		json.NewEncoder(w).Encode([]repo.TargetInfo{st})
	default:
		http.NotFound(w, r)
	}
}

// newPusher returns a pusher of files to a fake server, with its output
// and the waits it slept.
func newPusher(t *testing.T, f *fakePier, o pushOptions) (*pusher, *bytes.Buffer, *bytes.Buffer, *[]time.Duration) {
	t.Helper()
	f.received = map[string]int{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	var out, errOut bytes.Buffer
	var slept []time.Duration
	o.token = "tok"
	o.publish = true
	if o.waitTimeout == 0 {
		o.waitTimeout = time.Minute
	}
	p := &pusher{c: &cli{stdout: &out, stderr: &errOut}, o: o, base: srv.URL, client: srv.Client(),
		target: repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"},
		sleep: func(ctx context.Context, d time.Duration) error {
			slept = append(slept, d)
			return ctx.Err()
		}}
	return p, &out, &errOut, &slept
}

func pkgFiles(t *testing.T, names ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var out []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		os.WriteFile(p, []byte("bytes of "+n), 0o644)
		out = append(out, p)
	}
	return out
}

// TestPushRetriesWithBackoff: a dropped connection, a 5xx and a 429 are
// retried (a Retry-After honoured, otherwise 1 s doubling with jitter);
// a 4xx is final; every line names its file.
func TestPushRetriesWithBackoff(t *testing.T) {
	f := &fakePier{uploads: []int{0, 502, 429, 201, 409}}
	p, out, errOut, slept := newPusher(t, f, pushOptions{retries: 5})
	files := pkgFiles(t, "a.deb", "b.deb")
	err := p.run(context.Background(), files)
	if err != errSilent {
		t.Errorf("run: %v (b.deb got 409)", err)
	}
	if f.received["bytes of a.deb"] != 4 || f.received["bytes of b.deb"] != 1 {
		t.Errorf("sent %v", f.received)
	}
	if len(*slept) != 3 || (*slept)[0] < 500*time.Millisecond || (*slept)[0] > time.Second ||
		(*slept)[1] < time.Second || (*slept)[1] > 2*time.Second || (*slept)[2] != 3*time.Second {
		t.Errorf("waits %v: want ~1s, ~2s (jittered down to half), then Retry-After 3s", *slept)
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()+errOut.String()), "\n") {
		if !strings.Contains(l, files[0]) && !strings.Contains(l, files[1]) && !strings.HasPrefix(l, "pier: 1 of 2") {
			t.Errorf("a line names no file: %q", l)
		}
	}
	if !strings.Contains(out.String(), "added p 1 all "+files[0]) || !strings.Contains(out.String(), "FAIL "+files[1]+": 409") {
		t.Errorf("stdout:\n%s", out)
	}
	if !strings.Contains(errOut.String(), files[0]+": 502 Bad Gateway: status 502; retry 2 of 5") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

// TestPushGivesUp: after --retries retries the file fails.
func TestPushGivesUp(t *testing.T) {
	f := &fakePier{uploads: []int{503, 503, 503}}
	p, out, _, slept := newPusher(t, f, pushOptions{retries: 2})
	files := pkgFiles(t, "a.deb")
	if err := p.run(context.Background(), files); err != errSilent {
		t.Errorf("run: %v", err)
	}
	if f.sent != 3 || len(*slept) != 2 || !strings.Contains(out.String(), "FAIL "+files[0]+": 503") {
		t.Errorf("sent %d, slept %v, out %s", f.sent, *slept, out)
	}
}

// TestPushWait: --wait returns once a generation with the pushed
// revision is live, fails when a publish fails after the push, and
// gives up after --wait-timeout.
func TestPushWait(t *testing.T) {
	pending := repo.TargetInfo{Revision: 7, Current: &repo.Generation{Seq: 2, Revision: 6}, State: repo.StatePending}
	pending.Target = repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	done := pending
	done.Current = &repo.Generation{Seq: 3, Revision: 7}
	failed := pending
	failed.PublishFailures, failed.PublishError, failed.State = 1, "disk full", repo.StateFailed

	f := &fakePier{states: []repo.TargetInfo{pending, pending, done}}
	p, out, _, _ := newPusher(t, f, pushOptions{wait: true})
	files := pkgFiles(t, "a.deb", "b.deb")
	if err := p.run(context.Background(), files); err != nil {
		t.Errorf("wait: %v\n%s", err, out)
	}
	for _, file := range files {
		if !strings.Contains(out.String(), "published "+file+" in 5.8/debian/bookworm generation 3") {
			t.Errorf("no published line for %s:\n%s", file, out)
		}
	}

	f = &fakePier{states: []repo.TargetInfo{pending, failed}}
	p, out, _, _ = newPusher(t, f, pushOptions{wait: true})
	if err := p.run(context.Background(), files); err != errSilent {
		t.Errorf("failed publish: %v", err)
	}
	if !strings.Contains(out.String(), "FAIL "+files[0]+": not published: the publish of 5.8/debian/bookworm failed: disk full") {
		t.Errorf("failed publish:\n%s", out)
	}

	f = &fakePier{states: []repo.TargetInfo{pending}}
	p, out, _, _ = newPusher(t, f, pushOptions{wait: true, waitTimeout: 50 * time.Millisecond})
	p.sleep = sleepCtx
	if err := p.run(context.Background(), files[:1]); err != errSilent || !strings.Contains(out.String(), "--wait-timeout") {
		t.Errorf("timeout: %v\n%s", err, out)
	}
}

// TestPushJSON: --json prints one document with every file's outcome and
// the generation waited for.
func TestPushJSON(t *testing.T) {
	ti := repo.TargetInfo{Revision: 1, Current: &repo.Generation{Seq: 1, Revision: 1}}
	f := &fakePier{uploads: []int{201, 422}, states: []repo.TargetInfo{ti}}
	p, out, _, _ := newPusher(t, f, pushOptions{wait: true, asJSON: true})
	p.target = ti.Target
	files := pkgFiles(t, "a.deb", "b.deb")
	f.states[0].Target = p.target
	p.run(context.Background(), files)
	var rep pushReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, out)
	}
	if rep.OK || len(rep.Files) != 2 || rep.Files[0].Outcome != "added" || rep.Files[0].File != files[0] ||
		rep.Files[1].Outcome != "failed" || rep.Files[1].Status != 422 || rep.Generation == nil || rep.Generation.Seq != 1 {
		t.Errorf("report: %+v", rep)
	}
}
