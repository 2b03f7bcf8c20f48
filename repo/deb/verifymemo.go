package deb

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"sync/atomic"

	xi2 "github.com/xi2/xz"

	"github.com/pierhq/pier/internal/fifo"
	"github.com/pierhq/pier/internal/gzmember"
)

// Incremental verification. Verify checks that every compressed variant
// of an index decompresses to the uncompressed index Release lists. After
// adding one package to a 10,000-package target that means decoding
// megabytes of xz of which one block is new: most of a publish's time. So
// the Format remembers, bounded:
//
//   - the variants it has checked: (sha256 of the compressed file, sha256
//     and size of the uncompressed index it decompresses to); the same
//     compressed bytes decompress to the same bytes every time, so a
//     variant checked before is not decompressed again;
//   - the xz blocks it has decoded: the keyed hash of a block's compressed
//     bytes and the key of the bytes it decodes to (seeding from the
//     previous generation adds its blocks, which were checked before that
//     generation went live, the CRC64 of each matching its input).
//
// An .xz variant in Pier's layout (assembleXZ: one stream, the block
// header Pier writes, an index and a footer that hold together) is then
// checked block by block against the uncompressed index: its blocks cut the
// index at the sizes the xz index states, the CRC64 of each block's input
// must be the one the block stores, and each block must decode to exactly
// its slice of the index, decoded afresh unless that very block decoded to
// those very bytes before. Anything else takes the full path (decompress
// everything), which also words every error.
type verifyMemo struct {
	variants *fifo.Map[variantKey, bool]
	blocks   *fifo.Map[cacheKey, cacheKey]        // compressed xz block or gzip member → its input
	gzips    *fifo.Map[string, []int]             // sha256 of a Packages.gz this process wrote → its members' lengths
	contents *fifo.Map[string, *producedContents] // sha256 of a Contents .gz this process wrote

	blocksDecoded, variantsSkipped atomic.Int64 // for tests and benchmarks
}

// variantKey names a checked variant.
type variantKey struct {
	packed, plain string // sha256 of the compressed and the uncompressed file
	size          int64  // of the uncompressed file
}

const (
	memoVariants = 4096
	memoBlocks   = 1 << 16
	// codecXZPacked and codecGzipPacked tag keys of compressed xz blocks
	// and gzip members, apart from the cache's keys of uncompressed bytes.
	codecXZPacked   uint8 = 0x80 | codecXZBlock
	codecGzipPacked uint8 = 0x80 | codecGzip
	// codecContentsPacked tags keys of compressed Contents members, whose
	// lines were checked too.
	codecContentsPacked uint8 = 0x80 | codecContents
	memoGzips                 = 256
)

func newVerifyMemo() *verifyMemo {
	return &verifyMemo{variants: fifo.New[variantKey, bool](memoVariants), blocks: fifo.New[cacheKey, cacheKey](memoBlocks),
		gzips: fifo.New[string, []int](memoGzips), contents: fifo.New[string, *producedContents](memoGzips)}
}

func (m *verifyMemo) checked(k variantKey) bool {
	if m == nil {
		return false
	}
	ok, _ := m.variants.Get(k)
	if ok {
		m.variantsSkipped.Add(1)
	}
	return ok
}

func (m *verifyMemo) addVariant(k variantKey) {
	if m != nil {
		m.variants.Put(k, true)
	}
}

func (m *verifyMemo) block(packed cacheKey) (cacheKey, bool) {
	if m == nil {
		return cacheKey{}, false
	}
	return m.blocks.Get(packed)
}

func (m *verifyMemo) addBlock(packed, plain cacheKey) {
	if m != nil {
		m.blocks.Put(packed, plain)
	}
}

// putGzip records the member lengths of a Packages.gz this process wrote.
func (m *verifyMemo) putGzip(sum string, lens []int) {
	if m != nil {
		m.gzips.Put(sum, lens)
	}
}

func (m *verifyMemo) gzip(sum string) ([]int, bool) {
	if m == nil {
		return nil, false
	}
	return m.gzips.Get(sum)
}

// producedMember is one gzip member of a Contents file this process wrote.
type producedMember struct {
	n     int      // compressed length
	plain cacheKey // key of the text it was compressed from
}

// producedContents is what the writer knows of a Contents .gz it wrote:
// its members and the sha256 and size it computed over their text.
type producedContents struct {
	members   []producedMember
	plainSum  string
	plainSize int64
}

func (m *verifyMemo) putContents(sum string, pc *producedContents) {
	if m != nil {
		m.contents.Put(sum, pc)
	}
}

// fastContents checks gz, a Contents .gz this process wrote (sum its
// sha256), against plain, the sha256 and size Release lists for its text:
// the writer's record must state them, and each member must decompress (on
// its own) to the very text the writer compressed, with whole lines as
// apt-file reads them, decompressed afresh unless that very member was
// checked before. It trusts the SHA-256 the writer computed over the text
// it wrote; false sends the caller to the full check.
func (f *Format) fastContents(ctx context.Context, sum string, gz []byte, plain hashEntry) bool {
	if f.cache == nil || f.memo == nil {
		return false
	}
	pc, _ := f.memo.contents.Get(sum)
	if pc == nil || pc.plainSum != plain.sum || pc.plainSize != plain.size {
		return false
	}
	pos := 0
	for i, pm := range pc.members {
		if i%64 == 0 && ctx.Err() != nil {
			return false
		}
		if pm.n <= 0 || pos+pm.n > len(gz) {
			return false
		}
		mem := gz[pos : pos+pm.n]
		pos += pm.n
		packed := f.cache.key(codecContentsPacked, mem)
		if k, ok := f.memo.block(packed); ok && k == pm.plain {
			continue
		}
		text, ok := gzmember.One(mem, maxMemberPlain)
		if !ok || f.cache.key(codecContents, text) != pm.plain {
			return false
		}
		lines := &contentsLines{}
		lines.Write(text)
		if lines.finish() != nil {
			return false
		}
		f.memo.blocksDecoded.Add(1)
		f.memo.addBlock(packed, pm.plain)
	}
	return pos == len(gz)
}

// fastGzip checks gz, a Packages.gz this process wrote (sum its sha256),
// against plain member by member: the members lie at the lengths the
// writer recorded, each must decompress (on its own, CRC32 and length
// checked, nothing after it) to its block of plain (cutBlocks), decompressed
// afresh unless that very member decompressed to those very bytes before.
// False when gz is not such a file or a member does not hold its block.
func (f *Format) fastGzip(ctx context.Context, sum string, gz, plain []byte) bool {
	lens, ok := f.memo.gzip(sum)
	if f.cache == nil || !ok {
		return false
	}
	blocks := gzipBlocks(cutBlocks(plain), plain)
	if len(blocks) != len(lens) {
		return false
	}
	pos := 0
	for i, b := range blocks {
		if i%64 == 0 && ctx.Err() != nil {
			return false
		}
		if lens[i] <= 0 || pos+lens[i] > len(gz) {
			return false
		}
		mem := gz[pos : pos+lens[i]]
		pos += lens[i]
		packed := f.cache.key(codecGzipPacked, mem)
		in := f.cache.key(codecGzip, b.in)
		if k, ok := f.memo.block(packed); ok && k == in {
			continue
		}
		if !gunzipsTo(mem, b.in) {
			return false
		}
		f.memo.blocksDecoded.Add(1)
		f.memo.addBlock(packed, in)
	}
	return pos == len(gz)
}

// maxMemberPlain bounds what one Contents member may decompress to (they
// are cut at a few hundred KiB of text); a member past it is refused and
// the full check reads the file as a stream.
const maxMemberPlain = 256 << 20

// gunzipsTo reports whether mem is one whole gzip member that decompresses
// to exactly want.
func gunzipsTo(mem, want []byte) bool {
	got, ok := gzmember.One(mem, len(want))
	return ok && bytes.Equal(got, want)
}

// fastXZ checks the xz variant x against plain, the uncompressed index,
// block by block (see verifyMemo); false when x is not in Pier's layout or
// a block does not decode to its slice of plain (the caller then runs the
// full check).
func (f *Format) fastXZ(ctx context.Context, x, plain []byte) bool {
	if f.cache == nil || f.memo == nil || !xzEnvelopeOK(x) {
		return false
	}
	blocks, ok := splitXZ(x, plain)
	if !ok {
		return false
	}
	for i, b := range blocks {
		if i%64 == 0 && ctx.Err() != nil {
			return false
		}
		packed := f.cache.key(codecXZPacked, b.out)
		in := f.cache.key(codecXZBlock, b.in)
		if k, ok := f.memo.block(packed); ok && k == in {
			continue
		}
		if !decodesTo(b, b.in) {
			return false
		}
		f.memo.blocksDecoded.Add(1)
		f.memo.addBlock(packed, in)
	}
	return true
}

// decodesTo reports whether the xz block b, as a stream of its own,
// decodes (with its CRC64 check) to exactly want.
func decodesTo(b xzBlock, want []byte) bool {
	r, err := xi2.NewReader(bytes.NewReader(assembleXZ([]xzBlock{b})), xzMaxDict)
	if err != nil {
		return false
	}
	got, err := io.ReadAll(io.LimitReader(r, int64(len(want))+1))
	return err == nil && bytes.Equal(got, want)
}

// xzEnvelopeOK reports whether x has the stream header assembleXZ writes
// and a footer whose CRC32 and flags hold (splitXZ checks the index and
// the blocks).
func xzEnvelopeOK(x []byte) bool {
	flags := []byte{0x00, 0x04}
	header := append([]byte(xzHeaderMagic), flags...)
	header = binary.LittleEndian.AppendUint32(header, crc32.ChecksumIEEE(flags))
	if len(x) < 24 || !bytes.Equal(x[:12], header) {
		return false
	}
	footer := x[len(x)-12:]
	return binary.LittleEndian.Uint32(footer[:4]) == crc32.ChecksumIEEE(footer[4:10]) &&
		bytes.Equal(footer[8:10], flags) && string(footer[10:]) == xzFooterMagic
}
