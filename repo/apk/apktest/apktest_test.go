package apktest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"strings"
	"testing"
)

func members(t *testing.T, data []byte) [][]byte {
	t.Helper()
	br := bytes.NewReader(data)
	var out [][]byte
	for br.Len() > 0 {
		start := len(data) - br.Len()
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		if _, err := io.Copy(io.Discard, zr); err != nil {
			t.Fatal(err)
		}
		out = append(out, data[start:len(data)-br.Len()])
	}
	return out
}

func TestBuild(t *testing.T) {
	b, err := os.ReadFile("../testdata/test.rsa")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	key, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Name: "demo", Version: "1.2.3_rc1-r4", Arch: "noarch", Depends: []string{"busybox"},
		Files: map[string][]byte{"/usr/bin/demo": []byte("#!/bin/sh\n")}, SignKey: key, KeyName: "demo-key"}
	one, err := Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	two, err := Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(one, two) {
		t.Error("Build is not deterministic")
	}
	m := members(t, one)
	if len(m) != 3 {
		t.Fatalf("%d gzip members, want 3", len(m))
	}
	zr, _ := gzip.NewReader(bytes.NewReader(m[0]))
	tr := tar.NewReader(zr)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Name != ".SIGN.RSA.demo-key.rsa.pub" {
		t.Errorf("signature entry %q", hdr.Name)
	}
	sig, _ := io.ReadAll(tr)
	digest := sha1.Sum(m[1])
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA1, digest[:], sig); err != nil {
		t.Errorf("package signature: %v", err)
	}
	zr, _ = gzip.NewReader(bytes.NewReader(m[1]))
	tr = tar.NewReader(zr)
	if hdr, err = tr.Next(); err != nil || hdr.Name != ".PKGINFO" {
		t.Fatalf("control stream: %v %v", hdr, err)
	}
	info, _ := io.ReadAll(tr)
	for _, want := range []string{"pkgname = demo\n", "pkgver = 1.2.3_rc1-r4\n", "arch = noarch\n", "depend = busybox\n", "datahash = "} {
		if !strings.Contains(string(info), want) {
			t.Errorf(".PKGINFO lacks %q:\n%s", want, info)
		}
	}
	if _, err := Build(Options{Name: "x"}); err == nil {
		t.Error("Build without a version succeeded")
	}
}
