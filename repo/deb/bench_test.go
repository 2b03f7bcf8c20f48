package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// syntheticPackages returns n catalog records shaped like a real archive:
// stanzas of about 1 KB, one package in ten arch-all, the rest split
// between amd64 and arm64. With n = 10,000 each Packages file is ~10 MB.
// Each package records a file list of about 100 paths (syntheticFiles).
func syntheticPackages(tb testing.TB, n int) []repo.Package {
	return syntheticPackagesFiles(tb, n, 100)
}

// syntheticFiles returns about k paths of a package named name, shaped
// like a Debian package's: binaries, a library, Python modules, docs,
// man pages and data files (about 60 bytes each).
func syntheticFiles(rng *rand.Rand, name string, k int) []string {
	files := []string{
		"usr/bin/" + name,
		"usr/share/doc/" + name + "/changelog.Debian.gz",
		"usr/share/doc/" + name + "/copyright",
		"usr/share/man/man1/" + name + ".1.gz",
		"usr/lib/x86_64-linux-gnu/lib" + name + ".so.1",
		"usr/lib/x86_64-linux-gnu/lib" + name + ".so.1.2.3",
	}
	dirs := []string{"usr/lib/python3/dist-packages/" + name + "/", "usr/share/" + name + "/data/", "usr/share/locale/de/LC_MESSAGES/", "usr/include/" + name + "/"}
	for len(files) < k {
		d := dirs[rng.Intn(len(dirs))]
		files = append(files, fmt.Sprintf("%s%s_%d.%s", d, []string{"module", "resource", "table", "header"}[rng.Intn(4)], len(files), []string{"py", "dat", "mo", "h"}[rng.Intn(4)]))
	}
	return files
}

// syntheticPackagesFiles is syntheticPackages with k files per package
// (0: none recorded, as for packages from before file lists).
func syntheticPackagesFiles(tb testing.TB, n, k int) []repo.Package {
	tb.Helper()
	rng := rand.New(rand.NewSource(1))
	words := strings.Fields("library tool server client data the and for with support network daemon utility python3 perl module files development headers shared")
	sentence := func(k int) string {
		var b strings.Builder
		for i := range k {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[rng.Intn(len(words))])
		}
		return b.String()
	}
	pkgs := make([]repo.Package, n)
	for i := range pkgs {
		name := fmt.Sprintf("%s-%s%d", words[rng.Intn(len(words))], words[rng.Intn(len(words))], i)
		version := fmt.Sprintf("%d.%d.%d-%d", rng.Intn(3), rng.Intn(20), rng.Intn(100), 1+rng.Intn(5))
		arch := []string{"amd64", "arm64"}[i%2]
		if i%10 == 0 {
			arch = "all"
		}
		var desc strings.Builder
		desc.WriteString(sentence(6))
		for range 6 {
			desc.WriteString("\n ")
			desc.WriteString(sentence(10))
		}
		fields := []field{
			{"Package", name}, {"Version", version}, {"Architecture", arch},
			{"Maintainer", "Jane Doe <jane@example.org>"}, {"Installed-Size", fmt.Sprint(rng.Intn(100000))},
			{"Depends", "libc6 (>= 2.34), libssl3 (>= 3.0.0), zlib1g (>= 1:1.2.0)"},
			{"Section", "utils"}, {"Priority", "optional"},
			{"Homepage", "https://example.org/" + name}, {"Description", desc.String()},
		}
		head, tail := splitStanza(fields)
		var sum [32]byte
		rng.Read(sum[:])
		m := Meta{Source: name, MD5: hex.EncodeToString(sum[:16]), SHA1: hex.EncodeToString(sum[:20]), Head: head, Tail: tail, Legacy: k == 0}
		if k > 0 {
			m.Files = syntheticFiles(rng, name, k)
		}
		meta, err := m.MarshalBinary()
		if err != nil {
			tb.Fatal(err)
		}
		s := sha256.Sum256(sum[:])
		pkgs[i] = repo.Package{Component: "main", Name: name, Version: version, Arch: arch, Size: int64(1000 + rng.Intn(1<<20)),
			SHA256: hex.EncodeToString(s[:]), Meta: meta}
	}
	return pkgs
}

// cpuTime returns the CPU time (user and system) the process has used so
// far: benchmarks report it per operation next to the wall time, which
// other work on a shared machine inflates.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start, in ms.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkIndex10k is a full publish of 10,000 packages of about 100
// files each: two ~10 MB Packages files, each written plain, .gz and .xz,
// and, with contents=on, Contents-amd64.gz and Contents-arm64.gz (about
// 550,000 lines each: the arch-all packages are in both). It reports the
// plain and compressed size of one Contents file.
func BenchmarkIndex10k(b *testing.B) {
	pkgs := syntheticPackages(b, 10000)
	for _, on := range []bool{false, true} {
		c := map[bool]Switch{false: SwitchOff, true: SwitchOn}[on]
		b.Run("contents="+c.String(), func(b *testing.B) {
			f := New(Config{Contents: c})
			f.cache = nil // a full rebuild: nothing cached from the previous loop
			in := &repo.IndexInput{Target: repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"},
				Packages: pkgs, Time: goldenTime, Signer: fakeSigner{}}
			b.ReportAllocs()
			var files []repo.File
			start := cpuTime(b)
			for b.Loop() {
				var err error
				if files, err = f.Index(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
			for _, file := range files {
				if strings.HasSuffix(file.Path, "/main/Contents-amd64.gz") {
					b.ReportMetric(float64(len(file.Data))/1e6, "MB-contents.gz")
				}
			}
		})
	}
}

// BenchmarkIndexAddOne10k is the publish after one upload to a
// 10,000-package target (Contents off) in a running server: the Format's
// cache holds the compressed blocks of the previous publishes, and each
// loop adds another new package to the 10,000.
func BenchmarkIndexAddOne10k(b *testing.B) {
	all := syntheticPackagesFiles(b, 10000+1000, 0)
	base := all[:10000]
	f := New(Config{Contents: SwitchOff})
	tg := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	if _, err := f.Index(context.Background(), &repo.IndexInput{Target: tg, Packages: base, Time: goldenTime, Signer: fakeSigner{}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := cpuTime(b)
	i := 0
	for b.Loop() {
		pkgs := append(append([]repo.Package(nil), base...), all[10000+i%1000])
		i++
		if _, err := f.Index(context.Background(), &repo.IndexInput{Target: tg, Packages: pkgs, Time: goldenTime, Signer: fakeSigner{}}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkContents10k is the Contents part of Index10k alone: merging
// the file lists of 10,000 packages into Contents-amd64 and -arm64 and
// compressing them. It reports the plain size of each file and the
// encoded file lists' share of the packages' Meta.
func BenchmarkContents10k(b *testing.B) {
	f := New(Config{})
	pkgs := syntheticPackages(b, 10000)
	bare := syntheticPackagesFiles(b, 10000, 0)
	var meta, metaBare int
	for i := range pkgs {
		meta += len(pkgs[i].Meta)
		metaBare += len(bare[i].Meta)
	}
	entries, comps, archs, err := f.entries("bench", pkgs)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var files []*contentsFile
	start := cpuTime(b)
	for b.Loop() {
		if files, err = buildContents(context.Background(), entries, comps, archs, nil); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
	b.ReportMetric(float64(files[0].plainSize)/1e6, "MB-plain")
	b.ReportMetric(float64(len(files[0].gz))/1e6, "MB-gz")
	b.ReportMetric(float64(meta)/float64(len(pkgs)), "B-meta/pkg")
	b.ReportMetric(float64(metaBare)/float64(len(pkgs)), "B-meta-without-files/pkg")
}

// BenchmarkIndex10kNoCompress is the part of Index10k before compression:
// decoding metas, sorting, and writing the plain Packages files; cold (a
// new Format each time) and with the entry memo of the same packages'
// last publish.
func BenchmarkIndex10kNoCompress(b *testing.B) {
	pkgs := syntheticPackages(b, 10000)
	for i := range pkgs {
		pkgs[i].ID = int64(i + 1) // in id order, as the publisher hands them
	}
	run := func(b *testing.B, f func() *Format) {
		for b.Loop() {
			entries, comps, archs, err := f().entries("bench", pkgs)
			if err != nil {
				b.Fatal(err)
			}
			files := buildPackages(entries, comps, archs)
			for _, pf := range files {
				pf.sums[0] = sha256.Sum256(pf.data[0])
			}
		}
	}
	b.Run("cold", func(b *testing.B) { run(b, func() *Format { return New(Config{}) }) })
	warm := New(Config{})
	b.Run("memo", func(b *testing.B) { run(b, func() *Format { return warm }) })
}

// BenchmarkCompress measures the compression of one 10 MB Packages file:
// gzip alone, xz on one core, and both variants on all cores as Index runs
// them.
func BenchmarkCompress(b *testing.B) {
	f := New(Config{Architectures: []string{"amd64"}})
	pkgs := syntheticPackages(b, 10000)
	for i := range pkgs {
		pkgs[i].Arch = "amd64"
	}
	entries, comps, archs, err := f.entries("bench", pkgs)
	if err != nil {
		b.Fatal(err)
	}
	data := buildPackages(entries, comps, archs)[0].data[0]
	ctx := context.Background()
	b.Run("gz", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		var out []byte
		for b.Loop() {
			if out, err = gzipBytes(ctx, data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(out))/float64(len(data))*100, "%size")
	})
	b.Run("xz-1core", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		var out []byte
		for b.Loop() {
			blocks := cutBlocks(data)
			for i := range blocks {
				if err := blocks[i].compress(ctx); err != nil {
					b.Fatal(err)
				}
			}
			out = assembleXZ(blocks)
		}
		b.ReportMetric(float64(len(out))/float64(len(data))*100, "%size")
	})
	b.Run("gz+xz-parallel", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := compressAll(ctx, []*packagesFile{{dir: "main/binary-amd64", data: [3][]byte{data}}}, nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// realisticFiles returns up to limit bytes of real files, binaries and
// sources from the Go installation running the benchmark, as data for a
// realistic multi-MB package; it skips when there are none.
func realisticFiles(b *testing.B, limit int64) map[string][]byte {
	b.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Skipf("go env GOROOT: %v", err)
	}
	root := strings.TrimSpace(string(out))
	files := map[string][]byte{}
	var total int64
	for _, dir := range []string{filepath.Join("pkg", "tool", runtime.GOOS+"_"+runtime.GOARCH), filepath.Join("src", "net", "http"), filepath.Join("src", "runtime")} {
		ents, _ := os.ReadDir(filepath.Join(root, dir))
		for _, e := range ents {
			if !e.Type().IsRegular() || total >= limit {
				continue
			}
			data, err := os.ReadFile(filepath.Join(root, dir, e.Name()))
			if err != nil {
				continue
			}
			data = data[:min(int64(len(data)), limit-total)]
			files[filepath.ToSlash(filepath.Join("usr/lib/pier-bench", dir, e.Name()))] = data
			total += int64(len(data))
		}
	}
	if total < limit/2 {
		b.Skipf("only %d bytes of Go installation files found", total)
	}
	return files
}

// BenchmarkReadRealistic reads a package whose data member holds 24 MiB
// of real binaries and sources (Go's tools, net/http and runtime sources),
// compressed as dpkg-deb would: the whole data member is decompressed and
// its tar read on every upload. MB/s is of the .deb file; "MB/s-data" of
// the uncompressed data.tar. The "data" sub-benchmarks time the data
// member's check alone, the rest of Read is the control member.
func BenchmarkReadRealistic(b *testing.B) {
	files := realisticFiles(b, 24<<20)
	f := New(Config{})
	for _, comp := range []string{"xz", "zst", "gz"} {
		deb := build(b, debtest.Options{Package: "bench", Version: "1.0-1", Arch: "amd64", DataCompression: comp, ControlCompression: comp, Files: files})
		sums := sumsOf(deb)
		data, err := debtest.DataTar(debtest.Options{Files: files})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(comp, func(b *testing.B) {
			b.SetBytes(int64(len(deb)))
			for b.Loop() {
				if _, err := f.Read(context.Background(), bytes.NewReader(deb), int64(len(deb)), sums); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data))/1e6/(b.Elapsed().Seconds()/float64(b.N)), "MB/s-data")
			b.ReportMetric(float64(len(deb))/1e6, "MB-deb")
		})
		b.Run(comp+"/data", func(b *testing.B) {
			offs := benchMemberOffsets(b, deb)
			m, _, err := readArMember(bytes.NewReader(deb), int64(len(deb)), int64(offs[2]))
			if err != nil {
				b.Fatal(err)
			}
			c, _ := compressionByExt(m.name[len("data.tar"):])
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := f.checkData(context.Background(), bytes.NewReader(deb), m, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchMemberOffsets returns the header offsets of the ar members in deb.
func benchMemberOffsets(b *testing.B, deb []byte) []int {
	b.Helper()
	var offs []int
	for off := int64(8); off < int64(len(deb)); {
		m, next, err := readArMember(bytes.NewReader(deb), int64(len(deb)), off)
		if err != nil {
			b.Fatal(err)
		}
		offs = append(offs, int(m.header))
		off = next
	}
	return offs
}

// BenchmarkRead reads a typical small .deb.
func BenchmarkRead(b *testing.B) {
	f := New(Config{})
	deb := build(b, debtest.Options{Package: "hello", Version: "1.0-1", Arch: "amd64", Depends: "libc6",
		Files: map[string][]byte{"usr/bin/hello": bytes.Repeat([]byte("x"), 100000)}})
	sums := sumsOf(deb)
	b.SetBytes(int64(len(deb)))
	for b.Loop() {
		if _, err := f.Read(context.Background(), bytes.NewReader(deb), int64(len(deb)), sums); err != nil {
			b.Fatal(err)
		}
	}
}
