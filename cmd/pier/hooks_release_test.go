//go:build !piertest

package main

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
)

// TestReleaseHasNoHooks: without -tags piertest the test-only hooks do
// nothing, whatever the environment says.
func TestReleaseHasNoHooks(t *testing.T) {
	t.Setenv("PIER_TEST_CRASHPOINT", "upload.stored")
	t.Setenv("PIER_TEST_CLOCK_FILE", filepath.Join(t.TempDir(), "clock"))
	t.Setenv("PIER_TEST_DEFAULT_CONFIG", filepath.Join(t.TempDir(), "pier.yaml"))
	if testHooks {
		t.Fatal("testHooks is set in a release build")
	}
	if crashHook() != nil {
		t.Error("a crash hook in a release build")
	}
	if testClock(slog.New(slog.NewTextHandler(io.Discard, nil))) != nil {
		t.Error("a clock hook in a release build")
	}
	if got := defaultConfigPath(); got != defaultConfigFile {
		t.Errorf("default config %s, want %s", got, defaultConfigFile)
	}
}
