// Command genpkgs writes a reproducible corpus of synthetic packages for
// benchmarks: .deb (Go writer in repo/deb/debtest), .rpm (nfpm) or .apk
// (nfpm through repo/apk/apktest).
//
// The corpus looks like a real repository, not like N equal files: file
// sizes follow a log-normal law (median ~70 KB, clamped to 5 KB–44 MB, mean
// ~450 KB), each name has 1 to 15 versions, payloads mix incompressible
// bytes (already-compressed data, binaries) with text that compresses about
// 4:1, a package installs one file per ~24 KB (2 to 200 files), and members
// and payloads are compressed with a mix of xz, zstd and gzip where the
// format allows it (deb data.tar and control.tar; rpm payload; apk is gzip
// by definition). xz is used only below 512 KB: the pure-Go xz encoder runs
// at ~4 MB/s, and generating the big packages with it would take longer
// than the benchmark. The same -seed, -prefix, -start and -n give the same
// files, byte for byte.
//
//	go run ./bench/genpkgs -format rpm -n 10000 -out /tmp/rpms
//	go run ./bench/genpkgs -format deb -n 1000 -size 50000 -out /tmp/debs   # old corpus: equal 50 kB incompressible
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"
	nfpmrpm "github.com/goreleaser/nfpm/v2/rpm"

	"github.com/pierhq/pier/repo/apk/apktest"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// pkgSpec is one package of the corpus.
type pkgSpec struct {
	index   int
	name    string
	version string // upstream version
	release int
	arch    int    // index into the format's architectures: 0, 1 (second arch) or 2 (arch-independent)
	size    int64  // target file size
	comp    string // payload compression: "xz", "zst" or "gz"
	ctlComp string // deb control.tar compression
}

// Size law: log-normal with a planned median of 78 KB (files come out
// ~10% smaller, the text compressing better than planned: median ~70 KB); sigma 1.9 gives a mean of about
// 450 KB after clamping, so 10,000 packages weigh ~4.5 GB.
const (
	median   = 78_000
	sigma    = 1.9
	minSize  = 5_000
	maxSize  = 44_000_000
	xzLimit  = 512_000
	perFile  = 24_000
	maxFiles = 200
)

// plan returns the packages numbered start to start+n-1 of the corpus that
// seed and prefix name. Names come in runs of 1 to 15 versions (geometric,
// mean ~2.8), so the plan is walked from package 0.
func plan(seed uint64, prefix string, start, n int) []pkgSpec {
	names := rand.New(rand.NewPCG(seed, 0x6e616d6573))
	out := make([]pkgSpec, 0, n)
	i := 0
	for name := 0; i < start+n; name++ {
		versions := 1 + min(14, int(names.ExpFloat64()*1.8))
		arch := 0
		switch r := names.IntN(10); {
		case r == 0:
			arch = 2
		case r <= 2:
			arch = 1
		}
		for v := 0; v < versions && i < start+n; v++ {
			if i >= start {
				out = append(out, spec(seed, prefix, i, name, v, arch))
			}
			i++
		}
	}
	return out
}

// spec draws package i's size and compressions from its own generator, so
// that a package does not change when the corpus grows.
func spec(seed uint64, prefix string, i, name, v, arch int) pkgSpec {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	size := int64(math.Exp(math.Log(median) + sigma*rng.NormFloat64()))
	size = min(max(size, minSize), maxSize)
	comp := "gz"
	switch r := rng.IntN(10); {
	case size < xzLimit && r < 5:
		comp = "xz"
	case size < xzLimit && r < 8, size >= xzLimit && r < 6:
		comp = "zst"
	}
	ctlComp := []string{"xz", "gz", "zst"}[rng.IntN(3)]
	return pkgSpec{
		index: i, name: fmt.Sprintf("%s%05d", prefix, name), version: fmt.Sprintf("1.%d.%d", v, name%13),
		release: 1 + rng.IntN(3), arch: arch, size: size, comp: comp, ctlComp: ctlComp,
	}
}

// words is the vocabulary of the compressible text.
var words = strings.Fields(`the of and to in is that for it as with was on be by this are from or
an at which not have has but were can all one their more other when there also its been than into
only some time such two may these then first would could any after most over new used system file
data package library version support program user config server client network module service`)

// payload returns the files package s installs: its size split between
// incompressible bytes (80%) and text (80% more, compressing ~4:1), in
// one file per perFile bytes.
func payload(s pkgSpec, seed uint64) map[string][]byte {
	cc := rand.NewChaCha8(chachaSeed(seed, s.index))
	rng := rand.New(cc)
	nfiles := int(min(max(s.size/perFile, 1), maxFiles)) + 1
	random := s.size * 8 / 10
	text := s.size * 8 / 10
	out := make(map[string][]byte, nfiles)
	for f := range nfiles {
		share := random / int64(nfiles)
		b := make([]byte, share)
		cc.Read(b)
		var dir string
		switch f % 4 {
		case 0:
			dir = "usr/bin/"
		case 1:
			dir = "usr/lib/" + s.name + "/"
		case 2:
			dir = "usr/share/" + s.name + "/data/"
		default:
			dir = "usr/share/doc/" + s.name + "/"
		}
		if f == nfiles-1 || f%4 == 3 {
			var t bytes.Buffer
			for int64(t.Len()) < text/int64(nfiles) {
				t.WriteString(words[rng.IntN(len(words))])
				if rng.IntN(12) == 0 {
					t.WriteByte('\n')
				} else {
					t.WriteByte(' ')
				}
			}
			b = append(b, t.Bytes()...)
		}
		out[fmt.Sprintf("%s%s-%03d", dir, s.name, f)] = b
	}
	return out
}

func chachaSeed(seed uint64, i int) [32]byte {
	var k [32]byte
	copy(k[:], fmt.Sprintf("%016x%016x", seed, uint64(i)))
	return k
}

func main() {
	format := flag.String("format", "deb", "deb, rpm or apk")
	n := flag.Int("n", 1000, "number of packages")
	size := flag.Int("size", 0, "if set, every package gets this many incompressible payload bytes (the old equal-size corpus)")
	out := flag.String("out", "pkgs", "output directory")
	prefix := flag.String("prefix", "bench", "package name prefix")
	start := flag.Int("start", 0, "first package number")
	seed := flag.Uint64("seed", 1, "corpus seed")
	stats := flag.Bool("stats", false, "print the size, compression and version mix of the plan and exit")
	flag.Parse()
	build := map[string]func(s pkgSpec, files map[string][]byte) (string, []byte, error){
		"deb": buildDeb, "rpm": buildRPM, "apk": buildAPK,
	}[*format]
	if build == nil {
		fmt.Fprintln(os.Stderr, "unknown format", *format)
		os.Exit(2)
	}
	specs := plan(*seed, *prefix, *start, *n)
	if *stats {
		printStats(specs)
		return
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	jobs := make(chan pkgSpec)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range jobs {
				var fs map[string][]byte
				if *size > 0 {
					b := make([]byte, *size)
					rand.NewChaCha8(chachaSeed(*seed, s.index)).Read(b)
					fs = map[string][]byte{"usr/share/" + s.name + "/data.bin": b}
					s.comp, s.ctlComp = "gz", "gz"
				} else {
					fs = payload(s, *seed)
				}
				file, b, err := build(s, fs)
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
	for _, s := range specs {
		jobs <- s
	}
	close(jobs)
	wg.Wait()
}

// printStats prints what the plan holds (planned sizes, before compression).
func printStats(specs []pkgSpec) {
	sizes := make([]int64, len(specs))
	var total int64
	comps := map[string]int{}
	names := map[string]int{}
	for i, s := range specs {
		sizes[i] = s.size
		total += s.size
		comps[s.comp]++
		names[s.name]++
	}
	slices.Sort(sizes)
	maxV := 0
	for _, v := range names {
		maxV = max(maxV, v)
	}
	fmt.Printf("packages %d, names %d (1..%d versions), planned bytes %d, size min %d median %d max %d, payload compression %v\n",
		len(specs), len(names), maxV, total, sizes[0], sizes[len(sizes)/2], sizes[len(sizes)-1], comps)
}

func description(s pkgSpec) string {
	return fmt.Sprintf("benchmark package %s\nA synthetic package for Pier's benchmarks, about %d bytes,\nwith a realistic mix of sizes, compressions and versions.", s.name, s.size)
}

func buildDeb(s pkgSpec, fs map[string][]byte) (string, []byte, error) {
	arch := []string{"amd64", "arm64", "all"}[s.arch]
	version := fmt.Sprintf("%s-%d", s.version, s.release)
	b, err := debtest.Build(debtest.Options{
		Package: s.name, Version: version, Arch: arch,
		Description:        strings.ReplaceAll(description(s), "\n", "\n "),
		Depends:            "libc6 (>= 2.34), libssl3 (>= 3.0.0)",
		Files:              fs,
		DataCompression:    s.comp,
		ControlCompression: s.ctlComp,
	})
	return fmt.Sprintf("%s_%s_%s.deb", s.name, version, arch), b, err
}

func buildAPK(s pkgSpec, fs map[string][]byte) (string, []byte, error) {
	arch := []string{"x86_64", "aarch64", "noarch"}[s.arch]
	version := fmt.Sprintf("%s-r%d", s.version, s.release)
	abs := make(map[string][]byte, len(fs))
	for p, b := range fs {
		abs["/"+p] = b
	}
	b, err := apktest.Build(apktest.Options{Name: s.name, Version: version, Arch: arch, Description: fmt.Sprintf("benchmark package %s", s.name),
		Depends: []string{"musl", "so:libc.musl-x86_64.so.1"}, Files: abs})
	return fmt.Sprintf("%s-%s.%s.apk", s.name, version, arch), b, err
}

func buildRPM(s pkgSpec, fs map[string][]byte) (string, []byte, error) {
	arch := []string{"x86_64", "aarch64", "noarch"}[s.arch]
	dir, err := os.MkdirTemp("", "genpkgs-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(dir)
	var contents files.Contents
	for p, b := range fs {
		src := filepath.Join(dir, strings.ReplaceAll(p, "/", "_"))
		if err := os.WriteFile(src, b, 0o644); err != nil {
			return "", nil, err
		}
		contents = append(contents, &files.Content{Source: src, Destination: "/" + p})
	}
	release := fmt.Sprint(s.release)
	info := nfpm.WithDefaults(&nfpm.Info{
		Name: s.name, Arch: arch, Platform: "linux", Version: s.version, Release: release, VersionSchema: "none",
		Maintainer: "Bench <bench@example.org>", Description: description(s), License: "MIT",
		Homepage: "https://example.org/" + s.name, MTime: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Overridables: nfpm.Overridables{
			Depends:  []string{"glibc >= 2.34", "openssl-libs"},
			Contents: contents,
			RPM:      nfpm.RPM{Compression: map[string]string{"xz": "xz", "zst": "zstd", "gz": "gzip"}[s.comp]},
		},
	})
	if err := nfpm.PrepareForPackager(info, "rpm"); err != nil {
		return "", nil, err
	}
	var buf bytes.Buffer
	if err := nfpmrpm.DefaultRPM.Package(info, &buf); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("%s-%s-%s.%s.rpm", s.name, s.version, release, arch), buf.Bytes(), nil
}
