package gzmember

import (
	"bytes"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// gz compresses each part into its own member and concatenates them.
func gz(t testing.TB, parts ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, p := range parts {
		w := gzip.NewWriter(&out)
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// TestWalk: every member comes back with its own bytes and content, in
// order, and the members concatenated are the file.
func TestWalk(t *testing.T) {
	parts := []string{"head\n", "", "block one\n", "block two, longer than the first\n"}
	data := gz(t, parts...)
	var got []string
	var joined []byte
	if !Walk(data, func(member, plain []byte) bool {
		got = append(got, string(plain))
		joined = append(joined, member...)
		// Each member alone decompresses to its part.
		zr, err := gzip.NewReader(bytes.NewReader(member))
		if err != nil {
			t.Fatal(err)
		}
		alone, err := io.ReadAll(zr)
		if err != nil || string(alone) != string(plain) {
			t.Fatalf("member alone: %q %v, want %q", alone, err, plain)
		}
		return true
	}) {
		t.Fatal("Walk refused a well-formed file")
	}
	if len(got) != len(parts) {
		t.Fatalf("got %d members, want %d", len(got), len(parts))
	}
	for i := range parts {
		if got[i] != parts[i] {
			t.Errorf("member %d = %q, want %q", i, got[i], parts[i])
		}
	}
	if !bytes.Equal(joined, data) {
		t.Error("the members concatenated are not the file")
	}
	ms, ok := Split(data)
	if !ok || len(ms) != len(parts) || string(ms[2].Plain) != parts[2] {
		t.Fatalf("Split: %d members, %v", len(ms), ok)
	}
}

// TestWalkRefuses: a damaged member, trailing garbage, a named member and
// bytes that are not gzip are refused; the members before the damage were
// handed over whole.
func TestWalkRefuses(t *testing.T) {
	good := gz(t, "one\n", "two\n")
	flipped := bytes.Clone(good)
	flipped[len(flipped)-10] ^= 0xff // inside the second member's deflate data or CRC
	var named bytes.Buffer
	w := gzip.NewWriter(&named)
	w.Name = "Packages"
	w.Write([]byte("x"))
	w.Close()
	for name, data := range map[string][]byte{
		"flipped":   flipped,
		"truncated": good[:len(good)-3],
		"trailing":  append(bytes.Clone(good), "garbage"...),
		"named":     named.Bytes(),
		"not gzip":  []byte("Package: hello\n"),
		"empty":     nil,
	} {
		var seen []string
		if Walk(data, func(_, plain []byte) bool { seen = append(seen, string(plain)); return true }) {
			t.Errorf("%s: accepted", name)
		}
		if _, ok := Split(data); ok {
			t.Errorf("%s: Split accepted", name)
		}
		for _, s := range seen {
			if s != "one\n" && s != "two\n" {
				t.Errorf("%s: handed %q", name, s)
			}
		}
	}
	// fn stops the walk.
	n := 0
	if Walk(good, func(_, _ []byte) bool { n++; return false }) || n != 1 {
		t.Errorf("stopping: n = %d", n)
	}
}

// FuzzWalk: Walk never panics, and what it accepts decompresses, member by
// member, to what a multi-member gzip reader reads from the whole file.
func FuzzWalk(f *testing.F) {
	f.Add(gz(f, "a", "bb", ""))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var joined []byte
		if !Walk(data, func(_, plain []byte) bool { joined = append(joined, plain...); return true }) {
			return
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("accepted, but gzip refuses it: %v", err)
		}
		all, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(all, joined) {
			t.Fatalf("accepted %q, gzip reads %q (%v)", joined, all, err)
		}
	})
}

// TestOne: one whole member decompresses; two members, trailing bytes, a
// damaged member or more than max bytes of output are refused.
func TestOne(t *testing.T) {
	one := gz(t, "block of text\n")
	if got, ok := One(one, 14); !ok || string(got) != "block of text\n" {
		t.Fatalf("One = %q, %v", got, ok)
	}
	flipped := bytes.Clone(one)
	flipped[len(flipped)-6] ^= 0xff // the CRC-32
	for name, c := range map[string]struct {
		data []byte
		max  int
	}{
		"two members": {gz(t, "a", "b"), 10},
		"trailing":    {append(bytes.Clone(one), 0), 100},
		"flipped CRC": {flipped, 100},
		"over max":    {one, 13},
		"not gzip":    {[]byte("text"), 100},
	} {
		if _, ok := One(c.data, c.max); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}
