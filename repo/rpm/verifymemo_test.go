package rpm

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
)

// TestVerifyIncremental: Verify of a generation this Format wrote takes
// the fast path; after adding one package it decompresses only the members
// the publish wrote anew, and it still refuses a broken generation.
func TestVerifyIncremental(t *testing.T) {
	ctx := context.Background()
	signer := newSigner(t, "Pier")
	f := New(Config{})
	pkgs := syntheticPackages(3000)
	g := newGeneration(t, f, pkgs, signer)
	if err := f.Verify(ctx, g.input()); err != nil {
		t.Fatal(err)
	}
	if got := f.memo.fastFiles.Load(); got != 6 { // primary, filelists, other of the binary and the source repository
		t.Errorf("first verify: %d files on the fast path, want 6", got)
	}
	first := f.memo.membersRead.Load()
	plus := append(slices.Clone(pkgs), syntheticPackage("package-01500-new", 1500))
	g2 := newGeneration(t, f, plus, signer)
	if err := f.Verify(ctx, g2.input()); err != nil {
		t.Fatal(err)
	}
	if got := f.memo.fastFiles.Load(); got != 12 {
		t.Errorf("second verify: %d files on the fast path in all, want 12", got)
	}
	// Per file: the head (its count changed), the block holding the new
	// package (two when the package ends a block), the tail when it moved.
	read := f.memo.membersRead.Load() - first
	if read == 0 || read > 3*4 {
		t.Errorf("+1 verify decompressed %d members (first verify: %d)", read, first)
	}
	t.Logf("first verify decompressed %d members, +1 verify %d", first, read)

	// The fast path vouches for nothing it cannot prove: a package file
	// missing from the generation is still found.
	broken := newGeneration(t, f, plus, signer)
	gone := ""
	for _, fl := range broken.files {
		if fl.Kind == repo.KindPackage {
			gone = fl.Path
			break
		}
	}
	broken.files = slices.DeleteFunc(broken.files, func(fl repo.File) bool { return fl.Path == gone })
	if err := f.Verify(ctx, broken.input()); err == nil || !strings.Contains(err.Error(), "missing from the generation") {
		t.Errorf("a generation without %s: %v", gone, err)
	}
}

// TestVerifyIncrementalCatchesCompressor: a compressor that writes other
// bytes than it was given (one member) is caught by a Format whose memo
// knows every other member.
func TestVerifyIncrementalCatchesCompressor(t *testing.T) {
	ctx := context.Background()
	signer := newSigner(t, "Pier")
	f := New(Config{})
	pkgs := syntheticPackages(2000)
	if err := f.Verify(ctx, newGeneration(t, f, pkgs, signer).input()); err != nil {
		t.Fatal(err)
	}
	good := f.codec.compress
	f.codec = &codec{id: f.codec.id, ext: f.codec.ext, compress: func(src []byte) ([]byte, error) {
		if i := bytes.Index(src, []byte("package-00777-bad")); i >= 0 {
			src = bytes.Clone(src)
			src[i] = 'P'
		}
		return good(src)
	}}
	plus := append(slices.Clone(pkgs), syntheticPackage("package-00777-bad", 777))
	err := f.Verify(ctx, newGeneration(t, f, plus, signer).input())
	if err == nil || !strings.Contains(err.Error(), "open-checksum says") {
		t.Fatalf("a member compressed from other bytes: %v", err)
	}
}

// TestVerifyAfterSeeding: a new process that seeded its cache from the
// previous generation verifies its +1 generation decompressing only the
// members it wrote anew.
func TestVerifyAfterSeeding(t *testing.T) {
	ctx := context.Background()
	signer := newSigner(t, "Pier")
	pkgs := syntheticPackages(3000)
	first := newGeneration(t, New(Config{}), pkgs, signer)
	prev := prevFiles{}
	for p, b := range first.data {
		prev[p] = b
	}
	fresh := New(Config{})
	plus := append(slices.Clone(pkgs), syntheticPackage("package-01500-new", 1500))
	files, err := fresh.Index(ctx, &repo.IndexInput{Target: testTarget, Packages: plus, Time: fixtureTime, Signer: signer, Previous: prev})
	if err != nil {
		t.Fatal(err)
	}
	g := &generation{data: map[string][]byte{}, keys: signer.PublicKey()}
	for _, fl := range files {
		if fl.Data != nil {
			g.put(fl.Path, fl.Data, fl.Kind)
		} else {
			g.files = append(g.files, fl)
		}
	}
	g.sort()
	if err := fresh.Verify(ctx, g.input()); err != nil {
		t.Fatal(err)
	}
	if got := fresh.memo.fastFiles.Load(); got != 6 {
		t.Errorf("%d files on the fast path, want 6", got)
	}
	if read := fresh.memo.membersRead.Load(); read == 0 || read > 3*4 {
		t.Errorf("verify after seeding decompressed %d members", read)
	}
}
