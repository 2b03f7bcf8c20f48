package repo

import (
	"context"
	"errors"
	"sync"
)

// errClosed answers a publish requested after Close began.
var errClosed = errors.New("the service is shutting down")

// lifetime is the service's shutdown state, shared by Run's loops and the
// publisher: closing is closed when Close begins (the loops stop,
// coalescing delays end, new publishes are refused), abort when Close's
// deadline has passed (running publishes are cancelled).
type lifetime struct {
	closeOnce sync.Once
	closing   chan struct{}
	abortOnce sync.Once
	abort     chan struct{}
}

func newLifetime() *lifetime {
	return &lifetime{closing: make(chan struct{}), abort: make(chan struct{})}
}

// close marks the beginning of Close.
func (l *lifetime) close() { l.closeOnce.Do(func() { close(l.closing) }) }

// cancel cancels every context made by context.
func (l *lifetime) cancel() { l.abortOnce.Do(func() { close(l.abort) }) }

// context returns a context derived from parent that also ends when
// cancel is called; the caller must call the returned CancelFunc.
func (l *lifetime) context(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	go func() {
		select {
		case <-l.abort:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// untilClosed returns a context derived from parent that also ends when
// Close begins; the caller must call the returned CancelFunc.
func (l *lifetime) untilClosed(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	go func() {
		select {
		case <-l.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
