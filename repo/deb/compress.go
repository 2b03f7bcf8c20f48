package deb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz/lzma"

	"github.com/pierhq/pier/internal/panics"
)

// Compression settings of Packages.gz and Packages.xz, chosen by measuring a
// 10 MB synthetic Packages file on a 2-core machine (BenchmarkCompress):
//
//   - gzip level 6 (klauspost): ~45 ms, 21% of the input. Level 9 gains
//     2 points for 12 times the time.
//   - xz: ulikunitz's LZMA2 encoder with its HashTable4 matcher, ~0.52 s on
//     one core, 22% (about gzip's ratio). Its BinaryTree matcher
//     compresses no better on this data and runs for minutes, so it is
//     never used. A 1 MiB dictionary keeps the client's memory small and
//     compresses as well as 8 MiB here.
//   - The xz file is cut into blocks of about 128 KiB (at content-defined
//     stanza boundaries, see cutBlocks), compressed in parallel and written
//     as one multi-block xz stream, as `xz -T` does; every xz decoder reads
//     it. The .gz is one gzip member per block. Blocks depend only on the
//     input, so the output does not depend on scheduling or on the cache.
const (
	gzipLevel  = 6
	xzDictCap  = 1 << 20
	xzBufSize  = 1 << 16
	writeChunk = 1 << 20 // ctx is checked between chunks
)

// xzBlock is one block of a parallel xz file.
type xzBlock struct {
	in  []byte // uncompressed
	out []byte // raw LZMA2, end marker included
	crc uint64 // CRC64 of in
}

// compressAll fills in the .gz and .xz variants and the SHA-256 of every
// variant of files, running gzip members and xz blocks as jobs on all
// cores, largest first. Both variants are cut at the same content-defined
// stanza boundaries (cutBlocks): the .xz is one multi-block stream, the .gz
// one gzip member per block (concatenated members, which gzip, zlib's
// gzread as apt's FileFd uses it, and Go read as one stream), so a change
// recompresses only the block it falls in. Outputs found in cache are
// taken from it; the others are computed and added to it. memo learns each
// .gz's member lengths for Verify.
func compressAll(ctx context.Context, files []*packagesFile, cache *compressCache, memo *verifyMemo) error {
	type job struct {
		cost int
		name string
		run  func() error
	}
	var jobs []job
	blocks := make([][]xzBlock, len(files))
	members := make([][][]byte, len(files))
	for i, f := range files {
		plain := f.data[0]
		f.sums[0] = sha256.Sum256(plain)
		blocks[i] = cutBlocks(plain)
		gzBlocks := gzipBlocks(blocks[i], plain)
		members[i] = make([][]byte, len(gzBlocks))
		for k := range gzBlocks {
			in := gzBlocks[k].in
			gzKey := cache.key(codecGzip, in)
			if c, ok := cache.get(gzKey); ok {
				members[i][k] = c.out
				continue
			}
			jobs = append(jobs, job{len(in), f.dir + "/Packages.gz", func() error {
				data, err := gzipBytes(ctx, in)
				members[i][k] = data
				if err == nil {
					cache.put(gzKey, data, 0)
				}
				return err
			}})
		}
		for k := range blocks[i] {
			b := &blocks[i][k]
			key := cache.key(codecXZBlock, b.in)
			if c, ok := cache.get(key); ok {
				b.out, b.crc = c.out, c.crc
				continue
			}
			// xz is about 15 times slower than gzip per byte.
			jobs = append(jobs, job{15 * len(b.in), f.dir + "/Packages.xz", func() error {
				if err := b.compress(ctx); err != nil {
					return err
				}
				cache.put(key, b.out, b.crc)
				return nil
			}})
		}
	}
	slices.SortStableFunc(jobs, func(a, b job) int { return b.cost - a.cost })

	workers := max(1, min(runtime.GOMAXPROCS(0), len(jobs)))
	next := make(chan job)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := range next {
				if errs[w] != nil {
					continue
				}
				// A job that hit a bug fails like one that returned an error.
				if err := func() (err error) { defer panics.Recover(&err); return j.run() }(); err != nil {
					errs[w] = fmt.Errorf("compress %s: %w", j.name, err)
				}
			}
		})
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for i, f := range files {
		f.data[1] = bytes.Join(members[i], nil)
		f.data[2] = assembleXZ(blocks[i])
		f.sums[1] = sha256.Sum256(f.data[1])
		f.sums[2] = sha256.Sum256(f.data[2])
		lens := make([]int, len(members[i]))
		for k, m := range members[i] {
			lens[k] = len(m)
		}
		memo.putGzip(hex.EncodeToString(f.sums[1][:]), lens)
		cache.put(cache.key(codecWritten, f.data[0]), nil, 0)
	}
	return nil
}

// gzipBlocks returns the blocks of a Packages.gz: the xz blocks of plain,
// or one empty block for an empty file (an empty .gz is one member).
func gzipBlocks(blocks []xzBlock, plain []byte) []xzBlock {
	if len(blocks) == 0 {
		return []xzBlock{{in: plain}}
	}
	return blocks
}

// gzipBytes compresses data with no name and no mtime in the header, like
// gzip -n.
func gzipBytes(ctx context.Context, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(data)/4 + 64)
	w, err := gzip.NewWriterLevel(&buf, gzipLevel)
	if err != nil {
		return nil, err
	}
	if err := writeChunks(ctx, w, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// compress fills in b.out and b.crc.
func (b *xzBlock) compress(ctx context.Context) error {
	var buf bytes.Buffer
	buf.Grow(len(b.in)/4 + 64)
	w, err := lzma.Writer2Config{DictCap: xzDictCap, BufSize: xzBufSize, Matcher: lzma.HashTable4}.NewWriter2(&buf)
	if err != nil {
		return err
	}
	if err := writeChunks(ctx, w, b.in); err != nil {
		return err
	}
	b.out = buf.Bytes()
	b.crc = crc64.Checksum(b.in, crc64.MakeTable(crc64.ECMA))
	return nil
}

// writeChunks writes data to w in chunks, checking ctx between them, and
// closes w.
func writeChunks(ctx context.Context, w io.WriteCloser, data []byte) error {
	for len(data) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(data), writeChunk)
		if _, err := w.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return w.Close()
}

// assembleXZ writes one xz stream (xz-file-format 1.2.1) holding the LZMA2
// blocks, with CRC64 checks: stream header, blocks (header, data, padding,
// check), index, footer.
func assembleXZ(blocks []xzBlock) []byte {
	const check = 0x04 // CRC64
	flags := []byte{0x00, check}
	size := 12 + 12 + 16 + 16*len(blocks)
	for _, b := range blocks {
		size += len(b.out) + 24
	}
	out := make([]byte, 0, size)
	out = append(out, xzHeaderMagic...)
	out = append(out, flags...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(flags))

	index := []byte{0x00}
	index = binary.AppendUvarint(index, uint64(len(blocks)))
	for _, b := range blocks {
		// Header: size (12 bytes = (2+1)*4), flags (one filter, no sizes),
		// LZMA2 filter with its dictionary size, padding, CRC32.
		header := []byte{0x02, 0x00, xzFilterLZMA2, 0x01, lzma.EncodeDictCap(xzDictCap), 0, 0, 0}
		header = binary.LittleEndian.AppendUint32(header, crc32.ChecksumIEEE(header))
		out = append(out, header...)
		out = append(out, b.out...)
		out = append(out, make([]byte, (4-len(b.out)%4)%4)...)
		out = binary.LittleEndian.AppendUint64(out, b.crc)
		index = binary.AppendUvarint(index, uint64(len(header)+len(b.out)+8))
		index = binary.AppendUvarint(index, uint64(len(b.in)))
	}
	index = append(index, make([]byte, (4-len(index)%4)%4)...)
	index = binary.LittleEndian.AppendUint32(index, crc32.ChecksumIEEE(index))
	out = append(out, index...)

	tail := binary.LittleEndian.AppendUint32(nil, uint32(len(index)/4-1))
	tail = append(tail, flags...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(tail))
	out = append(out, tail...)
	return append(out, xzFooterMagic...)
}
