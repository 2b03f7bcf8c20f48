package main

import (
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

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
