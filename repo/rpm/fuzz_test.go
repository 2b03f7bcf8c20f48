package rpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/pierhq/pier/repo"
)

// FuzzRead feeds arbitrary bytes to the reader (see checkRead).
func FuzzRead(f *testing.F) {
	for _, name := range fixtureFiles {
		b := readFixture(f, name)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add(rpmSpec{main: basicMain("a", "1", "1", "noarch",
		tv{rpmutils.BASENAMES, []string{"x"}}, tv{rpmutils.DIRNAMES, []string{"/etc/"}}, tv{rpmutils.DIRINDEXES, []uint32{0}},
		tv{rpmutils.FILEMODES, []uint16{0o100644}}, tv{rpmutils.FILEFLAGS, []uint32{0}},
		tv{rpmutils.REQUIRENAME, []string{"libc.so.6(GLIBC_2.3)", "libc.so.6(GLIBC_2.34)"}},
		tv{rpmutils.REQUIREFLAGS, []uint32{0, 0}}, tv{rpmutils.REQUIREVERSION, []string{"", ""}},
		tv{rpmutils.CHANGELOGTIME, []uint32{5, 5}}, tv{rpmutils.CHANGELOGNAME, []string{"a", "b"}},
		tv{rpmutils.CHANGELOGTEXT, []string{"x\x01", "y"}})}.build())
	f.Add(rpmSpec{noSHA: true, main: basicMain("b", "1", "1", "x86_64")}.build())
	f.Add([]byte{})
	fm := newTestFormat()
	f.Fuzz(func(t *testing.T, b []byte) { checkRead(t, fm, b) })
}

// FuzzHeader fuzzes the main header alone: each input is wrapped into an
// rpm whose signature header carries its correct SHA256 digest and size,
// so mutations reach the tag parsing instead of failing the digest check.
func FuzzHeader(f *testing.F) {
	for _, name := range fixtureFiles {
		b := readFixture(f, name)
		l, err := readLayout(bytes.NewReader(b), int64(len(b)), DefaultMaxHeaderSize)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[l.start:l.end])
	}
	f.Add(encodeHeader(basicMain("a", "1", "1", "noarch",
		tv{rpmutils.REQUIRENAME, []string{"libc.so.6(GLIBC_2.3)", "libc.so.6(GLIBC_2.34)", "rpmlib(X)", "/etc/x"}},
		tv{rpmutils.REQUIREFLAGS, []uint32{0, 0, 8, 0}}, tv{rpmutils.REQUIREVERSION, []string{"", "", "1:2-3", ""}},
		tv{rpmutils.OLDFILENAMES, []string{"/etc/x"}}, tv{rpmutils.FILEMODES, []uint16{0o040755}}, tv{rpmutils.FILEFLAGS, []uint32{64}})))
	fm := newTestFormat()
	f.Fuzz(func(t *testing.T, hdr []byte) {
		sum := sha256.Sum256(hdr)
		sig := encodeHeader([]tv{{rpmutils.SIG_SHA256, hex.EncodeToString(sum[:])}, {1000, []uint32{uint32(len(hdr))}}})
		b := make([]byte, leadSize, leadSize+len(sig)+8+len(hdr))
		copy(b, leadMagic[:])
		b = append(b, sig...)
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
		checkRead(t, fm, append(b, hdr...))
	})
}

// checkRead reads b: the reader must not panic, must fail only with a bad
// package error, and whatever it accepts must publish as well-formed XML.
func checkRead(t *testing.T, fm *Format, b []byte) {
	sum := sha256.Sum256(b)
	hexSum := hex.EncodeToString(sum[:])
	p, err := fm.Read(context.Background(), bytes.NewReader(b), int64(len(b)), repo.Sums{repo.SHA256: hexSum})
	if err != nil {
		if !errors.Is(err, repo.ErrBadPackage) {
			t.Fatalf("error is not a bad package: %v", err)
		}
		return
	}
	files, err := fm.Index(context.Background(), &repo.IndexInput{
		Target:   testTarget,
		Packages: []repo.Package{{Name: p.Name, Version: p.Version, Arch: p.Arch, Size: int64(len(b)), SHA256: hexSum, Meta: p.Meta}},
		Time:     fixtureTime,
	})
	if err != nil {
		t.Fatalf("index of an accepted package: %v", err)
	}
	for _, f := range files {
		if f.Kind != repo.KindHashed {
			continue
		}
		if err := wellFormed(decompress(t, f.Path, f.Data)); err != nil {
			t.Fatalf("%s is not well-formed: %v", f.Path, err)
		}
	}
}

// wellFormed reports whether b is a well-formed XML document.
func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// syntheticPackages returns n catalog packages with realistic metadata:
// a dozen dependencies, 40 files and 10 changelog entries each.
func syntheticPackages(n int) []repo.Package {
	pkgs := make([]repo.Package, n)
	for i := range pkgs {
		pkgs[i] = syntheticPackage(fmt.Sprintf("package-%05d", i), i)
	}
	return pkgs
}

// syntheticPackage returns one package like syntheticPackages' i-th, named
// name.
func syntheticPackage(name string, i int) repo.Package {
	return syntheticRecord(syntheticInfo(name, i), i)
}

// syntheticRecord returns p as a catalog record uploaded i seconds after
// fixtureTime.
func syntheticRecord(p *pkgInfo, i int) repo.Package {
	sum := sha256.Sum256([]byte(p.Name))
	return repo.Package{Name: p.Name, Version: p.fullVersion(), Arch: p.Arch, Size: 250000,
		SHA256: hex.EncodeToString(sum[:]), Meta: encodeMeta(p), Uploaded: fixtureTime.Add(time.Duration(i) * time.Second)}
}

// syntheticInfo returns the parsed form of syntheticPackage(name, i).
func syntheticInfo(name string, i int) *pkgInfo {
	p := &pkgInfo{
		Name: name, Epoch: "0", Version: fmt.Sprintf("%d.%d.%d", i%7, i%13, i%100), Release: "1.el9",
		Arch: []string{"x86_64", "aarch64", "noarch"}[i%3], Summary: "A synthetic package for benchmarks",
		Description: "This package exists to measure how fast Pier publishes a repository. " +
			"Its description is about as long as a typical one, with a second sentence & an ampersand.",
		License: "MIT and BSD", Vendor: "Pier", Group: "Unspecified", URL: "https://example.org/package",
		Packager: "Pier Benchmarks <bench@example.org>", BuildHost: "builder.example.org",
		SourceRPM: name + "-1.0-1.el9.src.rpm", BuildTime: 1735787045,
		InstalledSize: 123456, ArchiveSize: 125000, HeaderStart: 4504, HeaderEnd: 12345,
	}
	for k := 0; k < 4; k++ {
		p.Deps[depProvides] = append(p.Deps[depProvides], dep{Name: fmt.Sprintf("cap%d(%s)", k, name), Flags: "EQ", Epoch: "0", Ver: "1.0", Rel: "1.el9"})
	}
	for k := 0; k < 8; k++ {
		p.Deps[depRequires] = append(p.Deps[depRequires], dep{Name: fmt.Sprintf("lib%d.so.%d()(64bit)", k, i%5)})
	}
	p.Deps[depRequires] = append(p.Deps[depRequires], dep{Name: "/bin/sh", Pre: true})
	for k := 0; k < 40; k++ {
		dir := []string{"/usr/bin/", "/usr/share/doc/package/", "/usr/lib64/package/", "/etc/package/"}[k%4]
		p.Files = append(p.Files, fileEntry{Path: fmt.Sprintf("%s%s-%02d", dir, name, k)})
	}
	for k := 0; k < 10; k++ {
		p.Changelog = append(p.Changelog, changelogEntry{Author: "Pier Benchmarks <bench@example.org> - 1.0-1",
			Date: uint64(1700000000 + k*86400), Text: "- Fixed a bug that made something slower than it should be"})
	}
	return p
}

// BenchmarkIndex10k publishes a 10,000-package target from catalog Meta
// with nothing cached: the first publish of a server, or pier import.
func BenchmarkIndex10k(b *testing.B) {
	for _, c := range []string{CompressionGzip, CompressionZstd} {
		b.Run(c, func(b *testing.B) {
			pkgs := syntheticPackages(10000)
			in := &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: fixtureTime, Signer: fakeSigner{}}
			var files []repo.File
			defer reportCPU(b)()
			for b.Loop() {
				b.StopTimer()
				f := New(Config{Compression: c})
				b.StartTimer()
				var err error
				if files, err = f.Index(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
			var packed, plain int64
			for _, f := range files {
				if strings.HasSuffix(f.Path, "/repomd.xml") {
					var md repomdXML
					if err := xml.Unmarshal(f.Data, &md); err != nil {
						b.Fatal(err)
					}
					for _, d := range md.Data {
						packed, plain = packed+d.Size, plain+d.OpenSize
					}
				}
			}
			b.ReportMetric(float64(plain)/1e6, "MB-xml")
			b.ReportMetric(float64(packed)/1e6, "MB-compressed")
		})
	}
}

// BenchmarkIndexAddOne10k is the publish after one package was added to a
// 10,000-package target, in a running server: each round adds one more
// package (spread over the name space) to what the previous round
// published, with the Format's cache as the previous round left it.
func BenchmarkIndexAddOne10k(b *testing.B) {
	for _, c := range []string{CompressionGzip, CompressionZstd} {
		b.Run(c, func(b *testing.B) {
			f := New(Config{Compression: c})
			pkgs := syntheticPackages(10000)
			in := &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: fixtureTime, Signer: fakeSigner{}}
			if _, err := f.Index(context.Background(), in); err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(3, 4))
			hits, misses := f.cache.hits.Load(), f.cache.misses.Load()
			rounds := 0
			defer reportCPU(b)()
			for b.Loop() {
				b.StopTimer()
				i := r.IntN(10000)
				in.Packages = append(in.Packages, syntheticPackage(fmt.Sprintf("package-%05d-%d", i, rounds), i))
				rounds++
				b.StartTimer()
				if _, err := f.Index(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(f.cache.misses.Load()-misses)/float64(rounds), "compressed-members/op")
			b.ReportMetric(float64(f.cache.hits.Load()-hits)/float64(rounds), "cached-members/op")
			b.ReportMetric(float64(f.cache.size)/1e6, "cache-MB")
		})
	}
}

// reportCPU reports the process's CPU time per operation (user and
// system, every thread) when the returned function runs: unlike the wall
// time it hardly moves when other work shares the machine.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64(cpu()-start)/float64(b.N)/1e6, "cpu-ms/op")
	}
}
