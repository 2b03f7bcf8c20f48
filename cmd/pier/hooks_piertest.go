//go:build piertest

// Test-only hooks, compiled only with -tags piertest (the end-to-end
// tests build pier so). A release build has their no-op twins
// (hooks_release.go): no crash point, no clock file, no default-config
// override.

package main

import (
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// testHooks reports whether this build has the test-only hooks.
const testHooks = true

// crashHook returns the test-only crash hook: with PIER_TEST_CRASHPOINT set
// to a point name (see repo.Options.Hook), the process kills itself with
// SIGKILL when it reaches that point. Crash-safety tests use it.
func crashHook() func(string) {
	point := os.Getenv("PIER_TEST_CRASHPOINT")
	if point == "" {
		return nil
	}
	return func(p string) {
		if p == point {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}

// defaultConfigPath is defaultConfigFile, or PIER_TEST_DEFAULT_CONFIG when
// set: tests point it away from the host's /etc/pier/pier.yaml, or at a
// file of theirs to check the discovery.
func defaultConfigPath() string {
	if p := os.Getenv("PIER_TEST_DEFAULT_CONFIG"); p != "" {
		return p
	}
	return defaultConfigFile
}

// testClock returns the test-only clock hook: with PIER_TEST_CLOCK_FILE set
// to a file holding a Go duration (such as "-192h"), the service's clock
// (publish dates, Valid-Until, the re-sign loop) runs that far from the
// real time. The file is read again whenever its modification time or size
// changes; a missing or empty file means no offset, an unparsable one keeps
// the previous offset. Without the variable it returns nil (the real clock).
// Signatures keep the real time. End-to-end tests of Valid-Until use it to
// publish "in the past" and then let time catch up.
func testClock(log *slog.Logger) func() time.Time {
	path := os.Getenv("PIER_TEST_CLOCK_FILE")
	if path == "" {
		return nil
	}
	c := &offsetClock{path: path, log: log}
	return c.now
}

// offsetClock is the real clock plus an offset read from a file.
type offsetClock struct {
	path string
	log  *slog.Logger

	mu     sync.Mutex
	mtime  time.Time
	size   int64
	offset time.Duration
}

func (c *offsetClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var mtime time.Time
	var size int64
	if fi, err := os.Stat(c.path); err == nil {
		mtime, size = fi.ModTime(), fi.Size()
	}
	if !mtime.Equal(c.mtime) || size != c.size {
		c.mtime, c.size = mtime, size
		data, _ := os.ReadFile(c.path)
		text := strings.TrimSpace(string(data))
		d, err := time.Duration(0), error(nil)
		if text != "" {
			d, err = time.ParseDuration(text)
		}
		if err != nil {
			c.log.Error("PIER_TEST_CLOCK_FILE: not a duration; keeping the offset", "offset", c.offset.String(), "err", err)
		} else if d != c.offset {
			c.offset = d
			c.log.Warn("test clock offset changed (PIER_TEST_CLOCK_FILE)", "offset", d.String())
		}
	}
	return time.Now().Add(c.offset)
}
