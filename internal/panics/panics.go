// Package panics turns a panic in one of Pier's goroutines into an error,
// for the work that runs on stored or uploaded bytes away from any request
// handler (a publish, its indexers' worker goroutines, a rewriter): a bug
// there fails that one piece of work, which reports it, instead of taking
// the whole server down with every other request in flight. (net/http
// already recovers a handler's own goroutine; Go recovers no other.)
package panics

import (
	"fmt"
	"runtime/debug"
)

// Error is a recovered panic: what was thrown and the stack of the
// goroutine that threw it.
type Error struct {
	Value any
	Stack []byte
}

// Error names it an internal error, the one thing a caller can act on: it
// is a bug in Pier, not in the input.
func (e *Error) Error() string {
	return fmt.Sprintf("internal error (a bug in Pier; the log has its stack): panic: %v", e.Value)
}

// Unwrap returns the panic's value when it is an error (a runtime error,
// say), so errors.As reaches it.
func (e *Error) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Recover, deferred directly by the goroutine it guards (`defer
// panics.Recover(&err)`), stops a panic of that goroutine and stores it in
// *err as an *Error; without a panic it leaves *err alone. It cannot stop
// a panic of any other goroutine: each goroutine that may panic defers its
// own. A goroutine that hands a recovered *Error on with panic (to the
// goroutine that waits for it) keeps its first stack: Recover stores it
// as it is, not wrapped again.
func Recover(err *error) {
	if r := recover(); r != nil {
		if pe, ok := r.(*Error); ok {
			*err = pe
			return
		}
		*err = &Error{Value: r, Stack: debug.Stack()}
	}
}
