// Command genpkgs writes N synthetic packages for benchmarks: .deb (Go
// writer in repo/deb/debtest), .rpm (nfpm) or .apk (nfpm through
// repo/apk/apktest), each with realistic metadata and a payload of
// incompressible bytes.
//
//	go run ./bench/genpkgs -format rpm -n 10000 -size 50000 -out /tmp/rpms
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"
	nfpmrpm "github.com/goreleaser/nfpm/v2/rpm"

	"github.com/pierhq/pier/repo/apk/apktest"
	"github.com/pierhq/pier/repo/deb/debtest"
)

func main() {
	format := flag.String("format", "deb", "deb, rpm or apk")
	n := flag.Int("n", 1000, "number of packages")
	size := flag.Int("size", 50000, "payload bytes per package")
	out := flag.String("out", "pkgs", "output directory")
	prefix := flag.String("prefix", "bench", "package name prefix")
	start := flag.Int("start", 0, "first package number")
	flag.Parse()
	build := map[string]func(i int, name string, payload []byte) (string, []byte, error){
		"deb": buildDeb, "rpm": buildRPM, "apk": buildAPK,
	}[*format]
	if build == nil {
		fmt.Fprintln(os.Stderr, "unknown format", *format)
		os.Exit(2)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				rng := rand.New(rand.NewPCG(uint64(i), 42))
				payload := make([]byte, *size)
				for j := range payload {
					payload[j] = byte(rng.Uint32())
				}
				file, b, err := build(i, fmt.Sprintf("%s%05d", *prefix, i), payload)
				if err == nil {
					err = os.WriteFile(filepath.Join(*out, file), b, 0o644)
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
			}
		}()
	}
	for i := *start; i < *start+*n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

func description(i, size int) string {
	return fmt.Sprintf("benchmark package %d\nA synthetic package for Pier's benchmarks. It carries\n%d bytes of payload and ordinary metadata.", i, size)
}

func buildDeb(i int, name string, payload []byte) (string, []byte, error) {
	arch := []string{"amd64", "amd64", "amd64", "arm64", "all"}[i%5]
	version := fmt.Sprintf("1.%d.%d-%d", i%7, i%13, 1+i%3)
	b, err := debtest.Build(debtest.Options{
		Package: name, Version: version, Arch: arch,
		Description: fmt.Sprintf("benchmark package %d\n A synthetic package for Pier's benchmarks. It carries\n %d bytes of payload and an ordinary control file.", i, len(payload)),
		Depends:     "libc6 (>= 2.34), libssl3 (>= 3.0.0)",
		Files:       map[string][]byte{"usr/share/" + name + "/data.bin": payload},
	})
	return fmt.Sprintf("%s_%s_%s.deb", name, version, arch), b, err
}

func buildAPK(i int, name string, payload []byte) (string, []byte, error) {
	arch := []string{"x86_64", "x86_64", "x86_64", "aarch64", "noarch"}[i%5]
	version := fmt.Sprintf("1.%d.%d-r%d", i%7, i%13, i%3)
	b, err := apktest.Build(apktest.Options{Name: name, Version: version, Arch: arch, Description: fmt.Sprintf("benchmark package %d", i),
		Depends: []string{"musl", "so:libc.musl-x86_64.so.1"}, Files: map[string][]byte{"usr/share/" + name + "/data.bin": payload}})
	return fmt.Sprintf("%s-%s.%s.apk", name, version, arch), b, err
}

func buildRPM(i int, name string, payload []byte) (string, []byte, error) {
	arch := []string{"x86_64", "x86_64", "x86_64", "aarch64", "noarch"}[i%5]
	dir, err := os.MkdirTemp("", "genpkgs-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "data.bin")
	if err := os.WriteFile(src, payload, 0o644); err != nil {
		return "", nil, err
	}
	version, release := fmt.Sprintf("1.%d.%d", i%7, i%13), fmt.Sprint(1+i%3)
	info := nfpm.WithDefaults(&nfpm.Info{
		Name: name, Arch: arch, Platform: "linux", Version: version, Release: release, VersionSchema: "none",
		Maintainer: "Bench <bench@example.org>", Description: description(i, len(payload)), License: "MIT",
		Homepage: "https://example.org/" + name, MTime: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Overridables: nfpm.Overridables{
			Depends:  []string{"glibc >= 2.34", "openssl-libs"},
			Contents: files.Contents{{Source: src, Destination: "/usr/share/" + name + "/data.bin"}},
		},
	})
	if err := nfpm.PrepareForPackager(info, "rpm"); err != nil {
		return "", nil, err
	}
	var buf bytes.Buffer
	if err := nfpmrpm.DefaultRPM.Package(info, &buf); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("%s-%s-%s.%s.rpm", name, version, release, arch), buf.Bytes(), nil
}
