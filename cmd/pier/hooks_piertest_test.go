//go:build piertest

package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTestClock: PIER_TEST_CLOCK_FILE shifts the clock by the duration in
// the file, re-read when the file changes; without the variable the real
// clock is used.
func TestTestClock(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Setenv("PIER_TEST_CLOCK_FILE", "")
	if testClock(log) != nil {
		t.Fatal("a clock hook without PIER_TEST_CLOCK_FILE")
	}
	path := filepath.Join(t.TempDir(), "clock")
	t.Setenv("PIER_TEST_CLOCK_FILE", path)
	now := testClock(log)
	near := func(want time.Duration) {
		t.Helper()
		if d := time.Until(now()) - want; d < -time.Second || d > time.Second {
			t.Errorf("offset %v, want %v", time.Until(now()), want)
		}
	}
	near(0) // no file yet
	os.WriteFile(path, []byte("-192h\n"), 0o644)
	near(-192 * time.Hour)
	os.WriteFile(path, []byte("garbage"), 0o644)
	near(-192 * time.Hour) // kept
	os.WriteFile(path, []byte("1h"), 0o644)
	near(time.Hour)
	os.WriteFile(path, nil, 0o644)
	near(0)
}
