package e2e

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// vmHWM returns the peak resident set size of process pid in bytes
// (VmHWM in /proc/<pid>/status).
func vmHWM(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM")
	return 0
}

// BenchmarkSourceUpload100MB pushes a source package with a 100 MB orig
// tarball (random, so incompressible) with pier push and reports the peak
// RSS of pier serve before and after, and the upload throughput: the
// server streams each file to disk while hashing it, so the peak must not
// grow with the tarball.
func BenchmarkSourceUpload100MB(b *testing.B) {
	if _, err := exec.LookPath("dpkg-source"); err != nil {
		b.Skip("dpkg-source not installed")
	}
	dir := b.TempDir()
	tree := filepath.Join(dir, "pier-big-1.0")
	os.MkdirAll(filepath.Join(tree, "debian", "source"), 0o755)
	f, err := os.Create(filepath.Join(dir, "pier-big_1.0.orig.tar.gz"))
	if err != nil {
		b.Fatal(err)
	}
	// A valid orig tarball (dpkg-source -b unpacks it) of one random file,
	// stored without compression: 100 MB on the wire.
	zw, _ := gzip.NewWriterLevel(f, gzip.NoCompression)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "pier-big-1.0/blob", Mode: 0o644, Size: 100 << 20})
	if _, err := io.CopyN(tw, rand.Reader, 100<<20); err != nil {
		b.Fatal(err)
	}
	tw.Close()
	zw.Close()
	f.Close()
	os.WriteFile(filepath.Join(tree, "debian", "control"), []byte("Source: pier-big\nMaintainer: T <t@example.org>\n\n"+
		"Package: pier-big\nArchitecture: all\nDescription: big\n big\n"), 0o644)
	os.WriteFile(filepath.Join(tree, "debian", "changelog"), []byte("pier-big (1.0-1) unstable; urgency=medium\n\n  * T.\n\n"+
		" -- T <t@example.org>  Tue, 14 Nov 2023 22:13:20 +0000\n"), 0o644)
	os.WriteFile(filepath.Join(tree, "debian", "rules"), []byte("#!/usr/bin/make -f\n"), 0o755)
	os.WriteFile(filepath.Join(tree, "debian", "source", "format"), []byte("3.0 (quilt)\n"), 0o644)
	cmd := exec.Command("dpkg-source", "-b", "pier-big-1.0")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("dpkg-source -b: %v\n%s", err, out)
	}
	srv := exec.Command(pierBin, "serve", "--data", b.TempDir(), "--listen", "127.0.0.1:0")
	srv.Env = append(os.Environ(), "PIER_ADMIN_TOKEN="+testToken)
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}()
	url := ""
	for sc := bufio.NewScanner(stdout); url == "" && sc.Scan(); {
		if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	go io.Copy(io.Discard, stdout)
	pid := srv.Process.Pid
	base := vmHWM(b, pid)
	b.ResetTimer()
	for i := range b.N {
		out, err := exec.Command(pierBin, "push", "--server", url, "--token", testToken, fmt.Sprintf("big/debian/r%d", i),
			filepath.Join(dir, "pier-big_1.0-1.dsc")).CombinedOutput()
		if err != nil {
			b.Fatalf("pier push: %v\n%s", err, out)
		}
	}
	b.StopTimer()
	b.SetBytes(100 << 20)
	b.ReportMetric(float64(base)/(1<<20), "MB-rss-before")
	b.ReportMetric(float64(vmHWM(b, pid))/(1<<20), "MB-peak-rss")
}
