package panics

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestRecoverInAGoroutine: a panic on a worker goroutine becomes that
// worker's error, with the stack of where it happened, and the process
// goes on (without Recover this test binary would die).
func TestRecoverInAGoroutine(t *testing.T) {
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			defer Recover(&errs[i])
			if i == 1 {
				var m map[string]int
				m["x"] = 1 // a runtime error: assignment to entry in nil map
			}
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("the workers that did not panic got errors: %v, %v", errs[0], errs[2])
	}
	var pe *Error
	if !errors.As(errs[1], &pe) {
		t.Fatalf("the panicking worker's error is %v (%T), not a *panics.Error", errs[1], errs[1])
	}
	if !strings.Contains(pe.Error(), "internal error") || !strings.Contains(pe.Error(), "nil map") {
		t.Errorf("message %q does not say it is an internal error and what panicked", pe.Error())
	}
	if !strings.Contains(string(pe.Stack), "TestRecoverInAGoroutine") {
		t.Errorf("stack does not show where the panic happened:\n%s", pe.Stack)
	}
	var re runtime.Error
	if !errors.As(errs[1], &re) {
		t.Errorf("the runtime error the panic carried is not reachable with errors.As")
	}
}

// TestRecoverKeepsAnError: without a panic, Recover leaves the goroutine's
// own result as it was; a panic with a non-error value unwraps to nothing.
func TestRecoverKeepsAnError(t *testing.T) {
	want := errors.New("ordinary failure")
	err := func() (err error) {
		defer Recover(&err)
		return want
	}()
	if err != want {
		t.Fatalf("got %v, want the function's own error", err)
	}
	err = func() (err error) {
		defer Recover(&err)
		panic("a string")
	}()
	var pe *Error
	if !errors.As(err, &pe) || pe.Value != "a string" || pe.Unwrap() != nil {
		t.Fatalf("got %#v", err)
	}
}

// TestRecoverHandedOn: a worker's recovered panic, panicked again by the
// goroutine that waited for it, reaches the outer recovery as the same
// *Error, with the worker's stack, not wrapped a second time.
func TestRecoverHandedOn(t *testing.T) {
	var err error
	func() {
		defer Recover(&err)
		var bug error
		var wg sync.WaitGroup
		wg.Go(func() {
			defer Recover(&bug)
			panic("worker bug")
		})
		wg.Wait()
		panic(bug)
	}()
	var pe *Error
	if !errors.As(err, &pe) || pe.Value != "worker bug" || strings.Count(pe.Error(), "internal error") != 1 {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(string(pe.Stack), "TestRecoverHandedOn.func1.1") {
		t.Errorf("the stack is not the worker's:\n%s", pe.Stack)
	}
}
