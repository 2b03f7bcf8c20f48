package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRpmFromKeys: the rpm publishes that start from package keys and the
// previous generation's repodata (a new `pier import` into a target that
// has a generation; a server's first publish of a target it did not write)
// publish repositories that dnf reads and installs from and that pass
// every check checkRpmRepo makes (signature, checksums and open checksums,
// the same packages in primary, filelists and other, every package served
// as listed); and the server's publish reads a few rows, not all of them
// (its log line's rows_read).
func TestRpmFromKeys(t *testing.T) {
	need(t, "dnf")
	data := t.TempDir()
	if out, err := exec.Command(pierBin, "init", "--data", data).CombinedOutput(); err != nil {
		t.Fatalf("pier init: %v\n%s", err, out)
	}
	const n = 400
	var pkgs []rpmUpload
	add := func(dir, name, epoch, version, arch string) rpmUpload {
		b := mkrpm(t, name, epoch, version, arch, "payload of "+name)
		rpmArch := map[string]string{"amd64": "x86_64", "all": "noarch"}[arch]
		p := rpmUpload{data: b, name: name, version: version + "-1", arch: rpmArch, file: name + "-" + version + "-1." + rpmArch + ".rpm"}
		if epoch != "" {
			p.version = epoch + ":" + p.version
		}
		if err := os.WriteFile(filepath.Join(dir, p.file), b, 0o644); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
		return p
	}
	corpus := t.TempDir()
	for i := range n {
		arch := "amd64"
		if i%5 == 0 {
			arch = "all"
		}
		add(corpus, fmt.Sprintf("keyed-%03d", i), "", fmt.Sprintf("1.%d", i%7), arch)
	}
	imp := func(what string, paths ...string) string {
		t.Helper()
		out, err := exec.Command(pierBin, append([]string{"import", "--data", data, "5.8/el/9"}, paths...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("pier import %s: %v\n%s", what, err, out)
		}
		return string(out)
	}
	if out := imp("the corpus", corpus); !strings.Contains(out, fmt.Sprintf("published generation 1 (%d packages)", n)) {
		t.Fatalf("pier import: %s", out)
	}
	// A new process adds two packages (one with an epoch), then one more.
	more := t.TempDir()
	a := add(more, "keyed-200b", "", "2.0", "amd64")
	b := add(more, "keyed-050b", "3", "1.0", "all")
	if out := imp("+2", filepath.Join(more, a.file), filepath.Join(more, b.file)); !strings.Contains(out, fmt.Sprintf("published generation 2 (%d packages)", n+2)) {
		t.Fatalf("pier import +2: %s", out)
	}
	c := add(more, "keyed-399z", "", "1.0", "amd64")
	if out := imp("+1", filepath.Join(more, c.file)); !strings.Contains(out, fmt.Sprintf("published generation 3 (%d packages)", n+3)) {
		t.Fatalf("pier import +1: %s", out)
	}

	// A server on that data: its first publish of the target.
	s := startServer(t, data)
	d := add(t.TempDir(), "keyed-000a", "", "1.0", "amd64")
	if code, reply := s.upload("5.8/el/9", d.data, "?publish=false"); code != 201 {
		t.Fatalf("upload: %d %v", code, reply)
	}
	s.publish("5.8/el/9")
	// The log line (written by the log's own goroutine, maybe after the
	// reply) with rows_read.
	read := -1
	for deadline := time.Now().Add(10 * time.Second); read < 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for line := range strings.SplitSeq(s.logs(), "\n") {
			var l struct {
				Msg        string
				Target     string
				Generation int
				RowsRead   *int `json:"rows_read"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "published" && l.Target == "5.8/el/9" && l.Generation == 4 && l.RowsRead != nil {
				read = *l.RowsRead
			}
		}
	}
	// The new package falls in the first block of primary, filelists and
	// other (each ~1/128 of the packages end one: here the first of two
	// or three); the rows read are those of that block, the one the new
	// package is compared with, and the one checked against the previous
	// rendering.
	if read < 1 || read > 3*(n+4)/4 {
		t.Errorf("the server's first publish read %d package rows of %d, want those of a block or two (logs:\n%s)", read, n+4, s.logs())
	}
	t.Logf("the server's first publish read %d package rows of %d", read, n+4)

	key, kr := rpmKeyring(t, s)
	rpmCheckServed(t, s, "rpm/5.8/el/9/", kr, pkgs)
	dnf := newDnf(t, "pier", dnfRepo("pier", s.url+"/rpm/5.8/el/9/"), key)
	dnf.must("makecache")
	if got := rpmLines(dnf.must("-q", "repoquery", "--arch=x86_64,noarch", "--qf", "%{name}")); len(got) != len(pkgs) {
		t.Errorf("dnf repoquery lists %d packages, want %d", len(got), len(pkgs))
	}
	for _, p := range []rpmUpload{a, b, c, d, pkgs[0], pkgs[n-1]} {
		files, out, err := dnf.download(p.name)
		if err != nil || !bytes.Equal(files[p.file], p.data) {
			t.Errorf("dnf download %s: %v (%d files)\n%s", p.name, err, len(files), out)
		}
	}
}
