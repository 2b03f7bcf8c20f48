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

func TestXZStreamEnd(t *testing.T) {
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
	lastNotLZMA2 := bytes.Clone(single)
	lastNotLZMA2[lzma2PropOffset(t, lastNotLZMA2)-2] = 0x03 // delta as the only filter
	tests := []struct {
		name    string
		data    []byte
		maxOut  int64
		wantEnd int64
		want    string
	}{
		{"single", single, 1 << 20, int64(len(single)), ""},
		{"multi-block", multiBlock, 1 << 20, int64(len(multiBlock)), ""},
		{"two streams: the first only", twoStreams, 1 << 20, int64(len(single)), ""},
		{"garbage after: not read", append(bytes.Clone(single), "junkjunkjunkjunk"...), 1 << 20, int64(len(single)), ""},
		{"too big", single, 1000, 0, xzReasonTooBig},
		{"4 GiB dictionary", hugeDict, 1 << 20, 0, "the xz dictionary of 4294967295 bytes"},
		{"second block's dictionary", secondBlockHuge, 1 << 20, 0, "the xz dictionary of 4294967295 bytes"},
		{"last filter not LZMA2", lastNotLZMA2, 1 << 20, 0, "unsupported xz filter 0x3 as the last filter"},
		{"truncated", single[:len(single)-3], 1 << 20, 0, "ends early (truncated upload?)"},
		{"truncated in data", single[:40], 1 << 20, 0, "ends early"},
		{"garbage", []byte("not xz at all, not xz at all"), 1 << 20, 0, "not an xz stream"},
		{"tiny", []byte("YZ"), 1 << 20, 0, "ends early"},
		{"empty", nil, 1 << 20, 0, "ends early"},
		{"zeros", make([]byte, 64), 1 << 20, 0, "not an xz stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end, reason, err := xzStreamEnd(bytes.NewReader(tt.data), int64(len(tt.data)), tt.maxOut)
			if err != nil {
				t.Fatal(err)
			}
			if (reason == "") != (tt.want == "") || !strings.Contains(reason, tt.want) {
				t.Fatalf("reason %q, want %q", reason, tt.want)
			}
			if end != tt.wantEnd {
				t.Errorf("end %d, want %d", end, tt.wantEnd)
			}
		})
	}
}

// TestXZStreamEndTool accepts what the xz command writes at its strongest
// preset (a 64 MiB dictionary), in blocks, and with a branch converter.
func TestXZStreamEndTool(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		if isCI() {
			t.Fatal("xz is required when CI=true")
		}
		t.Skip("xz not installed")
	}
	for _, args := range [][]string{{"-9e"}, {"-0"}, {"-T2", "--block-size=4096"}, {"--x86", "--lzma2=preset=6"}, {"--delta=dist=4", "--lzma2"}} {
		cmd := exec.Command("xz", append(args, "-c")...)
		cmd.Stdin = bytes.NewReader(bytes.Repeat([]byte("some text\n"), 5000))
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if end, reason, err := xzStreamEnd(bytes.NewReader(out), int64(len(out)), 1<<20); reason != "" || err != nil || end != int64(len(out)) {
			t.Errorf("xz %v: %d %q %v", args, end, reason, err)
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
	if !errors.Is(err, repo.ErrBadPackage) || !strings.Contains(err.Error(), "control.tar.xz is corrupt: the xz dictionary of 4294967295 bytes") {
		t.Fatalf("error %v", err)
	}
}
