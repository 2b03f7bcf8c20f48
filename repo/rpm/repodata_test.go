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
			for _, p := range fixturePackages(t, f) {
				if p.Arch != "src" { // the source package goes to the source repository
					pkgs = append(pkgs, p)
				}
			}
			p := open(t, index(t, f, pkgs)) // checks sizes and both checksums too
			for _, d := range documents {
				want := referenceXML(t, d, pkgs)
				if !bytes.Equal(p.xml[d.kind], want) {
					t.Errorf("%s differs from the single-stream XML:\n%s", d.kind, firstDiff(p.xml[d.kind], want))
				}
				if c != CompressionGzip {
					continue
				}
				members := gzipMembers(t, p.files[testBase+p.hrefs[d.kind]].Data)
				if len(members) < 4 {
					t.Fatalf("%s: %d members for %d packages", d.kind, len(members), len(pkgs))
				}
				if string(members[0]) != xmlDecl+d.start+strconv.Itoa(len(pkgs))+"\">\n" || string(members[len(members)-1]) != d.end {
					t.Errorf("%s: header %q, footer %q", d.kind, members[0], members[len(members)-1])
				}
				for k, m := range members[1 : len(members)-1] {
					if !bytes.HasPrefix(m, []byte("<package ")) || !bytes.HasSuffix(m, []byte("</package>\n")) {
						t.Errorf("%s: member %d is not whole packages", d.kind, k+1)
					}
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

// TestBlocksLocal adds one package at 40 places of a 3,000-package target
// and counts the members each publish had to compress: per file, the block
// the package fell in (two when it ends a block), and the headers (the
// first time only: every round has 3,001 packages).
func TestBlocksLocal(t *testing.T) {
	f := New(Config{})
	base := syntheticPackages(3000)
	index(t, f, base)
	for i := range 40 {
		at := i * 73
		misses := f.cache.misses.Load()
		index(t, f, append(slices.Clone(base), syntheticPackage(fmt.Sprintf("package-%05d-%d", at, i), at)))
		headers := int64(0)
		if i == 0 {
			headers = 3
		}
		if n := f.cache.misses.Load() - misses - headers; n < 3 || n > 3*2 {
			t.Errorf("adding a package near %d compressed %d blocks, want 3 to 6", at, n)
		}
	}
}

// TestBlockCaps checks the caps on a block: packages whose pkgids never
// end a block still come in blocks of at most blockMax packages, and of
// about blockBytes of XML in filelists, where these packages list 150 files.
func TestBlockCaps(t *testing.T) {
	var pkgs []repo.Package
	for i := 0; len(pkgs) < 2*blockMax+10; i++ {
		info := syntheticInfo(fmt.Sprintf("p-%05d", i), i)
		for k := len(info.Files); k < 150; k++ {
			info.Files = append(info.Files, fileEntry{Path: fmt.Sprintf("/usr/share/p/%s/%03d", info.Name, k)})
		}
		if p := syntheticRecord(info, i); !endsBlock(p.SHA256) {
			pkgs = append(pkgs, p)
		}
	}
	p := open(t, index(t, New(Config{}), pkgs))
	for _, d := range documents {
		members := gzipMembers(t, p.files[testBase+p.hrefs[d.kind]].Data)
		most := 0
		for k, m := range members[1 : len(members)-1] {
			n := bytes.Count(m, []byte("<package "))
			if n > blockMax || len(m) > blockBytes+64<<10 {
				t.Errorf("%s block %d: %d packages, %d bytes", d.kind, k, n, len(m))
			}
			most = max(most, n)
		}
		switch d.kind {
		case "filelists":
			if most == blockMax || len(members) < 2+3 {
				t.Errorf("filelists: %d members, at most %d packages in one: the byte cap did not cut", len(members), most)
			}
		default:
			if most != blockMax {
				t.Errorf("%s: at most %d packages in a block, want blockMax", d.kind, most)
			}
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
