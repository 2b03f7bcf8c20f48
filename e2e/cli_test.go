package e2e

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImportWhileServing runs `pier import` on the data dir of a running
// `pier serve`: the server serves the imported packages (it notices the
// new generation), and apt-get installs from it.
func TestImportWhileServing(t *testing.T) {
	need(t, "apt-get")
	s := startServer(t, "")
	dir := t.TempDir()
	want := map[string][]byte{}
	for _, n := range []string{"imp-one", "imp-two", "imp-three"} {
		b := mkdeb(t, n, "2.0-1", "amd64", n)
		want[n] = b
		os.WriteFile(filepath.Join(dir, n+".deb"), b, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a package"), 0o644)
	out, err := exec.Command(pierBin, "import", "--data", s.data, "5.8/debian/bookworm", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("pier import: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "imported 3 new, 0 unchanged, 0 failed into 5.8/debian/bookworm; published generation 1") {
		t.Errorf("summary: %s", out)
	}
	// Importing again: nothing new.
	out, err = exec.Command(pierBin, "import", "--data", s.data, "5.8/debian/bookworm", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "imported 0 new, 3 unchanged") {
		t.Errorf("second import: %v %s", err, out)
	}
	// The server picks up the generation pier import made.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _, _ := s.get("/deb/5.8/dists/bookworm/InRelease"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pier serve did not pick up the imported generation")
		}
		time.Sleep(200 * time.Millisecond)
	}
	apt := newApt(t, sourceLine(writeKey(t, s, t.TempDir()), s.url, "5.8", "bookworm"))
	apt.update()
	for n, b := range want {
		if got := apt.download(n); !bytes.Equal(got, b) {
			t.Errorf("%s differs", n)
		}
	}
	// A bad file makes import exit non-zero after importing the rest.
	bad := filepath.Join(dir, "bad.deb")
	os.WriteFile(bad, []byte("!<arch>\ngarbage"), 0o644)
	cmd := exec.Command(pierBin, "import", "--data", s.data, "5.8/debian/bookworm", bad)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "bad.deb") {
		t.Errorf("import of a bad file: err %v\n%s", err, out)
	}
}

// TestPush uploads with `pier push`: one line per file, exit status
// non-zero when any upload failed, env PIER_SERVER and PIER_TOKEN.
func TestPush(t *testing.T) {
	s := startServer(t, "")
	dir := t.TempDir()
	a := filepath.Join(dir, "push-a.deb")
	b := filepath.Join(dir, "push-b.deb")
	os.WriteFile(a, mkdeb(t, "push-a", "1.0", "amd64", "a"), 0o644)
	os.WriteFile(b, mkdeb(t, "push-b", "1.0", "all", "b"), 0o644)
	out, err := exec.Command(pierBin, "push", "--server", s.url, "--token", testToken, "nightly/debian/bookworm", a, b).CombinedOutput()
	if err != nil {
		t.Fatalf("pier push: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "added push-a 1.0 amd64") || !strings.HasPrefix(lines[1], "added push-b 1.0 all") {
		t.Errorf("push output:\n%s", out)
	}
	// Env configuration; one good (unchanged) file and one conflicting file.
	conflict := filepath.Join(dir, "push-a-other.deb")
	os.WriteFile(conflict, mkdeb(t, "push-a", "1.0", "amd64", "other bytes"), 0o644)
	cmd := exec.Command(pierBin, "push", "nightly/debian/bookworm", a, conflict)
	cmd.Env = append(os.Environ(), "PIER_SERVER="+s.url, "PIER_TOKEN="+testToken)
	out, err = cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("push with a conflict exited 0:\n%s", out)
	}
	if !strings.Contains(string(out), "unchanged push-a 1.0 amd64") || !strings.Contains(string(out), "FAIL "+conflict+": 409") {
		t.Errorf("push output:\n%s", out)
	}
	// A wrong token fails.
	out, err = exec.Command(pierBin, "push", "--server", s.url, "--token", "nope", "nightly/debian/bookworm", a).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "401") {
		t.Errorf("wrong token: %v\n%s", err, out)
	}
}

// TestUploadLimit: an upload over max_upload_size gets 413, whether the
// client announces its length or streams it chunked, and leaves nothing.
func TestUploadLimit(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	os.WriteFile(cfg, []byte("max_upload_size: 4KiB\n"), 0o644)
	s := startServer(t, "", "PIER_CONFIG="+cfg)
	noise := make([]byte, 20000)
	rand.Read(noise) // incompressible, so the .deb stays large
	big := mkdeb(t, "toobig", "1.0", "amd64", string(noise))
	if len(big) <= 4096 {
		t.Fatalf("test package is only %d bytes", len(big))
	}
	if code, reply := s.upload("5.8/debian/bookworm", big, ""); code != http.StatusRequestEntityTooLarge {
		t.Errorf("sized upload: %d %v", code, reply)
	}
	// Chunked: no Content-Length, the server finds out while streaming.
	req, _ := http.NewRequest("POST", s.url+"/api/v1/targets/5.8/debian/bookworm/packages", io.MultiReader(bytes.NewReader(big)))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "limit") {
		t.Errorf("chunked upload: %d %s", resp.StatusCode, body)
	}
	small := mkdeb(t, "small", "1.0", "amd64", "s")
	if code, reply := s.upload("5.8/debian/bookworm", small, ""); code != http.StatusCreated {
		t.Errorf("small upload: %d %v (%d bytes)", code, reply, len(small))
	}
	if ents := tempFiles(filepath.Join(s.data, "tmp")); len(ents) != 0 {
		t.Errorf("temp files left: %v", ents)
	}
}
