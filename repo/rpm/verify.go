package rpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/pierhq/pier/internal/panics"
	"github.com/pierhq/pier/repo"
)

var _ repo.Verifier = (*Format)(nil)

// Verify reads a generation back the way dnf and zypper will, before it
// goes live. It checks the binary repository at the target's base and the
// source repository at SourceDir below it (a generation written before Pier
// published source repositories has none; then no file may lie below
// SourceDir). For each repository:
//
//   - repodata/repomd.xml is there and parses, and repodata/repomd.xml.asc
//     holds a good signature by every key of in.PublicKeys, so that a
//     client trusting any one of them verifies it;
//   - every data entry's location (relative to the repository base, the
//     directory holding repodata/) is in in.Files with the size and sha256
//     repomd.xml states, its checksum and open-checksum are sha256, and
//     its content, every gzip member or zstd frame of it, decompresses to
//     open-size bytes with the open-checksum;
//   - primary is there; its packages attribute counts its package
//     elements, and every package it names (location href, relative to the
//     base) is in in.Files with the size and sha256 (pkgid) it states;
//   - filelists and other name the same packages as primary.
//
// The repodata files are checked at once, each read and decompressed once,
// in a stream (never held whole). Primary, filelists and other are scanned
// for what the checks need, not run through a full XML parser: Pier writes
// them, and its fuzz tests hold them to well-formed XML. Errors name the
// file and the check; none is a bad package.
func (f *Format) Verify(ctx context.Context, in *repo.VerifyInput) error {
	base, err := basePath(in.Target)
	if err != nil {
		return err
	}
	if err := f.verifyRepository(ctx, in, base); err != nil {
		return err
	}
	src := base + SourceDir
	v := &verifier{in: in, base: src}
	if _, ok := v.file(src + "repodata/repomd.xml"); !ok {
		i, _ := slices.BinarySearchFunc(in.Files, src, func(f repo.File, p string) int { return strings.Compare(f.Path, p) })
		if i < len(in.Files) && strings.HasPrefix(in.Files[i].Path, src) {
			return fmt.Errorf("rpm: verify %srepodata/repomd.xml: missing from the generation, which has %s", src, in.Files[i].Path)
		}
		return nil
	}
	return f.verifyRepository(ctx, in, src)
}

// verifyRepository checks the repository whose repodata/ lies at base (see
// Verify).
func (f *Format) verifyRepository(ctx context.Context, in *repo.VerifyInput, base string) error {
	v := &verifier{in: in, base: base, f: f}
	repomdPath := base + "repodata/repomd.xml"
	repomd, err := v.read(ctx, repomdPath)
	if err != nil {
		return err
	}
	if len(in.PublicKeys) > 0 {
		asc, err := v.read(ctx, repomdPath+".asc")
		if err != nil {
			return err
		}
		if err := verifySignatures(repomd, asc, in.PublicKeys); err != nil {
			return fmt.Errorf("rpm: verify %s.asc: %w", repomdPath, err)
		}
	}
	var md repomdDoc
	if err := xml.Unmarshal(repomd, &md); err != nil {
		return fmt.Errorf("rpm: verify %s: does not parse: %w", repomdPath, err)
	}
	byType := map[string]*repomdData{}
	for i := range md.Data {
		d := &md.Data[i]
		if byType[d.Type] != nil {
			return fmt.Errorf("rpm: verify %s: two data entries of type %q", repomdPath, d.Type)
		}
		byType[d.Type] = d
	}
	if byType["primary"] == nil {
		return fmt.Errorf("rpm: verify %s: no primary data entry", repomdPath)
	}
	results := make([]*docSummary, len(md.Data))
	errs := make([]error, len(md.Data))
	var wg sync.WaitGroup
	for i := range md.Data {
		wg.Go(func() {
			defer panics.Recover(&errs[i])
			results[i], errs[i] = v.data(ctx, &md.Data[i])
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var primary *docSummary
	for i, d := range md.Data {
		if d.Type == "primary" {
			primary = results[i]
		}
	}
	for i, d := range md.Data {
		if s := results[i]; s != nil && s != primary && !slices.Equal(s.pkgids, primary.pkgids) {
			return fmt.Errorf("rpm: verify %s: names other packages than primary (%d, primary %d)", base+d.Location.Href, len(s.pkgids), len(primary.pkgids))
		}
	}
	return nil
}

// repomdDoc is what Verify reads of repomd.xml.
type repomdDoc struct {
	Data []repomdData `xml:"data"`
}

type repomdData struct {
	Type         string `xml:"type,attr"`
	Checksum     typed  `xml:"checksum"`
	OpenChecksum typed  `xml:"open-checksum"`
	Location     struct {
		Href string `xml:"href,attr"`
	} `xml:"location"`
	Size     int64 `xml:"size"`
	OpenSize int64 `xml:"open-size"`
}

type typed struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

// verifier holds what the checks of one generation share.
type verifier struct {
	in   *repo.VerifyInput
	base string
	f    *Format // its memo serves the fast path (verifymemo.go); nil: none
}

// file returns the file of the generation at p.
func (v *verifier) file(p string) (repo.File, bool) {
	i, ok := slices.BinarySearchFunc(v.in.Files, p, func(f repo.File, p string) int { return strings.Compare(f.Path, p) })
	if !ok {
		return repo.File{}, false
	}
	return v.in.Files[i], true
}

// read returns the bytes of the file at p.
func (v *verifier) read(ctx context.Context, p string) ([]byte, error) {
	f, ok := v.file(p)
	if !ok {
		return nil, fmt.Errorf("rpm: verify %s: missing from the generation", p)
	}
	b, err := v.in.Read(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("rpm: verify %s: read: %w", p, err)
	}
	return b, nil
}

// href resolves a location href against the repository base, refusing
// one that leaves it.
func (v *verifier) href(h string) (string, bool) {
	if h == "" || strings.HasPrefix(h, "/") || strings.Contains(h, "://") {
		return "", false
	}
	p := path.Clean(v.base + h)
	return p, strings.HasPrefix(p, v.base) && p == v.base+h
}

// docSummary is what the cross-checks need of one repodata file.
type docSummary struct {
	pkgids []string // in document order
}

// data checks one data entry of repomd.xml and the file it names.
func (v *verifier) data(ctx context.Context, d *repomdData) (*docSummary, error) {
	p, ok := v.href(d.Location.Href)
	if !ok {
		return nil, fmt.Errorf("rpm: verify repomd.xml: %s location %q is not a path below the repository", d.Type, d.Location.Href)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("rpm: verify %s: "+format, append([]any{p}, args...)...)
	}
	f, ok := v.file(p)
	switch {
	case !ok:
		return nil, fail("missing from the generation (repomd.xml names it as %s)", d.Type)
	case d.Checksum.Type != "sha256" || d.OpenChecksum.Type != "sha256":
		return nil, fail("checksum types %q and %q in repomd.xml, want sha256", d.Checksum.Type, d.OpenChecksum.Type)
	case f.Size != d.Size:
		return nil, fail("%d bytes, repomd.xml says %d", f.Size, d.Size)
	case f.SHA256 != d.Checksum.Value:
		return nil, fail("sha256 %s, repomd.xml says %s", f.SHA256, d.Checksum.Value)
	}
	packed, err := v.in.Read(ctx, f)
	if err != nil {
		return nil, fail("read: %w", err)
	}
	zr, closeZ, err := decompressor(p, packed)
	if err != nil {
		return nil, fail("does not decompress: %w", err)
	}
	defer closeZ()
	rootName := map[string]string{"primary": "metadata", "filelists": "filelists", "other": "otherdata"}[d.Type]
	if s, ok := v.fastData(ctx, d, f.SHA256, packed, rootName); ok {
		return s, nil
	}
	s := &docSummary{}
	each := func(pkg []byte) error {
		id, err := pkgid(pkg)
		s.pkgids = append(s.pkgids, id)
		return err
	}
	if d.Type == "primary" {
		each = func(pkg []byte) error {
			id, err := v.primaryPackage(pkg)
			s.pkgids = append(s.pkgids, id)
			return err
		}
	}
	h := sha256.New()
	size, count, err := streamDoc(ctx, zr, rootName, d.OpenSize, h, each)
	switch {
	case err != nil:
		return nil, fail("%w", err)
	case size != d.OpenSize:
		return nil, fail("decompresses to %d bytes, repomd.xml open-size says %d", size, d.OpenSize)
	case hex.EncodeToString(h.Sum(nil)) != d.OpenChecksum.Value:
		return nil, fail("decompressed sha256 %x, repomd.xml open-checksum says %s", h.Sum(nil), d.OpenChecksum.Value)
	case rootName != "" && count != len(s.pkgids):
		return nil, fail("packages=\"%d\" but %d package elements", count, len(s.pkgids))
	case rootName == "":
		return nil, nil // a data type Pier does not write: checked as a file only
	}
	return s, nil
}

// decompressor returns a reader of the concatenation of every gzip member
// or zstd frame of b, chosen by the file name, as clients read it.
func decompressor(name string, b []byte) (io.Reader, func(), error) {
	switch {
	case strings.HasSuffix(name, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		return zr, func() {}, err
	case strings.HasSuffix(name, ".zst"):
		zr, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return nil, nil, errors.New("unknown compression")
}

// streamDoc reads a repodata document from r in one pass: it hashes every
// byte into h, checks the XML declaration, the root start tag (whose
// packages count it returns) and end tag, hands every package element
// (from "<package " to its end tag) to each, and requires nothing but
// white space between them. It reads at most limit+1 bytes and returns
// how many it read. A root of "" only hashes and counts.
func streamDoc(ctx context.Context, r io.Reader, rootName string, limit int64, h io.Writer, each func(pkg []byte) error) (size int64, count int, err error) {
	const decl = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	buf := make([]byte, 0, 1<<20)
	started := rootName == ""
	for eof := false; !eof; {
		if err := ctx.Err(); err != nil {
			return size, 0, err
		}
		if cap(buf)-len(buf) < 64<<10 {
			buf = append(buf[:cap(buf)], make([]byte, cap(buf))...)[:len(buf)]
		}
		n, rerr := r.Read(buf[len(buf):min(int64(cap(buf)), int64(len(buf))+limit+1-size)])
		h.Write(buf[len(buf) : len(buf)+n])
		size += int64(n)
		buf = buf[:len(buf)+n]
		switch {
		case rerr == io.EOF:
			eof = true
		case rerr != nil:
			return size, 0, fmt.Errorf("does not decompress: %w", rerr)
		case size > limit:
			return size, 0, nil // the caller reports the size
		}
		if rootName == "" {
			buf = buf[:0]
			continue
		}
		if !started {
			open := bytes.IndexByte(buf[min(len(buf), len(decl)):], '>')
			if open < 0 && !eof {
				continue
			}
			if !bytes.HasPrefix(buf, []byte(decl+"<"+rootName+" ")) || open < 0 {
				return size, 0, fmt.Errorf("does not start with the XML declaration and <%s>", rootName)
			}
			tag := buf[len(decl) : len(decl)+open+1]
			n, ok := between(tag, ` packages="`, `"`)
			if count, err = strconv.Atoi(string(n)); !ok || err != nil || count < 0 {
				return size, 0, fmt.Errorf("<%s> has no packages count", rootName)
			}
			buf = buf[:copy(buf, buf[len(decl)+open+1:])]
			started = true
		}
		// Hand over every complete package element.
		last := bytes.LastIndex(buf, []byte("</package>"))
		if last < 0 {
			last = -len("</package>")
		}
		done := buf[:last+len("</package>")]
		for len(done) > 0 {
			i := bytes.Index(done, []byte("<package "))
			if i < 0 || len(bytes.TrimSpace(done[:i])) != 0 {
				return size, 0, errors.New("text outside the package elements")
			}
			j := bytes.Index(done[i:], []byte("</package>"))
			if err := each(done[i : i+j]); err != nil {
				return size, 0, err
			}
			done = done[i+j+len("</package>"):]
		}
		buf = buf[:copy(buf, buf[last+len("</package>"):])]
	}
	if rootName != "" && (!started || string(bytes.TrimSpace(buf)) != "</"+rootName+">") {
		return size, 0, fmt.Errorf("does not end with </%s>", rootName)
	}
	return size, count, nil
}

// primaryPackage checks one package element of primary.xml against the
// generation and returns its pkgid.
func (v *verifier) primaryPackage(pkg []byte) (string, error) {
	sum, ok1 := between(pkg, `<checksum type="sha256" pkgid="YES">`, "</checksum>")
	href, ok2 := between(pkg, `<location href="`, `"`)
	size, ok3 := between(pkg, `<size package="`, `"`)
	if !ok1 || !ok2 || !ok3 {
		return "", fmt.Errorf("a package element lacks its sha256 checksum, location or size: %.80q", pkg)
	}
	loc, ok := v.href(xmlUnescape(string(href)))
	if !ok {
		return "", fmt.Errorf("package %s: location %q is not a path below the repository", sum, href)
	}
	f, ok := v.file(loc)
	switch {
	case !ok:
		return "", fmt.Errorf("package %s: %s is missing from the generation", sum, loc)
	case f.SHA256 != string(sum):
		return "", fmt.Errorf("package %s: %s has sha256 %s", sum, loc, f.SHA256)
	case strconv.FormatInt(f.Size, 10) != string(size):
		return "", fmt.Errorf("package %s: %s is %d bytes, primary says %s", sum, loc, f.Size, size)
	}
	return string(sum), nil
}

// pkgid returns the pkgid attribute of a filelists or other package element.
func pkgid(pkg []byte) (string, error) {
	id, ok := between(pkg, `<package pkgid="`, `"`)
	if !ok {
		return "", errors.New("a package element has no pkgid")
	}
	return string(id), nil
}

// between returns the bytes of b between the first start and the next end.
func between(b []byte, start, end string) ([]byte, bool) {
	i := bytes.Index(b, []byte(start))
	if i < 0 {
		return nil, false
	}
	b = b[i+len(start):]
	j := bytes.Index(b, []byte(end))
	if j < 0 {
		return nil, false
	}
	return b[:j], true
}

// xmlUnescape undoes the escaping of an attribute value.
func xmlUnescape(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var out strings.Builder
	d := xml.NewDecoder(strings.NewReader("<a>" + s + "</a>"))
	for {
		t, err := d.Token()
		if err != nil {
			return out.String()
		}
		if c, ok := t.(xml.CharData); ok {
			out.Write(c)
		}
	}
}

// verifySignatures checks that asc, an armored detached signature block of
// msg, holds a good signature by every key of the armored key ring keys.
func verifySignatures(msg, asc, keys []byte) error {
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(keys))
	if err != nil {
		return fmt.Errorf("read the public keys: %w", err)
	}
	if len(ring) == 0 {
		return errors.New("no public keys to verify with")
	}
	for _, e := range ring {
		if _, err := openpgp.CheckArmoredDetachedSignature(openpgp.EntityList{e}, bytes.NewReader(msg), bytes.NewReader(asc), nil); err != nil {
			return fmt.Errorf("no good signature by key %X: %w", e.PrimaryKey.Fingerprint, err)
		}
	}
	return nil
}
