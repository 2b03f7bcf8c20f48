package e2e

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDelete removes packages with DELETE (which schedules a publish) and
// with `pier rm` (which publishes): the real apt-get no longer finds them,
// the others stay; a missing package is 404; a wrong token is refused.
func TestDelete(t *testing.T) {
	need(t, "apt-get")
	s := startServer(t, "")
	for _, n := range []string{"del-a", "del-b", "del-c"} {
		if code, r := s.upload("5.8/debian/bookworm", mkdeb(t, n, "1:2.0~rc1-1", "amd64", n), "?publish=false"); code != 201 {
			t.Fatalf("upload %s: %d %v", n, code, r)
		}
	}
	s.publish("5.8/debian/bookworm")
	if code := withToken(t, s, "DELETE", "/api/v1/targets/5.8/debian/bookworm/packages/del-a/1:2.0~rc1-1/amd64", "wrong", nil); code != 401 {
		t.Errorf("delete with a wrong token: %d", code)
	}
	if code, body := s.do("DELETE", "/api/v1/targets/5.8/debian/bookworm/packages/del-a/1:2.0~rc1-1/amd64", nil); code != http.StatusOK {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if code, _ := s.do("DELETE", "/api/v1/targets/5.8/debian/bookworm/packages/del-a/1:2.0~rc1-1/amd64", nil); code != http.StatusNotFound {
		t.Errorf("second DELETE: %d, want 404", code)
	}
	s.publish("5.8/debian/bookworm")
	out, err := exec.Command(pierBin, "rm", "--data", s.data, "5.8/debian/bookworm", "del-b", "1:2.0~rc1-1", "amd64").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "removed del-b") || !strings.Contains(string(out), "published") {
		t.Fatalf("pier rm: %v\n%s", err, out)
	}
	// pier serve notices the generation pier rm published within a second.
	apt := newApt(t, sourceLine(writeKey(t, s, t.TempDir()), s.url, "5.8", "bookworm"))
	for i := 0; ; i++ {
		_, pk, _ := s.get("/deb/5.8/dists/bookworm/main/binary-amd64/Packages")
		if !strings.Contains(string(pk), "Package: del-b\n") {
			break
		}
		if i > 50 {
			t.Fatal("pier serve still serves del-b")
		}
		time.Sleep(100 * time.Millisecond)
	}
	apt.update()
	for _, gone := range []string{"del-a", "del-b"} {
		if out, err := apt.run("download", gone); err == nil {
			t.Errorf("%s still downloadable:\n%s", gone, out)
		}
	}
	if got := apt.download("del-c"); len(got) == 0 {
		t.Error("del-c is gone too")
	}
}
