package deb

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/gzmember"
	"github.com/pierhq/pier/repo"
)

// TestVerifyIncremental: the Format that wrote a generation verifies its
// +1 successor decoding only the xz blocks that publish wrote anew and no
// variant it checked before, and still refuses a broken block.
func TestVerifyIncremental(t *testing.T) {
	ctx := context.Background()
	signer := signerOf(t, "A")
	target := repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"}
	all := syntheticPackagesFiles(t, 3001, 3)
	f := New(Config{})
	g := publish(t, f, &repo.IndexInput{Target: target, Packages: all[:3000], Time: goldenTime, Signer: signer})
	if err := f.Verify(ctx, g.input(t, "A")); err != nil {
		t.Fatal(err)
	}
	first := f.memo.blocksDecoded.Load()
	if first == 0 {
		t.Fatal("the first verify decoded no xz block on the fast path")
	}
	g2 := publish(t, f, &repo.IndexInput{Target: target, Packages: all, Time: goldenTime.Add(time.Second), Signer: signer})
	if err := f.Verify(ctx, g2.input(t, "A")); err != nil {
		t.Fatal(err)
	}
	// Each changed block of a Packages file is an xz block and a gzip
	// member; each Contents file changes in one or two members.
	if read := f.memo.blocksDecoded.Load() - first; read == 0 || read > 16 {
		t.Errorf("+1 verify decoded %d xz blocks (first verify: %d)", read, first)
	}
	if f.memo.variantsSkipped.Load() == 0 {
		t.Error("+1 verify decompressed every variant again, the unchanged ones too")
	}
	t.Logf("first verify decoded %d blocks; +1 verify %d, skipped %d unchanged variants", first,
		f.memo.blocksDecoded.Load()-first, f.memo.variantsSkipped.Load())

	// A flipped byte in the last block of a Packages.xz, with Release
	// updated to the broken file, is refused.
	const xzPath = "deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages.xz"
	x := append([]byte(nil), g2.data(t, xzPath)...)
	footer := x[len(x)-12:]
	index := len(x) - 12 - (int(binary.LittleEndian.Uint32(footer[4:8]))+1)*4
	x[index-8-16] ^= 0x55 // inside the last block's data, before its padding and CRC64
	g2.replace(t, xzPath, x, true)
	g2.resign(t, signer, nil)
	err := f.Verify(ctx, g2.input(t, "A"))
	if err == nil || !strings.Contains(err.Error(), "Packages.xz") {
		t.Fatalf("a corrupt block in Packages.xz: %v", err)
	}

	// A Packages.gz whose members were written here, with one member's
	// bytes changed (the gzip CRC fixed up, so only the content is wrong):
	// refused.
	g3 := publish(t, f, &repo.IndexInput{Target: target, Packages: all, Time: goldenTime.Add(2 * time.Second), Signer: signer})
	const gzPath = "deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages.gz"
	gz := g3.data(t, gzPath)
	members, ok := gzmember.Split(gz)
	if !ok || len(members) < 2 {
		t.Fatalf("Packages.gz has %d members", len(members))
	}
	last := members[len(members)-1]
	evil := bytes.Replace(last.Plain, []byte("Package: "), []byte("Package: x"), 1)
	forged := append(bytes.Clone(gz[:len(gz)-len(last.Data)]), gzipOf(t, evil)...)
	g3.replace(t, gzPath, forged, true)
	g3.resign(t, signer, nil)
	if err := f.Verify(ctx, g3.input(t, "A")); err == nil || !strings.Contains(err.Error(), "Packages.gz") {
		t.Fatalf("a Packages.gz member with other content: %v", err)
	}
}
