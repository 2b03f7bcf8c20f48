package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"runtime"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/pierhq/pier/internal/panics"
)

// contentsFile is one <component>/Contents-<arch>: the paths the
// component's packages of that architecture install (arch-all packages
// included, as in Packages), one line each, "path  section/name[,…]",
// sorted by path, without a header (Debian's archive dropped it; apt-file
// reads files with and without one).
//
// Like Debian's archive, Pier serves only the gzip form,
// Contents-<arch>.gz; Release lists the uncompressed Contents-<arch> too,
// with its size and sha256, as apt requires of every index target (it
// looks an index up by its uncompressed name and checks the decompressed
// bytes against it), but never fetches it when the .gz is there. Keeping
// only the compressed bytes bounds a publish's memory: a 10,000-package
// target with a hundred files each makes files of up to a million lines.
type contentsFile struct {
	comp, arch string
	plainSize  int64
	plainSum   [sha256.Size]byte
	gz         []byte
	gzSum      [sha256.Size]byte
	members    []producedMember // for Verify's fast path
}

// contentsSpace are the bytes apt-file takes for whitespace when it splits
// a line (Perl's \s; a newline cannot be in a path).
const contentsSpace = " \t\r\f\v"

// blankPath reports whether p is only whitespace: apt-file would read its
// line as a package list without a path, so Contents leaves it out.
func blankPath(p []byte) bool {
	for _, c := range p {
		if !strings.ContainsRune(contentsSpace, rune(c)) {
			return false
		}
	}
	return true
}

// contentsPadding is the width a shorter path is padded to with spaces
// before the space and the package list: dak writes "%-55s %s"
// (daklib/contents.py, BinaryContentsWriter.formatline). apt-file splits
// a line at its last run of whitespace, so the padding is cosmetic.
const contentsPadding = 55

// buildContents writes Contents-<arch> for every component and
// architecture, in that order, on all cores.
func buildContents(ctx context.Context, entries []indexEntry, comps, archs []string, cache *compressCache) ([]*contentsFile, error) {
	files := make([]*contentsFile, len(comps)*len(archs))
	for c, comp := range comps {
		for a, arch := range archs {
			files[c*len(archs)+a] = &contentsFile{comp: comp, arch: arch}
		}
	}
	errs := make([]error, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Go(func() {
			for i := range next {
				func() { // per file: a worker that hit a bug goes on taking files
					defer panics.Recover(&errs[i])
					errs[i] = files[i].build(ctx, entries, i/len(archs), i%len(archs), cache)
				}()
			}
		})
	}
	for i := range files {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("the Contents index of %s/%s: %w", files[i].comp, files[i].arch, err)
		}
	}
	return files, nil
}

// contentsSources returns the packages whose files Contents-<arch> of
// component comp lists: for each package name of the component in
// architecture arch or all, its highest version, as dak lists the newest
// binary of each name (daklib/contents.py, newest_binaries), an
// arch-specific package before an arch-all one of the same version. A
// package recorded before Pier kept file lists contributes nothing, and
// neither do its older versions. entries are in Packages order (name,
// version, architecture); so is the result.
func contentsSources(entries []indexEntry, comp, arch int) []*indexEntry {
	var sel []*indexEntry
	for i := range entries {
		e := &entries[i]
		if e.comp != comp || (e.arch != arch && e.arch != -1) {
			continue
		}
		if n := len(sel); n > 0 && sel[n-1].pkg.Name == e.pkg.Name {
			if e.arch == -1 && sel[n-1].arch != -1 && compareVersions(e.pkg.Version, sel[n-1].pkg.Version) == 0 {
				continue
			}
			sel[n-1] = e
			continue
		}
		sel = append(sel, e)
	}
	out := sel[:0]
	for _, e := range sel {
		if e.meta.hasFiles {
			out = append(out, e)
		}
	}
	return out
}

// contentsLabel returns how Contents names a package: "section/name" as
// dak writes it, or the bare name (as apt-ftparchive writes every
// package) when the package has no Section or one that would not survive
// the line format (whitespace, which apt-file splits at, or a comma, which
// separates packages).
func contentsLabel(e *indexEntry) string {
	section := fieldValue(e.meta.head, "Section")
	if len(section) == 0 || bytes.ContainsAny(section, contentsSpace+",") {
		return e.pkg.Name
	}
	return string(section) + "/" + e.pkg.Name
}

// fieldValue returns the value of a one-line field of a rendered stanza
// fragment (nil if absent).
func fieldValue(fragment []byte, name string) []byte {
	for rest := fragment; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if len(line) > len(name) && line[len(name)] == ':' && string(line[:len(name)]) == name {
			return bytes.TrimSpace(line[len(name)+1:])
		}
	}
	return nil
}

// contentsWriter hashes and counts the plain Contents text and compresses
// it as concatenated gzip members (every gzip reader reads them as one
// stream: zlib's gzread, which apt's FileFd and so apt-file use, Go's
// gzip.Reader, gzip -d), cut after a line at content-defined points as the
// xz blocks of Packages are (see cutBlocks): a member ends after a line
// whose FNV-1a hash is 0 mod cutOdds once it holds xzMinBlock bytes, or
// before it would pass xzMaxBlock. Members found in cache are reused; so a
// publish after one upload compresses the one or two members the
// package's paths fall in.
type contentsWriter struct {
	sum     hash.Hash
	size    int64
	chunk   []byte
	out     bytes.Buffer
	cache   *compressCache
	members []producedMember
}

// writeLine adds one line (with its newline).
func (w *contentsWriter) writeLine(line []byte) error {
	if len(w.chunk)+len(line) > xzMaxBlock && len(w.chunk) > 0 {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.sum.Write(line)
	w.size += int64(len(line))
	w.chunk = append(w.chunk, line...)
	if len(w.chunk) >= xzMinBlock && stanzaHash(line)%cutOdds == 0 {
		return w.flush()
	}
	return nil
}

// flush writes the pending chunk as one gzip member.
func (w *contentsWriter) flush() error {
	if len(w.chunk) == 0 {
		return nil
	}
	k := w.cache.key(codecContents, w.chunk)
	if c, ok := w.cache.get(k); ok {
		w.out.Write(c.out)
		w.members = append(w.members, producedMember{n: len(c.out), plain: k})
	} else {
		member, err := gzipMember(w.chunk)
		if err != nil {
			return err
		}
		w.out.Write(member)
		w.cache.put(k, member, 0)
		w.members = append(w.members, producedMember{n: len(member), plain: k})
	}
	w.chunk = w.chunk[:0]
	return nil
}

// gzipMember compresses data as one gzip member with no name and no mtime.
func gzipMember(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(data)/4 + 64)
	gz, err := gzip.NewWriterLevel(&buf, gzipLevel)
	if err != nil {
		return nil, err
	}
	if _, err := gz.Write(data); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// build writes the Contents file of component comp and architecture arch
// by merging the sorted file lists of its packages: memory holds one
// cursor per package and the compressed output, never the plain text.
func (cf *contentsFile) build(ctx context.Context, entries []indexEntry, comp, arch int, cache *compressCache) error {
	srcs := contentsSources(entries, comp, arch)
	labels := make([]string, len(srcs))
	cursors := make([]fileCursor, len(srcs))
	h := make(cursorHeap, 0, len(srcs))
	for i, e := range srcs {
		labels[i] = contentsLabel(e)
		cursors[i].rest = e.meta.files
		ok, err := cursors[i].next()
		if err != nil {
			return fmt.Errorf("package %s: %w", pkgID(e.pkg), err)
		}
		if ok {
			h = append(h, i)
		}
	}
	h.init(cursors)

	cw := &contentsWriter{sum: sha256.New(), cache: cache}
	var line []byte
	for n := 0; len(h) > 0; n++ {
		if n%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line = append(line[:0], cursors[h[0]].cur...)
		pathLen := len(line)
		skip := strings.ContainsRune(contentsSpace, rune(line[0])) && blankPath(line)
		for range contentsPadding - pathLen {
			line = append(line, ' ')
		}
		line = append(line, ' ')
		for first := true; len(h) > 0 && bytes.Equal(cursors[h[0]].cur, line[:pathLen]); first = false {
			i := h[0]
			if !first {
				line = append(line, ',')
			}
			line = append(line, labels[i]...)
			ok, err := cursors[i].next()
			switch {
			case err != nil:
				return fmt.Errorf("package %s: %w", pkgID(srcs[i].pkg), err)
			case ok:
				h.fix(cursors, 0)
			default:
				h.pop(cursors)
			}
		}
		if skip {
			continue
		}
		line = append(line, '\n')
		if err := cw.writeLine(line); err != nil {
			return err
		}
	}
	if err := cw.flush(); err != nil {
		return err
	}
	if cw.out.Len() == 0 { // an empty Contents: one empty member, a valid gzip file
		member, err := gzipMember(nil)
		if err != nil {
			return err
		}
		cw.out.Write(member)
		cw.members = append(cw.members, producedMember{n: len(member), plain: cache.key(codecContents, nil)})
	}
	cf.members = cw.members
	cf.plainSize = cw.size
	cw.sum.Sum(cf.plainSum[:0])
	cf.gz = cw.out.Bytes()
	cf.gzSum = sha256.Sum256(cf.gz)
	return nil
}

// cursorHeap is a min-heap of cursor indices ordered by the cursors'
// current paths, then by index (the packages' name order), so that the
// packages sharing a path come out in name order.
type cursorHeap []int

func (h cursorHeap) less(c []fileCursor, i, j int) bool {
	a, b := h[i], h[j]
	if d := bytes.Compare(c[a].cur, c[b].cur); d != 0 {
		return d < 0
	}
	return a < b
}

func (h cursorHeap) init(c []fileCursor) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.fix(c, i)
	}
}

// fix moves element i down to its place.
func (h cursorHeap) fix(c []fileCursor, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h.less(c, r, l) {
			m = r
		}
		if !h.less(c, m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// pop removes the smallest element.
func (h *cursorHeap) pop(c []fileCursor) {
	old := *h
	n := len(old) - 1
	old[0] = old[n]
	*h = old[:n]
	h.fix(c, 0)
}
