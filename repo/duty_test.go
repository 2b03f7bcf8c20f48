package repo

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestDutyPanicIsLoggedAndGoesOn: a background duty whose turn panics (a
// bug in garbage collection, say) logs the panic with its stack and
// releases the duty's lock; the next turn runs. Without the recovery the
// test binary would die.
func TestDutyPanicIsLoggedAndGoesOn(t *testing.T) {
	fl, err := NewFileLocker(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	l := locks{l: fl}
	ctx := context.Background()
	turns := 0
	for turn := range 2 {
		ran := l.duty(ctx, log, "gc", func() {
			turns++
			if turn == 0 {
				var s []string
				_ = s[3] // index out of range
			}
		})
		if !ran {
			t.Fatalf("turn %d did not run: the first turn's panic left the duty's lock held?", turn)
		}
	}
	if turns != 2 {
		t.Fatalf("%d turns ran, want 2", turns)
	}
	out := buf.String()
	for _, want := range []string{"background duty failed", "duty=gc", "index out of range", "stack=", "duty_test.go"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "background duty failed"); n != 1 {
		t.Errorf("%d failure lines, want 1 (the second turn did not panic)", n)
	}
}
