package apk

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/apk/apktest"
)

const testKeyName = "pier-test-6165ee59.rsa.pub"

// testSigner is an IndexSigner over the test key in testdata.
type testSigner struct {
	key  *rsa.PrivateKey
	name string
}

func (s *testSigner) KeyName() string { return s.name }

func (s *testSigner) Public() *rsa.PublicKey { return &s.key.PublicKey }

func (s *testSigner) SignSHA1(data []byte) ([]byte, error) {
	sum := sha1.Sum(data)
	return rsa.SignPKCS1v15(nil, s.key, crypto.SHA1, sum[:])
}

func loadTestKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile("testdata/test.rsa")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("testdata/test.rsa: no PEM block")
	}
	key, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func testPublicKeyPEM(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + testKeyName)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newTestFormat(t testing.TB, cfg Config) *Format {
	t.Helper()
	f := New(cfg, &testSigner{key: loadTestKey(t), name: testKeyName})
	if err := f.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return f
}

// fixture is a package built with apktest.
type fixture struct {
	name string
	opts apktest.Options
	data []byte
}

var (
	fixturesOnce sync.Once
	fixturesData []fixture
	fixturesErr  error
)

// fixtures builds the nfpm packages every test uses: x86_64 (signed),
// aarch64, noarch, and a second x86_64 version.
func fixtures(t testing.TB) []fixture {
	t.Helper()
	key := loadTestKey(t)
	fixturesOnce.Do(func() {
		list := []fixture{
			{name: "hello-x86_64-signed", opts: apktest.Options{
				Name: "hello", Version: "1.0.0-r0", Arch: "x86_64",
				Description: "Says hello", URL: "https://example.com/hello", License: "MIT",
				Maintainer: "Pier Test <test@example.com>",
				Depends:    []string{"so:libc.musl-x86_64.so.1", "busybox>=1.36"},
				Provides:   []string{"cmd:hello=1.0.0-r0"},
				Files:      map[string][]byte{"/usr/bin/hello": []byte("#!/bin/sh\necho hello\n")},
				SignKey:    key, KeyName: "packager-5f0c0ffe.rsa.pub",
			}},
			{name: "hello-aarch64", opts: apktest.Options{
				Name: "hello", Version: "1.0.0-r0", Arch: "aarch64", Description: "Says hello", License: "MIT",
				Depends:  []string{"so:libc.musl-aarch64.so.1"},
				Provides: []string{"cmd:hello=1.0.0-r0"},
				Files:    map[string][]byte{"/usr/bin/hello": []byte("#!/bin/sh\necho hello from arm\n")},
			}},
			{name: "hello-x86_64-new", opts: apktest.Options{
				Name: "hello", Version: "1.0.10-r1", Arch: "x86_64", Description: "Says hello", License: "MIT",
				Files: map[string][]byte{"/usr/bin/hello": []byte("#!/bin/sh\necho hello 10\n")},
			}},
			{name: "hello-data-noarch", opts: apktest.Options{
				Name: "hello-data", Version: "2.1_rc1-r3", Arch: "noarch", Description: "Greeting texts",
				License: "CC0-1.0", Depends: []string{"hello"},
				Files: map[string][]byte{"/usr/share/hello/greeting.txt": []byte("hello\n")},
			}},
		}
		for i := range list {
			list[i].data, fixturesErr = apktest.Build(list[i].opts)
			if fixturesErr != nil {
				return
			}
		}
		fixturesData = list
	})
	if fixturesErr != nil {
		t.Fatal(fixturesErr)
	}
	return fixturesData
}

// readPackage runs Format.Read over data and builds the catalog record the
// core would store.
func readPackage(t testing.TB, f *Format, component string, data []byte) repo.Package {
	t.Helper()
	parsed, err := f.Read(context.Background(), bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	sum := sha256.Sum256(data)
	return repo.Package{Component: component, Name: parsed.Name, Version: parsed.Version, Arch: parsed.Arch,
		Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Meta: parsed.Meta,
		Uploaded: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// tarEntry is one entry of a hand-built tar.
type rawEntry struct {
	hdr  tar.Header
	data []byte
}

// file returns a regular-file entry.
func file(name string, data []byte) rawEntry {
	return rawEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), Format: tar.FormatUSTAR}, data: data}
}

// dir returns a directory entry.
func dir(name string) rawEntry {
	return rawEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatUSTAR}}
}

// withDirs puts before entries a directory entry for every parent folder
// of theirs that has none, as abuild and nfpm write them (apk-tools
// installs a file only into a folder its package listed).
func withDirs(entries ...rawEntry) []rawEntry {
	have := map[string]bool{}
	for _, e := range entries {
		if e.hdr.Typeflag == tar.TypeDir {
			have[strings.TrimSuffix(e.hdr.Name, "/")] = true
		}
	}
	var out []rawEntry
	for _, e := range entries {
		switch e.hdr.Typeflag {
		case tar.TypeReg, tar.TypeLink, tar.TypeSymlink:
		default:
			out = append(out, e)
			continue
		}
		if !strings.HasPrefix(e.hdr.Name, ".") && !strings.HasPrefix(e.hdr.Name, "/") {
			parts := strings.Split(e.hdr.Name, "/")
			for i := 1; i < len(parts); i++ {
				d := strings.Join(parts[:i], "/")
				if !have[d] {
					have[d] = true
					out = append(out, dir(d+"/"))
				}
			}
		}
		out = append(out, e)
	}
	return out
}

// tgz writes entries as one gzip member, cut (no end-of-archive blocks) or
// complete.
func tgz(t testing.TB, cut bool, entries ...rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if cut {
		err = tw.Flush()
	} else {
		err = tw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gz compresses data as one gzip member.
func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawTar writes entries as an uncompressed tar (complete or cut), then lets
// patch change the header bytes of entry i (at offsets[i]) before the
// caller compresses it: hand-made headers apk-tools and Go read
// differently.
func rawTar(t testing.TB, cut bool, entries []rawEntry, patch func(i int, hdr []byte)) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var offsets []int
	for _, e := range entries {
		h := e.hdr
		if err := tw.Flush(); err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, buf.Len())
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if cut {
		err = tw.Flush()
	} else {
		err = tw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	if patch != nil {
		for i, off := range offsets {
			// A pax header comes first for PAX entries: patch the entry's own header.
			for out[off+156] == 'x' {
				size, _ := strconv.ParseInt(strings.Trim(string(out[off+124:off+136]), "\x00 "), 8, 64)
				off += 512 + int((size+511)&^511)
			}
			patch(i, out[off:off+512])
		}
	}
	return out
}

// fixChecksum recomputes a tar header's checksum after a patch.
func fixChecksum(hdr []byte) {
	copy(hdr[148:156], "        ")
	sum := 0
	for _, c := range hdr[:512] {
		sum += int(c)
	}
	copy(hdr[148:156], fmt.Sprintf("%06o\x00 ", sum))
}
