package rpm

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"github.com/pierhq/pier/repo"
)

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

// TestIndexNewProcessReusesPrevious: a Format with an empty cache (a new
// process) given the previous generation compresses only the members that
// changed, and its output is byte-identical to a full rebuild's.
func TestIndexNewProcessReusesPrevious(t *testing.T) {
	ctx := context.Background()
	pkgs := syntheticPackages(3000)
	first, err := New(Config{}).Index(ctx, &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: fixtureTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	prev := previousOf(first)
	plus := append(append([]repo.Package(nil), pkgs...), syntheticPackage(fmt.Sprintf("package-%05d-new", 1234), 1234))
	fresh := New(Config{})
	got, err := fresh.Index(ctx, &repo.IndexInput{Target: testTarget, Packages: plus, Time: fixtureTime, Signer: fakeSigner{}, Previous: prev})
	if err != nil {
		t.Fatal(err)
	}
	want, err := New(Config{IndexCacheSize: -1}).Index(ctx, &repo.IndexInput{Target: testTarget, Packages: plus, Time: fixtureTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	sameAsFullRebuild(t, got, want)
	hits, misses := fresh.cache.hits.Load(), fresh.cache.misses.Load()
	// Per file: the first member (it holds the package count), one or two
	// blocks and the end member when its bytes are new; plus the seeding
	// look-up.
	if hits == 0 || misses > 3*4+1 {
		t.Errorf("new process +1: %d members reused, %d compressed", hits, misses)
	}
	t.Logf("new process +1: %d members reused, %d compressed", hits, misses)
}

// countingFiles is a previous generation that counts the files read.
type countingFiles struct {
	prevFiles
	mu    sync.Mutex
	reads []string
}

func (c *countingFiles) ReadFile(ctx context.Context, path string) ([]byte, error) {
	c.mu.Lock()
	c.reads = append(c.reads, path)
	c.mu.Unlock()
	return c.prevFiles.ReadFile(ctx, path)
}

// gzReads counts the repodata files read since the last call.
func (c *countingFiles) gzReads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.reads {
		if strings.HasSuffix(p, ".xml.gz") {
			n++
		}
	}
	c.reads = nil
	return n
}

// TestPrepareThenIndex: Prepare (run by the publisher while it reads the
// packages) reads the previous repodata of both repositories, and the
// Index that follows reads none of it again, reuses the members and
// writes what a full rebuild writes.
func TestPrepareThenIndex(t *testing.T) {
	ctx := context.Background()
	pkgs := syntheticPackages(3000)
	first, err := New(Config{}).Index(ctx, &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: fixtureTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	prev := &countingFiles{prevFiles: previousOf(first)}
	fresh := New(Config{})
	fresh.Prepare(ctx, testTarget, prev)
	if n := prev.gzReads(); n != 6 {
		t.Fatalf("Prepare read %d repodata files, want 6 (primary, filelists, other of both repositories)", n)
	}
	plus := append(append([]repo.Package(nil), pkgs...), syntheticPackage("package-01234-new", 1234))
	got, err := fresh.Index(ctx, &repo.IndexInput{Target: testTarget, Packages: plus, Time: fixtureTime, Signer: fakeSigner{}, Previous: prev})
	if err != nil {
		t.Fatal(err)
	}
	if n := prev.gzReads(); n != 0 {
		t.Errorf("Index after Prepare read %d repodata files again", n)
	}
	want, err := New(Config{IndexCacheSize: -1}).Index(ctx, &repo.IndexInput{Target: testTarget, Packages: plus, Time: fixtureTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	sameAsFullRebuild(t, got, want)
	if hits, misses := fresh.cache.hits.Load(), fresh.cache.misses.Load(); hits == 0 || misses > 3*4+1 {
		t.Errorf("+1 after Prepare: %d members reused, %d compressed", hits, misses)
	}
	// A previous generation that cannot be read whole is not recorded as
	// seeded: Index tries again.
	broken := &countingFiles{prevFiles: prevFiles{}}
	for p, d := range prev.prevFiles {
		if strings.HasSuffix(p, "-primary.xml.gz") && !strings.Contains(p, "/"+SourceDir) {
			d = d[:len(d)/2]
		}
		broken.prevFiles[p] = d
	}
	again := New(Config{})
	again.Prepare(ctx, testTarget, broken)
	broken.gzReads()
	if _, err := again.Index(ctx, &repo.IndexInput{Target: testTarget, Packages: plus, Time: fixtureTime, Signer: fakeSigner{}, Previous: broken}); err != nil {
		t.Fatal(err)
	}
	if n := broken.gzReads(); n != 3 {
		t.Errorf("Index after a Prepare that met a truncated primary read %d repodata files, want the binary repository's 3", n)
	}
}

// TestIndexSameProcessSkipsSeeding: when the previous generation is one
// this Format wrote (a running server), only its repomd.xml is read, not
// the repodata (decompressing it would cost more than the publish); a
// previous generation written elsewhere is read whole.
func TestIndexSameProcessSkipsSeeding(t *testing.T) {
	ctx := context.Background()
	pkgs := syntheticPackages(600)
	f := New(Config{})
	first, err := f.Index(ctx, &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: fixtureTime, Signer: fakeSigner{}})
	if err != nil {
		t.Fatal(err)
	}
	prev := &countingFiles{prevFiles: previousOf(first)}
	plus := append(append([]repo.Package(nil), pkgs...), syntheticPackage("package-00300-new", 300))
	if _, err := f.Index(ctx, &repo.IndexInput{Target: testTarget, Packages: plus, Time: fixtureTime, Signer: fakeSigner{}, Previous: prev}); err != nil {
		t.Fatal(err)
	}
	for _, p := range prev.reads {
		if !strings.HasSuffix(p, "repodata/repomd.xml") {
			t.Errorf("the same process read %s of its own previous generation", p)
		}
	}
	other := &countingFiles{prevFiles: prev.prevFiles}
	if _, err := New(Config{}).Index(ctx, &repo.IndexInput{Target: testTarget, Packages: plus, Time: fixtureTime, Signer: fakeSigner{}, Previous: other}); err != nil {
		t.Fatal(err)
	}
	gz := 0
	for _, p := range other.reads {
		if strings.HasSuffix(p, ".xml.gz") {
			gz++
		}
	}
	if gz != 6 { // primary, filelists and other of the binary and the source repository
		t.Errorf("a new process read %d repodata files of the previous generation (%v), want 6", gz, other.reads)
	}
}
