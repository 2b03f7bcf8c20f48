package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/pgtest"
)

// TestClusterWeb: on PostgreSQL the web interface keeps its sessions and
// its search index in the catalog, shared by the nodes: a browser that
// signs in on one node is signed in on another, and a package uploaded
// through one node is found by a search on another.
func TestClusterWeb(t *testing.T) {
	cfg, dsn := clusterConfig(t, "pier-web", "")
	var nodes []*server
	for i := range 2 {
		nodes = append(nodes, startServer(t, "", "PIER_CONFIG="+cfg, "PIER_DATABASE_URL="+dsn, fmt.Sprintf("PIER_NODE_NAME=node%d", i)))
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	signedIn := func(s *server, c *http.Cookie) bool {
		t.Helper()
		req, _ := http.NewRequest("GET", s.url+"/", nil)
		if c != nil {
			req.AddCookie(c)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s/: %d", s.url, resp.StatusCode)
		}
		return strings.Contains(string(b), `id="signout"`)
	}

	resp, err := noRedirect.PostForm(nodes[0].url+"/signin", url.Values{"token": {testToken}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "pier_session" && c.Value != "" {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || cookie == nil {
		t.Fatalf("sign-in on node0: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if signedIn(nodes[1], nil) {
		t.Fatal("node1 shows a sign-out button without a cookie")
	}
	if !signedIn(nodes[0], cookie) || !signedIn(nodes[1], cookie) {
		t.Fatal("the session opened on node0 is not signed in on both nodes")
	}

	// Search on node1 for a package uploaded through node0.
	if code, r := nodes[0].upload("5.8/debian/bookworm", mkdeb(t, "clusterfind", "1.0", "amd64", "x"), "?publish=false"); code != http.StatusCreated {
		t.Fatalf("upload: %d %v", code, r)
	}
	nodes[0].publish("5.8/debian/bookworm")
	code, body, _ := nodes[1].get("/search?q=usterfi")
	if code != http.StatusOK || !strings.Contains(string(body), "clusterfind") {
		t.Fatalf("search on node1: %d\n%s", code, body)
	}
}

// clusterConfig starts a PostgreSQL server and versitygw with bucket, and
// writes the config of a node using both (more is added at the end: YAML
// at the top level). It returns the config's path and the database's DSN.
func clusterConfig(t *testing.T, bucket, more string) (cfg, dsn string) {
	t.Helper()
	dsn = pgtest.Start(t).NewDatabase(t)
	endpoint, access, secret, _ := startVersitygw(t, bucket)
	cfg = filepath.Join(t.TempDir(), "pier.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`catalog:
  type: postgres
storage:
  type: s3
  s3:
    bucket: %s
    endpoint: %s
    path_style: true
    access_key_id: %s
    secret_access_key: %s
`, bucket, endpoint, access, secret)+more), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, dsn
}
