package deb

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ulikunitz/xz"

	"github.com/pierhq/pier/repo"
)

// TestIncrementalIndexIdentical: a publish after adding one package to a
// 6,000-package target, by a Format whose cache holds the previous
// publish's compressed blocks, gives exactly the bytes a fresh Format (a
// full rebuild, nothing cached) gives, and compresses only a few blocks;
// every Packages.xz decodes to its Packages.
func TestIncrementalIndexIdentical(t *testing.T) {
	ctx := context.Background()
	all := syntheticPackagesFiles(t, 6001, 5)
	base, extra := all[:6000], all[6000]
	tg := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	warm := New(Config{Contents: SwitchOn})
	if _, err := warm.Index(ctx, &repo.IndexInput{Target: tg, Packages: base, Time: goldenTime, Signer: fakeSigner{}}); err != nil {
		t.Fatal(err)
	}
	hits0, misses0 := warm.cache.hits.Load(), warm.cache.misses.Load()
	plus := append(append([]repo.Package(nil), base...), extra)
	in := &repo.IndexInput{Target: tg, Packages: plus, Time: goldenTime, Signer: fakeSigner{}}
	got, err := warm.Index(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	hits, misses := warm.cache.hits.Load()-hits0, warm.cache.misses.Load()-misses0
	want, err := New(Config{Contents: SwitchOn}).Index(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d files with the cache, %d without", len(got), len(want))
	}
	plain := map[string][]byte{}
	for i := range got {
		if got[i].Path != want[i].Path || !bytes.Equal(got[i].Data, want[i].Data) || got[i].SHA256 != want[i].SHA256 {
			t.Errorf("%s: differs from the full rebuild's %s", got[i].Path, want[i].Path)
		}
		if strings.HasSuffix(got[i].Path, "/Packages") {
			plain[strings.TrimSuffix(got[i].Path, "/Packages")] = got[i].Data
		}
	}
	// The new package is in one architecture's Packages (or all of them
	// when it is arch-all): at most two blocks per file, each an xz block
	// and a gzip member.
	contents := 0
	for _, f := range got {
		if strings.Contains(f.Path, "/Contents-") && strings.HasSuffix(f.Path, ".gz") {
			contents++
		}
	}
	if misses > 4*int64(len(plain))+3*int64(contents) || hits == 0 {
		t.Errorf("+1 publish: %d cache hits, %d misses (compressions) over %d Packages files", hits, misses, len(plain))
	}
	t.Logf("+1 publish: %d outputs reused, %d compressed", hits, misses)
	for _, f := range got {
		dir, ok := strings.CutSuffix(f.Path, "/Packages.xz")
		if !ok {
			continue
		}
		r, err := xz.NewReader(bytes.NewReader(f.Data))
		if err != nil {
			t.Fatal(err)
		}
		dec, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(dec, plain[dir]) {
			t.Errorf("%s does not decode to its Packages (%v)", f.Path, err)
		}
	}
}

// TestCutBlocks: blocks cover the input in order, end at stanza
// boundaries, stay within the size bounds, and an inserted stanza changes
// only the blocks around it.
func TestCutBlocks(t *testing.T) {
	var b strings.Builder
	for i := range 20000 {
		b.WriteString("Package: p")
		b.WriteString(strings.Repeat("x", i%50))
		b.WriteString("\nVersion: 1\nDescription: " + strings.Repeat("word ", 100+i%97) + "\n\n")
	}
	plain := []byte(b.String())
	blocks := cutBlocks(plain)
	var joined []byte
	for i, bl := range blocks {
		joined = append(joined, bl.in...)
		if len(bl.in) > xzMaxBlock {
			t.Errorf("block %d: %d bytes, more than %d", i, len(bl.in), xzMaxBlock)
		}
		if i < len(blocks)-1 && !bytes.HasSuffix(bl.in, []byte("\n\n")) {
			t.Errorf("block %d does not end at a stanza boundary", i)
		}
	}
	if !bytes.Equal(joined, plain) {
		t.Fatal("blocks do not cover the input in order")
	}
	if len(blocks) < 3 {
		t.Fatalf("%d blocks for %d bytes", len(blocks), len(plain))
	}
	// Insert a stanza in the middle: most blocks stay the same.
	mid := bytes.Index(plain[len(plain)/2:], []byte("\n\n")) + len(plain)/2 + 2
	changed := append(append(append([]byte(nil), plain[:mid]...), "Package: new\nVersion: 2\n\n"...), plain[mid:]...)
	old := map[string]bool{}
	for _, bl := range blocks {
		old[string(bl.in)] = true
	}
	differ := 0
	for _, bl := range cutBlocks(changed) {
		if !old[string(bl.in)] {
			differ++
		}
	}
	if differ > 2 {
		t.Errorf("one inserted stanza changed %d of %d blocks", differ, len(blocks))
	}
}

// prevFiles is a previous generation in memory.
type prevFiles map[string][]byte

func (p prevFiles) ReadFile(_ context.Context, path string) ([]byte, error) {
	if b, ok := p[path]; ok {
		return b, nil
	}
	return nil, fs.ErrNotExist
}

// previousOf is the previous generation that files (an Index's output)
// make.
func previousOf(files []repo.File) prevFiles {
	prev := prevFiles{}
	for _, f := range files {
		if f.Data != nil {
			prev[f.Path] = f.Data
		}
	}
	return prev
}

// sameAsFullRebuild fails t for each file of got that is not the file of
// want, a full rebuild's output, at the same place.
func sameAsFullRebuild(t *testing.T, got, want []repo.File) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d files, %d in the full rebuild", len(got), len(want))
	}
	for i := range got {
		if got[i].Path != want[i].Path || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Errorf("%s differs from the full rebuild's %s", got[i].Path, want[i].Path)
		}
	}
}

// TestIncrementalIndexNewProcess: a Format with an empty cache (a new
// process) that is given the previous generation reuses its compressed
// blocks and gives exactly the bytes of a full rebuild.
func TestIncrementalIndexNewProcess(t *testing.T) {
	ctx := context.Background()
	tg, base, extra, first := firstOf6000(t)
	prev := previousOf(first)
	plus := append(append([]repo.Package(nil), base...), extra)
	fresh := New(Config{Contents: SwitchOn})
	got, err := fresh.Index(ctx, &repo.IndexInput{Target: tg, Packages: plus, Time: goldenTime, Signer: fakeSigner{}, Previous: prev})
	if err != nil {
		t.Fatal(err)
	}
	full := New(Config{Contents: SwitchOn})
	full.cache = nil
	want, err := full.Index(ctx, &repo.IndexInput{Target: tg, Packages: plus, Time: goldenTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	sameAsFullRebuild(t, got, want)
	packagesFiles, contentsFiles := 0, 0
	for i := range got {
		// Sources indexes (every component has one) are compressed
		// through the same cache as Packages.
		if strings.HasSuffix(got[i].Path, "/Packages") || strings.HasSuffix(got[i].Path, "/Sources") {
			packagesFiles++
		}
		if strings.Contains(got[i].Path, "/Contents-") && !strings.Contains(got[i].Path, "by-hash") {
			contentsFiles++
			zr, err := gzip.NewReader(bytes.NewReader(got[i].Data))
			if err != nil {
				t.Fatal(err)
			}
			dec, err := io.ReadAll(zr)
			if err != nil || !bytes.Contains(dec, []byte("\n")) {
				t.Errorf("%s: %v, %d bytes decoded", got[i].Path, err, len(dec))
			}
		}
	}
	hits := fresh.cache.hits.Load()
	// Seeding looks each previous Packages up once (a miss: this process
	// did not write it), then compressAll misses at most two blocks (an xz
	// block and a gzip member each) of each Packages (and Sources) file.
	if misses := fresh.cache.misses.Load(); misses > 5*int64(packagesFiles)+3*int64(contentsFiles) || hits == 0 {
		t.Errorf("new process +1: %d hits, %d misses over %d Packages files", hits, misses, packagesFiles)
	}
	t.Logf("new process +1: %d hits, %d misses", hits, fresh.cache.misses.Load())
}

// summedFiles is a previous generation that knows its files' sha256 (as
// the core's does, from the manifest) and records what is read.
type summedFiles struct {
	prevFiles
	mu    sync.Mutex
	reads []string
}

func (s *summedFiles) ReadFile(ctx context.Context, path string) ([]byte, error) {
	s.mu.Lock()
	s.reads = append(s.reads, path)
	s.mu.Unlock()
	return s.prevFiles.ReadFile(ctx, path)
}

// indexReads returns the Packages, Sources and Contents files read since
// the last call.
func (s *summedFiles) indexReads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.reads {
		name := path.Base(p)
		if strings.HasPrefix(name, "Packages") || strings.HasPrefix(name, "Sources") || strings.HasPrefix(name, "Contents-") {
			out = append(out, p)
		}
	}
	s.reads = nil
	return out
}

// TestPrepareThenIndex: Prepare (run by the publisher while it reads the
// packages) reads the index files the previous Release lists, and the
// Index that follows reads none of them again, reuses their blocks and
// writes what a full rebuild writes.
func TestPrepareThenIndex(t *testing.T) {
	ctx := context.Background()
	tg, base, extra, first := firstOf6000(t)
	prev := &summedFiles{prevFiles: previousOf(first)}
	listed := 0
	for p := range prev.prevFiles {
		if name := path.Base(p); !strings.Contains(p, "by-hash") &&
			(strings.HasPrefix(name, "Packages") || strings.HasPrefix(name, "Sources") || strings.HasPrefix(name, "Contents-")) {
			listed++
		}
	}
	fresh := New(Config{Contents: SwitchOn})
	fresh.Prepare(ctx, tg, prev)
	if read := prev.indexReads(); len(read) != listed {
		t.Errorf("Prepare read %d index files, the previous generation has %d: %v", len(read), listed, read)
	}
	plus := append(append([]repo.Package(nil), base...), extra)
	got, err := fresh.Index(ctx, &repo.IndexInput{Target: tg, Packages: plus, Time: goldenTime, Signer: fakeSigner{}, Previous: prev})
	if err != nil {
		t.Fatal(err)
	}
	if read := prev.indexReads(); len(read) != 0 {
		t.Errorf("Index after Prepare read %v again", read)
	}
	full := New(Config{Contents: SwitchOn})
	full.cache = nil
	want, err := full.Index(ctx, &repo.IndexInput{Target: tg, Packages: plus, Time: goldenTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	sameAsFullRebuild(t, got, want)
	if hits := fresh.cache.hits.Load(); hits == 0 {
		t.Error("+1 after Prepare reused no block")
	}
	t.Logf("+1 after Prepare: %d hits, %d misses", fresh.cache.hits.Load(), fresh.cache.misses.Load())
}

func (s *summedFiles) SHA256(_ context.Context, path string) (string, error) {
	b, ok := s.prevFiles[path]
	if !ok {
		return "", fs.ErrNotExist
	}
	return sha256Hex(b), nil
}

// TestIndexSameProcessSkipsSeeding: a running server reads none of the
// Packages and Contents files of a previous generation it wrote itself
// (their sums tell), while a new process reads them to seed its cache.
func TestIndexSameProcessSkipsSeeding(t *testing.T) {
	ctx := context.Background()
	all := syntheticPackagesFiles(t, 1201, 5)
	tg := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	f := New(Config{Contents: SwitchOn})
	first, err := f.Index(ctx, &repo.IndexInput{Target: tg, Packages: all[:1200], Time: goldenTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	prev := &summedFiles{prevFiles: previousOf(first)}
	in := &repo.IndexInput{Target: tg, Packages: all, Time: goldenTime.Add(time.Second), Signer: fakeSigner{}, Previous: prev}
	if _, err := f.Index(ctx, in); err != nil {
		t.Fatal(err)
	}
	if len(prev.reads) != 0 {
		t.Errorf("the process that wrote the previous generation read %v", prev.reads)
	}
	other := &summedFiles{prevFiles: prev.prevFiles}
	in.Previous = other
	if _, err := New(Config{Contents: SwitchOn}).Index(ctx, in); err != nil {
		t.Fatal(err)
	}
	if len(other.reads) == 0 {
		t.Error("a new process read nothing of the previous generation")
	}
}

// firstOf6000 indexes 6,000 synthetic packages (with Contents) for
// bookworm and returns the target, those packages, a 6,001st one and the
// files of that first index.
func firstOf6000(t *testing.T) (repo.Target, []repo.Package, repo.Package, []repo.File) {
	t.Helper()
	all := syntheticPackagesFiles(t, 6001, 5)
	tg := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	first, err := New(Config{Contents: SwitchOn}).Index(context.Background(), &repo.IndexInput{Target: tg, Packages: all[:6000],
		Time: goldenTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	return tg, all[:6000], all[6000], first
}
