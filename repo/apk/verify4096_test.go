package apk

import (
	"bytes"

	"context"
	crand "crypto/rand"
	"crypto/rsa"
	"github.com/pierhq/pier/repo/apk/apktest"
	"testing"

	"github.com/pierhq/pier/repo"
)

// TestVerifyRSA4096: an index signed with a 4096-bit key (what Pier
// generates: a 512-byte signature fills its tar block exactly, with no
// padding) verifies.
func TestVerifyRSA4096(t *testing.T) {
	key, err := rsa.GenerateKey(crand.Reader, 4096)
	if err != nil {
		t.Fatal(err)
	}
	f := New(Config{}, &testSigner{key: key, name: "pier-4096.rsa.pub"})
	idx, err := f.buildIndex(testTarget, "main", nil, testTime)
	if err != nil {
		t.Fatal(err)
	}
	files := []repo.File{{Path: "apk/5.8/alpine/v3.20/main/x86_64/APKINDEX.tar.gz", Kind: repo.KindRoot, Data: idx}}
	in := &repo.VerifyInput{Target: testTarget, Files: files,
		Read: func(ctx context.Context, f repo.File) ([]byte, error) { return f.Data, nil }}
	if err := f.Verify(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// TestReadSignedRSA4096: a package signed with a 4096-bit key (a 512-byte
// signature that fills its tar blocks exactly) is read.
func TestReadSignedRSA4096(t *testing.T) {
	key, err := rsa.GenerateKey(crand.Reader, 4096)
	if err != nil {
		t.Fatal(err)
	}
	b, err := apktest.Build(apktest.Options{Name: "hello", Version: "1.0-r0", SignKey: key,
		Files: map[string][]byte{"/usr/share/hello/x": []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	f := New(Config{}, nil)
	if _, err := f.Read(context.Background(), bytes.NewReader(b), int64(len(b)), nil); err != nil {
		t.Fatalf("a package signed with a 4096-bit key: %v", err)
	}
}
