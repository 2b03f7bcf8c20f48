package rpm

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/pierhq/pier/internal/gzmember"
	"github.com/pierhq/pier/internal/panics"
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
// generation's reused members are not decompressed again). Only gzip
// repodata is seeded (zstd frames are not split here), and nothing is read
// when the cache already holds those files' members: this process wrote
// them (a running server) or seeded them already (Prepare, then Index).
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
	// The files at once (a new process seeds every publish's first one):
	// each walk decompresses into one reused buffer.
	var wg sync.WaitGroup
	seeded := make([]bool, len(names))
	bugs := make([]error, len(names))
	for i, name := range names {
		wg.Go(func() {
			defer panics.Recover(&bugs[i])
			seeded[i] = f.seedFile(ctx, prev, base, name)
		})
	}
	wg.Wait()
	repanic(bugs...)
	if !slices.Contains(seeded, false) {
		f.written.set(base, names)
	}
}

// Prepare implements repo.Preparer: it seeds the member cache from the
// current generation of t's binary and source repositories (seedCache),
// so that a new process reads the previous repodata while the publisher
// reads the packages.
func (f *Format) Prepare(ctx context.Context, t repo.Target, prev repo.PreviousFiles) {
	base, err := basePath(t)
	if err != nil {
		return
	}
	var wg sync.WaitGroup
	var bug error
	wg.Go(func() {
		defer panics.Recover(&bug)
		f.seedCache(ctx, prev, base+SourceDir)
	})
	f.seedCache(ctx, prev, base)
	wg.Wait()
	repanic(bug)
}

// repanic panics on the calling goroutine with the first panic a worker
// goroutine recovered, so that it reaches the goroutine whose recovery
// reports it (the publisher's, or Prepare's, which logs it) instead of
// vanishing with the worker.
func repanic(bugs ...error) {
	for _, b := range bugs {
		if b != nil {
			panic(b)
		}
	}
}

// seedFile caches the members of the previous generation's repodata file
// base+name; it reports whether it read the whole file.
func (f *Format) seedFile(ctx context.Context, prev repo.PreviousFiles, base, name string) bool {
	if ctx.Err() != nil {
		return false
	}
	data, err := prev.ReadFile(ctx, base+name)
	if err != nil {
		return false
	}
	root := rootOf(name)
	// Only a target this process has not indexed yet can be handed keys
	// (the publisher's rule): elsewhere the copies would only be dropped.
	rec, recOK := &prevFile{}, !f.prev.indexed(base)
	whole := gzmember.Walk(data, func(member, plain []byte) bool {
		key := f.cache.key(f.codec.id, plain)
		f.cache.put(key, member)
		// What Verify's fast path would learn by decompressing the
		// member again, when the new generation reuses it.
		facts, ok := parseMember(plain, root)
		if ok && f.memo != nil {
			facts.plain = key
			f.memo.checked.Put(f.cache.key(checkedCodec|f.codec.id, member), facts)
		}
		// A member of packages, for an Index from keys (prevFile).
		if recOK = recOK && ok; ok && !facts.head && !facts.tail {
			rec.members = append(rec.members, prevMember{plain: bytes.Clone(plain), refs: facts.refs})
		}
		return ctx.Err() == nil
	})
	if whole && recOK && ctx.Err() == nil {
		f.prev.put(base+name, rec)
	}
	return whole && ctx.Err() == nil
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
// checksum-named hrefs) whose members this process last put in the cache
// there, by writing them (a publish) or seeding them whole (Prepare): a
// publish that follows needs no seeding. Safe for concurrent use.
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
