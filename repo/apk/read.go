package apk

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/pierhq/pier/repo"
)

// Sniff reports whether head starts like an apk v2 package: a gzip member
// whose tar stream begins with a ".SIGN.*" signature or with ".PKGINFO".
// When head is too short to tell, the gzip magic decides. apk v3 (ADB)
// packages are claimed too, so that Read can say why they are refused.
func (f *Format) Sniff(head []byte) bool {
	if bytes.HasPrefix(head, []byte(adbMagic)) {
		return true
	}
	if len(head) < 2 || head[0] != 0x1f || head[1] != 0x8b {
		return false
	}
	z, err := gzip.NewReader(bytes.NewReader(head))
	if err != nil {
		return errors.Is(err, io.ErrUnexpectedEOF)
	}
	var blk [512]byte
	for n := 0; n < 100; {
		m, err := z.Read(blk[n:])
		n += m
		if err != nil && n < 100 {
			// A truncated head cannot tell; a member that ends (io.EOF) or
			// fails before a tar header name is not an apk.
			return errors.Is(err, io.ErrUnexpectedEOF)
		}
	}
	name := string(blk[:100])
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	// Pax headers come first in some writers (abuild-sign runs GNU tar in
	// posix format); their names still mention the entry
	// ("./PaxHeaders/.SIGN.RSA.…").
	return strings.Contains(name, ".SIGN.") || strings.Contains(name, ".PKGINFO")
}

// errTooBig is returned past a decompression limit.
var errTooBig = errors.New("over the size limit")

// pkgReader holds the state of one Read. It reads a package the way
// apk-tools 2.14 does when it installs one (src/package.c apk_pkg_read and
// database.c apk_db_unpack_pkg): every gzip member is decompressed into one
// tar stream (src/io_gunzip.c), the tar stream is walked like
// apk_tar_parse, and the member boundaries drive the signature context
// (apk_sign_ctx_mpart_cb): which bytes the identity C: and the datahash
// cover, where the control part ends and the data starts.
type pkgReader struct {
	ctx  context.Context
	cfg  *Config
	src  *source
	size int64
	z    gzip.Reader
	buf  []byte

	// The member stream.
	member      int   // 1-based number of the current (or last) member
	memberStart int64 // file offset where it starts
	inMember    bool
	finished    bool
	ctlBytes    int64 // decompressed bytes before the data started (the stream offset where it starts)
	dataBytes   int64 // decompressed bytes after

	// The signature context (apk_sign_ctx).
	controlStarted bool
	dataStarted    bool
	endSeen        bool
	dataVerified   bool
	dataMember     int       // member the data started in
	id             hash.Hash // sha1: the identity C:
	data           hash.Hash // sha256 of the data members, with datahash
	identity       []byte
	sink           hashSink

	info       pkgInfo
	sawPkgInfo bool
	files      map[string]struct{} // non-directory data entries, for hard links
	dirs       map[string]struct{} // directory data entries, without the trailing "/"
}

// maxDataEntries bounds the names Pier remembers to check hard links.
const maxDataEntries = 1 << 21

// hashSink sends the compressed bytes the source consumes to the digests
// apk-tools updates with them (apk_sign_ctx_mpart_cb, APK_MPART_DATA).
type hashSink struct{ pr *pkgReader }

func (h hashSink) Write(p []byte) (int, error) {
	pr := h.pr
	if !pr.info.hasDataHash || !pr.dataStarted {
		pr.id.Write(p)
	}
	if pr.data != nil {
		pr.data.Write(p)
	}
	return len(p), nil
}

// Read parses an apk v2 package (FORMATS.md 3.2) as apk-tools 2.14 reads
// it; see pkgReader. It computes the identity C: over the exact compressed
// bytes apk hashes and checks the datahash. Meta is the package's APKINDEX
// stanza, see Format.
func (f *Format) Read(ctx context.Context, r io.ReaderAt, size int64, _ repo.Sums) (*repo.Parsed, error) {
	pr := &pkgReader{ctx: ctx, cfg: &f.cfg, src: newSource(r, size), size: size, buf: make([]byte, 32<<10),
		id: sha1.New(), files: map[string]struct{}{}, dirs: map[string]struct{}{}}
	pr.sink = hashSink{pr}
	if err := pr.read(); err != nil {
		return nil, err
	}
	checksum := "Q1" + base64.StdEncoding.EncodeToString(pr.identity)
	return &repo.Parsed{
		Name:    pr.info.name,
		Version: pr.info.version,
		Arch:    pr.info.arch,
		Meta:    pr.info.stanza(checksum, size),
	}, nil
}

// adbMagic starts apk v3 files (apk-tools 3 src/adb.h).
const adbMagic = "ADB"

// apkStreamError is a package apk-tools refuses while reading its stream;
// it becomes a bad package.
type apkStreamError struct{ msg string }

func (e *apkStreamError) Error() string { return e.msg }

func streamErr(format string, args ...any) error {
	return &apkStreamError{fmt.Sprintf(format, args...)}
}

func (pr *pkgReader) read() error {
	if pr.size <= 0 {
		return repo.BadPackage("the file is empty")
	}
	var head [3]byte
	if n, _ := pr.src.ra.ReadAt(head[:], 0); n == len(head) && string(head[:]) == adbMagic {
		return repo.BadPackage("this is an apk v3 (ADB) package; Pier publishes apk v2 repositories, which apk 2 and 3 both read: build a v2 package (abuild, nfpm, melange)")
	}
	pr.src.setSink(pr.sink)
	w := &tarWalker{r: pr, maxExt: pr.cfg.MaxPkgInfoSize, buf: pr.buf}
	err := w.walk(pr.entry)
	if err == nil && !pr.finished {
		// The walk stopped before the end of the stream; apk reads on to
		// the end of the file (apk_tar_parse's trailer loop never stops
		// early without an error), so this cannot happen.
		err = streamErr("the tar stream stops before the end of the file")
	}
	if err != nil {
		return pr.fail(err)
	}
	// apk_sign_ctx_status: the whole file was read; the data must have
	// been verified.
	if !pr.dataVerified {
		return repo.BadPackage("the package has no data stream: the file ends with the control stream's gzip member, but .PKGINFO has a datahash for a data stream (apk-tools: \"BAD archive\")")
	}
	if !pr.sawPkgInfo {
		return repo.BadPackage("the control stream has no .PKGINFO (apk-tools refuses a package without a name: ENOTSUP)")
	}
	if err := pr.info.check(pr.cfg.MaxNameLength); err != nil {
		return repo.BadPackage(err.Error())
	}
	return nil
}

// Read implements io.Reader over the decompressed stream of every gzip
// member in turn, calling boundary between members and at the end, when
// the consumer asks for bytes past a member's end, as apk's gzip stream
// does (src/io_gunzip.c gzi_read).
func (pr *pkgReader) Read(p []byte) (int, error) {
	if err := pr.ctx.Err(); err != nil {
		return 0, err
	}
	for {
		if pr.finished {
			return 0, io.EOF
		}
		if !pr.inMember {
			if pr.member > 0 {
				end := pr.src.offset() >= pr.size
				if err := pr.boundary(end); err != nil {
					return 0, err
				}
				if end {
					pr.finished = true
					return 0, io.EOF
				}
			}
			pr.member++
			pr.memberStart = pr.src.offset()
			if err := pr.z.Reset(pr.src); err != nil {
				return 0, pr.gzipErr(err)
			}
			pr.z.Multistream(false)
			pr.inMember = true
		}
		n, err := pr.z.Read(p)
		if pr.dataStarted {
			pr.dataBytes += int64(n)
			if pr.dataBytes > pr.cfg.MaxDataSize {
				return 0, errTooBig
			}
		} else {
			pr.ctlBytes += int64(n)
			if pr.ctlBytes > pr.cfg.MaxControlSize {
				return 0, errTooBig
			}
		}
		if err == io.EOF {
			pr.inMember = false
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, pr.gzipErr(err)
		}
		return n, nil
	}
}

// gzipErr explains a gzip error of the current member.
func (pr *pkgReader) gzipErr(err error) error {
	if pr.src.err != nil || pr.ctx.Err() != nil {
		return err
	}
	where := fmt.Sprintf("gzip member %d (at byte %d)", pr.member, pr.memberStart)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return streamErr("%s: unexpected end of file (truncated package)", where)
	case errors.Is(err, gzip.ErrChecksum):
		return streamErr("%s: gzip checksum mismatch (corrupt package)", where)
	case errors.Is(err, gzip.ErrHeader) && pr.member > 1:
		return streamErr("%s: the bytes after gzip member %d are not gzip data (apk-tools: \"package file format error\")", where, pr.member-1)
	case errors.Is(err, gzip.ErrHeader):
		return streamErr("%s: not a gzip stream", where)
	}
	return streamErr("%s: %v", where, err)
}

// boundary mirrors apk_sign_ctx_mpart_cb at the end of a gzip member (end
// set: the end of the file). It flushes the member's compressed bytes to
// the digests first.
func (pr *pkgReader) boundary(end bool) error {
	pr.src.setSink(pr.sink)
	if !end && pr.dataStarted {
		return nil // data in several members: apk warns and goes on
	}
	if end {
		pr.endSeen = true
	}
	if !pr.controlStarted {
		if end {
			return streamErr("the package holds only signature entries (.SIGN.*): it has no control stream with a .PKGINFO and no data (apk-tools: \"BAD signature\")")
		}
		pr.id.Reset() // a signature member: the identity starts after it
		return nil
	}
	endOfControl := !pr.dataStarted
	pr.dataStarted = true
	if endOfControl {
		pr.dataMember = pr.member + 1
	}
	if !pr.info.hasDataHash && endOfControl && !end {
		return nil // no datahash: the identity covers the data too
	}
	if pr.info.hasDataHash && !endOfControl {
		got := pr.data.Sum(nil)
		if pr.info.badDataHash || !bytes.Equal(got, pr.info.dataHash[:]) {
			return streamErr(".PKGINFO datahash %q does not match the data stream, whose sha256 is %x: the package is corrupt or was changed after it was built (apk-tools refuses it: \"BAD signature\")", pr.info.dataHashRaw, got)
		}
		pr.dataVerified = true
		return nil
	}
	pr.identity = pr.id.Sum(nil)
	if !pr.info.hasDataHash && end {
		pr.dataVerified = true
	}
	if pr.info.hasDataHash {
		pr.data = sha256.New()
	}
	return nil
}

// entry handles one tar entry as apk_sign_ctx_process_file,
// read_info_entry and apk_db_install_archive_entry do.
func (pr *pkgReader) entry(e *tarItem, body io.Reader) error {
	if !pr.dataStarted {
		if e.name == "" || e.name[0] != '.' || strings.Contains(e.name, "/") {
			return streamErr("tar entry %q is in the control part of the package (gzip member %d): apk-tools ends the control part only where a gzip member ends, and refuses a file there that is not a top-level dot file (%s). The control stream (.PKGINFO and scripts) must be a gzip member of its own, the data in the members after it", e.name, pr.member, map[bool]string{true: "\"archive does not contain expected data\"", false: "\"BAD signature\" when installing from a repository"}[pr.info.hasDataHash])
		}
		if !pr.controlStarted && !strings.HasPrefix(e.name, ".SIGN.") {
			pr.controlStarted = true
		}
		if pr.controlStarted && e.name == ".PKGINFO" {
			return pr.pkgInfo(e, body)
		}
		return nil
	}
	return pr.dataEntry(e)
}

// pkgInfo parses a .PKGINFO entry of the control part; apk reads every
// one, later lines overriding earlier ones.
func (pr *pkgReader) pkgInfo(e *tarItem, body io.Reader) error {
	if e.size > pr.cfg.MaxPkgInfoSize {
		return streamErr(".PKGINFO is %d bytes, more than the limit of %d (max_pkginfo_size)", e.size, pr.cfg.MaxPkgInfoSize)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	pr.sawPkgInfo = true
	if err := pr.info.add(data); err != nil {
		return streamErr("%s", err.Error())
	}
	return nil
}

// dataEntry applies the checks apk-tools makes when it installs a data
// entry (database.c apk_db_install_archive_entry): names starting with "."
// are skipped (not installed); an absolute name, one with a "/./" or
// "/../" element or a control character is "malicious" and fails the
// install; a hard link must point to a file installed before it from this
// package.
func (pr *pkgReader) dataEntry(e *tarItem) error {
	if e.name != "" && e.name[0] == '.' {
		return nil
	}
	switch {
	case strings.HasPrefix(e.name, "/"):
		return streamErr("data stream tar entry %q: an absolute name; apk-tools refuses to install it (\"ignoring malicious file\") and fails the install", e.name)
	case strings.Contains(e.name, "/../") || strings.Contains(e.name, "/./"):
		return streamErr("data stream tar entry %q: a name with a \"..\" or \".\" element (path traversal); apk-tools refuses to install it (\"ignoring malicious file\") and fails the install", e.name)
	case strings.IndexFunc(e.name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return streamErr("data stream tar entry %q: a name with a control character; apk-tools refuses to install it (\"ignoring malicious file\") and fails the install", e.name)
	}
	if e.typeflag == '1' {
		if _, ok := pr.files[e.link]; !ok {
			return streamErr("data stream tar entry %q: a hard link to %q, which is not a file earlier in this package; apk-tools links only to files it installed from the same package and fails the install otherwise", e.name, e.link)
		}
	}
	if e.isDir() {
		if len(pr.dirs) >= maxDataEntries {
			return streamErr("the data stream has more than %d folders (Pier's limit)", maxDataEntries)
		}
		pr.dirs[strings.TrimSuffix(e.name, "/")] = struct{}{}
		return nil
	}
	// apk_db_install_archive_entry: a file goes into a folder this package
	// listed before it (find_diri over the package's own folders), else
	// "no dirent in archive" and the install fails; .keep_* files are
	// skipped first.
	if dir, base, ok := cutLast(e.name, "/"); ok && !strings.HasPrefix(base, ".keep_") {
		if _, listed := pr.dirs[dir]; !listed {
			return streamErr("data stream tar entry %q: its folder %q has no entry before it in the package; apk-tools installs a file only into a folder the package lists first (\"no dirent in archive\") and fails the install; add the folder (abuild and nfpm write every parent folder; for a hand-made tar, list folders before their files)", e.name, dir)
		}
	}
	if !e.isDir() {
		if len(pr.files) >= maxDataEntries {
			return streamErr("the data stream has more than %d files (Pier's limit)", maxDataEntries)
		}
		pr.files[e.name] = struct{}{}
	}
	return nil
}

// fail turns an error met while reading into the right kind: an I/O error
// of the underlying reader or a cancelled context stays what it is,
// anything else is a bad package.
func (pr *pkgReader) fail(err error) error {
	if pr.src.err != nil {
		return fmt.Errorf("apk: %w", pr.src.err)
	}
	if ctxErr := pr.ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return fmt.Errorf("apk: read package: %w", err)
	}
	var se *apkStreamError
	var fe *tarFormatError
	var te *tarStructError
	switch {
	case errors.As(err, &se):
		return repo.BadPackage(se.msg)
	case errors.As(err, &fe):
		return repo.BadPackage(fe.msg)
	case errors.As(err, &te) && te.endAt >= 0 && pr.dataStarted && te.endAt < pr.ctlBytes:
		return repo.BadPackage(te.msg + ": the control stream ends its tar archive with end-of-archive blocks, where apk stops reading (apk-tools: \"BAD archive\"); the signature and control streams must be cut tars, without end-of-archive blocks (abuild-tar --cut; in Go, tar.Writer.Flush without Close)")
	case errors.As(err, &te):
		return repo.BadPackage(te.msg + " (apk-tools: \"BAD archive\")")
	case errors.Is(err, errTooBig) && pr.dataStarted:
		return repo.BadPackage(fmt.Sprintf("the data stream expands to more than %d bytes (max_data_size; a gzip bomb?)", pr.cfg.MaxDataSize))
	case errors.Is(err, errTooBig):
		return repo.BadPackage(fmt.Sprintf("the signature and control streams expand to more than %d bytes (max_control_size; a gzip bomb?)", pr.cfg.MaxControlSize))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return repo.BadPackage("unexpected end of file (truncated package)")
	}
	return repo.BadPackage(err.Error())
}

// cutLast splits s around the last sep, as apk_blob_rsplit does.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", s, false
	}
	return s[:i], s[i+len(sep):], true
}
