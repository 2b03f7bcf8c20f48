package deb

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/pierhq/pier/repo"
)

// Sniff reports whether head starts like a .deb: an ar archive whose first
// member is debian-binary, its name read as dpkg reads it (so that every
// file Read accepts is sniffed as a .deb), or like a source package's .dsc.
func (f *Format) Sniff(head []byte) bool {
	if len(head) < len(arMagic)+arHeaderSize || string(head[:len(arMagic)]) != arMagic {
		// A .changes is sniffed too, so that Read says where it goes.
		return sniffDSC(head) || sniffChanges(head)
	}
	return arName(head[len(arMagic):len(arMagic)+16]) == "debian-binary"
}

// Read parses the .deb in r (size bytes), or the source package's .dsc
// (see readSource; its Parsed lists the files it needs). sums must hold the digests listed
// in Digests; MD5 and SHA1 go into the package's Meta. Errors about the
// file's content wrap repo.ErrBadPackage and say what is wrong.
func (f *Format) Read(ctx context.Context, r io.ReaderAt, size int64, sums repo.Sums) (*repo.Parsed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size >= int64(len(arMagic)) {
		var magic [len(arMagic)]byte
		if err := readAt(r, magic[:], 0); err == nil && string(magic[:]) != arMagic {
			head := make([]byte, min(size, 4096))
			if err := readAt(r, head, 0); err == nil && len(headFields(head)) > 0 {
				if sniffChanges(head) {
					return nil, badf("this is a .changes file, not a package: upload it with every file it lists to the target's changes upload (pier push FILE.changes)")
				}
				return f.readSource(ctx, r, size, sums)
			}
		}
	}
	control, files, err := f.readDeb(ctx, r, size)
	if err != nil {
		return nil, err
	}
	fields, reason := parseStanza(control, f.cfg.Limits.Name)
	if reason != "" {
		return nil, repo.BadPackage(reason)
	}
	return f.parsed(fields, sums, files)
}

// parsed validates a control stanza and builds the Parsed record, with
// files, the paths the package installs. The name is recorded in lower
// case, as dpkg and apt read it.
func (f *Format) parsed(fields []field, sums repo.Sums, files []string) (*repo.Parsed, error) {
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
	if reason := packageNameProblem(name, lim.Name); reason != "" {
		return nil, repo.BadPackage(reason)
	}
	if reason := versionProblem(version, lim.Version); reason != "" {
		return nil, repo.BadPackage(reason)
	}
	if reason := archProblem(arch, lim.Name); reason != "" {
		return nil, repo.BadPackage(reason)
	}
	if reason := fieldsProblem(fields); reason != "" {
		return nil, repo.BadPackage(reason)
	}
	name = strings.ToLower(name)
	// The pool directory is named after the source package: "Source:
	// name" or "Source: name (version)". dpkg takes any text there; when
	// it is not a source package name, the binary package's name is used.
	source := name
	if v, ok := lookup(fields, "Source"); ok {
		src, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		if nameProblem("source name", src, lim.Name) == "" {
			source = src
		}
	}
	head, tail := splitStanza(fields)
	if files == nil {
		files = []string{}
	}
	m := Meta{Source: source, MD5: hexOrEmpty(sums[repo.MD5]), SHA1: hexOrEmpty(sums[repo.SHA1]), Head: head, Tail: tail, Files: files}
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

// readDeb walks the ar archive the way dpkg-deb does when dpkg installs a
// package (src/deb/extract.c, extracthalf, run once for the control member
// and once for the data member): debian-binary first, then control.tar*,
// then data.tar*, with members whose names start with '_' allowed in
// between and skipped. Members after data.tar* are never read. It returns
// the control file and the paths the package installs, after checking
// that the data member decompresses to a well-formed tar archive.
func (f *Format) readDeb(ctx context.Context, r io.ReaderAt, size int64) ([]byte, []string, error) {
	switch {
	case size == 0:
		return nil, nil, badf("not a .deb: the file is empty")
	case size < int64(len(arMagic)):
		return nil, nil, badf("not a .deb: the file is only %d bytes long", size)
	}
	var magic [len(arMagic)]byte
	if err := readAt(r, magic[:], 0); err != nil {
		return nil, nil, readError("ar signature", 0, err)
	}
	if string(magic[:]) != arMagic {
		return nil, nil, badf("not a .deb: the file is not an ar archive (no %q signature)", strings.TrimSpace(arMagic))
	}

	m, off, err := readArMember(r, size, int64(len(arMagic)))
	if err != nil {
		return nil, nil, err
	}
	if m.name != "debian-binary" {
		return nil, nil, badf("not a .deb: the first ar member is %q, not \"debian-binary\" (dpkg-deb: \"not a Debian binary archive\")", clip(m.name))
	}
	if err := wholeMember(m, size); err != nil {
		return nil, nil, err
	}
	if err := checkDebianBinary(r, m); err != nil {
		return nil, nil, err
	}

	var control []byte
	for haveControl := false; ; {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if off >= size {
			if !haveControl {
				return nil, nil, badf("not a .deb: no control.tar member")
			}
			return nil, nil, badf("not a .deb: no data.tar member")
		}
		m, off, err = readArMember(r, size, off)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case strings.HasPrefix(m.name, "_"):
			continue
		case strings.HasPrefix(m.name, "control.tar"):
			if haveControl {
				return nil, nil, badf("not a .deb: a second control member %q at offset %d (dpkg-deb: \"contains two control members\")", clip(m.name), m.header)
			}
			comp, ok := compressionByExt(m.name[len("control.tar"):])
			if !ok || comp == compBzip2 || comp == compLZMA {
				return nil, nil, badf("not a .deb: the control member %q uses a compression dpkg cannot read there (want control.tar, control.tar.gz, control.tar.xz or control.tar.zst)", clip(m.name))
			}
			if err := tarMember(m, size); err != nil {
				return nil, nil, err
			}
			if control, err = f.readControlTar(ctx, r, m, comp); err != nil {
				return nil, nil, err
			}
			haveControl = true
		case !haveControl:
			return nil, nil, badf("not a .deb: unexpected ar member %q at offset %d before control.tar (dpkg-deb: \"has premature member\")", clip(m.name), m.header)
		case strings.HasPrefix(m.name, "data.tar"):
			comp, ok := compressionByExt(m.name[len("data.tar"):])
			if !ok {
				return nil, nil, badf("not a .deb: the data member %q uses a compression dpkg does not know (want data.tar, data.tar.gz, .xz, .zst, .bz2 or .lzma)", clip(m.name))
			}
			if err := tarMember(m, size); err != nil {
				return nil, nil, err
			}
			files, err := f.checkData(ctx, r, m, comp)
			if err != nil {
				return nil, nil, err
			}
			return control, files, nil
		default:
			return nil, nil, badf("not a .deb: unexpected ar member %q at offset %d before data.tar (dpkg-deb: \"has premature member\")", clip(m.name), m.header)
		}
	}
}

// tarMember checks that a control or data member is whole and not empty:
// dpkg-deb (newer than Debian 12's) refuses a zero-sized tar member.
func tarMember(m arMember, size int64) error {
	if m.size == 0 {
		return badf("not a .deb: the ar member %q is empty (dpkg-deb: \"has zero sized tar member\")", clip(m.name))
	}
	return wholeMember(m, size)
}

// checkDebianBinary checks the format version member the way dpkg-deb
// does (deb_version_parse): the member must hold a newline, and what comes
// before the first one must be "<major>.<minor>" in decimal with major 2.
// Anything after that newline is ignored ("2.0\n" plus more lines is
// fine).
func checkDebianBinary(r io.ReaderAt, m arMember) error {
	br := bufio.NewReaderSize(m.section(r), 64)
	const intMax = 1<<31 - 1
	var major, minor int64
	var majorDigits, minorDigits int
	inMinor := false
	for {
		c, err := br.ReadByte()
		if err == io.EOF || c == 0 {
			return badf("the debian-binary member has no newline; it should hold \"2.0\\n\" (dpkg-deb: \"archive has no newlines in header\")")
		}
		if err != nil {
			return readError("debian-binary", m.offset, err)
		}
		switch {
		case isDigit(c) && !inMinor:
			if major = major*10 + int64(c-'0'); major > intMax {
				return badf("the debian-binary member has a format version with a too big major number")
			}
			majorDigits++
			continue
		case isDigit(c):
			if minor = minor*10 + int64(c-'0'); minor > intMax {
				return badf("the debian-binary member has a format version with a too big minor number")
			}
			minorDigits++
			continue
		case !inMinor && c == '.' && majorDigits > 0:
			inMinor = true
			continue
		case inMinor && c == '\n' && minorDigits > 0:
			if major != 2 {
				return badf("unsupported .deb format version %d.%d in debian-binary (dpkg reads 2.x)", major, minor)
			}
			return nil
		}
		return badf("the debian-binary member does not start with a format version \"<major>.<minor>\\n\" such as \"2.0\\n\" (dpkg-deb: \"archive has invalid format version\")")
	}
}

// checkData decompresses the whole data member and reads its tar archive
// to the end, as dpkg does when it unpacks the package, and returns the
// paths the package installs.
func (f *Format) checkData(ctx context.Context, r io.ReaderAt, m arMember, comp compression) ([]string, error) {
	s, err := openTar(ctx, &f.dec, r, m, comp, f.cfg.Limits.DataTar, "limits.data_tar")
	if err != nil {
		return nil, err
	}
	defer s.Close()
	// The walker reads 512-byte headers: buffer the decoder's output so
	// that it decodes in large runs, with buffers sized to the member (a
	// small package should not pay for large ones).
	size := min(max(m.size*8, 16<<10), 256<<10)
	buf := make([]byte, min(size, 64<<10))
	files, ended, err := walkDataTar(bufio.NewReaderSize(s, int(size)), m.name, buf, f.cfg.Limits.FileList)
	if err != nil {
		return nil, err
	}
	if !ended && s.trailing {
		return nil, badf("%s: the tar archive stops at the end of the first %s stream without an end-of-archive block, and more data follows in the member; dpkg reads only the first stream and would install part of the package (usual cause: a compressor that writes several streams, such as pzstd)",
			m.name, comp)
	}
	if err := s.drain(buf); err != nil {
		return nil, err
	}
	return files, nil
}

// readControlTar decompresses the control member and returns its control
// file. It reads the whole tar, so that every entry name and the total size
// are checked.
func (f *Format) readControlTar(ctx context.Context, r io.ReaderAt, m arMember, comp compression) ([]byte, error) {
	lim := f.cfg.Limits
	s, err := openTar(ctx, &f.dec, r, m, comp, lim.ControlTar, "limits.control_tar")
	if err != nil {
		return nil, err
	}
	defer s.Close()
	tr := tar.NewReader(s)
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
			return nil, tarError(s, err)
		}
		name, err := checkControlEntry(m.name, hdr)
		if err != nil {
			return nil, err
		}
		if name != "control" {
			continue
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeCont {
			return nil, badf("%s: the control entry %q is not a regular file (a link or special file; Pier reads the control file from the package itself)", m.name, clip(hdr.Name))
		}
		if hdr.Size > lim.Control {
			return nil, badf("the control file is %d bytes long; at most %d are accepted (limits.control)", hdr.Size, lim.Control)
		}
		// GNU tar, which dpkg-deb runs to unpack the control member, lets
		// a later entry of the same name replace an earlier one.
		found = true
		if control, err = io.ReadAll(tr); err != nil {
			return nil, tarError(s, err)
		}
	}
	if !found {
		return nil, badf("%s has no control file", m.name)
	}
	if err := s.drain(make([]byte, 4<<10)); err != nil {
		return nil, err
	}
	return control, nil
}

// checkControlEntry checks a control member entry the way dpkg unpacks
// the control member (dpkg-deb --control runs GNU tar, then dpkg moves
// each file into its database, src/main/unpack.c) and returns its name
// relative to the control directory ("control" for "./control").
func checkControlEntry(member string, hdr *tar.Header) (string, error) {
	name := hdr.Name
	if name == "" {
		return "", badf("%s has an entry with an empty name", member)
	}
	if hasDotDot(name) {
		return "", badf("%s: entry %q points outside the archive (path traversal; GNU tar, which dpkg-deb runs, refuses it)", member, clip(name))
	}
	// GNU tar strips leading slashes.
	clean := path.Clean(strings.TrimLeft(name, "/"))
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeCont, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo, tar.TypeXGlobalHeader:
	default:
		return "", badf("%s: entry %q has tar type %q, which Pier does not accept in the control member", member, clip(name), string(hdr.Typeflag))
	}
	switch {
	case hdr.Typeflag == tar.TypeXGlobalHeader:
		return "", nil
	case clean == "." && hdr.Typeflag == tar.TypeDir:
		return clean, nil
	case clean == "." || hdr.Typeflag == tar.TypeDir || strings.Contains(clean, "/"):
		return "", badf("%s: entry %q makes a directory inside the control area; dpkg refuses to install such a package (\"package control info contained directory\")", member, clip(name))
	case !strings.Contains(clean, ".") && len(clean) > maxControlName:
		return "", badf("%s: control file name %q is longer than %d bytes (dpkg: \"package contains overly-long control info file name\")", member, clip(clean), maxControlName)
	}
	return clean, nil
}

// maxControlName is dpkg's MAXCONTROLFILENAME: longer control file names
// without a dot fail the install.
const maxControlName = 100

// tarError turns an error from reading control.tar through s into a
// package error; errors the tarStream already decided (a bad package, an
// I/O failure, a cancelled context) pass through.
func tarError(s *tarStream, err error) error {
	var bad *repo.BadPackageError
	switch {
	case s.src.err != nil, errors.As(err, &bad), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case err == io.ErrUnexpectedEOF:
		return badf("%s: the tar archive is truncated", s.member)
	}
	return badf("%s: the tar archive is corrupt: %v", s.member, err)
}

// badf returns a repo.BadPackage error with a formatted reason.
func badf(format string, args ...any) error {
	return repo.BadPackage(fmt.Sprintf(format, args...))
}
