// Package groupwrite writes what many goroutines write, in order, through
// one background writer: a Write appends to a pending buffer and returns,
// and the writer hands everything pending to the underlying io.Writer in
// one call. Under load many lines share one write system call; when idle a
// line is written as soon as the background goroutine wakes (no timer, no
// flush interval). Memory is bounded: a Write waits while the pending
// bytes are over the limit.
//
// pier serve's log goes through it: one write per request log line cost
// a third of the system calls of serving a small file.
package groupwrite

import (
	"io"
	"sync"
)

// Writer is an io.Writer safe for concurrent use that writes to an
// underlying writer from one goroutine. Close it to write what is pending
// and stop that goroutine.
type Writer struct {
	w     io.Writer
	limit int

	mu      sync.Mutex
	room    *sync.Cond // signalled when pending shrinks or the writer stops
	pending []byte
	spare   []byte
	err     error // the underlying writer's first error
	closed  bool

	wake chan struct{} // capacity 1: something is pending, or Close
	done chan struct{} // closed when the goroutine has stopped
}

// New returns a Writer writing to w, with at most limit bytes pending
// (a single Write larger than limit is still taken whole).
func New(w io.Writer, limit int) *Writer {
	g := &Writer{w: w, limit: max(limit, 1), wake: make(chan struct{}, 1), done: make(chan struct{})}
	g.room = sync.NewCond(&g.mu)
	go g.run()
	return g
}

// Write queues a copy of p. It returns the underlying writer's first
// error, if there has been one; after Close it writes p directly.
func (g *Writer) Write(p []byte) (int, error) {
	g.mu.Lock()
	for len(g.pending) > 0 && len(g.pending)+len(p) > g.limit && !g.closed {
		g.room.Wait()
	}
	if g.closed {
		g.mu.Unlock()
		<-g.done // after what was queued before Close
		return g.w.Write(p)
	}
	err := g.err
	g.pending = append(g.pending, p...)
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// run writes what is pending each time it is woken, until Close.
func (g *Writer) run() {
	defer close(g.done)
	// wake is never closed: a Write racing Close would send on it.
	for {
		<-g.wake
		if g.flush() {
			return
		}
	}
}

// flush writes until nothing is pending; it reports whether the Writer
// is closed (then everything queued before Close has been written).
func (g *Writer) flush() (closed bool) {
	for {
		g.mu.Lock()
		buf := g.pending
		if len(buf) == 0 {
			closed = g.closed
			g.mu.Unlock()
			return closed
		}
		g.pending = g.spare[:0]
		g.mu.Unlock()
		_, err := g.w.Write(buf)
		g.mu.Lock()
		if err != nil && g.err == nil {
			g.err = err
		}
		g.spare = buf[:0]
		g.room.Broadcast()
		g.mu.Unlock()
	}
}

// Close writes what is pending, stops the background goroutine and
// returns the underlying writer's first error. Writes after Close go
// straight to the underlying writer.
func (g *Writer) Close() error {
	g.mu.Lock()
	if g.closed {
		err := g.err
		g.mu.Unlock()
		return err
	}
	g.closed = true
	g.room.Broadcast()
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default: // a wake is pending: the goroutine will see closed
	}
	<-g.done
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}
