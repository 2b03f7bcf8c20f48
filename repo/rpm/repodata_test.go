package rpm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"testing"
	"time"

	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/pierhq/pier/repo"
)

// blockPackages builds n real (byte-built) rpms, each with files and a
// changelog entry, enough for repodata of many blocks. It returns their
// catalog records and their bytes by sha256.
func blockPackages(t testing.TB, f *Format, n int) ([]repo.Package, map[string][]byte) {
	t.Helper()
	var pkgs []repo.Package
	blobs := map[string][]byte{}
	for i := range n {
		name := fmt.Sprintf("blk-%04d", i)
		arch := []string{"x86_64", "noarch"}[i%2]
		b := rpmSpec{main: basicMain(name, "1."+strconv.Itoa(i%10), "1", arch,
			tv{rpmutils.BASENAMES, []string{name, "README"}},
			tv{rpmutils.DIRNAMES, []string{"/usr/bin/", "/usr/share/doc/" + name + "/"}},
			tv{rpmutils.DIRINDEXES, []uint32{0, 1}},
			tv{rpmutils.FILEMODES, []uint16{0o100755, 0o100644}}, tv{rpmutils.FILEFLAGS, []uint32{0, 0}},
			tv{rpmutils.PROVIDENAME, []string{name, "blk-cap(" + name + ")"}},
			tv{rpmutils.PROVIDEFLAGS, []uint32{0, 0}}, tv{rpmutils.PROVIDEVERSION, []string{"", ""}},
			tv{rpmutils.CHANGELOGTIME, []uint32{1700000000}}, tv{rpmutils.CHANGELOGNAME, []string{"Pier <t@example.org> - 1.0-1"}},
			tv{rpmutils.CHANGELOGTEXT, []string{"- entry for " + name}},
		)}.build()
		p := catalogPackage(t, f, b, fixtureTime.Add(time.Duration(i)*time.Second))
		pkgs = append(pkgs, p)
		blobs[p.SHA256] = b
	}
	return pkgs, blobs
}

// referenceXML renders a whole repodata document in one piece, the way a
// single compressed stream would hold it.
func referenceXML(t testing.TB, d document, pkgs []repo.Package) []byte {
	t.Helper()
	entries, err := decodeEntries(context.Background(), pkgs)
	if err != nil {
		t.Fatal(err)
	}
	assignHrefs(entries)
	b := []byte(xmlDecl + d.start + strconv.Itoa(len(entries)) + "\">\n")
	for _, e := range entries {
		b = d.entry(b, e)
	}
	return append(b, d.end...)
}

// gzipMembers decompresses each gzip member of b on its own.
func gzipMembers(t testing.TB, b []byte) [][]byte {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(b))
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		zr.Multistream(false)
		m, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("member %d: %v", len(out), err)
		}
		out = append(out, m)
		if err := zr.Reset(br); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("member %d: %v", len(out), err)
		}
	}
}

// TestRepodataMembers checks that the member-by-member files decompress,
// with compress/gzip (multistream) and klauspost zstd, to exactly the XML a
// single stream holds, and that they really are cut into blocks.
func TestRepodataMembers(t *testing.T) {
	for _, c := range []string{CompressionGzip, CompressionZstd} {
		t.Run(c, func(t *testing.T) {
			f := New(Config{Compression: c})
			pkgs, _ := blockPackages(t, f, 300)
			pkgs = append(pkgs, fixturePackages(t, f)...)
			p := open(t, index(t, f, pkgs)) // checks sizes and both checksums too
			entries, _ := decodeEntries(context.Background(), pkgs)
			blocks := len(cutBlocks(entries))
			if blocks < 3 {
				t.Fatalf("%d blocks for %d packages", blocks, len(pkgs))
			}
			for _, d := range documents {
				want := referenceXML(t, d, pkgs)
				if !bytes.Equal(p.xml[d.kind], want) {
					t.Errorf("%s differs from the single-stream XML:\n%s", d.kind, firstDiff(p.xml[d.kind], want))
				}
				if c != CompressionGzip {
					continue
				}
				members := gzipMembers(t, p.files[testBase+p.hrefs[d.kind]].Data)
				if len(members) != blocks+2 {
					t.Errorf("%s: %d members, want %d blocks + header + footer", d.kind, len(members), blocks)
				}
				if string(members[0]) != xmlDecl+d.start+strconv.Itoa(len(pkgs))+"\">\n" || string(members[len(members)-1]) != d.end {
					t.Errorf("%s: header %q, footer %q", d.kind, members[0], members[len(members)-1])
				}
			}
		})
	}
}

// TestIndexCacheSameBytes publishes a sequence of changes with a warm
// cache, a cold one, one too small to hold a target and none, and requires
// the same bytes from all four, while the warm one compresses only what
// changed.
func TestIndexCacheSameBytes(t *testing.T) {
	for _, c := range []string{CompressionGzip, CompressionZstd} {
		t.Run(c, func(t *testing.T) {
			warm := New(Config{Compression: c})
			tiny := New(Config{Compression: c, IndexCacheSize: 4096})
			none := New(Config{Compression: c, IndexCacheSize: -1})
			if none.cache != nil {
				t.Fatal("IndexCacheSize -1 still caches")
			}
			base := syntheticPackages(2000)
			reupload := slices.Clone(base)
			reupload[700].Uploaded = reupload[700].Uploaded.Add(time.Hour)
			steps := []struct {
				name    string
				pkgs    []repo.Package
				maxMiss int64
			}{
				{"first", base, 1 << 30},
				{"add one", append(slices.Clone(base), syntheticPackage("package-01234-new", 1234)), 3 + 3*2},
				{"remove one", slices.Delete(slices.Clone(base), 999, 1000), 3 + 3*2},
				{"upload time of one", reupload, 3 + 3*2},
				{"back to the first", base, 3 + 3*2},
				{"empty", nil, 6},
			}
			for _, s := range steps {
				misses := warm.cache.misses.Load()
				want := index(t, warm, s.pkgs)
				if got := warm.cache.misses.Load() - misses; got > s.maxMiss {
					t.Errorf("%s: %d members compressed, want at most %d", s.name, got, s.maxMiss)
				}
				open(t, want)
				for name, f := range map[string]*Format{"cold": New(Config{Compression: c}), "tiny": tiny, "none": none} {
					got := index(t, f, s.pkgs)
					if len(got) != len(want) {
						t.Fatalf("%s, %s cache: %d files, want %d", s.name, name, len(got), len(want))
					}
					for i := range want {
						if got[i].Path != want[i].Path || !bytes.Equal(got[i].Data, want[i].Data) {
							t.Fatalf("%s, %s cache: %s differs from the warm cache's", s.name, name, got[i].Path)
						}
					}
				}
			}
			if tiny.cache.size > tiny.cache.limit {
				t.Errorf("tiny cache holds %d bytes, limit %d", tiny.cache.size, tiny.cache.limit)
			}
		})
	}
}

// TestCutBlocksLocal checks that adding one package changes at most two
// blocks, wherever it lands.
func TestCutBlocksLocal(t *testing.T) {
	base := syntheticPackages(3000)
	blocks := func(pkgs []repo.Package) map[string]bool {
		entries, err := decodeEntries(context.Background(), pkgs)
		if err != nil {
			t.Fatal(err)
		}
		set := map[string]bool{}
		start := 0
		for _, end := range cutBlocks(entries) {
			if end-start > blockMax {
				t.Fatalf("block of %d packages", end-start)
			}
			var id string
			for _, e := range entries[start:end] {
				id += e.sum[:8]
			}
			set[id] = true
			start = end
		}
		return set
	}
	old := blocks(base)
	for i := range 50 {
		at := i * 59
		changed := 0
		for id := range blocks(append(slices.Clone(base), syntheticPackage(fmt.Sprintf("package-%05d-%d", at, i), at))) {
			if !old[id] {
				changed++
			}
		}
		if changed < 1 || changed > 2 {
			t.Errorf("adding a package near %d made %d new blocks", at, changed)
		}
	}
}

// TestIndexConcurrent publishes several targets at once through one
// Format (as pier serve does), sharing its cache, compressors and buffers:
// each gets the bytes a Format of its own would give it.
func TestIndexConcurrent(t *testing.T) {
	shared := New(Config{})
	base := syntheticPackages(600)
	sets := make([][]repo.Package, 4)
	for i := range sets {
		sets[i] = append(slices.Clone(base[i*100:]), syntheticPackage(fmt.Sprintf("package-extra-%d", i), i))
	}
	got := make([][]repo.File, len(sets))
	done := make(chan struct{})
	for i := range sets {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 3 {
				files, err := shared.Index(context.Background(), &repo.IndexInput{Target: testTarget, Packages: sets[i], Time: fixtureTime})
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = files
			}
		}()
	}
	for range sets {
		<-done
	}
	for i, set := range sets {
		want, err := New(Config{}).Index(context.Background(), &repo.IndexInput{Target: testTarget, Packages: set, Time: fixtureTime})
		if err != nil {
			t.Fatal(err)
		}
		if len(got[i]) != len(want) {
			t.Fatalf("set %d: %d files, want %d", i, len(got[i]), len(want))
		}
		for k := range want {
			if got[i][k].Path != want[k].Path || !bytes.Equal(got[i][k].Data, want[k].Data) {
				t.Errorf("set %d: %s differs", i, want[k].Path)
			}
		}
	}
}
