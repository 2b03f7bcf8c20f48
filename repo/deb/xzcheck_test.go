package deb

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
	"github.com/ulikunitz/xz"
)

func xzBytes(t *testing.T, data []byte, cfg xz.WriterConfig) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := cfg.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// lzma2PropOffset returns the offset of the LZMA2 dictionary property in the
// first block header of an xz stream.
func lzma2PropOffset(t *testing.T, x []byte) int {
	t.Helper()
	i := bytes.Index(x[12:], []byte{0x21, 0x01})
	if i < 0 {
		t.Fatal("no LZMA2 filter flags")
	}
	return 12 + i + 2
}

func TestCheckXZ(t *testing.T) {
	data := bytes.Repeat([]byte("Package: hello\nVersion: 1\n\n"), 2000)
	single := xzBytes(t, data, xz.WriterConfig{})
	multiBlock := xzBytes(t, data, xz.WriterConfig{BlockSize: 4096})
	twoStreams := append(append(bytes.Clone(single), 0, 0, 0, 0), single...)
	hugeDict := bytes.Clone(single)
	hugeDict[lzma2PropOffset(t, hugeDict)] = 40
	secondBlockHuge := bytes.Clone(multiBlock)
	if i := bytes.Index(secondBlockHuge[20:], []byte{0x02, 0x00, 0x21, 0x01}); i < 0 {
		t.Fatal("no second block header")
	} else {
		secondBlockHuge[20+i+4] = 40
	}
	badFilter := bytes.Clone(single)
	badFilter[lzma2PropOffset(t, badFilter)-2] = 0x03 // delta
	tests := []struct {
		name   string
		data   []byte
		maxOut int64
		want   string
	}{
		{"single", single, 1 << 20, ""},
		{"multi-block", multiBlock, 1 << 20, ""},
		{"two streams with padding", twoStreams, 1 << 20, ""},
		{"trailing padding", append(bytes.Clone(single), 0, 0, 0, 0, 0, 0, 0, 0), 1 << 20, ""},
		{"too big", single, 1000, "control.tar expands beyond 1000 bytes"},
		{"too big over streams", twoStreams, int64(len(data)) + 1, "expands beyond"},
		{"4 GiB dictionary", hugeDict, 1 << 20, "xz dictionary of 4294967295 bytes"},
		{"other filter", badFilter, 1 << 20, "unsupported xz filter 0x3"},
		{"truncated", single[:len(single)-3], 1 << 20, "truncated xz data"},
		{"truncated in data", single[:40], 1 << 20, "truncated xz data"},
		{"garbage", []byte("not xz at all, not xz at all"), 1 << 20, "bad xz stream header"},
		{"tiny", []byte("YZ"), 1 << 20, "truncated"},
		{"zeros", make([]byte, 64), 1 << 20, "bad xz stream header"},
		{"short garbage after", append(bytes.Clone(single), "junk"...), 1 << 20, "truncated"},
		{"garbage after", append(bytes.Clone(single), "junkjunkjunkjunk"...), 1 << 20, "bad xz stream header"},
		{"second block's dictionary", secondBlockHuge, 1 << 20, "xz dictionary of 4294967295 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason, err := checkXZ(bytes.NewReader(tt.data), int64(len(tt.data)), tt.maxOut)
			if err != nil {
				t.Fatal(err)
			}
			if (reason == "") != (tt.want == "") || !strings.Contains(reason, tt.want) {
				t.Fatalf("reason %q, want %q", reason, tt.want)
			}
		})
	}
}

// TestCheckXZTool accepts what the xz command writes at its strongest
// preset (a 64 MiB dictionary).
func TestCheckXZTool(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("xz not installed")
	}
	for _, args := range [][]string{{"-9e"}, {"-0"}, {"-T2", "--block-size=4096"}} {
		cmd := exec.Command("xz", append(args, "-c")...)
		cmd.Stdin = bytes.NewReader(bytes.Repeat([]byte("some text\n"), 5000))
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if reason, err := checkXZ(bytes.NewReader(out), int64(len(out)), 1<<20); reason != "" || err != nil {
			t.Errorf("xz %v: %q %v", args, reason, err)
		}
	}
}

// TestReadXZDictionaryBomb: a control.tar.xz that declares a 4 GiB
// dictionary is refused before the decoder allocates it.
func TestReadXZDictionaryBomb(t *testing.T) {
	b := build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", ControlCompression: "xz"})
	i := bytes.Index(b, []byte("control.tar.xz"))
	start := i + 60
	b[start+lzma2PropOffset(t, b[start:])] = 40
	_, err := read(New(Config{}), b)
	if !errors.Is(err, repo.ErrBadPackage) || !strings.Contains(err.Error(), "control.tar.xz is not a valid xz file: xz dictionary of 4294967295 bytes") {
		t.Fatalf("error %v", err)
	}
}
