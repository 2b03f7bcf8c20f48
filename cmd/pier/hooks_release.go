//go:build !piertest

package main

import (
	"log/slog"
	"time"
)

// testHooks reports whether this build has the test-only hooks
// (hooks_piertest.go, built with -tags piertest): a release build has none.
const testHooks = false

// crashHook is the release twin of the test-only crash hook: none.
func crashHook() func(string) { return nil }

// testClock is the release twin of the test-only clock: the real clock.
func testClock(*slog.Logger) func() time.Time { return nil }

// defaultConfigPath is where every command looks for its config when
// neither --config nor PIER_CONFIG names one.
func defaultConfigPath() string { return defaultConfigFile }
