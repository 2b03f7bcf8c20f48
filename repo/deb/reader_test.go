package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

func TestReadGood(t *testing.T) {
	f := New(Config{})
	files := map[string][]byte{"usr/bin/hello": []byte("#!/bin/sh\necho hello\n")}
	tests := []struct {
		name     string
		opts     debtest.Options
		wantHead string
		wantTail string
		source   string
	}{
		{
			name: "gz",
			opts: debtest.Options{Package: "hello", Version: "1.0-1", Arch: "amd64", Files: files, Depends: "libc6 (>= 2.34)"},
			wantHead: "Package: hello\nArchitecture: amd64\nVersion: 1.0-1\nPriority: optional\n" +
				"Maintainer: Pier Test <test@example.org>\nInstalled-Size: 1\nDepends: libc6 (>= 2.34)\n",
			wantTail: "Description: test package\n",
			source:   "hello",
		},
		{
			name:     "xz",
			opts:     debtest.Options{Package: "hello", Version: "1.0-1", Arch: "arm64", ControlCompression: "xz"},
			wantHead: "Package: hello\nArchitecture: arm64\nVersion: 1.0-1\nPriority: optional\nMaintainer: Pier Test <test@example.org>\nInstalled-Size: 0\n",
			wantTail: "Description: test package\n",
			source:   "hello",
		},
		{
			name:     "zst",
			opts:     debtest.Options{Package: "hello", Version: "1.0-1", Arch: "all", ControlCompression: "zst"},
			wantHead: "Package: hello\nArchitecture: all\nVersion: 1.0-1\nPriority: optional\nMaintainer: Pier Test <test@example.org>\nInstalled-Size: 0\n",
			wantTail: "Description: test package\n",
			source:   "hello",
		},
		{
			name:     "uncompressed",
			opts:     debtest.Options{Package: "hello", Version: "1.0-1", Arch: "amd64", ControlCompression: "none"},
			wantHead: "Package: hello\nArchitecture: amd64\nVersion: 1.0-1\nPriority: optional\nMaintainer: Pier Test <test@example.org>\nInstalled-Size: 0\n",
			wantTail: "Description: test package\n",
			source:   "hello",
		},
		{
			name: "raw control: order, case, dropped fields, continuation lines, source version",
			opts: debtest.Options{Control: "Package: libfoo1\nX-Custom:  kept  \nDescription: foo library\n" +
				" Long text,\n\tindented with a tab.\n .\n   three spaces\nversion: 2:1.2~rc1+dfsg-0ubuntu1\n" +
				"Filename: evil\nSize: 1\nMD5sum: 00\nSHA256: 00\n" +
				"Homepage: https://example.org\narchitecture: amd64\nSource: foo (1.2-1)\nMulti-Arch: same\n\n\n"},
			wantHead: "Package: libfoo1\nArchitecture: amd64\nVersion: 2:1.2~rc1+dfsg-0ubuntu1\nMulti-Arch: same\nSource: foo (1.2-1)\n",
			wantTail: "Homepage: https://example.org\nDescription: foo library\n Long text,\n\tindented with a tab.\n .\n   three spaces\nX-Custom: kept\n",
			source:   "foo",
		},
		{
			name:     "description with empty first line, unknown fields keep order",
			opts:     debtest.Options{Control: "Package: aa\nVersion: 0\nArchitecture: all\nZ-B: 1\nDescription:\n only long\nZ-A: 2\n"},
			wantHead: "Package: aa\nArchitecture: all\nVersion: 0\n",
			wantTail: "Description:\n only long\nZ-B: 1\nZ-A: 2\n",
			source:   "aa",
		},
		{
			name:     "ignored underscore member and extra control entries",
			opts:     debtest.Options{Package: "hello", Version: "1", Arch: "amd64", ControlEntries: []debtest.Entry{{Name: "./postinst", Data: []byte("#!/bin/sh\n")}, {Name: "conffiles"}}},
			wantHead: "Package: hello\nArchitecture: amd64\nVersion: 1\nPriority: optional\nMaintainer: Pier Test <test@example.org>\nInstalled-Size: 0\n",
			wantTail: "Description: test package\n",
			source:   "hello",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := build(t, tt.opts)
			p, err := read(f, b)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			var m Meta
			if err := m.UnmarshalBinary(p.Meta); err != nil {
				t.Fatalf("meta: %v", err)
			}
			if m.Head != tt.wantHead {
				t.Errorf("Head:\n%s\nwant:\n%s", m.Head, tt.wantHead)
			}
			if m.Tail != tt.wantTail {
				t.Errorf("Tail:\n%q\nwant:\n%q", m.Tail, tt.wantTail)
			}
			if m.Source != tt.source {
				t.Errorf("Source = %q, want %q", m.Source, tt.source)
			}
			sums := sumsOf(b)
			if m.MD5 != sums[repo.MD5] || m.SHA1 != sums[repo.SHA1] {
				t.Errorf("digests = %q %q, want %q %q", m.MD5, m.SHA1, sums[repo.MD5], sums[repo.SHA1])
			}
			head, _, _ := strings.Cut(m.Head, "\n")
			if want := "Package: " + p.Name; head != want {
				t.Errorf("first line %q, want %q", head, want)
			}
			if !f.Sniff(b) {
				t.Error("Sniff = false")
			}
		})
	}
}

func TestSniff(t *testing.T) {
	f := New(Config{})
	good := build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64"})
	tests := []struct {
		name string
		head []byte
		want bool
	}{
		{"deb", good[:512], true},
		{"gnu name", append([]byte("!<arch>\ndebian-binary/   "), good[len("!<arch>\ndebian-binary/   "):512]...), true},
		{"short", good[:20], false},
		{"empty", nil, false},
		{"other ar", append([]byte("!<arch>\nfoo.o/          "), good[24:512]...), false},
		{"rpm", []byte("\xed\xab\xee\xdb" + strings.Repeat("\x00", 100)), false},
	}
	for _, tt := range tests {
		if got := f.Sniff(tt.head); got != tt.want {
			t.Errorf("%s: Sniff = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// arMemberOffsets returns the header offsets of the ar members in b.
func arMemberOffsets(t *testing.T, b []byte) []int {
	t.Helper()
	var offs []int
	for off := 8; off+60 <= len(b); {
		offs = append(offs, off)
		var size int
		if _, err := fmt.Sscan(strings.TrimSpace(string(b[off+48:off+58])), &size); err != nil {
			t.Fatal(err)
		}
		off += 60 + size + size%2
	}
	return offs
}

func TestReadBad(t *testing.T) {
	f := New(Config{})
	good := build(t, debtest.Options{Package: "hello", Version: "1.0-1", Arch: "amd64",
		Files: map[string][]byte{"usr/share/doc/hello/README": bytes.Repeat([]byte("hello "), 100)}})
	offs := arMemberOffsets(t, good) // debian-binary, control.tar.gz, data.tar.gz
	if len(offs) != 3 {
		t.Fatalf("members at %v", offs)
	}
	ctl := func(text string) []byte { return build(t, debtest.Options{Control: text}) }
	name300 := strings.Repeat("a", 300)
	bomb := func(c string) []byte {
		return build(t, debtest.Options{Package: "bomb", Version: "1", Arch: "amd64", ControlCompression: c, Padding: 17 << 20})
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a .deb: the file is empty"},
		{"truncated in magic", good[:4], "only 4 bytes"},
		{"not an ar", []byte("PK\x03\x04 this is a zip file, not a deb"), "not an ar archive"},
		{"magic only", good[:8], "truncated ar member header at offset 8"},
		{"truncated first header", good[:40], "truncated ar member header at offset 8"},
		{"truncated debian-binary", good[:70], `ar member "debian-binary" at offset 8 is truncated`},
		{"truncated control header", good[:offs[1]+30], fmt.Sprintf("truncated ar member header at offset %d", offs[1])},
		{"truncated control data", good[:offs[1]+100], fmt.Sprintf(`ar member "control.tar.gz" at offset %d is truncated`, offs[1])},
		{"truncated after control", good[:offs[2]], "no data.tar member"},
		{"truncated data", good[:offs[2]+70], fmt.Sprintf(`ar member "data.tar.gz" at offset %d is truncated: the file ends before its data`, offs[2])},
		{"bad header magic", append(append([]byte{}, good[:66]...), append([]byte("xx"), good[68:]...)...), "bad ar member header at offset 8"},
		{"bad size field", append(append([]byte{}, good[:56]...), append([]byte("-1        "), good[66:]...)...), "bad size"},
		{"size field with junk", append(append([]byte{}, good[:56]...), append([]byte("4x        "), good[66:]...)...), "bad size"},
		{"other first member", append([]byte("!<arch>\nfoo/            "), good[24:]...), `first ar member is "foo"`},
		{"debian-binary 3.0", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", DebianBinary: "3.0\n"}), `unsupported .deb format version 3.0`},
		{"debian-binary without newline", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", DebianBinary: "2.0"}), `debian-binary member has no newline`},
		{"debian-binary with junk", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", DebianBinary: "2.0 \n"}), `does not start with a format version`},
		{"debian-binary NUL before newline", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", DebianBinary: "2.0\x00\n"}), `has no newline`},
		{"no data", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", NoData: true}), "no data.tar member"},
		{"missing control file", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", NoControlFile: true}), "control.tar.gz has no control file"},
		{"missing control member", append(append([]byte{}, good[:offs[1]]...), good[offs[2]:]...), `unexpected ar member "data.tar.gz"`},
		{"no Package", ctl("Version: 1\nArchitecture: amd64\n"), "control file has no Package field"},
		{"no Version", ctl("Package: hello\nArchitecture: amd64\n"), "control file has no Version field"},
		{"no Architecture", ctl("Package: hello\nVersion: 1\n"), "control file has no Architecture field"},
		{"empty Version", ctl("Package: hello\nVersion:\nArchitecture: amd64\n"), "control file has an empty Version field"},
		{"duplicate field", ctl("Package: hello\nVersion: 1\nArchitecture: amd64\nversion: 2\n"), `control file has duplicate field "version"`},
		{"two stanzas", ctl("Package: hello\nVersion: 1\nArchitecture: amd64\n\nPackage: other\n"), "more than one stanza"},
		{"continuation first", ctl(" Package: hello\n"), "empty field name"},
		{"no colon", ctl("Package hello\n"), `field name "Package" must be followed by a colon`},
		{"bad field name", ctl("Package: hello\nVersion: 1\nArchitecture: amd64\nBad Field: x\n"), `field name "Bad" must be followed by a colon`},
		{"comment", ctl("# comment\nPackage: hello\n"), "must be followed by a colon"},
		{"NUL", ctl("Package: hel\x00lo\n"), "NUL byte"},
		{"no final newline", ctl("Package: hello\nVersion: 1\nArchitecture: amd64"), "missing final newline"},
		{"whitespace-only line", ctl("Package: hello\nVersion: 1\nArchitecture: amd64\n \n"), "blank line in value"},
		{"300-char name", ctl("Package: " + name300 + "\nVersion: 1\nArchitecture: amd64\n"), "package name \"aaaa"},
		{"300-char name says why", ctl("Package: " + name300 + "\nVersion: 1\nArchitecture: amd64\n"), "is too long: 300 characters, at most 128 are allowed"},
		{"bad name char", ctl("Package: hello/world\nVersion: 1\nArchitecture: amd64\n"), `the character '/' is not allowed`},
		{"name starts with dash", ctl("Package: -hello\nVersion: 1\nArchitecture: amd64\n"), `must start with a letter or digit`},
		{"version not digit", ctl("Package: hello\nVersion: v1.0\nArchitecture: amd64\n"), "must start with a digit"},
		{"version bad epoch", ctl("Package: hello\nVersion: x:1.0\nArchitecture: amd64\n"), "epoch"},
		{"version bad char", ctl("Package: hello\nVersion: 1.0_1\nArchitecture: amd64\n"), `character '_'`},
		{"version empty revision", ctl("Package: hello\nVersion: 1.0-\nArchitecture: amd64\n"), "empty revision"},
		{"version spaces", ctl("Package: hello\nVersion: 1.0 beta\nArchitecture: amd64\n"), "contains spaces"},
		{"arch any", ctl("Package: hello\nVersion: 1\nArchitecture: any\n"), `architecture "any" is not valid`},
		{"arch two", ctl("Package: hello\nVersion: 1\nArchitecture: amd64 arm64\n"), "architecture"},
		{"Status", ctl("Package: hello\nVersion: 1\nArchitecture: amd64\nStatus: install ok installed\n"), "control field Status is not allowed"},
		{"traversal", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", ControlEntries: []debtest.Entry{{Name: "../../evil", Data: []byte("x")}}}),
			`control.tar.gz: entry "../../evil" points outside the archive (path traversal`},
		{"traversal inside", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", ControlEntries: []debtest.Entry{{Name: "./a/../../evil"}}}),
			`"./a/../../evil" points outside`},
		{"absolute path in a directory", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", ControlEntries: []debtest.Entry{{Name: "/etc/cron.d/evil"}}}),
			`control.tar.gz: entry "/etc/cron.d/evil" makes a directory inside the control area`},
		{"subdirectory", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", ControlEntries: []debtest.Entry{{Name: "./scripts/", Type: tar.TypeDir}}}),
			`entry "./scripts/" makes a directory inside the control area`},
		{"long control file name", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", ControlEntries: []debtest.Entry{{Name: "./" + strings.Repeat("x", 101)}}}),
			`is longer than 100 bytes`},
		{"unknown tar type", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", ControlEntries: []debtest.Entry{{Name: "./odd", Type: 'Z'}}}),
			`entry "./odd" has tar type "Z"`},
		{"control is a symlink", build(t, debtest.Options{Control: "x", NoControlFile: true, ControlEntries: []debtest.Entry{{Name: "./control", Type: tar.TypeSymlink, Linkname: "/etc/passwd"}}}),
			`the control entry "./control" is not a regular file`},
		{"a later control file replaces the first", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", ControlEntries: []debtest.Entry{{Name: "control", Data: []byte("Package: x\n")}}}),
			"control file has no Version field"},
		{"bomb gz", bomb("gz"), "control.tar.gz expands beyond 16777216 bytes, the most Pier accepts (limits.control_tar)"},
		{"bomb xz", bomb("xz"), "control.tar.xz expands beyond 16777216 bytes"},
		{"bomb zst", bomb("zst"), "control.tar.zst expands beyond 16777216 bytes"},
		{"control file too big", build(t, debtest.Options{Control: "Package: hello\nVersion: 1\nArchitecture: amd64\nX: " + strings.Repeat("x", 1<<20) + "\n"}),
			"bytes long; at most 1048576 are accepted"},
		{"corrupt gzip", corruptControl(t, good, offs[1]), "control.tar.gz is corrupt"},
		{"control bz2", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", ControlName: "control.tar.bz2"}), `the control member "control.tar.bz2" uses a compression dpkg cannot read there`},
		{"data tarx", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", DataName: "data.tarx"}), `the data member "data.tarx" uses a compression dpkg does not know`},
		{"member before control", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", Members: []debtest.Member{{Name: "extra", Before: "control"}}}), `unexpected ar member "extra" at offset 72 before control.tar`},
		{"member before data", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", Members: []debtest.Member{{Name: "extra", Before: "data"}}}), `unexpected ar member "extra"`},
		{"second debian-binary", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", Members: []debtest.Member{{Name: "debian-binary", Data: []byte("2.0\n"), Before: "control"}}}), `unexpected ar member "debian-binary"`},
		{"empty data member", build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64", Data: []byte{}}), `the ar member "data.tar.gz" is empty`},
		{"user field of one character", ctl("Package: hello\nVersion: 1\nArchitecture: amd64\nX: y\n"), `user-defined field name "X" is too short`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := read(f, tt.data)
			if err == nil {
				t.Fatalf("Read succeeded: %+v", p)
			}
			if !errors.Is(err, repo.ErrBadPackage) {
				t.Fatalf("error %v does not wrap ErrBadPackage", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error message is %d bytes long", len(err.Error()))
			}
		})
	}
}

// corruptControl flips bytes in the middle of the control member's
// compressed data.
func corruptControl(t *testing.T, b []byte, memberOff int) []byte {
	t.Helper()
	c := bytes.Clone(b)
	for i := memberOff + 60 + 20; i < memberOff+60+40; i++ {
		c[i] ^= 0x55
	}
	return c
}

func TestReadSmallLimits(t *testing.T) {
	f := New(Config{Limits: Limits{ControlTar: 4096, Control: 1000, Name: 12, Version: 5}})
	tests := []struct {
		name string
		opts debtest.Options
		want string
	}{
		{"control tar", debtest.Options{Package: "hello", Version: "1", Arch: "amd64", Padding: 5000}, "control.tar.gz expands beyond 4096 bytes"},
		{"control tar xz index", debtest.Options{Package: "hello", Version: "1", Arch: "amd64", Padding: 5000, ControlCompression: "xz"}, "control.tar.xz expands beyond 4096 bytes"},
		{"control tar uncompressed", debtest.Options{Package: "hello", Version: "1", Arch: "amd64", Padding: 5000, ControlCompression: "none"}, "control.tar expands beyond 4096 bytes"},
		{"name", debtest.Options{Control: "Package: abcdefghijklm\nVersion: 1\nArchitecture: all\n"}, "at most 12 are allowed"},
		{"field name", debtest.Options{Control: "Package: abc\nVersion: 1\nArchitecture: all\nAbcdefghijklm: 1\n"}, "longer than 12 bytes"},
		{"version", debtest.Options{Control: "Package: abc\nVersion: 1.2.3.4\nArchitecture: all\n"}, "longer than 5 bytes"},
		{"control", debtest.Options{Control: "Package: abc\nVersion: 1\nArchitecture: all\nD: " + strings.Repeat("x", 1000) + "\n"}, "at most 1000 are accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := read(f, build(t, tt.opts))
			if !errors.Is(err, repo.ErrBadPackage) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want bad package containing %q", err, tt.want)
			}
		})
	}
}

func TestReadCanceled(t *testing.T) {
	f := New(Config{})
	b := build(t, debtest.Options{Package: "hello", Version: "1", Arch: "amd64"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Read(ctx, bytes.NewReader(b), int64(len(b)), sumsOf(b)); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// errReaderAt fails every read.
type errReaderAt struct{}

var errDisk = errors.New("disk on fire")

func (errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errDisk }

func TestReadIOError(t *testing.T) {
	_, err := New(Config{}).Read(context.Background(), errReaderAt{}, 1000, nil)
	if !errors.Is(err, errDisk) || errors.Is(err, repo.ErrBadPackage) {
		t.Fatalf("error %v, want the I/O error and not a bad package", err)
	}
}

// TestReadDpkgDeb reads packages built by the real dpkg-deb with every
// compression it offers.
func TestReadDpkgDeb(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		if isCI() {
			t.Fatal("dpkg-deb is required when CI=true")
		}
		t.Skip("dpkg-deb not installed")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	control := "Package: pier-dpkg\nVersion: 1:2.0~beta1-3\nArchitecture: amd64\nMaintainer: Pier Test <test@example.org>\n" +
		"Depends: libc6 (>= 2.34)\nSection: utils\nPriority: optional\nDescription: built by dpkg-deb\n" +
		" Long description line.\n .\n Second paragraph.\n"
	for path, data := range map[string]string{
		"DEBIAN/control":     control,
		"usr/bin/pier-dpkg":  "#!/bin/sh\n",
		"usr/share/doc/x/xx": "doc\n",
	} {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := New(Config{})
	for _, z := range []string{"gzip", "xz", "zstd", "none"} {
		t.Run(z, func(t *testing.T) {
			out := filepath.Join(dir, z+".deb")
			cmd := exec.Command("dpkg-deb", "--root-owner-group", "-Z"+z, "--build", root, out)
			if msg, err := cmd.CombinedOutput(); err != nil {
				if z == "zstd" && strings.Contains(string(msg), "zstd") {
					t.Skipf("this dpkg-deb cannot write zstd: %s", msg)
				}
				t.Fatalf("dpkg-deb: %v\n%s", err, msg)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !f.Sniff(b) {
				t.Error("Sniff = false")
			}
			p, err := read(f, b)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if p.Name != "pier-dpkg" || p.Version != "1:2.0~beta1-3" || p.Arch != "amd64" {
				t.Errorf("got %s %s %s", p.Name, p.Version, p.Arch)
			}
			var m Meta
			if err := m.UnmarshalBinary(p.Meta); err != nil {
				t.Fatal(err)
			}
			wantTail := "Description: built by dpkg-deb\n Long description line.\n .\n Second paragraph.\n"
			if m.Tail != wantTail {
				t.Errorf("Tail %q, want %q", m.Tail, wantTail)
			}
			wantHead := "Package: pier-dpkg\nArchitecture: amd64\nVersion: 1:2.0~beta1-3\nPriority: optional\nSection: utils\n" +
				"Maintainer: Pier Test <test@example.org>\nDepends: libc6 (>= 2.34)\n"
			if m.Head != wantHead {
				t.Errorf("Head %q, want %q", m.Head, wantHead)
			}
		})
	}
}

// TestReadFixtures reads the committed fixtures in testdata.
func TestReadFixtures(t *testing.T) {
	f := New(Config{})
	tests := []struct{ file, name, version, arch string }{
		{"hello_1.0-1_all.deb", "pier-hello", "1.0-1", "all"},
		{"hello-gz_1.0-1_amd64.deb", "pier-hello-gz", "1.0-1", "amd64"},
		{"hello-zst_1.0-1_arm64.deb", "pier-hello-zst", "1.0-1", "arm64"},
		{"hello-bz2_1.0-1_amd64.deb", "pier-hello-bz2", "1.0-1", "amd64"},
		{"hello-lzma_1.0-1_amd64.deb", "pier-hello-lzma", "1.0-1", "amd64"},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		p, err := read(f, b)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if p.Name != tt.name || p.Version != tt.version || p.Arch != tt.arch {
			t.Errorf("%s: got %s %s %s", tt.file, p.Name, p.Version, p.Arch)
		}
	}
}
