package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// payload returns n bytes that compress like a mix of text and binary.
func payload(seed int64, n int) []byte {
	rng := rand.New(rand.NewSource(seed))
	b := make([]byte, 0, n)
	for len(b) < n {
		if rng.Intn(2) == 0 {
			b = fmt.Appendf(b, "line %d of some text that repeats a little %d\n", rng.Intn(100), rng.Intn(10))
		} else {
			r := make([]byte, 64)
			rng.Read(r)
			b = append(b, r...)
		}
	}
	return b[:n]
}

// dataOpts is a package with a data member worth corrupting.
func dataOpts(comp string) debtest.Options {
	return debtest.Options{Package: "hello", Version: "1.0-1", Arch: "amd64", DataCompression: comp, ControlCompression: comp,
		Files: map[string][]byte{"usr/share/hello/a.bin": payload(1, 96<<10), "usr/share/hello/b.txt": payload(2, 32<<10)}}
}

// wantBad checks that err is a bad-package error whose message holds every
// one of want.
func wantBad(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("Read succeeded")
	}
	if !errors.Is(err, repo.ErrBadPackage) {
		t.Fatalf("error %v does not wrap ErrBadPackage", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q, want it to contain %q", err, w)
		}
	}
}

// TestReadDataCompressions: every data compression dpkg unpacks is read to
// the end, as is a ustar archive and a GNU long name.
func TestReadDataCompressions(t *testing.T) {
	f := New(Config{})
	long := "usr/share/hello/" + strings.Repeat("long-name-", 20)
	for _, comp := range []string{"gz", "xz", "zst", "lzma", "none"} {
		for _, format := range []string{"gnu", "ustar"} {
			t.Run(comp+"/"+format, func(t *testing.T) {
				o := dataOpts(comp)
				o.ControlCompression = ""
				o.DataFormat = format
				if format == "gnu" {
					o.Files[long] = []byte("x")
				}
				if _, err := read(f, build(t, o)); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestReadTruncated cuts a package at every member boundary and inside
// every member: each cut is refused, naming where the file ends.
func TestReadTruncated(t *testing.T) {
	f := New(Config{})
	for _, comp := range []string{"gz", "xz", "zst"} {
		t.Run(comp, func(t *testing.T) {
			b := build(t, dataOpts(comp))
			offs := arMemberOffsets(t, b)
			names := []string{"debian-binary", "control.tar." + comp, "data.tar." + comp}
			for i, off := range offs {
				next := len(b)
				if i+1 < len(offs) {
					next = offs[i+1]
				}
				cuts := map[string]int{"at the header": off, "in the header": off + 30, "at the data": off + 60,
					"in the data": (off + 60 + next) / 2, "one byte short": next - 1}
				for what, cut := range cuts {
					if cut >= len(b) || cut <= off-1 {
						continue
					}
					_, err := read(f, b[:cut])
					switch {
					case cut < off+60 && i == 0 && cut == off:
						wantBad(t, err, "truncated ar member header at offset 8")
					case cut == off && i > 0 && names[i] == "control.tar."+comp:
						wantBad(t, err, "no control.tar member")
					case cut == off && i > 0:
						wantBad(t, err, "no data.tar member")
					case cut < off+60:
						wantBad(t, err, fmt.Sprintf("truncated ar member header at offset %d", off))
					default:
						wantBad(t, err, fmt.Sprintf("ar member %q at offset %d is truncated", names[i], off), "truncated upload?")
					}
					t.Logf("%s %s: %v", names[i], what, err)
				}
			}
		})
	}
}

// TestReadPadding: a member of odd size needs its padding byte, also the
// last one (newer dpkg-deb refuses the file without it).
func TestReadPadding(t *testing.T) {
	f := New(Config{})
	for size := 1; ; size++ {
		b := build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", Files: map[string][]byte{"x": payload(4, size)}})
		offs := arMemberOffsets(t, b)
		if len(b)-offs[2]-60 == int(mustAtoi(t, b[offs[2]+48:offs[2]+58])) {
			continue // even size: no padding byte
		}
		if _, err := read(f, b); err != nil {
			t.Fatal(err)
		}
		_, err := read(f, b[:len(b)-1])
		wantBad(t, err, `ar member "data.tar.gz"`, "the file ends before the padding byte after its data")
		return
	}
}

func mustAtoi(t *testing.T, field []byte) int64 {
	t.Helper()
	n, ok := arSize(field)
	if !ok {
		t.Fatalf("bad size field %q", field)
	}
	return n
}

// TestReadFlippedByte flips one byte inside each member: each is refused,
// naming the member and the check.
func TestReadFlippedByte(t *testing.T) {
	f := New(Config{})
	for _, comp := range []string{"gz", "xz", "zst"} {
		t.Run(comp, func(t *testing.T) {
			b := build(t, dataOpts(comp))
			offs := arMemberOffsets(t, b)
			flip := func(at int) []byte {
				c := bytes.Clone(b)
				c[at] ^= 0x55
				return c
			}
			_, err := read(f, flip(offs[0]+60)) // "2.0\n" -> "g.0\n"
			wantBad(t, err, "debian-binary")
			ctlSize := offs[2] - offs[1] - 60
			_, err = read(f, flip(offs[1]+60+ctlSize/2))
			wantBad(t, err, "control.tar."+comp+" is corrupt")
			dataStart, dataSize := offs[2]+60, len(b)-offs[2]-60
			for _, frac := range []int{20, 35, 50, 65, 80, 95} {
				_, err := read(f, flip(dataStart+dataSize*frac/100))
				wantBad(t, err, "data.tar."+comp+" is corrupt")
			}
			_, err = read(f, flip(offs[2]+48)) // the size field
			wantBad(t, err, "data.tar."+comp)
		})
	}
}

// rawTarHeader returns a GNU tar header block with a correct checksum,
// after mod has edited it; size is the size field's text.
func rawTarHeader(name string, typ byte, size string, mod func(h []byte)) []byte {
	h := make([]byte, tarBlock)
	copy(h[tarName:], name)
	copy(h[tarMode:], "0000644\x00")
	copy(h[tarUID:], "0000000\x00")
	copy(h[tarGID:], "0000000\x00")
	copy(h[tarSize:], size)
	copy(h[tarMtime:], "14524157000\x00")
	h[tarTypeflag] = typ
	copy(h[tarMagic:], "ustar  \x00")
	if mod != nil {
		mod(h)
	}
	copy(h[tarChksum:], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[tarChksum:], fmt.Sprintf("%06o\x00 ", sum))
	return h
}

// rawTar joins header blocks and contents, padding contents to blocks.
func rawTar(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
		if r := len(p) % tarBlock; r != 0 {
			b = append(b, make([]byte, tarBlock-r)...)
		}
	}
	return b
}

var tarEnd = make([]byte, 2*tarBlock)

// TestReadDataTar checks the rules of dpkg's tar reader on the data member.
func TestReadDataTar(t *testing.T) {
	f := New(Config{})
	file := rawTarHeader("./usr/share/x", '0', "00000000005\x00", nil)
	opts := func(entries ...debtest.Entry) debtest.Options {
		return debtest.Options{Package: "hello", Version: "1", Arch: "amd64", DataEntries: entries}
	}
	raw := func(data []byte) debtest.Options {
		return debtest.Options{Package: "hello", Version: "1", Arch: "amd64", DataCompression: "none", Data: data}
	}
	tests := []struct {
		name string
		opts debtest.Options
		want string // "" when dpkg unpacks it
	}{
		{"absolute name", opts(debtest.Entry{Name: "/usr/share/abs", Data: []byte("x")}), ""},
		{"symlink out of the tree", opts(debtest.Entry{Name: "./usr/share/l", Type: tar.TypeSymlink, Linkname: "/etc/shadow"}), ""},
		{"symlink with ..", opts(debtest.Entry{Name: "./usr/share/l", Type: tar.TypeSymlink, Linkname: "../../../etc/shadow"}), ""},
		{"absolute hard link", opts(debtest.Entry{Name: "./usr/share/h", Type: tar.TypeLink, Linkname: "/usr/share/abs"}), ""},
		{"devices and fifo", opts(debtest.Entry{Name: "./dev/c", Type: tar.TypeChar}, debtest.Entry{Name: "./dev/b", Type: tar.TypeBlock}, debtest.Entry{Name: "./dev/p", Type: tar.TypeFifo}), ""},
		{"no end-of-archive blocks", raw(rawTar(file, []byte("hello"))), ""},
		{"junk after the end", raw(append(rawTar(file, []byte("hello"), tarEnd), "junk"...)), ""},
		{"an invalid header with an empty name ends the archive", raw(rawTar(file, []byte("hello"), rawTarHeader("", '0', "junk", nil), []byte("more junk"))), ""},
		{"base-256 size", raw(rawTar(rawTarHeader("./f", '0', "\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05", nil), []byte("hello"), tarEnd)), ""},
		{"spaces around numbers", raw(rawTar(rawTarHeader("./f", '0', "     5     ", nil), []byte("hello"), tarEnd)), ""},
		{"directory as a file type with a slash", raw(rawTar(rawTarHeader("./d/", '0', "00000001000\x00", nil), tarEnd)), ""},
		{"size of a directory is not read", raw(rawTar(rawTarHeader("./d/", '5', "00000001000\x00", nil), file, []byte("hello"), tarEnd)), ""},

		{"dot-dot", opts(debtest.Entry{Name: "./../../etc/evil", Data: []byte("x")}), `data.tar.gz: entry "./../../etc/evil": the entry name has a ".." component`},
		{"dot-dot inside", opts(debtest.Entry{Name: "./usr/../../evil", Data: []byte("x")}), `has a ".." component`},
		{"hard link with dot-dot", opts(debtest.Entry{Name: "./usr/h", Type: tar.TypeLink, Linkname: "../../etc/shadow"}), `hard link to "../../etc/shadow"`},
		{"newline in a name", opts(debtest.Entry{Name: "./usr/a\nb", Data: []byte("x")}), "a newline in an entry name"},
		{"pax header", func() debtest.Options {
			o := opts(debtest.Entry{Name: "./usr/p", Data: []byte("x"), PAXRecords: map[string]string{"comment": "hi"}})
			o.DataFormat = "pax"
			return o
		}(), "unsupported PAX tar header type 'x'"},
		{"contiguous file", opts(debtest.Entry{Name: "./usr/c", Type: tar.TypeCont}), `unknown tar header type "7"`},
		{"GNU sparse", raw(rawTar(rawTarHeader("./s", 'S', "00000000000\x00", nil), tarEnd)), "unsupported GNU tar header type 'S'"},
		{"Solaris ACL", raw(rawTar(rawTarHeader("./s", 'A', "00000000000\x00", nil), tarEnd)), "unsupported Solaris tar header type 'A'"},
		{"long name past PATH_MAX", raw(rawTar(rawTarHeader("././@LongLink", 'L', fmt.Sprintf("%011o\x00", 5000), nil), make([]byte, 5000), file, []byte("hello"), tarEnd)), "GNU long name record of 5000 bytes"},
		{"bad checksum", raw(rawTar(func() []byte { h := bytes.Clone(file); h[5] ^= 1; return h }(), []byte("hello"), tarEnd)), `entry "./usr.share/x": invalid tar header checksum`},
		{"bad size field", raw(rawTar(rawTarHeader("./f", '0', "0000000009\x00", nil), tarEnd)), "invalid tar header size field"},
		{"spaces-only size", raw(rawTar(rawTarHeader("./f", '0', "            ", nil), tarEnd)), "invalid tar header size field"},
		{"negative base-256 size", raw(rawTar(rawTarHeader("./f", '0', "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe", nil), tarEnd)), "invalid tar header size field"},
		{"bad uid", raw(rawTar(rawTarHeader("./f", '0', "00000000000\x00", func(h []byte) { copy(h[tarUID:], "00x0000\x00") }), tarEnd)), "invalid tar header uid field"},
		{"uid over 32 bits", raw(rawTar(rawTarHeader("./f", '0', "00000000000\x00", func(h []byte) { copy(h[tarUID:], "\x80\x00\x00\x01\x00\x00\x00\x00") }), tarEnd)), "invalid tar header uid field"},
		{"empty name with a valid header", raw(rawTar(file, []byte("hello"), rawTarHeader("", '0', "00000000000\x00", nil), tarEnd)), "a tar header has an empty name field"},
		{"partial header block", raw(append(rawTar(file, []byte("hello")), make([]byte, 100)...)), "ends inside a header block"},
		{"file contents cut", raw(append(bytes.Clone(file), "hel"...)), `entry "./usr/share/x": the tar archive ends inside the contents of this file`},
		{"long name record cut", raw(append(rawTarHeader("././@LongLink", 'L', "00000001000\x00", nil), make([]byte, 100)...)), "ends inside a GNU long name record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := read(f, build(t, tt.opts))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantBad(t, err, tt.want)
		})
	}
}

// TestReadDataStreams checks which compressed bytes dpkg reads: every
// gzip member, the first xz stream and zstd frame, and nothing after.
func TestReadDataStreams(t *testing.T) {
	f := New(Config{})
	data, err := debtest.DataTar(debtest.Options{Files: map[string][]byte{"usr/share/x": payload(3, 20<<10)}})
	if err != nil {
		t.Fatal(err)
	}
	comp := func(c string, b []byte) []byte {
		out, err := debtest.Compress(c, b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// A cut at a block boundary inside the archive: the first part is a
	// valid tar that lacks some entries and the end-of-archive blocks.
	cut := 3 * tarBlock
	opts := func(name string, member []byte) debtest.Options {
		return debtest.Options{Package: "hello", Version: "1", Arch: "amd64", DataName: name, Data: member}
	}
	tests := []struct {
		name string
		opts debtest.Options
		want string
	}{
		{"gzip: two members", opts("data.tar.gz", append(comp("gz", data[:cut]), comp("gz", data[cut:])...)), ""},
		{"gzip: junk after", opts("data.tar.gz", append(comp("gz", data), "junk"...)), ""},
		{"gzip: not gzip at all (zlib passes it through)", opts("data.tar.gz", data), ""},
		{"gzip: stream cut", opts("data.tar.gz", comp("gz", data)[:200]), "data.tar.gz is corrupt: the gzip stream ends early (truncated upload?)"},
		{"xz: junk after the stream", opts("data.tar.xz", append(comp("xz", data), "junkjunk"...)), ""},
		{"xz: whole archive, then a second stream", opts("data.tar.xz", append(comp("xz", data), comp("xz", data)...)), ""},
		{"xz: archive split over two streams", opts("data.tar.xz", append(comp("xz", data[:cut]), comp("xz", data[cut:])...)), "more data follows in the member; dpkg reads only the first stream"},
		{"xz: stream cut", opts("data.tar.xz", comp("xz", data)[:300]), "data.tar.xz is corrupt: the xz stream ends early (truncated upload?)"},
		{"zstd: junk after the frame", opts("data.tar.zst", append(comp("zst", data), "junk"...)), ""},
		{"zstd: archive split over two frames", opts("data.tar.zst", append(comp("zst", data[:cut]), comp("zst", data[cut:])...)), "dpkg reads only the first stream"},
		{"zstd: skippable frame first", opts("data.tar.zst", append([]byte("\x50\x2a\x4d\x18\x04\x00\x00\x00abcd"), comp("zst", data)...)), "dpkg reads only the first stream"},
		{"zstd: frame cut", opts("data.tar.zst", comp("zst", data)[:300]), "data.tar.zst is corrupt: the zstd frame ends early (truncated upload?)"},
		{"zstd: not zstd", opts("data.tar.zst", data), "data.tar.zst is corrupt: not a zstd frame"},
		{"lzma: junk after", opts("data.tar.lzma", append(comp("lzma", data), "junk"...)), ""},
		{"lzma: cut", opts("data.tar.lzma", comp("lzma", data)[:300]), "data.tar.lzma is corrupt"},
		{"uncompressed: cut at a block boundary", opts("data.tar", data[:cut]), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := read(f, build(t, tt.opts))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantBad(t, err, tt.want)
		})
	}
}

// TestReadDataBomb: a data member that expands past limits.data_tar is
// refused, whatever its compression.
func TestReadDataBomb(t *testing.T) {
	f := New(Config{Limits: Limits{DataTar: 1 << 20}})
	for _, comp := range []string{"gz", "xz", "zst", "lzma", "none"} {
		t.Run(comp, func(t *testing.T) {
			b := build(t, debtest.Options{Package: "bomb", Version: "1", Arch: "amd64", DataCompression: comp,
				Files: map[string][]byte{"zeros": make([]byte, 2<<20)}})
			_, err := read(f, b)
			name := "data.tar"
			if comp != "none" {
				name += "." + comp
			}
			wantBad(t, err, name+" expands beyond 1048576 bytes, the most Pier accepts (limits.data_tar)")
		})
	}
}

// failAfter fails every read past an offset.
type failAfter struct {
	r   *bytes.Reader
	off int64
}

func (f failAfter) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.off {
		return 0, errDisk
	}
	return f.r.ReadAt(p, off)
}

// TestReadDataIOError: a read failure inside the data member is an I/O
// error, not a bad package.
func TestReadDataIOError(t *testing.T) {
	for _, comp := range []string{"gz", "xz", "zst", "none"} {
		b := build(t, dataOpts(comp))
		offs := arMemberOffsets(t, b)
		r := failAfter{bytes.NewReader(b), int64(offs[2] + 60 + 1000)}
		_, err := New(Config{}).Read(context.Background(), r, int64(len(b)), sumsOf(b))
		if !errors.Is(err, errDisk) || errors.Is(err, repo.ErrBadPackage) {
			t.Errorf("%s: error %v, want the I/O error and not a bad package", comp, err)
		}
	}
}

// TestReadDataCanceled: a cancelled context stops the data member's check.
func TestReadDataCanceled(t *testing.T) {
	b := build(t, debtest.Options{Package: "big", Version: "1", Arch: "amd64", DataCompression: "zst",
		Files: map[string][]byte{"zeros": make([]byte, 8<<20)}})
	ctx, cancel := context.WithCancel(context.Background())
	f := New(Config{})
	offs := arMemberOffsets(t, b)
	r := cancelAt{bytes.NewReader(b), int64(offs[2] + 60 + 100), cancel}
	if _, err := f.Read(ctx, r, int64(len(b)), sumsOf(b)); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// cancelAt cancels a context when a read reaches an offset.
type cancelAt struct {
	r      *bytes.Reader
	off    int64
	cancel func()
}

func (c cancelAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > c.off {
		c.cancel()
	}
	return c.r.ReadAt(p, off)
}

// TestReadXZChecks: data.tar.xz with every integrity check xz writes
// (liblzma verifies them all) decodes.
func TestReadXZChecks(t *testing.T) {
	data, err := debtest.DataTar(dataOpts("xz"))
	if err != nil {
		t.Fatal(err)
	}
	f := New(Config{})
	for _, check := range []string{"none", "crc32", "crc64", "sha256"} {
		z := xzTool(t, data, "--check="+check, "-1")
		b := build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", DataName: "data.tar.xz", Data: z})
		if _, err := read(f, b); err != nil {
			t.Errorf("--check=%s: %v", check, err)
		}
		// A flipped byte in the last block's check field is caught, except
		// with no check.
		c := bytes.Clone(b)
		end := len(c) - len(z)%2 - 12 - 8 // before the index and footer
		for c[end] == 0 && end > len(c)-len(z) {
			end--
		}
		c[end] ^= 0x01
		_, err := read(f, c)
		if check != "none" && err == nil {
			t.Errorf("--check=%s: a flipped byte near the end is accepted", check)
		}
	}
}
