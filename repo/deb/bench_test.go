package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// syntheticPackages returns n catalog records shaped like a real archive:
// stanzas of about 1 KB, one package in ten arch-all, the rest split
// between amd64 and arm64. With n = 10,000 each Packages file is ~10 MB.
func syntheticPackages(tb testing.TB, n int) []repo.Package {
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
		m := Meta{Source: name, MD5: hex.EncodeToString(sum[:16]), SHA1: hex.EncodeToString(sum[:20]), Head: head, Tail: tail}
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

// BenchmarkIndex10k is a full publish of 10,000 packages: two ~10 MB
// Packages files, each written plain, .gz and .xz.
func BenchmarkIndex10k(b *testing.B) {
	f := New(Config{})
	in := &repo.IndexInput{Target: repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"},
		Packages: syntheticPackages(b, 10000), Time: goldenTime, Signer: fakeSigner{}}
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.Index(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndex10kNoCompress is the part of Index10k before compression:
// decoding metas, sorting, and writing the plain Packages files.
func BenchmarkIndex10kNoCompress(b *testing.B) {
	f := New(Config{})
	pkgs := syntheticPackages(b, 10000)
	b.ResetTimer()
	for b.Loop() {
		entries, comps, archs, err := f.entries(pkgs)
		if err != nil {
			b.Fatal(err)
		}
		files := buildPackages(entries, comps, archs)
		for _, pf := range files {
			pf.sums[0] = sha256.Sum256(pf.data[0])
		}
	}
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
	entries, comps, archs, err := f.entries(pkgs)
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
			var blocks []xzBlock
			for off := 0; off < len(data); off += xzBlockSize {
				blocks = append(blocks, xzBlock{in: data[off:min(off+xzBlockSize, len(data))]})
			}
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
			if err := compressAll(ctx, []*packagesFile{{dir: "main/binary-amd64", data: [3][]byte{data}}}); err != nil {
				b.Fatal(err)
			}
		}
	})
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
