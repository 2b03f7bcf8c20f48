package rpm

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/pierhq/pier/repo"
)

// repodataHref finds the checksum-named gzip repodata files a repomd.xml
// names.
var repodataHref = regexp.MustCompile(`href="(repodata/[0-9a-f]{64}-(?:primary|filelists|other)\.xml\.gz)"`)

// seedCache fills the member cache from the previous generation, so that a
// new process (pier import), whose cache is empty, compresses only the
// members an upload changed instead of every member of every file: each
// gzip member of the previous primary, filelists and other is added under
// the key of the bytes it decompresses to (what writeMetadata would look it
// up by), and Verify's memo with what each member holds (so the new
// generation's reused members are not decompressed again). Only gzip repodata is seeded (zstd frames are not split here), and
// nothing is read when this process wrote the previous generation's
// repodata itself (a running server: its cache already holds the members)
// or when the cache already holds the first member of the second block.
// Errors only mean nothing is seeded.
func (f *Format) seedCache(ctx context.Context, prev repo.PreviousFiles, base string) {
	if prev == nil || f.cache == nil || f.codec.id != gzipCodecID {
		return
	}
	md, err := prev.ReadFile(ctx, base+"repodata/repomd.xml")
	if err != nil {
		return
	}
	hrefs := repodataHref.FindAllSubmatch(md, -1)
	names := make([]string, len(hrefs))
	for i, m := range hrefs {
		names[i] = string(m[1])
	}
	if f.written.has(base, names) {
		return
	}
	for _, name := range names {
		if ctx.Err() != nil {
			return
		}
		data, err := prev.ReadFile(ctx, base+name)
		if err != nil {
			continue
		}
		members, ok := splitGzip(data)
		if !ok {
			continue
		}
		root := rootOf(name)
		for _, mem := range members {
			key := f.cache.key(f.codec.id, mem.plain)
			f.cache.put(key, mem.member)
			// What Verify's fast path would learn by decompressing the
			// member again, when the new generation reuses it.
			if facts, ok := parseMember(mem.plain, root); ok && f.memo != nil {
				facts.plain = key
				f.memo.checked.Put(f.cache.key(checkedCodec|f.codec.id, mem.member), facts)
			}
		}
	}
}

// rootOf returns the root element of the repodata file at href.
func rootOf(href string) string {
	switch {
	case strings.HasSuffix(href, "-primary.xml.gz"):
		return "metadata"
	case strings.HasSuffix(href, "-filelists.xml.gz"):
		return "filelists"
	}
	return "otherdata"
}

// writtenSet records, per repository base, the repodata files (their
// checksum-named hrefs) of the last publish this process wrote there: the
// members of those files are in the cache, so a publish that follows one
// of this process needs no seeding. Safe for concurrent use.
type writtenSet struct {
	mu sync.Mutex
	m  map[string][]string
}

// set records the hrefs written at base.
func (w *writtenSet) set(base string, hrefs []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.m[base] = hrefs
}

// has reports whether hrefs, non-empty, are all among those last written
// at base.
func (w *writtenSet) has(base string, hrefs []string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	have := w.m[base]
	if len(hrefs) == 0 || len(have) == 0 {
		return false
	}
	for _, h := range hrefs {
		if !slices.Contains(have, h) {
			return false
		}
	}
	return true
}

// gzMember is one member of a gzip file and the bytes it decompresses to.
type gzMember struct {
	member, plain []byte
}

// splitGzip cuts data into its gzip members (each with a plain 10-byte
// header, as the codec writes them); false when it is not such a file.
func splitGzip(data []byte) ([]gzMember, bool) {
	var out []gzMember
	r := bytes.NewReader(data) // an io.ByteReader: the reader consumes exactly one member at a time
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, false
	}
	for {
		zr.Multistream(false)
		start := len(data) - r.Len() - 10
		if zr.Header.Name != "" || zr.Header.Comment != "" || len(zr.Header.Extra) > 0 || start < 0 {
			return nil, false
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			return nil, false
		}
		end := len(data) - r.Len()
		out = append(out, gzMember{member: data[start:end:end], plain: plain})
		if r.Len() == 0 {
			return out, true
		}
		if err := zr.Reset(r); err != nil {
			return nil, false
		}
	}
}
