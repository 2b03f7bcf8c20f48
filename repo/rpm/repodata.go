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

	"github.com/pierhq/pier/internal/panics"
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
// has its low 7 bits zero — one package in blockAvg — or earlier, once it
// holds blockMax packages or blockBytes of XML (each file cuts on its own:
// a block of filelists may end where the same packages' primary goes on).
// Adding or removing a package changes the block it falls in (two if it
// ends a block; a few more when caps cut a long stretch) and member 0;
// every other member has the bytes it had in the previous publish, and the
// Format's blockCache hands those back instead of compressing them again.
// The checksum and the open-checksum still cover the whole file: both are
// computed afresh in every publish over the bytes published, so a cache
// makes a publish faster but never different.
//
// Each member restarts the compressor's window: on 10,000 synthetic
// packages a file grows by 11% with blocks of 32 packages, 3.3% with 128
// and 1.6% with 256, while an added package costs the same CPU time for
// all of them (hashing the whole XML dominates). 128 packages (a few MB of
// real filelists) keep both the size and the work per change small.
const (
	blockAvg   = 128     // a power of two
	blockMax   = 1024    // (1-1/128)^1024 ≈ e^-8: rarely reached by chance
	blockBytes = 4 << 20 // bounds the work of recompressing one block
)

// endsBlock reports whether a pkgid ends its block wherever it stands.
func endsBlock(pkgid string) bool {
	v, _ := strconv.ParseUint(pkgid[:8], 16, 32) // pkgid is checked hex
	return v%blockAvg == 0
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

// member is one compressed member of a file, filled in by a compressor
// when the cache did not hold it.
type member struct {
	data []byte
	err  error
	key  blockKey // of the bytes it was compressed from
}

// compressJob is one member to compress.
type compressJob struct {
	src []byte
	key blockKey
	dst *member
}

// writeMetadata writes primary, filelists and other. One goroutine per
// file renders its members in order and hashes them (sha256 of the XML
// must run front to back); members the cache does not hold go to a pool of
// compressors, one per CPU.
//
// reuse, when not nil, holds per document the members of the previous
// generation that may stand for a run of entries starting at a block start
// (planReuse): their bytes are emitted as they are, and those entries need
// no meta. An entry without meta anywhere else fails with errNeedRows.
func (f *Format) writeMetadata(ctx context.Context, entries []*entry, reuse []map[int]*prevMember) ([]*mdFile, error) {
	jobs := make(chan compressJob, 2*runtime.GOMAXPROCS(0))
	var workers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		workers.Go(func() {
			for j := range jobs {
				// Per job, so that a worker goes on taking jobs after one
				// fails: the producers never wait on a pool that died.
				func() {
					defer panics.Recover(&j.dst.err)
					j.dst.data, j.dst.err = f.codec.compress(j.src)
					if j.dst.err == nil && f.cache != nil {
						if d := j.dst.data; cap(d) > len(d)+len(d)/8 {
							j.dst.data = bytes.Clone(d) // hold only what the cache counts
						}
						f.cache.put(j.key, j.dst.data)
					}
					f.bufs.Put(j.src[:0])
				}()
			}
		})
	}

	type result struct {
		members []*member
		openSum string
		open    int64
		err     error
	}
	results := make([]result, len(documents))
	var producers sync.WaitGroup
	for i := range documents {
		producers.Go(func() {
			r := &results[i]
			defer panics.Recover(&r.err)
			d := &documents[i]
			open := sha256.New()
			emit := func(src []byte) {
				open.Write(src)
				r.open += int64(len(src))
				key := f.cache.key(f.codec.id, src)
				m := &member{key: key}
				r.members = append(r.members, m)
				if data, ok := f.cache.get(key); ok {
					m.data = data
					f.bufs.Put(src[:0])
					return
				}
				jobs <- compressJob{src: src, key: key, dst: m}
			}
			head := append(f.bufs.Get(), xmlDecl+d.start...)
			head = strconv.AppendInt(head, int64(len(entries)), 10)
			emit(append(head, "\">\n"...))
			var starts map[int]*prevMember
			if reuse != nil {
				starts = reuse[i]
			}
			b, n := f.bufs.Get(), 0
			for i := 0; i < len(entries); i++ {
				if pm := starts[i]; pm != nil && n == 0 {
					emit(pm.plain)
					pm.plain = nil // emit recycles it
					i += len(pm.refs) - 1
					continue
				}
				e := entries[i]
				if e.m == nil {
					r.err = errNeedRows
					return
				}
				b, n = d.entry(b, e), n+1
				if e.ends || n == blockMax || len(b) >= blockBytes || i == len(entries)-1 {
					if err := ctx.Err(); err != nil {
						r.err = err
						return
					}
					emit(b)
					b, n = f.bufs.Get(), 0
				}
			}
			emit(append(b, d.end...))
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
		for _, m := range r.members {
			if m.err != nil {
				return nil, fmt.Errorf("rpm: compress %s: %w", kind, m.err)
			}
			n += len(m.data)
		}
		data := make([]byte, 0, n)
		produced := &producedFile{members: make([]producedMember, len(r.members)), openSum: r.openSum, openSize: r.open}
		for k, m := range r.members {
			data = append(data, m.data...)
			produced.members[k] = producedMember{n: len(m.data), plain: m.key}
		}
		sum := sha256.Sum256(data)
		hexSum := hex.EncodeToString(sum[:])
		if f.cache != nil {
			f.memo.produced.Put(hexSum, produced)
		}
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
