package deb

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierhq/pier/internal/panics"
	"github.com/pierhq/pier/repo"
	"github.com/ulikunitz/xz/lzma"
	xi2 "github.com/xi2/xz"
)

var _ repo.Verifier = (*Format)(nil)

// Verify reads a generation back the way apt reads a repository, for
// every dists/<release>/InRelease among its files (the archive root, where
// Filename paths start, is the directory that holds dists/):
//
//   - InRelease splits as apt splits a clear-signed file
//     (apt-pkg/contrib/gpgv.cc, SplitClearSignedFile: nothing after the
//     END line), and its signatures verify with in.PublicKeys: every
//     signature by a key of the ring must be good, as apt refuses a file
//     with a bad one, and at least one must be there; the signed text is
//     Release, and Release.gpg verifies against Release the same way.
//   - Release parses; its Date (and Valid-Until) parse as apt reads them;
//     every component and architecture it names has a Packages index.
//   - Every path its SHA256 section lists is in the generation with that
//     size and sha256, and with Acquire-By-Hash its by-hash/SHA256 copy
//     too. A listed uncompressed index may be missing only if a listed
//     compressed variant is there (apt fetches one variant).
//   - Every listed compressed variant decompresses to the size and sha256
//     listed for the uncompressed index; a Contents index is served
//     compressed only, as in Debian's archive.
//   - Every line of a Contents index splits as apt-file splits it (a path,
//     whitespace, then a comma-separated list of [section/]package
//     names).
//   - Every Packages index parses as deb822, and every stanza's Filename
//     is in the generation with the Size and SHA256 the stanza states.
//
// Errors name the file and the check that failed.
func (f *Format) Verify(ctx context.Context, in *repo.VerifyInput) error {
	fail := func(err error) error { return fmt.Errorf("deb: verify %s: %w", in.Target, err) }
	ring, err := readKeyRing(in.PublicKeys)
	if err != nil {
		return fail(fmt.Errorf("public keys: %w", err))
	}
	v := &verifier{in: in, ring: ring, files: make(map[string]*repo.File, len(in.Files)), f: f}
	var roots []string
	for i := range in.Files {
		fp := &in.Files[i]
		v.files[fp.Path] = fp
		if isInRelease(fp.Path) {
			roots = append(roots, fp.Path)
		}
	}
	if len(roots) == 0 {
		return fail(errors.New("no dists/<release>/InRelease among the generation's files"))
	}
	for _, r := range roots {
		if err := v.release(ctx, r); err != nil {
			return fail(err)
		}
	}
	return nil
}

// isInRelease reports whether p is <root>dists/<release>/InRelease.
func isInRelease(p string) bool {
	return path.Base(p) == "InRelease" && path.Base(path.Dir(path.Dir(p))) == "dists"
}

// verifier checks one generation.
type verifier struct {
	in    *repo.VerifyInput
	ring  openpgp.EntityList
	files map[string]*repo.File
	f     *Format // its memo skips what was checked before (verifymemo.go)
}

// read returns the bytes of the file at p, which must be in the
// generation.
func (v *verifier) read(ctx context.Context, p string) ([]byte, error) {
	fp := v.files[p]
	if fp == nil {
		return nil, fmt.Errorf("%s: missing from the generation", p)
	}
	b, err := v.in.Read(ctx, *fp)
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", p, err)
	}
	return b, nil
}

// hashEntry is one line of a Release hash section.
type hashEntry struct {
	sum  string
	size int64
	path string // relative to dists/<release>/
}

// compressedExts returns the index compressions apt knows, by extension.
func compressedExts() []string { return []string{".xz", ".gz", ".bz2", ".lzma", ".zst"} }

// release checks dists/<release>/ of the InRelease at inPath.
func (v *verifier) release(ctx context.Context, inPath string) error {
	dists := path.Dir(inPath) + "/"
	root := path.Dir(path.Dir(path.Dir(inPath))) + "/"
	if root == "./" {
		root = ""
	}
	inRelease, err := v.read(ctx, inPath)
	if err != nil {
		return err
	}
	content, err := aptSplitClearSigned(inRelease)
	if err != nil {
		return fmt.Errorf("%s: apt cannot split it as a clear-signed file: %w", inPath, err)
	}
	block, rest := clearsign.Decode(inRelease)
	if block == nil || len(rest) != 0 {
		return fmt.Errorf("%s: not one clear-signed message with nothing after its END line", inPath)
	}
	if err := checkSignatures(v.ring, block.Bytes, block.ArmoredSignature.Body); err != nil {
		return fmt.Errorf("%s: signature: %w", inPath, err)
	}
	release, err := v.read(ctx, dists+"Release")
	if err != nil {
		return err
	}
	if !bytes.Equal(append(content, '\n'), release) {
		return fmt.Errorf("%s: the signed text is not %sRelease", inPath, dists)
	}
	if err := v.detached(ctx, dists+"Release.gpg", release); err != nil {
		return err
	}
	fields, reason := parseStanza(release, 1024)
	if reason != "" {
		return fmt.Errorf("%sRelease: does not parse: %s", dists, reason)
	}
	entries, byHash, err := releaseEntries(fields)
	if err != nil {
		return fmt.Errorf("%sRelease: %w", dists, err)
	}
	listed := make(map[string]hashEntry, len(entries))
	for _, e := range entries {
		listed[e.path] = e
	}
	if err := checkTargets(fields, listed); err != nil {
		return fmt.Errorf("%sRelease: %w", dists, err)
	}
	for _, e := range entries {
		if err := v.listedFile(dists, e, byHash, listed); err != nil {
			return err
		}
	}
	return v.indexes(ctx, root, dists, entries, listed)
}

// detached verifies the armored detached signature at p over signed.
func (v *verifier) detached(ctx context.Context, p string, signed []byte) error {
	sig, err := v.read(ctx, p)
	if err != nil {
		return err
	}
	block, err := armor.Decode(bytes.NewReader(sig))
	if err != nil {
		return fmt.Errorf("%s: not an armored signature: %w", p, err)
	}
	if block.Type != openpgp.SignatureType {
		return fmt.Errorf("%s: an armored %q block, not a signature", p, block.Type)
	}
	if err := checkSignatures(v.ring, signed, block.Body); err != nil {
		return fmt.Errorf("%s: signature over Release: %w", p, err)
	}
	return nil
}

// listedFile checks one Release entry against the generation.
func (v *verifier) listedFile(dists string, e hashEntry, byHash bool, listed map[string]hashEntry) error {
	p := dists + e.path
	fp := v.files[p]
	if fp == nil {
		// apt fetches one variant of an index; the uncompressed one may be
		// listed without being served when a compressed one is.
		for _, ext := range compressedExts() {
			if _, ok := listed[e.path+ext]; ok && v.files[dists+e.path+ext] != nil {
				return nil
			}
		}
		return fmt.Errorf("%s: listed in Release but not in the generation", p)
	}
	if fp.Size != e.size || fp.SHA256 != e.sum {
		return fmt.Errorf("%s: Release lists size %d and sha256 %s, the generation has size %d and sha256 %s", p, e.size, e.sum, fp.Size, fp.SHA256)
	}
	if byHash {
		bh := path.Dir(p) + "/by-hash/SHA256/" + e.sum
		c := v.files[bh]
		switch {
		case c == nil:
			return fmt.Errorf("%s: its by-hash copy %s is missing (Release says Acquire-By-Hash: yes)", p, bh)
		case c.Size != e.size || c.SHA256 != e.sum:
			return fmt.Errorf("%s: its by-hash copy %s has size %d and sha256 %s, not %d and %s", p, bh, c.Size, c.SHA256, e.size, e.sum)
		}
	}
	return nil
}

// indexes checks that every compressed variant decompresses to its
// uncompressed index, and every Packages and Sources index against the
// pool.
func (v *verifier) indexes(ctx context.Context, root, dists string, entries []hashEntry, listed map[string]hashEntry) error {
	type job struct {
		base, variant string
		plain         hashEntry
		packages      bool
		sources       bool
	}
	var jobs []job
	for _, e := range entries {
		base, ext := splitCompressedExt(e.path)
		plain, ok := listed[base]
		isPackages := path.Base(base) == "Packages"
		switch {
		case ext != "" && ok && v.files[dists+e.path] != nil:
			jobs = append(jobs, job{base: base, variant: e.path, plain: plain})
		case ext == "" && isPackages:
			jobs = append(jobs, job{base: base, plain: e, packages: true})
		case ext == "" && path.Base(base) == "Sources":
			jobs = append(jobs, job{base: base, plain: e, sources: true})
		}
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for i := range next {
				func() { // per job: a worker that hit a bug goes on taking jobs
					defer panics.Recover(&errs[i])
					j := jobs[i]
					switch {
					case j.packages:
						errs[i] = v.packages(ctx, root, dists, j.base, listed, checkPackagesIndex)
					case j.sources:
						errs[i] = v.packages(ctx, root, dists, j.base, listed, checkSourcesIndex)
					default:
						errs[i] = v.variant(ctx, dists, j.variant, j.plain)
					}
				}()
			}
		})
	}
	for i := range jobs {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// variant checks that the compressed index at dists+name decompresses to
// the uncompressed index plain.
func (v *verifier) variant(ctx context.Context, dists, name string, plain hashEntry) error {
	var key variantKey
	if fp := v.files[dists+name]; fp != nil {
		key = variantKey{packed: fp.SHA256, plain: plain.sum, size: plain.size}
		if v.f.memo.checked(key) {
			return nil
		}
	}
	data, err := v.read(ctx, dists+name)
	if err != nil {
		return err
	}
	if strings.HasPrefix(path.Base(plain.path), "Contents-") {
		if v.f.fastContents(ctx, key.packed, data, plain) {
			v.f.memo.addVariant(key)
			return nil
		}
	} else if strings.HasSuffix(name, ".xz") || strings.HasSuffix(name, ".gz") {
		if pb, ok := v.plainIndex(ctx, dists+plain.path, plain); ok {
			fast := v.f.fastXZ
			if strings.HasSuffix(name, ".gz") {
				fast = func(ctx context.Context, gz, plain []byte) bool { return v.f.fastGzip(ctx, key.packed, gz, plain) }
			}
			if fast(ctx, data, pb) {
				v.f.memo.addVariant(key)
				return nil
			}
		}
	}
	if err := v.fullVariant(dists, name, data, plain); err != nil {
		return err
	}
	v.f.memo.addVariant(key)
	return nil
}

// plainIndex returns the uncompressed index p when the generation holds it
// with the size and sha256 Release lists.
func (v *verifier) plainIndex(ctx context.Context, p string, plain hashEntry) ([]byte, bool) {
	fp := v.files[p]
	if fp == nil || fp.Size != plain.size || fp.SHA256 != plain.sum {
		return nil, false
	}
	b, err := v.in.Read(ctx, *fp)
	return b, err == nil && int64(len(b)) == plain.size
}

// fullVariant decompresses the variant data of dists+name whole and checks
// it against plain.
func (v *verifier) fullVariant(dists, name string, data []byte, plain hashEntry) error {
	h := sha256.New()
	var w io.Writer = h
	var lines *contentsLines
	if strings.HasPrefix(path.Base(plain.path), "Contents-") {
		lines = &contentsLines{}
		w = io.MultiWriter(h, lines)
	}
	n, err := decompressIndex(name, data, w)
	if err != nil {
		return fmt.Errorf("%s%s: does not decompress: %w", dists, name, err)
	}
	if lines != nil {
		if err := lines.finish(); err != nil {
			return fmt.Errorf("%s%s: %w", dists, name, err)
		}
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != plain.size || sum != plain.sum {
		return fmt.Errorf("%s%s: decompresses to size %d and sha256 %s; Release lists %s with size %d and sha256 %s",
			dists, name, n, sum, plain.path, plain.size, plain.sum)
	}
	return nil
}

// contentsLines checks the lines of a Contents index as they stream by,
// as apt-file reads them: it takes a line as "path<whitespace>packages"
// (apt-file: the regular expression ^\s*(.*?)\s+(\S+)\s*$), the packages
// a comma-separated list of [section/]name, each with a name after its
// last slash.
type contentsLines struct {
	partial []byte
	line    int
	err     error
}

func (c *contentsLines) Write(p []byte) (int, error) {
	n := len(p)
	for c.err == nil && len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			break
		}
		l := p[:i]
		if len(c.partial) > 0 {
			l = append(c.partial, l...)
			c.partial = c.partial[:0]
		}
		c.check(l)
		p = p[i+1:]
	}
	return n, nil
}

// check checks one line.
func (c *contentsLines) check(l []byte) {
	c.line++
	t := bytes.TrimRight(l, contentsSpace)
	i := bytes.LastIndexAny(t, contentsSpace)
	if i < 0 || blankPath(t[:i]) {
		c.err = fmt.Errorf("line %d %q is not \"path packages\"", c.line, clip(string(l)))
		return
	}
	for rest := t[i+1:]; ; {
		pkg := rest
		j := bytes.IndexByte(rest, ',')
		if j >= 0 {
			pkg, rest = rest[:j], rest[j+1:]
		}
		if len(pkg) == 0 || pkg[len(pkg)-1] == '/' {
			c.err = fmt.Errorf("line %d %q has an empty package in its list", c.line, clip(string(l)))
			return
		}
		if j < 0 {
			return
		}
	}
}

// finish reports the first bad line, or a last line without a newline.
func (c *contentsLines) finish() error {
	if c.err == nil && len(c.partial) > 0 {
		c.err = fmt.Errorf("line %d does not end in a newline", c.line+1)
	}
	return c.err
}

// packages checks the Packages or Sources index base (its uncompressed
// form, served or decompressed from a served variant) against the pool
// with check.
func (v *verifier) packages(ctx context.Context, root, dists, base string, listed map[string]hashEntry,
	check func(name string, data []byte, root string, files map[string]*repo.File) error) error {
	name := dists + base
	var data []byte
	if v.files[name] != nil {
		var err error
		if data, err = v.read(ctx, name); err != nil {
			return err
		}
	} else {
		for _, ext := range compressedExts() {
			if _, ok := listed[base+ext]; !ok || v.files[name+ext] == nil {
				continue
			}
			z, err := v.read(ctx, name+ext)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if _, err := decompressIndex(base+ext, z, &buf); err != nil {
				return fmt.Errorf("%s%s: does not decompress: %w", name, ext, err)
			}
			data, name = buf.Bytes(), name+ext
			break
		}
	}
	return check(name, data, root, v.files)
}

// checkPackagesIndex parses a Packages index as apt's tag file parser reads it
// (stanzas of "Field: value" lines, continuation lines starting with a
// space or tab, separated by blank lines) and checks every stanza's
// Filename (relative to root) against files.
func checkPackagesIndex(name string, data []byte, root string, files map[string]*repo.File) error {
	var (
		pkg, filename, size, sum []byte
		in                       bool
		line, stanzaLine         int
	)
	finish := func() error {
		in = false
		switch {
		case len(pkg) == 0:
			return fmt.Errorf("%s: the stanza at line %d has no Package field", name, stanzaLine)
		case len(filename) == 0 || len(size) == 0 || len(sum) == 0:
			return fmt.Errorf("%s: package %s (line %d) lacks Filename, Size or SHA256", name, pkg, stanzaLine)
		}
		fn := string(filename)
		if fn != path.Clean(fn) || path.IsAbs(fn) || fn == ".." || strings.HasPrefix(fn, "../") {
			return fmt.Errorf("%s: package %s: Filename %q is not a clean path under the archive root", name, pkg, clip(fn))
		}
		n, err := strconv.ParseInt(string(size), 10, 64)
		if err != nil {
			return fmt.Errorf("%s: package %s: bad Size %q", name, pkg, clip(string(size)))
		}
		fp := files[root+fn]
		switch {
		case fp == nil:
			return fmt.Errorf("%s: package %s: Filename %s is not in the generation", name, pkg, root+fn)
		case fp.Size != n || fp.SHA256 != string(sum):
			return fmt.Errorf("%s: package %s: Filename %s has size %d and sha256 %s; the stanza says %d and %s", name, pkg, root+fn, fp.Size, fp.SHA256, n, sum)
		}
		pkg, filename, size, sum = nil, nil, nil, nil
		return nil
	}
	for rest := data; len(rest) > 0; {
		line++
		l := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			l, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		l = bytes.TrimRight(l, "\r")
		switch {
		case len(l) == 0:
			if in {
				if err := finish(); err != nil {
					return err
				}
			}
			continue
		case l[0] == ' ' || l[0] == '\t':
			if !in {
				return fmt.Errorf("%s: line %d: a continuation line where a stanza starts", name, line)
			}
			continue
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 {
			return fmt.Errorf("%s: line %d: not a \"Field: value\" line", name, line)
		}
		if !in {
			in, stanzaLine = true, line
		}
		key, value := bytes.TrimRight(l[:colon], " \t"), bytes.TrimSpace(l[colon+1:])
		switch {
		case bytes.EqualFold(key, []byte("Package")):
			pkg = value
		case bytes.EqualFold(key, []byte("Filename")):
			filename = value
		case bytes.EqualFold(key, []byte("Size")):
			size = value
		case bytes.EqualFold(key, []byte("SHA256")):
			sum = value
		}
	}
	if in {
		return finish()
	}
	return nil
}

// releaseEntries returns the SHA256 section of a Release file and whether
// it says Acquire-By-Hash: yes.
func releaseEntries(fields []field) ([]hashEntry, bool, error) {
	var times [2]time.Time
	for i, name := range []string{"Date", "Valid-Until"} {
		v, ok := lookup(fields, name)
		switch {
		case !ok && name == "Date":
			return nil, false, errors.New("no Date field")
		case !ok:
			continue
		}
		t, err := time.Parse(dateLayout, v)
		if err != nil {
			return nil, false, fmt.Errorf("%s %q is not an RFC 1123 date in UTC as apt reads it", name, v)
		}
		times[i] = t
	}
	if !times[1].IsZero() && !times[1].After(times[0]) {
		return nil, false, errors.New("Valid-Until is not after Date: apt refuses the Release as expired")
	}
	byHash, _ := lookup(fields, "Acquire-By-Hash")
	section, ok := lookup(fields, "SHA256")
	if !ok {
		return nil, false, errors.New("no SHA256 section")
	}
	var entries []hashEntry
	seen := map[string]bool{}
	for _, l := range strings.Split(section, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		parts := strings.Fields(l)
		if len(parts) != 3 {
			return nil, false, fmt.Errorf("SHA256 line %q is not \"<sha256> <size> <path>\"", clip(l))
		}
		size, err := strconv.ParseInt(parts[1], 10, 64)
		if len(parts[0]) != 64 || !isHex(parts[0]) || err != nil || size < 0 {
			return nil, false, fmt.Errorf("SHA256 line %q has a bad sha256 or size", clip(l))
		}
		p := parts[2]
		if p != path.Clean(p) || path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") || seen[p] {
			return nil, false, fmt.Errorf("SHA256 line %q: the path is not clean, or listed twice", clip(l))
		}
		seen[p] = true
		entries = append(entries, hashEntry{sum: parts[0], size: size, path: p})
	}
	return entries, strings.EqualFold(byHash, "yes"), nil
}

// checkTargets checks that every component and architecture Release
// names has a Packages index listed: apt fails an update on a missing one
// ("Unable to find expected entry").
func checkTargets(fields []field, listed map[string]hashEntry) error {
	comps, _ := lookup(fields, "Components")
	archs, _ := lookup(fields, "Architectures")
	for _, c := range strings.Fields(comps) {
		for _, a := range strings.Fields(archs) {
			base := c + "/binary-" + a + "/Packages"
			found := false
			for _, ext := range append([]string{""}, compressedExts()...) {
				if _, ok := listed[base+ext]; ok {
					found = true
				}
			}
			if !found {
				return fmt.Errorf("no %s index is listed for component %s and architecture %s", base, c, a)
			}
		}
	}
	return nil
}

// splitCompressedExt splits a known compression extension off p.
func splitCompressedExt(p string) (base, ext string) {
	for _, e := range compressedExts() {
		if strings.HasSuffix(p, e) {
			return strings.TrimSuffix(p, e), e
		}
	}
	return p, ""
}

// decompressIndex writes the decompressed index file (named by its
// extension) to w and returns its size.
func decompressIndex(name string, data []byte, w io.Writer) (int64, error) {
	var r io.Reader
	switch _, ext := splitCompressedExt(name); ext {
	case ".gz":
		z, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return 0, err
		}
		r = z
	case ".xz":
		z, err := xi2.NewReader(bytes.NewReader(data), xzMaxDict)
		if err != nil {
			return 0, err
		}
		r = z
	case ".bz2":
		r = bzip2.NewReader(bytes.NewReader(data))
	case ".lzma":
		z, err := lzma.ReaderConfig{DictCap: xzMaxDict}.NewReader(bytes.NewReader(data))
		if err != nil {
			return 0, err
		}
		r = z
	case ".zst":
		z, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return 0, err
		}
		defer z.Close()
		r = z
	default:
		return 0, fmt.Errorf("unknown compression of %s", name)
	}
	return io.Copy(w, r)
}

// aptSplitClearSigned splits a clear-signed file the way apt does
// (apt-pkg/contrib/gpgv.cc, SplitClearSignedFile) and returns the signed
// text as apt hands it on: the message lines joined by newlines, without
// a final one.
func aptSplitClearSigned(data []byte) ([]byte, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), len(data)+1)
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	if l, ok := next(); !ok || l != "-----BEGIN PGP SIGNED MESSAGE-----" {
		return nil, errors.New("it does not start with -----BEGIN PGP SIGNED MESSAGE-----")
	}
	for {
		l, ok := next()
		switch {
		case !ok:
			return nil, errors.New("it ends in the armor headers")
		case strings.HasPrefix(l, "-"):
			return nil, errors.New("an armor header line starts with a dash")
		}
		if l == "" {
			break
		}
	}
	var content []byte
	for first := true; ; first = false {
		l, ok := next()
		if !ok {
			return nil, errors.New("it ends before -----BEGIN PGP SIGNATURE-----")
		}
		if l == "-----BEGIN PGP SIGNATURE-----" {
			break
		}
		if strings.HasPrefix(l, "-") {
			if !strings.HasPrefix(l, "- ") {
				return nil, errors.New("a message line starts with a dash without being dash-escaped")
			}
			l = l[2:]
		}
		if !first {
			content = append(content, '\n')
		}
		content = append(content, l...)
	}
	open := true
	for {
		l, ok := next()
		if !ok {
			break
		}
		switch {
		case open && l == "-----END PGP SIGNATURE-----":
			open = false
		case open && strings.HasPrefix(l, "-"):
			return nil, errors.New("a signature line starts with a dash")
		case !open && l == "-----BEGIN PGP SIGNATURE-----":
			open = true
		case !open:
			return nil, errors.New("a line follows -----END PGP SIGNATURE----- (apt: \"contains unsigned lines\")")
		}
	}
	if open {
		return nil, errors.New("the signature is not closed by -----END PGP SIGNATURE-----")
	}
	return content, sc.Err()
}

// checkSignatures verifies the signature packets read from sigs over
// signed: every one by a key of ring must be good (apt fails on a bad
// signature even next to a good one), at least one must be by a key of
// ring, and signatures by other keys are ignored (apt ignores NO_PUBKEY
// when another signature is good).
func checkSignatures(ring openpgp.EntityList, signed []byte, sigs io.Reader) error {
	raw, err := io.ReadAll(sigs)
	if err != nil {
		return fmt.Errorf("read the signature packets: %w", err)
	}
	good := 0
	r := bytes.NewReader(raw)
	for r.Len() > 0 {
		start := len(raw) - r.Len()
		p, err := packet.Read(r)
		if err != nil {
			return fmt.Errorf("unreadable signature packet: %w", err)
		}
		sig, ok := p.(*packet.Signature)
		if !ok {
			return fmt.Errorf("a %T packet among the signatures", p)
		}
		one := raw[start : len(raw)-r.Len()]
		_, _, err = openpgp.VerifyDetachedSignature(ring, bytes.NewReader(signed), bytes.NewReader(one), nil)
		switch {
		case errors.Is(err, pgperrors.ErrUnknownIssuer):
			continue
		case err != nil:
			issuer := "unknown"
			if sig.IssuerKeyId != nil {
				issuer = fmt.Sprintf("%016X", *sig.IssuerKeyId)
			}
			return fmt.Errorf("the signature by key %s does not verify: %w", issuer, err)
		}
		good++
	}
	if good == 0 {
		return errors.New("no signature by a key of the ring")
	}
	return nil
}

// readKeyRing reads one or more armored public key blocks.
func readKeyRing(armored []byte) (openpgp.EntityList, error) {
	const begin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	var ring openpgp.EntityList
	for rest := armored; ; {
		i := bytes.Index(rest, []byte(begin))
		if i < 0 {
			break
		}
		rest = rest[i:]
		j := bytes.Index(rest[len(begin):], []byte(begin))
		block := rest
		if j >= 0 {
			block, rest = rest[:len(begin)+j], rest[len(begin)+j:]
		} else {
			rest = nil
		}
		el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(block))
		if err != nil {
			return nil, err
		}
		ring = append(ring, el...)
	}
	if len(ring) == 0 {
		return nil, errors.New("no armored public key block")
	}
	return slices.Clip(ring), nil
}
