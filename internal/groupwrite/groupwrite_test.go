package groupwrite

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder counts the writes it is given and can hold them up.
type recorder struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	gate   chan struct{} // when set, each write waits for a receive
	err    error
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	r.buf.Write(p)
	return len(p), r.err
}

func (r *recorder) snapshot() (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String(), r.writes
}

// TestOrderAndAll: every line written by many goroutines arrives once and
// whole, each goroutine's lines in its order, and Close returns only
// after all of them are written.
func TestOrderAndAll(t *testing.T) {
	r := &recorder{}
	g := New(r, 4096)
	const writers, lines = 8, 2000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				line := fmt.Sprintf("w%d %06d\n", w, i)
				if n, err := g.Write([]byte(line)); n != len(line) || err != nil {
					t.Errorf("Write = %d, %v", n, err)
				}
			}
		}()
	}
	wg.Wait()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	out, writes := r.snapshot()
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		var w, i int
		if _, err := fmt.Sscanf(l, "w%d %d", &w, &i); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d after %d", w, i, next[w]-1)
		}
		next[w]++
	}
	t.Logf("%d lines in %d writes", len(got), writes)
}

// TestGroups: lines queued while the underlying writer is busy go out in
// one write, and a Write waits once the limit is reached.
func TestGroups(t *testing.T) {
	r := &recorder{gate: make(chan struct{})}
	g := New(r, 100)
	g.Write([]byte("first\n")) // the goroutine takes it and blocks in the gate
	for deadline := time.Now().Add(5 * time.Second); ; {
		g.mu.Lock()
		taken := len(g.pending) == 0
		g.mu.Unlock()
		if taken {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first line was never taken")
		}
		time.Sleep(time.Millisecond)
	}
	for i := range 9 {
		g.Write(fmt.Appendf(nil, "line %d\n", i)) // 7 bytes each: 63 pending
	}
	blocked := make(chan struct{})
	go func() {
		g.Write(bytes.Repeat([]byte("x"), 50)) // 63+50 > 100: waits
		close(blocked)
	}()
	select {
	case <-blocked:
		t.Fatal("a Write over the limit did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	r.gate <- struct{}{} // "first"
	r.gate <- struct{}{} // the nine lines together
	<-blocked
	close(r.gate)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	out, writes := r.snapshot()
	want := "first\n"
	for i := range 9 {
		want += fmt.Sprintf("line %d\n", i)
	}
	want += strings.Repeat("x", 50)
	if out != want {
		t.Fatalf("wrote %q, want %q", out, want)
	}
	if writes != 3 {
		t.Fatalf("%d writes, want 3 (one, the nine queued lines, the last)", writes)
	}
}

// TestErrorAndAfterClose: the underlying writer's error is returned by
// later Writes and by Close; a Write after Close goes straight through.
func TestErrorAndAfterClose(t *testing.T) {
	boom := errors.New("disk full")
	r := &recorder{err: boom}
	g := New(r, 100)
	g.Write([]byte("a\n"))
	if err := g.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close = %v, want %v", err, boom)
	}
	if _, err := g.Write([]byte("b\n")); !errors.Is(err, boom) {
		t.Fatalf("Write after Close = %v", err)
	}
	if out, _ := r.snapshot(); out != "a\nb\n" {
		t.Fatalf("wrote %q", out)
	}
	if err := g.Close(); !errors.Is(err, boom) {
		t.Fatalf("second Close = %v", err)
	}
}
