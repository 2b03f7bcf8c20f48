package rpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"sync"
)

// Repodata files (primary, filelists, other) are written as a sequence of
// independently compressed members: gzip members (RFC 1952 §2.2) or zstd
// frames, which every reader decompresses, concatenated, to exactly the
// XML a single stream would hold:
//
//	member 0      the XML declaration and the root start tag (with the count)
//	member 1..k   the packages of block 1..k
//	member k+1    the root end tag
//
// Blocks are cut at content-defined points of the sorted package list: a
// block ends after a package whose pkgid (a sha256, so uniformly spread)
// has its low bits zero — one package in blockAvg — or once it holds
// blockMax packages. Adding or removing a package changes the block it
// falls in (two if it ends a block) and member 0; every other member has
// the bytes it had in the previous publish, and the Format's blockCache
// hands those back instead of compressing them again. The checksum and the
// open-checksum still cover the whole file: both are computed afresh in
// every publish, over the bytes published, so a cache can make a publish
// faster but never different.
const (
	blockAvg = 64  // a power of two
	blockMax = 512 // (1-1/64)^512 ≈ 0.03%: a cap rarely reached by chance
)

// cutBlocks returns the end (exclusive) of each block of entries.
func cutBlocks(entries []*entry) []int {
	var ends []int
	start := 0
	for i, e := range entries {
		v, _ := strconv.ParseUint(e.sum[:8], 16, 32) // e.sum is checked hex
		if v%blockAvg == 0 || i+1-start >= blockMax {
			ends = append(ends, i+1)
			start = i + 1
		}
	}
	if start < len(entries) {
		ends = append(ends, len(entries))
	}
	return ends
}

// document describes one repodata file: its root element and how one
// package is written into it.
type document struct {
	kind  string // "primary", "filelists", "other"
	start string // root start tag up to the packages attribute's value
	end   string // root end tag and newline
	entry func(b []byte, e *entry) []byte
}

var documents = []document{
	{"primary", `<metadata xmlns="` + nsCommon + `" xmlns:rpm="` + nsRPM + `" packages="`, "</metadata>\n", appendPrimary},
	{"filelists", `<filelists xmlns="` + nsFilelists + `" packages="`, "</filelists>\n", appendFilelists},
	{"other", `<otherdata xmlns="` + nsOther + `" packages="`, "</otherdata>\n", appendOther},
}

func appendPrimary(b []byte, e *entry) []byte {
	b = append(b, e.m.Frag[fragPrimaryHead]...)
	b = append(b, e.sum...)
	b = append(b, e.m.Frag[fragPrimaryMid]...)
	b = append(b, "  <time"...)
	b = appendUintAttr(b, "file", uploadTime(e.pkg))
	b = appendUintAttr(b, "build", e.m.BuildTime)
	b = append(b, "/>\n  <size"...)
	b = appendUintAttr(b, "package", uint64(e.pkg.Size))
	b = appendUintAttr(b, "installed", e.m.Installed)
	b = appendUintAttr(b, "archive", e.m.Archive)
	b = append(b, "/>\n  <location"...)
	b = appendAttr(b, "href", e.href)
	b = append(b, "/>\n"...)
	return append(b, e.m.Frag[fragPrimaryTail]...)
}

func appendFilelists(b []byte, e *entry) []byte {
	b = append(b, `<package pkgid="`...)
	b = append(b, e.sum...)
	b = append(b, '"')
	b = append(b, e.m.Frag[fragIdent]...)
	b = append(b, e.m.Frag[fragFiles]...)
	return append(b, "</package>\n"...)
}

func appendOther(b []byte, e *entry) []byte {
	b = append(b, `<package pkgid="`...)
	b = append(b, e.sum...)
	b = append(b, '"')
	b = append(b, e.m.Frag[fragIdent]...)
	b = append(b, e.m.Frag[fragChangelog]...)
	return append(b, "</package>\n"...)
}

// compressJob is one member to compress: src goes into *dst.
type compressJob struct {
	src []byte
	key blockKey
	dst *[]byte
	err *error
}

// writeMetadata writes primary, filelists and other. One goroutine per
// file renders its members in order and hashes them (sha256 of the XML
// must run front to back); members the cache does not hold go to a pool of
// compressors, one per CPU.
func (f *Format) writeMetadata(ctx context.Context, entries []*entry) ([]*mdFile, error) {
	ends := cutBlocks(entries)
	jobs := make(chan compressJob, 2*runtime.GOMAXPROCS(0))
	var workers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		workers.Go(func() {
			for j := range jobs {
				*j.dst, *j.err = f.codec.compress(j.src)
				if *j.err == nil {
					f.cache.put(j.key, *j.dst)
				}
				f.bufs.Put(j.src[:0])
			}
		})
	}

	type result struct {
		members [][]byte
		errs    []error
		openSum string
		open    int64
		err     error
	}
	results := make([]result, len(documents))
	var producers sync.WaitGroup
	for i := range documents {
		producers.Go(func() {
			r := &results[i]
			d := &documents[i]
			r.members = make([][]byte, len(ends)+2)
			r.errs = make([]error, len(ends)+2)
			open := sha256.New()
			emit := func(k int, src []byte) {
				open.Write(src)
				r.open += int64(len(src))
				key := f.cache.key(f.codec.id, src)
				if data, ok := f.cache.get(key); ok {
					r.members[k] = data
					f.bufs.Put(src[:0])
					return
				}
				jobs <- compressJob{src: src, key: key, dst: &r.members[k], err: &r.errs[k]}
			}
			head := append(f.bufs.Get(), xmlDecl+d.start...)
			head = strconv.AppendInt(head, int64(len(entries)), 10)
			emit(0, append(head, "\">\n"...))
			start := 0
			for k, end := range ends {
				if err := ctx.Err(); err != nil {
					r.err = err
					return
				}
				b := f.bufs.Get()
				for _, e := range entries[start:end] {
					b = d.entry(b, e)
				}
				emit(k+1, b)
				start = end
			}
			emit(len(ends)+1, append(f.bufs.Get(), d.end...))
			r.openSum = hex.EncodeToString(open.Sum(nil))
		})
	}
	producers.Wait()
	close(jobs)
	workers.Wait()

	parts := make([]*mdFile, len(documents))
	for i, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		kind := documents[i].kind
		n := 0
		for k, m := range r.members {
			if r.errs[k] != nil {
				return nil, fmt.Errorf("rpm: compress %s: %w", kind, r.errs[k])
			}
			n += len(m)
		}
		data := make([]byte, 0, n)
		for _, m := range r.members {
			data = append(data, m...)
		}
		sum := sha256.Sum256(data)
		hexSum := hex.EncodeToString(sum[:])
		parts[i] = &mdFile{
			kind:     kind,
			href:     "repodata/" + hexSum + "-" + kind + f.codec.ext,
			data:     data,
			sum:      hexSum,
			openSum:  r.openSum,
			openSize: r.open,
		}
	}
	return parts, nil
}

// bufferPool recycles the buffers members are rendered into.
type bufferPool struct{ p sync.Pool }

// Get returns an empty buffer.
func (p *bufferPool) Get() []byte {
	if b, ok := p.p.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 64<<10)
}

// Put recycles b unless it grew past 4 MiB (one package with huge file
// lists should not pin its buffer).
func (p *bufferPool) Put(b []byte) {
	if cap(b) > 4<<20 {
		return
	}
	p.p.Put(&b)
}

// sizedBuffer is a bytes.Buffer for a compressor's output.
func sizedBuffer(srcLen int) *bytes.Buffer {
	return bytes.NewBuffer(make([]byte, 0, srcLen/6+64))
}
