package metrics

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/pierhq/pier/repo"
)

type clientFault string

func (c clientFault) Error() string       { return "client: " + string(c) }
func (c clientFault) ClientFault() string { return string(c) }

// TestReason: each rejection maps to its reason label through any
// wrapping; client faults and a full disk have their own.
func TestReason(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{repo.BadPackage("x"), "bad_package"},
		{fmt.Errorf("add: %w", repo.ErrConflict), "conflict"},
		{fmt.Errorf("size: %w", repo.ErrTooLarge), "too_large"},
		{fmt.Errorf("name: %w", repo.ErrInvalid), "invalid"},
		{fmt.Errorf("store blob: %w", &fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}), "disk_full"},
		{fmt.Errorf("receive upload: %w", clientFault("aborted")), "aborted"},
		{fmt.Errorf("receive upload: %w", clientFault("timeout")), "timeout"},
		{fmt.Errorf("receive upload: %w", context.Canceled), "aborted"},
		{errors.New("disk on fire"), "error"},
	} {
		if got := Reason(c.err); got != c.want {
			t.Errorf("Reason(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
