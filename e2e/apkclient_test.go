package e2e

import (
	"bytes"
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goapk "github.com/chainguard-dev/go-apk/pkg/apk"
	apkfs "github.com/chainguard-dev/go-apk/pkg/fs"
)

// apkServerKey returns the apk key a Pier's setup text for target names:
// its file name and PEM.
func apkServerKey(t *testing.T, s *server, target string) (name string, pemBytes []byte) {
	t.Helper()
	_, setup, _ := s.get("/setup/" + target)
	m := regexp.MustCompile(`/etc/apk/keys/(\S+\.rsa\.pub)`).FindStringSubmatch(string(setup))
	if m == nil {
		t.Fatalf("no apk key in the setup of %s:\n%s", target, setup)
	}
	_, pemBytes, _ = s.get("/keys/" + m[1])
	return m[1], pemBytes
}

// goapkCalls numbers the calls of goapkIndexes in this process.
var goapkCalls atomic.Int64

// goapkIndexes is goapk.GetRepositoryIndexes made safe to call again in
// the same process. go-apk keeps every remote index it fetched, and every
// error, for the life of the process, by URL; the e2e servers listen on
// ports the kernel hands out again after a server stops, so a later test
// could be given an earlier test's index (CI saw TestSetupFileApk get
// one with another package count). Each call therefore reaches the
// repositories under a path prefix of its own, which the returned
// client's transport takes off again before a request leaves: the
// servers see the usual paths. Fetch the packages of the indexes with the
// returned client; seen is repos as go-apk saw them (package URLs start
// with these).
func goapkIndexes(ctx context.Context, t *testing.T, client *http.Client, repos []string, keys map[string][]byte, arch string) (idx []goapk.NamedIndex, via *http.Client, seen []string, err error) {
	t.Helper()
	prefix := fmt.Sprintf("/.goapk-call-%d", goapkCalls.Add(1))
	for _, r := range repos {
		u, err := url.Parse(r)
		if err != nil {
			t.Fatalf("repository %s: %v", r, err)
		}
		u.Path = prefix + u.Path
		seen = append(seen, u.String())
	}
	next := client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c := *client
	c.Transport = unprefix{prefix: prefix, next: next}
	idx, err = goapk.GetRepositoryIndexes(ctx, seen, keys, arch, goapk.WithHTTPClient(&c))
	return idx, &c, seen, err
}

// unprefix is a RoundTripper that removes prefix from the path of each
// request that has it.
type unprefix struct {
	prefix string
	next   http.RoundTripper
}

// RoundTrip sends r, without prefix, through next.
func (u unprefix) RoundTrip(r *http.Request) (*http.Response, error) {
	rest, ok := strings.CutPrefix(r.URL.Path, u.prefix+"/")
	if !ok {
		return u.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.URL.Path, r.URL.RawPath = "/"+rest, ""
	return u.next.RoundTrip(r)
}

// apkInstallOne has go-apk fetch and verify the x86_64 index of repoURL
// (which must hold one package) and download that package, then makes the
// checks apk-tools makes and go-apk skips (key name, signature over the
// exact bytes, C:, datahash, S:), and compares the bytes with want.
func apkInstallOne(t *testing.T, repoURL, keyName string, pubPEM, want []byte) {
	t.Helper()
	apkInstallOneWith(t, &http.Client{Timeout: time.Minute}, repoURL, keyName, pubPEM, want)
}

// apkInstallOneWith is apkInstallOne with go-apk and the checks using
// client (a TLS test's trusts its CA).
func apkInstallOneWith(t *testing.T, client *http.Client, repoURL, keyName string, pubPEM, want []byte) {
	t.Helper()
	pub, err := apkPublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	idx, via, _, err := goapkIndexes(ctx, t, client, []string{repoURL}, map[string][]byte{keyName: pubPEM}, "x86_64")
	if err != nil || len(idx) != 1 || len(idx[0].Packages()) != 1 {
		t.Fatalf("go-apk index of %s: %d indexes, %s, %v", repoURL, len(idx), goapkCounts(idx), err)
	}
	a, err := goapk.New(goapk.WithFS(apkfs.NewMemFS()), goapk.WithArch("x86_64"))
	if err != nil {
		t.Fatal(err)
	}
	a.SetClient(via)
	rc, err := a.FetchPackage(ctx, idx[0].Packages()[0])
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(data, want) {
		t.Errorf("go-apk: the package from %s differs from the upload", repoURL)
	}
	resp, err := client.Get(repoURL + "/x86_64/APKINDEX.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text, err := apkVerifyIndex(raw, map[string]*rsa.PublicKey{keyName: pub})
	if err != nil {
		t.Fatalf("APKINDEX of %s: %v", repoURL, err)
	}
	st, err := apkParseIndex(text)
	if err != nil || len(st) != 1 {
		t.Fatalf("APKINDEX of %s: %v", repoURL, err)
	}
	if err := apkCheckPackage(data, st[0]); err != nil {
		t.Errorf("package from %s: %v", repoURL, err)
	}
}

// goapkCounts says how many packages each index holds, for failure
// messages.
func goapkCounts(idx []goapk.NamedIndex) string {
	var n []string
	for _, i := range idx {
		n = append(n, fmt.Sprint(len(i.Packages())))
	}
	return "packages per index [" + strings.Join(n, " ") + "]"
}

// TestGoapkIndexesSeeChanges: two goapkIndexes calls on the same
// repository URL, with a publish between them, each see the index served
// at the time (goapk.GetRepositoryIndexes alone would give the second
// call the first call's index).
func TestGoapkIndexesSeeChanges(t *testing.T) {
	s := startServer(t, "")
	keyName, pubPEM := "", []byte(nil)
	ctx := context.Background()
	client := &http.Client{Timeout: time.Minute}
	for i, name := range []string{"hello", "hello-doc"} {
		if code, r := s.upload(apkTarget, apkBuild(t, name, "noarch", "payload of "+name, nil), "?publish=false"); code != http.StatusCreated {
			t.Fatalf("upload %s: %d %v", name, code, r)
		}
		s.publish(apkTarget)
		if keyName == "" {
			keyName, pubPEM = apkServerKey(t, s, apkTarget)
		}
		idx, _, _, err := goapkIndexes(ctx, t, client, []string{s.url + apkRepo}, map[string][]byte{keyName: pubPEM}, "x86_64")
		if err != nil || len(idx) != 1 || len(idx[0].Packages()) != i+1 {
			t.Fatalf("after publishing %s: %d indexes, %s, %v; want %d packages", name, len(idx), goapkCounts(idx), err, i+1)
		}
	}
}
