package deb

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierhq/pier/repo"
	"github.com/ulikunitz/xz"
)

// Sniff reports whether head starts like a .deb: an ar archive whose first
// member is debian-binary.
func (f *Format) Sniff(head []byte) bool {
	if len(head) < len(arMagic)+arHeaderSize || string(head[:len(arMagic)]) != arMagic {
		return false
	}
	name := strings.TrimRight(string(head[len(arMagic):len(arMagic)+16]), " ")
	return name == "debian-binary" || name == "debian-binary/"
}

// Read parses the .deb in r (size bytes). sums must hold the digests listed
// in Digests; MD5 and SHA1 go into the package's Meta. Errors about the
// file's content wrap repo.ErrBadPackage and say what is wrong.
func (f *Format) Read(ctx context.Context, r io.ReaderAt, size int64, sums repo.Sums) (*repo.Parsed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	control, err := f.readControlFile(ctx, r, size)
	if err != nil {
		return nil, err
	}
	fields, reason := parseStanza(control, f.cfg.Limits.Name)
	if reason != "" {
		return nil, repo.BadPackage(reason)
	}
	return f.parsed(fields, sums)
}

// parsed validates a control stanza and builds the Parsed record.
func (f *Format) parsed(fields []field, sums repo.Sums) (*repo.Parsed, error) {
	lim := f.cfg.Limits
	required := [3]string{"Package", "Version", "Architecture"}
	var values [3]string
	for i, name := range required {
		v, ok := lookup(fields, name)
		switch {
		case !ok:
			return nil, badf("control file has no %s field", name)
		case v == "":
			return nil, badf("control file has an empty %s field", name)
		}
		values[i] = v
	}
	name, version, arch := values[0], values[1], values[2]
	if reason := nameProblem("package name", name, lim.Name); reason != "" {
		return nil, repo.BadPackage(reason)
	}
	if reason := versionProblem(version, lim.Version); reason != "" {
		return nil, repo.BadPackage(reason)
	}
	if reason := archProblem(arch, lim.Name); reason != "" {
		return nil, repo.BadPackage(reason)
	}
	source := name
	if v, ok := lookup(fields, "Source"); ok {
		// "Source: name" or "Source: name (version)".
		src, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		if reason := nameProblem("source name", src, lim.Name); reason != "" {
			return nil, badf("Source field: %s", reason)
		}
		source = src
	}
	head, tail := splitStanza(fields)
	m := Meta{Source: source, MD5: hexOrEmpty(sums[repo.MD5]), SHA1: hexOrEmpty(sums[repo.SHA1]), Head: head, Tail: tail}
	meta, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &repo.Parsed{Name: name, Version: version, Arch: arch, Meta: meta}, nil
}

// splitStanza renders the control fields in apt-ftparchive order, without
// the fields the generator writes, split around the generated ones.
func splitStanza(fields []field) (head, tail string) {
	type ranked struct {
		rank int
		f    field
	}
	rs := make([]ranked, 0, len(fields))
	for _, f := range fields {
		rank, canonical := fieldRank(strings.ToLower(f.Name))
		if rank == rankDrop {
			continue
		}
		if canonical != "" {
			f.Name = canonical
		}
		rs = append(rs, ranked{rank, f})
	}
	slices.SortStableFunc(rs, func(a, b ranked) int { return a.rank - b.rank })
	var h, t []byte
	for _, r := range rs {
		if r.rank < rankFilename {
			h = appendField(h, r.f.Name, r.f.Value)
		} else {
			t = appendField(t, r.f.Name, r.f.Value)
		}
	}
	return string(h), string(t)
}

// hexOrEmpty returns s if it is lower-case hex, else "".
func hexOrEmpty(s string) string {
	if !isHex(s) {
		return ""
	}
	return s
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// readControlFile walks the ar archive and returns the control file from
// the control.tar member.
func (f *Format) readControlFile(ctx context.Context, r io.ReaderAt, size int64) ([]byte, error) {
	switch {
	case size == 0:
		return nil, badf("not a .deb: the file is empty")
	case size < int64(len(arMagic)):
		return nil, badf("not a .deb: the file is only %d bytes long", size)
	}
	var magic [len(arMagic)]byte
	if err := readAt(r, magic[:], 0); err != nil {
		return nil, readError("ar signature", 0, err)
	}
	if string(magic[:]) != arMagic {
		return nil, badf("not a .deb: the file is not an ar archive (no %q signature)", strings.TrimSpace(arMagic))
	}

	// debian-binary comes first (deb(5)).
	m, off, err := readArMember(r, size, int64(len(arMagic)))
	if err != nil {
		return nil, err
	}
	if m.name != "debian-binary" {
		return nil, badf("not a .deb: the first ar member is %q, not \"debian-binary\"", clip(m.name))
	}
	if err := checkDebianBinary(r, m); err != nil {
		return nil, err
	}

	// Then control.tar*, then data.tar*; members whose names start with
	// '_' may come in between and are ignored, as dpkg does.
	var control []byte
	for haveControl := false; ; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if off >= size {
			if !haveControl {
				return nil, badf("not a .deb: no control.tar member")
			}
			return nil, badf("not a .deb: no data.tar member")
		}
		m, off, err = readArMember(r, size, off)
		if err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(m.name, "_"):
			continue
		case !haveControl && strings.HasPrefix(m.name, "control.tar"):
			control, err = f.readControlTar(ctx, r, m)
			if err != nil {
				return nil, err
			}
			haveControl = true
		case !haveControl:
			return nil, badf("not a .deb: unexpected ar member %q at offset %d (expected control.tar)", clip(m.name), m.header)
		case isDataMember(m.name):
			return control, nil
		case strings.HasPrefix(m.name, "control.tar"):
			return nil, badf("not a .deb: a second control member %q at offset %d", clip(m.name), m.header)
		default:
			return nil, badf("not a .deb: unexpected ar member %q at offset %d (expected data.tar)", clip(m.name), m.header)
		}
	}
}

// checkDebianBinary checks the format version member: "2.x".
func checkDebianBinary(r io.ReaderAt, m arMember) error {
	const max = 64
	if m.size > max {
		return badf("not a .deb: the debian-binary member is %d bytes long; it should hold just \"2.0\"", m.size)
	}
	b := make([]byte, m.size)
	if err := readAt(r, b, m.offset); err != nil {
		return readError("debian-binary", m.offset, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	major, minor, ok := strings.Cut(line, ".")
	if !ok || major != "2" || minor == "" || !allDigits(minor) {
		return badf("unsupported .deb format version %q in debian-binary (want 2.x)", clip(line))
	}
	return nil
}

func isDataMember(name string) bool {
	switch name {
	case "data.tar", "data.tar.gz", "data.tar.xz", "data.tar.zst", "data.tar.bz2", "data.tar.lzma":
		return true
	}
	return false
}

// errTooBig is returned by limitReader past its limit.
type errTooBig struct{ limit int64 }

func (e *errTooBig) Error() string {
	return fmt.Sprintf("control.tar expands beyond %d bytes", e.limit)
}

// limitReader fails with errTooBig when more than limit bytes come out of r.
type limitReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if rest := l.limit - l.n + 1; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.limit {
		return n, &errTooBig{l.limit}
	}
	return n, err
}

// readControlTar decompresses the control member and returns its control
// file. It reads the whole tar, so that every entry name and the total size
// are checked.
func (f *Format) readControlTar(ctx context.Context, r io.ReaderAt, m arMember) ([]byte, error) {
	lim := f.cfg.Limits
	dec, closeDec, err := openControl(r, m, lim.ControlTar)
	if err != nil {
		return nil, err
	}
	defer closeDec()
	tr := tar.NewReader(&limitReader{r: dec, limit: lim.ControlTar})
	var control []byte
	found := false
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, tarError(m.name, err)
		}
		name, err := checkEntry(hdr)
		if err != nil {
			return nil, err
		}
		if name != "control" {
			continue
		}
		switch {
		case hdr.Typeflag != tar.TypeReg:
			return nil, badf("control.tar: the control entry %q is not a regular file", clip(hdr.Name))
		case found:
			return nil, badf("control.tar has two control files")
		case hdr.Size > lim.Control:
			return nil, badf("the control file is %d bytes long; at most %d are accepted", hdr.Size, lim.Control)
		}
		found = true
		if control, err = io.ReadAll(tr); err != nil {
			return nil, tarError(m.name, err)
		}
	}
	if !found {
		return nil, badf("control.tar has no control file")
	}
	return control, nil
}

// zstdMaxWindow bounds the window a control.tar.zst may ask the decoder to
// allocate (zstd --ultra -22 uses 128 MiB; dpkg-deb never more than 8 MiB
// for a control member).
const zstdMaxWindow = 64 << 20

// openControl returns a reader of the control member's uncompressed tar
// and a function that releases the decompressor. maxOut bounds what the xz
// container may declare.
func openControl(r io.ReaderAt, m arMember, maxOut int64) (io.Reader, func(), error) {
	nop := func() {}
	sec := m.section(r)
	switch m.name {
	case "control.tar":
		return sec, nop, nil
	case "control.tar.gz":
		zr, err := gzip.NewReader(sec)
		if err != nil {
			return nil, nil, decompressError(m.name, err)
		}
		return zr, func() { zr.Close() }, nil
	case "control.tar.xz":
		reason, err := checkXZ(sec, m.size, maxOut)
		switch {
		case err != nil:
			return nil, nil, readError(m.name, m.offset, err)
		case strings.HasPrefix(reason, "control.tar expands"):
			return nil, nil, repo.BadPackage(reason)
		case reason != "":
			return nil, nil, badf("%s is not a valid xz file: %s", m.name, reason)
		}
		zr, err := xz.ReaderConfig{DictCap: 4096}.NewReader(sec)
		if err != nil {
			return nil, nil, decompressError(m.name, err)
		}
		return zr, nop, nil
	case "control.tar.zst":
		zr, err := zstd.NewReader(sec,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
			zstd.WithDecoderMaxMemory(uint64(maxOut)+1))
		if err != nil {
			return nil, nil, decompressError(m.name, err)
		}
		return zr, zr.Close, nil
	}
	return nil, nil, badf("not a .deb: unsupported control member %q (want control.tar, control.tar.gz, control.tar.xz or control.tar.zst)", clip(m.name))
}

// checkEntry checks a control.tar entry and returns its cleaned name
// ("control" for "./control").
func checkEntry(hdr *tar.Header) (string, error) {
	name := hdr.Name
	if name == "" {
		return "", badf("control.tar has an entry with an empty name")
	}
	if strings.HasPrefix(name, "/") {
		return "", badf("control.tar entry %q has an absolute path", clip(name))
	}
	if slices.Contains(strings.Split(name, "/"), "..") || strings.Contains(name, `\`) {
		return "", badf("control.tar entry %q points outside the archive (path traversal)", clip(name))
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeDir, tar.TypeXGlobalHeader:
	case tar.TypeSymlink, tar.TypeLink:
		return "", badf("control.tar entry %q is a link (to %q); only regular files and directories are allowed", clip(name), clip(hdr.Linkname))
	default:
		return "", badf("control.tar entry %q has type %q; only regular files and directories are allowed", clip(name), string(hdr.Typeflag))
	}
	return path.Clean(strings.TrimPrefix(name, "./")), nil
}

// tarError turns an error from reading control.tar into a package error.
func tarError(member string, err error) error {
	var big *errTooBig
	if errors.As(err, &big) {
		return repo.BadPackage(big.Error())
	}
	if err == io.ErrUnexpectedEOF {
		return badf("%s is truncated", member)
	}
	return badf("%s is corrupt: %v", member, err)
}

// decompressError turns an error from opening a decompressor into a package
// error.
func decompressError(member string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return badf("%s is truncated", member)
	}
	return badf("%s is corrupt: %v", member, err)
}

// badf returns a repo.BadPackage error with a formatted reason.
func badf(format string, args ...any) error {
	return repo.BadPackage(fmt.Sprintf(format, args...))
}
