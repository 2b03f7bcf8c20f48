package main

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestCPUProfileEnv: PIER_CPUPROFILE=FILE writes a CPU profile (a
// gzip-compressed protobuf, as go tool pprof reads it), and a path that
// cannot be created fails the command.
func TestCPUProfileEnv(t *testing.T) {
	t.Setenv("PIER_CONFIG", "")
	path := filepath.Join(t.TempDir(), "cpu.prof")
	t.Setenv("PIER_CPUPROFILE", path)
	if code, _, errOut := runPier(t, "--version"); code != exitOK {
		t.Fatalf("pier --version with PIER_CPUPROFILE: exit %d: %s", code, errOut)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("the profile is not gzip data: %v", err)
	}
	if b, err := io.ReadAll(z); err != nil || len(b) == 0 {
		t.Fatalf("the profile holds %d bytes (%v)", len(b), err)
	}
	t.Setenv("PIER_CPUPROFILE", filepath.Join(t.TempDir(), "missing", "cpu.prof"))
	if code, _, _ := runPier(t, "--version"); code != exitFailed {
		t.Fatalf("PIER_CPUPROFILE in a missing directory: exit %d, want %d", code, exitFailed)
	}
}
