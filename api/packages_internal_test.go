package api

import (
	"errors"
	"math"
	"testing"

	"github.com/pierhq/pier/repo"
)

// FuzzDecodeCursor: an after value from a client never panics the
// decoder; what it accepts is exactly what encodeCursor makes, a positive
// id; what it refuses is ErrInvalid (a 400).
func FuzzDecodeCursor(f *testing.F) {
	for _, id := range []int64{1, 100, 99999, math.MaxInt64} {
		f.Add(encodeCursor(id))
	}
	for _, s := range []string{"", "MTIz", "cDE6MA", "cDE6LTE", "cDE6MDE", "!!", "cDE6MTAw=", "cDE6MTAw\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		id, err := decodeCursor(v)
		if err != nil {
			if !errors.Is(err, repo.ErrInvalid) {
				t.Fatalf("decodeCursor(%q): %v, not ErrInvalid", v, err)
			}
			return
		}
		if id < 1 || encodeCursor(id) != v {
			t.Fatalf("decodeCursor(%q) accepted id %d, which encodes as %q", v, id, encodeCursor(id))
		}
	})
}

// TestCursorRoundTrip: every positive id comes back; zero, negative ids,
// leading zeros and padding are refused.
func TestCursorRoundTrip(t *testing.T) {
	for _, id := range []int64{1, 2, 100, 1 << 40, math.MaxInt64} {
		if got, err := decodeCursor(encodeCursor(id)); err != nil || got != id {
			t.Errorf("round trip of %d: %d, %v", id, got, err)
		}
	}
	for _, v := range []string{"cDE6MA", "cDE6LTE", "cDE6MDE", "cDE6MTAw=", "MTAw", "cDI6MTAw", ""} {
		if id, err := decodeCursor(v); !errors.Is(err, repo.ErrInvalid) {
			t.Errorf("decodeCursor(%q): %d, %v; want ErrInvalid", v, id, err)
		}
	}
}
