package rpm

import (
	"bytes"
	"context"
	"strconv"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"

	"github.com/pierhq/pier/internal/fifo"
	"github.com/pierhq/pier/internal/gzmember"
)

// Incremental verification. A publish that adds one package to a large
// target rewrites one or two members of each repodata file and reuses the
// others (see writeMetadata); reading the whole file back, decompressing
// every member and hashing every byte again would cost more than the
// publish itself. So the Format remembers two things:
//
//   - produced: for each repodata file it wrote (by its sha256), the
//     compressed length of each member, the key of the XML bytes the
//     member was compressed from, and the open-checksum and open-size it
//     computed over those bytes in order;
//   - checked: for each member it has read back before (by a keyed hash
//     of its compressed bytes), the key of the bytes it decompressed to
//     and what those bytes hold (the root start tag and its count, the
//     package elements with the pkgid, location and size of each, the root
//     end tag).
//
// Verify then takes the fast path for a file this process wrote: it cuts
// the file at the recorded member lengths, decompresses only the members
// it has not checked before (each on its own, the whole member consumed,
// its gzip CRC or zstd checksum checked), requires every member to
// decompress to the very bytes the writer compressed (equal keys: two
// 64-bit hashes with per-process random seeds and the length), so that the
// document is the one whose open-checksum and open-size the writer
// computed, and checks the document's shape (one root start tag first, one
// end tag last, only package elements between, the count) and every
// package of primary against the generation's files, as the full path does.
// What it trusts is that SHA-256 computed in this process over bytes it
// rendered is right; anything it cannot prove (a file written by another
// process, a member that is not whole package elements) goes to the full
// path, which also words every error.

// producedMember is one member of a written repodata file.
type producedMember struct {
	n     int      // compressed length
	plain blockKey // key of the XML it was compressed from
}

// producedFile is what writeMetadata knows of a file it wrote.
type producedFile struct {
	members  []producedMember
	openSum  string
	openSize int64
}

// pkgRef is what the checks need of one package element.
type pkgRef struct {
	id   string // pkgid (primary: its sha256 checksum)
	href string // primary only: location, unescaped
	size string // primary only: size package="…"
}

// memberFacts is what one decompressed member holds.
type memberFacts struct {
	plain blockKey // key of the decompressed bytes
	head  bool     // starts with the XML declaration and the root start tag
	count int      // the root's packages count (head only)
	tail  bool     // ends with the root end tag
	refs  []pkgRef // its package elements, in order
}

// verifyMemo is the Format's memory of produced files and checked members,
// each bounded (first in, first out). Safe for concurrent use.
type verifyMemo struct {
	produced *fifo.Map[string, *producedFile]
	checked  *fifo.Map[blockKey, *memberFacts]

	fastFiles, membersRead atomic.Int64 // for tests and benchmarks
}

const (
	memoFiles   = 64      // repodata files remembered (three per repository and publish)
	memoMembers = 1 << 16 // members remembered: a 100,000-package target has ~2,400
)

func newVerifyMemo() *verifyMemo {
	return &verifyMemo{produced: fifo.New[string, *producedFile](memoFiles),
		checked: fifo.New[blockKey, *memberFacts](memoMembers)}
}

// checkedCodec tags the keys of compressed members in the checked memo,
// apart from the codecs' keys of uncompressed bytes.
const checkedCodec = 0x80

// fastData is the fast path of data (see above) for the repodata file f
// of the entry d with the compressed bytes packed, whose root element is
// rootName. ok is false when the fast path cannot vouch for the file: the
// caller then runs the full check.
func (v *verifier) fastData(ctx context.Context, d *repomdData, sum string, packed []byte, rootName string) (s *docSummary, ok bool) {
	fm := v.f
	if fm == nil || fm.cache == nil || fm.memo == nil || rootName == "" {
		return nil, false
	}
	pf, found := fm.memo.produced.Get(sum)
	if !found || pf.openSum != d.OpenChecksum.Value || pf.openSize != d.OpenSize {
		return nil, false
	}
	s = &docSummary{pkgids: make([]string, 0, 1024)}
	count, pos := -1, 0
	for i, pm := range pf.members {
		if i%64 == 0 && ctx.Err() != nil {
			return nil, false
		}
		if pm.n <= 0 || pos+pm.n > len(packed) {
			return nil, false
		}
		mem := packed[pos : pos+pm.n]
		pos += pm.n
		ck := fm.cache.key(checkedCodec|fm.codec.id, mem)
		facts, found := fm.memo.checked.Get(ck)
		if !found {
			var plain []byte
			if facts, plain, found = readMember(fm.codec.id, mem, rootName); !found {
				return nil, false
			}
			facts.plain = fm.cache.key(fm.codec.id, plain)
			fm.memo.checked.Put(ck, facts)
			fm.memo.membersRead.Add(1)
		}
		last := i == len(pf.members)-1
		if facts.plain != pm.plain || facts.head != (i == 0) || facts.tail != last {
			return nil, false
		}
		if facts.head {
			count = facts.count
		}
		for _, r := range facts.refs {
			if d.Type == "primary" && !v.primaryRefOK(r) {
				return nil, false
			}
			s.pkgids = append(s.pkgids, r.id)
		}
	}
	if pos != len(packed) || count != len(s.pkgids) {
		return nil, false
	}
	fm.memo.fastFiles.Add(1)
	return s, true
}

// primaryRefOK reports whether a primary package's location is a file of
// the generation with the sha256 and size primary states.
func (v *verifier) primaryRefOK(r pkgRef) bool {
	loc, ok := v.href(r.href)
	if !ok {
		return false
	}
	f, ok := v.file(loc)
	return ok && f.SHA256 == r.id && strconv.FormatInt(f.Size, 10) == r.size
}

// maxMemberPlain bounds what one repodata member may decompress to: a
// block is cut at blockBytes of XML, but one package's file list can make
// it larger; a member past this is refused (the full check then reads the
// file as a stream).
const maxMemberPlain = 256 << 20

// readMember decompresses one member (a whole gzip member or zstd frame,
// nothing after it) and reads what it holds; false when it does not
// decompress or is not whole package elements with at most the root start
// tag before and the root end tag after them. It also returns the
// decompressed bytes.
func readMember(codecID uint8, mem []byte, rootName string) (*memberFacts, []byte, bool) {
	var plain []byte
	switch codecID {
	case gzipCodecID:
		var ok bool
		if plain, ok = gzmember.One(mem, maxMemberPlain); !ok {
			return nil, nil, false
		}
	default:
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, false
		}
		defer dec.Close()
		if plain, err = dec.DecodeAll(mem, nil); err != nil {
			return nil, nil, false
		}
	}
	facts, ok := parseMember(plain, rootName)
	return facts, plain, ok
}

// parseMember reads the XML of one member (see readMember).
func parseMember(b []byte, rootName string) (*memberFacts, bool) {
	const decl = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	f := &memberFacts{}
	if bytes.HasPrefix(b, []byte(decl)) {
		if !bytes.HasPrefix(b, []byte(decl+"<"+rootName+" ")) {
			return nil, false
		}
		end := bytes.IndexByte(b[len(decl):], '>')
		if end < 0 {
			return nil, false
		}
		end += len(decl)
		n, ok := between(b[len(decl):end+1], ` packages="`, `"`)
		count, err := strconv.Atoi(string(n))
		if !ok || err != nil || count < 0 {
			return nil, false
		}
		f.head, f.count, b = true, count, b[end+1:]
	}
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		switch {
		case len(b) == 0:
			return f, true
		case bytes.HasPrefix(b, []byte("<package ")):
			j := bytes.Index(b, []byte("</package>"))
			if j < 0 {
				return nil, false
			}
			r, ok := packageRef(b[:j], rootName == "metadata")
			if !ok {
				return nil, false
			}
			f.refs = append(f.refs, r)
			b = b[j+len("</package>"):]
		case bytes.Equal(bytes.TrimRight(b, " \t\r\n"), []byte("</"+rootName+">")):
			f.tail = true
			return f, true
		default:
			return nil, false
		}
	}
}

// packageRef reads a package element: of primary (the sha256 pkgid,
// location and size) or of filelists and other (the pkgid attribute).
func packageRef(pkg []byte, primary bool) (pkgRef, bool) {
	if !primary {
		id, err := pkgid(pkg)
		return pkgRef{id: id}, err == nil
	}
	sum, ok1 := between(pkg, `<checksum type="sha256" pkgid="YES">`, "</checksum>")
	href, ok2 := between(pkg, `<location href="`, `"`)
	size, ok3 := between(pkg, `<size package="`, `"`)
	return pkgRef{id: string(sum), href: xmlUnescape(string(href)), size: string(size)}, ok1 && ok2 && ok3
}
