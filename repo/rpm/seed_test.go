package rpm

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
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
	prev := prevFiles{}
	for _, f := range first {
		if f.Data != nil {
			prev[f.Path] = f.Data
		}
	}
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
	if len(got) != len(want) {
		t.Fatalf("%d files, %d in the full rebuild", len(got), len(want))
	}
	for i := range got {
		if got[i].Path != want[i].Path || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Errorf("%s differs from the full rebuild's %s", got[i].Path, want[i].Path)
		}
	}
	hits, misses := fresh.cache.hits.Load(), fresh.cache.misses.Load()
	// Per file: the first member (it holds the package count), one or two
	// blocks and the end member when its bytes are new; plus the seeding
	// look-up.
	if hits == 0 || misses > 3*4+1 {
		t.Errorf("new process +1: %d members reused, %d compressed", hits, misses)
	}
	t.Logf("new process +1: %d members reused, %d compressed", hits, misses)
}
