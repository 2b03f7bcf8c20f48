package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// straddler is a proxy in front of a Pier that, the first time a client
// asks for a detached signature (sig), first publishes another package to
// target and waits for it: the client read the root of one generation
// and asks for its signature after the next one is published. It keeps
// the first root and the first signature it forwarded (dnf reads the pair
// twice in one makecache).
type straddler struct {
	srv        *httptest.Server
	mu         sync.Mutex
	published  bool
	err        error
	root, sign []byte
}

// newStraddler starts a straddler in front of s for the root at rootPath
// and its signature at sigPath; refuse lists paths it answers 404 (apt's
// InRelease, so that apt reads Release and Release.gpg).
func newStraddler(t *testing.T, s *server, target, rootPath, sigPath string, pkg []byte, refuse ...string) *straddler {
	t.Helper()
	u, _ := url.Parse(s.url)
	proxy := httputil.NewSingleHostReverseProxy(u)
	st := &straddler{}
	proxy.ModifyResponse = func(r *http.Response) error {
		if r.Request.URL.Path != rootPath && r.Request.URL.Path != sigPath {
			return nil
		}
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(b))
		st.mu.Lock()
		if r.Request.URL.Path == rootPath && st.root == nil {
			st.root = b
		} else if r.Request.URL.Path == sigPath && st.sign == nil {
			st.sign = b
		}
		st.mu.Unlock()
		return err
	}
	st.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range refuse {
			if r.URL.Path == p {
				http.NotFound(w, r)
				return
			}
		}
		if r.URL.Path == sigPath {
			st.mu.Lock()
			if !st.published {
				st.published = true
				st.err = publishDirect(s, target, pkg)
			}
			st.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(st.srv.Close)
	return st
}

// publishDirect uploads pkg to target and publishes it (off the test's
// goroutine: errors are returned, not fatal).
func publishDirect(s *server, target string, pkg []byte) error {
	for _, c := range []struct {
		path string
		body []byte
	}{{"/api/v1/targets/" + target + "/packages?publish=false", pkg}, {"/api/v1/targets/" + target + "/publish", nil}} {
		req, _ := http.NewRequest("POST", s.url+c.path, bytes.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("POST %s: %d %s", c.path, resp.StatusCode, body)
		}
	}
	return nil
}

// check fails t unless the straddler published between the root and its
// signature (the root it forwarded is no longer the one s serves), and
// the signature it forwarded verifies that root with keyring.
func (st *straddler) check(t *testing.T, s *server, rootPath string, keyring openpgp.EntityList) {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.published || st.err != nil {
		t.Fatalf("the proxy did not publish between the root and its signature: %v", st.err)
	}
	if _, now, _ := s.get(rootPath); bytes.Equal(now, st.root) || len(st.root) == 0 {
		t.Fatalf("%s: the client was not given the generation before the publish", rootPath)
	}
	if _, err := openpgp.CheckArmoredDetachedSignature(keyring, bytes.NewReader(st.root), bytes.NewReader(st.sign), nil); err != nil {
		t.Errorf("the signature the client was given does not verify the %s it holds: %v", rootPath, err)
	}
}

// TestRootSignaturePairs: a publish that lands between a client's request
// for a root and its request for the root's detached signature does not
// break the client's refresh: Pier gives it the signature of the root it
// holds (dnf repo_gpgcheck=1 with repomd.xml and repomd.xml.asc, apt with
// Release and Release.gpg when InRelease is refused), while a client that
// read the new root gets the new signature.
func TestRootSignaturePairs(t *testing.T) {
	const debTarget, rpmTarget = "5.8/debian/bookworm", "5.8/el/9"
	s := startServer(t, "")
	asc, keyring := rpmKeyring(t, s)

	t.Run("dnf", func(t *testing.T) {
		if code, r := s.upload(rpmTarget, mkrpm(t, "pair-a", "", "1.0", "x86_64", "a"), "?publish=false"); code != http.StatusCreated {
			t.Fatalf("upload: %d %v", code, r)
		}
		s.publish(rpmTarget)
		const root = "/rpm/5.8/el/9/repodata/repomd.xml"
		st := newStraddler(t, s, rpmTarget, root, root+".asc", mkrpm(t, "pair-b", "", "1.0", "x86_64", "b"))
		dnf := newDnf(t, "pier", dnfRepo("pier", st.srv.URL+"/rpm/5.8/el/9/"), asc)
		if out, err := dnf.run("makecache"); err != nil {
			t.Errorf("dnf makecache across a publish: %v\n%s", err, out)
		}
		st.check(t, s, root, keyring)
		// The next refresh reads the new generation whole.
		if out := dnf.must("makecache"); strings.Contains(out, "Error") {
			t.Errorf("second makecache:\n%s", out)
		}
		if _, out, err := dnf.download("pair-b"); err != nil {
			t.Errorf("dnf download pair-b after the publish: %v\n%s", err, out)
		}
	})

	t.Run("apt", func(t *testing.T) {
		if code, r := s.upload(debTarget, mkdeb(t, "pair-a", "1.0", "amd64", "a"), "?publish=false"); code != http.StatusCreated {
			t.Fatalf("upload: %d %v", code, r)
		}
		s.publish(debTarget)
		const dists = "/deb/5.8/debian/dists/bookworm/"
		st := newStraddler(t, s, debTarget, dists+"Release", dists+"Release.gpg", mkdeb(t, "pair-b", "1.0", "amd64", "b"), dists+"InRelease")
		apt := newApt(t, sourceLine(writeKey(t, s, t.TempDir()), st.srv.URL, "5.8", "bookworm"))
		if out, err := apt.run("update"); err != nil || len(problems(out)) > 0 {
			t.Errorf("apt-get update across a publish: %v %v\n%s", err, problems(out), out)
		}
		st.check(t, s, dists+"Release", keyring)
	})
}
