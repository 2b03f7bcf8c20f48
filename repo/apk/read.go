package apk

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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

// errTooBig is returned by a counter past its limit.
var errTooBig = errors.New("over the size limit")

// counter counts the bytes read through it and fails with errTooBig when
// the source holds more than max.
type counter struct {
	r      io.Reader
	n, max int64
}

func (c *counter) Read(p []byte) (int, error) {
	if rest := c.max - c.n; int64(len(p)) > rest {
		if rest == 0 {
			var one [1]byte
			m, err := c.r.Read(one[:])
			if m > 0 {
				return 0, errTooBig
			}
			return 0, err
		}
		p = p[:rest]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// pkgReader holds the state of one Read.
type pkgReader struct {
	cfg  *Config
	src  *source
	size int64
	z    gzip.Reader
	buf  []byte
}

// Read parses an apk v2 package (FORMATS.md 3.2): it steps through the gzip
// members one by one, skips leading signature streams, parses .PKGINFO in
// the control stream, checks every tar entry name, walks the data stream
// (checking its datahash and its size limit) and computes the package
// identity C: over the exact compressed bytes apk hashes. Meta is the
// package's APKINDEX stanza, see Format.
func (f *Format) Read(ctx context.Context, r io.ReaderAt, size int64, _ repo.Sums) (*repo.Parsed, error) {
	pr := &pkgReader{cfg: &f.cfg, src: newSource(r, size), size: size, buf: make([]byte, 32<<10)}
	info, checksum, err := pr.read(ctx)
	if err != nil {
		return nil, err
	}
	return &repo.Parsed{
		Name:    info.name,
		Version: info.version,
		Arch:    info.arch,
		Meta:    info.stanza(checksum, size),
	}, nil
}

// adbMagic starts apk v3 files (apk-tools 3 src/adb.h).
const adbMagic = "ADB"

func (pr *pkgReader) read(ctx context.Context) (*pkgInfo, string, error) {
	if pr.size <= 0 {
		return nil, "", repo.BadPackage("the file is empty")
	}
	var head [3]byte
	if n, _ := pr.src.ra.ReadAt(head[:], 0); n == len(head) && string(head[:]) == adbMagic {
		return nil, "", repo.BadPackage("this is an apk v3 (ADB) package; Pier publishes apk v2 repositories, which apk 2 and 3 both read: build a v2 package (abuild, nfpm, melange)")
	}
	// Signature and control streams: one gzip member each.
	budget := &counter{max: pr.cfg.MaxControlSize}
	var info *pkgInfo
	var identity hash.Hash
	for member := 1; info == nil; member++ {
		start := pr.src.offset()
		if start >= pr.size {
			return nil, "", repo.BadPackage("the package has no control stream with a .PKGINFO")
		}
		h := sha1.New()
		pr.src.setSink(h)
		if err := pr.z.Reset(pr.src); err != nil {
			return nil, "", pr.fail(ctx, err, "gzip stream %d (at byte %d)", member, start)
		}
		pr.z.Multistream(false)
		budget.r = &pr.z
		got, err := pr.walkControl(ctx, tar.NewReader(budget), budget, member)
		if err != nil {
			return nil, "", err
		}
		// Read the member to its end: the gzip trailer is checked there and
		// the source then stands exactly at the next member.
		n, err := drain(ctx, budget, pr.buf)
		if err != nil {
			return nil, "", pr.fail(ctx, err, "gzip stream %d", member)
		}
		if n > 0 {
			return nil, "", repo.BadPackage(fmt.Sprintf("gzip stream %d holds %d bytes after its last tar entry", member, n))
		}
		info, identity = got, h
	}

	// Data stream. With datahash the identity covers the control stream
	// only; without it apk hashes control and data to the end of the file.
	var data hash.Hash
	if info.dataHash != "" {
		data = sha256.New()
		pr.src.setSink(data)
	} else {
		pr.src.setSink(identity)
	}
	if err := pr.walkData(ctx); err != nil {
		return nil, "", err
	}
	pr.src.setSink(nil)
	if off := pr.src.offset(); off != pr.size {
		return nil, "", repo.BadPackage(fmt.Sprintf("%d unexpected bytes after the data stream", pr.size-off))
	}
	if info.dataHash != "" {
		if got := hex.EncodeToString(data.Sum(nil)); got != info.dataHash {
			return nil, "", repo.BadPackage(fmt.Sprintf(".PKGINFO datahash is %s but the data stream's sha256 is %s: the package is corrupt or was modified after it was built", info.dataHash, got))
		}
	}
	return info, "Q1" + base64.StdEncoding.EncodeToString(identity.Sum(nil)), nil
}

// walkControl reads the tar entries of one signature or control stream. It
// returns the parsed .PKGINFO for the control stream and nil for a
// signature stream.
func (pr *pkgReader) walkControl(ctx context.Context, tr *tar.Reader, cnt *counter, member int) (*pkgInfo, error) {
	hdr, err := tr.Next()
	if err == io.EOF {
		return nil, repo.BadPackage(fmt.Sprintf("gzip stream %d holds no tar entry", member))
	}
	if err != nil {
		return nil, pr.fail(ctx, err, "gzip stream %d", member)
	}
	sig := strings.HasPrefix(hdr.Name, ".SIGN.")
	what := "control stream"
	if sig {
		what = "signature stream"
	}
	var info *pkgInfo
	for {
		if err := checkEntryName(hdr, what); err != nil {
			return nil, err
		}
		switch {
		case sig != strings.HasPrefix(hdr.Name, ".SIGN."):
			return nil, repo.BadPackage(fmt.Sprintf("gzip stream %d mixes signature entries (.SIGN.*) with %q", member, hdr.Name))
		case !sig && (hdr.Name[0] != '.' || strings.Contains(hdr.Name, "/")):
			return nil, repo.BadPackage(fmt.Sprintf("control stream entry %q is not a top-level dot file: apk would take it for the start of the data", hdr.Name))
		case hdr.Name == ".PKGINFO":
			if info != nil {
				return nil, repo.BadPackage("the control stream has two .PKGINFO entries")
			}
			if info, err = pr.pkgInfo(ctx, tr, hdr); err != nil {
				return nil, err
			}
		}
		if _, err := drain(ctx, tr, pr.buf); err != nil {
			return nil, pr.fail(ctx, err, "%s entry %q", what, hdr.Name)
		}
		before := cnt.n
		hdr, err = tr.Next()
		if err == io.EOF {
			// Padding is under 512 bytes: a full block read here was an
			// end-of-archive block.
			if cnt.n-before >= 512 {
				return nil, repo.BadPackage(fmt.Sprintf("the %s (gzip stream %d) ends its tar archive with end-of-archive blocks; apk stops reading there, so it must be a cut tar", what, member))
			}
			break
		}
		if err != nil {
			return nil, pr.fail(ctx, err, "%s (gzip stream %d)", what, member)
		}
	}
	if !sig && info == nil {
		return nil, repo.BadPackage(fmt.Sprintf("the control stream (gzip stream %d) has no .PKGINFO", member))
	}
	return info, nil
}

func (pr *pkgReader) pkgInfo(ctx context.Context, tr *tar.Reader, hdr *tar.Header) (*pkgInfo, error) {
	if hdr.Typeflag != tar.TypeReg {
		return nil, repo.BadPackage(".PKGINFO is not a regular file")
	}
	if hdr.Size > pr.cfg.MaxPkgInfoSize {
		return nil, repo.BadPackage(fmt.Sprintf(".PKGINFO is %d bytes, more than the limit of %d", hdr.Size, pr.cfg.MaxPkgInfoSize))
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		return nil, pr.fail(ctx, err, "reading .PKGINFO")
	}
	info, err := parsePkgInfo(data, pr.cfg.MaxNameLength)
	if err != nil {
		return nil, repo.BadPackage(err.Error())
	}
	return info, nil
}

// walkData reads the data stream to the end of the file, checking entry
// names and the size limit. apk reads the data as one tar stream even when
// it spans several gzip members, so the gzip reader runs in multistream
// mode here.
func (pr *pkgReader) walkData(ctx context.Context) error {
	start := pr.src.offset()
	if start >= pr.size {
		return repo.BadPackage("the package has no data stream after the control stream")
	}
	if err := pr.z.Reset(pr.src); err != nil {
		return pr.fail(ctx, err, "data stream (at byte %d)", start)
	}
	cnt := &counter{r: &pr.z, max: pr.cfg.MaxDataSize}
	tr := tar.NewReader(cnt)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return pr.fail(ctx, err, "data stream")
		}
		if err := checkEntryName(hdr, "data stream"); err != nil {
			return err
		}
		if _, err := drain(ctx, tr, pr.buf); err != nil {
			return pr.fail(ctx, err, "data stream entry %q", hdr.Name)
		}
	}
	if _, err := drain(ctx, cnt, pr.buf); err != nil {
		if errors.Is(err, gzip.ErrHeader) {
			return repo.BadPackage("the data stream is followed by bytes that are not gzip data")
		}
		return pr.fail(ctx, err, "data stream")
	}
	return nil
}

// checkEntryName rejects absolute names and names with a ".." element (and
// hard links to such names): they would write outside the install root.
func checkEntryName(hdr *tar.Header, what string) error {
	check := func(kind, name string) error {
		if name == "" {
			return repo.BadPackage(fmt.Sprintf("%s has a tar entry with an empty %s", what, kind))
		}
		if name[0] == '/' {
			return repo.BadPackage(fmt.Sprintf("%s tar entry %q: absolute %s", what, hdr.Name, kind))
		}
		for el := range strings.SplitSeq(name, "/") {
			if el == ".." {
				return repo.BadPackage(fmt.Sprintf("%s tar entry %q: %s %q leaves the install root (path traversal)", what, hdr.Name, kind, name))
			}
		}
		return nil
	}
	if err := check("name", hdr.Name); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeLink {
		return check("hard link target", hdr.Linkname)
	}
	return nil
}

// drain reads r to its end, checking ctx between reads.
func drain(ctx context.Context, r io.Reader, buf []byte) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := r.Read(buf)
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// fail turns an error met while decoding into the right kind: an I/O error
// of the underlying reader or a cancelled context stays what it is,
// anything else is a bad package.
func (pr *pkgReader) fail(ctx context.Context, err error, format string, args ...any) error {
	if pr.src.err != nil {
		return fmt.Errorf("apk: %w", pr.src.err)
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return fmt.Errorf("apk: read package: %w", err)
	}
	what := fmt.Sprintf(format, args...)
	var reason string
	switch {
	case errors.Is(err, errTooBig) && strings.HasPrefix(what, "data"):
		reason = fmt.Sprintf("%s expands to more than %d bytes (max_data_size; a gzip bomb?)", what, pr.cfg.MaxDataSize)
	case errors.Is(err, errTooBig):
		reason = fmt.Sprintf("%s: the signature and control streams expand to more than %d bytes (max_control_size; a gzip bomb?)", what, pr.cfg.MaxControlSize)
	case errors.Is(err, io.ErrUnexpectedEOF):
		reason = what + ": unexpected end of file (truncated package)"
	case errors.Is(err, gzip.ErrChecksum):
		reason = what + ": gzip checksum mismatch (corrupt package)"
	case errors.Is(err, gzip.ErrHeader):
		reason = what + ": not a gzip stream"
	case errors.Is(err, tar.ErrHeader):
		reason = what + ": invalid tar header"
	default:
		reason = fmt.Sprintf("%s: %v", what, err)
	}
	return repo.BadPackage(reason)
}
