package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImportLink: `pier import --link` takes the files over by hard link
// (the source file and the blob are one inode), and the real apt-get gets
// the same bytes from pier serve.
func TestImportLink(t *testing.T) {
	need(t, "apt-get")
	s := startServer(t, "")
	src := t.TempDir()
	debs := map[string][]byte{}
	for _, n := range []string{"ln-one", "ln-two"} {
		debs[n] = mkdeb(t, n, "1.0", "amd64", n)
		if err := os.WriteFile(filepath.Join(src, n+".deb"), debs[n], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(pierBin, "import", "--link", "--data", s.data, "5.8/debian/bookworm", src).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "imported 2 new") {
		t.Fatalf("pier import --link: %v\n%s", err, out)
	}
	for n, b := range debs {
		h := sha(b)
		blob, err := os.Stat(filepath.Join(s.data, "blobs", "sha256", h[:2], h))
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(src, n+".deb"))
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(blob, fi) {
			t.Errorf("%s: the blob is a copy, not the linked file", n)
		}
	}
	apt := newApt(t, sourceLine(writeKey(t, s, t.TempDir()), s.url, "5.8", "bookworm"))
	for i := 0; ; i++ {
		if code, pk, _ := s.get("/deb/5.8/dists/bookworm/main/binary-amd64/Packages"); code == 200 && strings.Contains(string(pk), "Package: ln-two\n") {
			break
		}
		if i > 50 {
			t.Fatal("pier serve does not serve the imported packages")
		}
		waitABit()
	}
	apt.update()
	for n, b := range debs {
		if got := apt.download(n); sha(got) != sha(b) {
			t.Errorf("%s: downloaded bytes differ", n)
		}
	}
}

func waitABit() { time.Sleep(100 * time.Millisecond) }
