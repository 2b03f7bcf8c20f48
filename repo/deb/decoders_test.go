package deb

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/pierhq/pier/repo/deb/debtest"
)

// corruptMember flips a byte in the middle of the ar member named name.
func corruptMember(t *testing.T, b []byte, name string) []byte {
	t.Helper()
	i := bytes.Index(b, []byte(name))
	if i < 0 {
		t.Fatalf("no member %s", name)
	}
	var size int
	if _, err := fmt.Sscan(string(b[i+48:i+58]), &size); err != nil {
		t.Fatalf("member %s size: %v", name, err)
	}
	out := bytes.Clone(b)
	out[i+arHeaderSize+size/2] ^= 0xff
	return out
}

// TestDecoderReuse reads packages one after another with one Format, so
// that each reuses the xz and zstd decoders of the ones before (good,
// corrupt, other dictionary contents), and checks that every result is
// the one a fresh Format gives.
func TestDecoderReuse(t *testing.T) {
	files := func(seed byte) map[string][]byte {
		big := bytes.Repeat([]byte{seed, 'x', seed + 1}, 100_000)
		return map[string][]byte{"usr/share/a" + string('a'+seed%26): big, "usr/bin/b": {seed}}
	}
	var debs [][]byte
	for i, comp := range []string{"xz", "zst", "xz", "zst", "gz"} {
		b := build(t, debtest.Options{Package: "reuse", Version: fmt.Sprint(i + 1), Arch: "amd64",
			DataCompression: comp, ControlCompression: comp, Files: files(byte(i))})
		debs = append(debs, b)
		if comp != "gz" {
			debs = append(debs, corruptMember(t, b, "data.tar."+comp))
		}
	}
	shared := New(Config{})
	for round := range 2 {
		for i, b := range debs {
			want, wantErr := read(New(Config{}), b)
			got, gotErr := read(shared, b)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("round %d, package %d: error %v, a fresh reader says %v", round, i, gotErr, wantErr)
			}
			if wantErr != nil {
				continue
			}
			if got.Name != want.Name || got.Version != want.Version || !bytes.Equal(got.Meta, want.Meta) {
				t.Fatalf("round %d, package %d: got %s %s, a fresh reader gives %s %s (or other Meta)",
					round, i, got.Name, got.Version, want.Name, want.Version)
			}
		}
	}
	corrupt := 0
	for _, b := range debs {
		if _, err := read(shared, b); err != nil {
			corrupt++
		}
	}
	if corrupt != 4 {
		t.Fatalf("%d packages refused, want the 4 corrupt ones", corrupt)
	}
}
