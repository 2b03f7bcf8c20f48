package e2e

import (
	"bytes"
	"context"
	"crypto/rsa"
	"io"
	"net/http"
	"regexp"
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
	idx, err := goapk.GetRepositoryIndexes(ctx, []string{repoURL}, map[string][]byte{keyName: pubPEM}, "x86_64", goapk.WithHTTPClient(client))
	if err != nil || len(idx) != 1 || len(idx[0].Packages()) != 1 {
		t.Fatalf("go-apk index of %s: %v", repoURL, err)
	}
	a, err := goapk.New(goapk.WithFS(apkfs.NewMemFS()), goapk.WithArch("x86_64"))
	if err != nil {
		t.Fatal(err)
	}
	a.SetClient(client)
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
