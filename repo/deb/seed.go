package deb

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"hash/crc64"

	"github.com/ulikunitz/xz/lzma"

	"github.com/pierhq/pier/internal/gzmember"
	"github.com/pierhq/pier/repo"
)

// seedCache fills the compression cache from the previous generation (a
// new process, whose cache is empty, then reuses the compressed blocks of
// the Packages files it published before instead of compressing every
// byte again). For each Packages file of files it reads the previous
// plain, .gz and .xz and adds every gzip member of the .gz under the key
// of what it decompresses to, and every xz block under its input's key
// when the .xz is Pier's own block layout (same block header, CRC64 of
// each block's input matching the plain bytes); anything else is left
// alone. Verify's memo learns the same members and blocks. A Packages file
// this process compressed itself (a running server) is not seeded again.
// Errors reading the previous generation only mean nothing is seeded.
func (f *Format) seedCache(ctx context.Context, prev repo.PreviousFiles, dists string, files []*packagesFile) {
	if prev == nil || f.cache == nil {
		return
	}
	for _, pf := range files {
		if ctx.Err() != nil {
			return
		}
		dir := dists + pf.dir + "/"
		names := pf.names() // Packages or Sources
		if f.wroteIt(ctx, prev, dir+names[0]) {
			continue // this process wrote it: its blocks are cached
		}
		plain, err := prev.ReadFile(ctx, dir+names[0])
		if err != nil {
			continue // not there (a new architecture) or unreadable: nothing to reuse
		}
		if _, ok := f.cache.get(f.cache.key(codecWritten, plain)); ok {
			continue // this process wrote it: its blocks are cached
		}
		if gz, err := prev.ReadFile(ctx, dir+names[1]); err == nil {
			// One member per block (a Packages.gz of an earlier Pier is
			// one member: cached whole, it never matches a block).
			gzmember.Walk(gz, func(member, plain []byte) bool {
				in := f.cache.key(codecGzip, plain)
				f.cache.put(in, member, 0)
				f.memo.addBlock(f.cache.key(codecGzipPacked, member), in)
				return true
			})
		}
		x, err := prev.ReadFile(ctx, dir+names[2])
		if err != nil {
			continue
		}
		blocks, ok := splitXZ(x, plain)
		if !ok {
			continue
		}
		for _, b := range blocks {
			in := f.cache.key(codecXZBlock, b.in)
			f.cache.put(in, b.out, b.crc)
			// The previous generation was checked before it went live,
			// and the block's CRC64 matches its input: Verify need not
			// decode it again when the new generation reuses it.
			f.memo.addBlock(f.cache.key(codecXZPacked, b.out), in)
		}
	}
}

// splitXZ returns the blocks of x, an xz stream as assembleXZ writes it,
// with their inputs taken from plain (which x must decode to); false when
// x is not such a stream or does not match plain.
func splitXZ(x, plain []byte) ([]xzBlock, bool) {
	if len(x) < 12+12 || string(x[:6]) != xzHeaderMagic || !bytes.Equal(x[len(x)-2:], []byte("YZ")) {
		return nil, false
	}
	footer := x[len(x)-12:]
	indexSize := (int(binary.LittleEndian.Uint32(footer[4:8])) + 1) * 4
	indexStart := len(x) - 12 - indexSize
	if indexStart < 12 {
		return nil, false
	}
	index := x[indexStart : len(x)-12]
	if index[0] != 0 || crc32.ChecksumIEEE(index[:len(index)-4]) != binary.LittleEndian.Uint32(index[len(index)-4:]) {
		return nil, false
	}
	rd := bytes.NewReader(index[1 : len(index)-4])
	count, err := binary.ReadUvarint(rd)
	if err != nil || count > uint64(len(x)) {
		return nil, false
	}
	header := []byte{0x02, 0x00, xzFilterLZMA2, 0x01, lzma.EncodeDictCap(xzDictCap), 0, 0, 0}
	header = binary.LittleEndian.AppendUint32(header, crc32.ChecksumIEEE(header))
	table := crc64.MakeTable(crc64.ECMA)
	blocks := make([]xzBlock, 0, count)
	pos, in := 12, 0
	for range count {
		unpadded, err1 := binary.ReadUvarint(rd)
		usize, err2 := binary.ReadUvarint(rd)
		if err1 != nil || err2 != nil || unpadded < uint64(len(header))+8 || unpadded > uint64(indexStart-pos) || usize > uint64(len(plain)-in) {
			return nil, false
		}
		if !bytes.Equal(x[pos:pos+len(header)], header) {
			return nil, false
		}
		dataEnd := pos + int(unpadded) - 8
		check := pos + (int(unpadded)-8+3)/4*4
		if check+8 > indexStart {
			return nil, false
		}
		b := xzBlock{in: plain[in : in+int(usize)], out: x[pos+len(header) : dataEnd], crc: binary.LittleEndian.Uint64(x[check:])}
		if crc64.Checksum(b.in, table) != b.crc {
			return nil, false
		}
		blocks = append(blocks, b)
		pos, in = check+8, in+int(usize)
	}
	if pos != indexStart || in != len(plain) {
		return nil, false
	}
	return blocks, true
}

// seedContents fills the compression cache with the gzip members of the
// previous generation's Contents files (see contentsWriter), each under
// the key of the plain text it decompresses to, unless the cache already
// holds the first of them (a running server).
func (f *Format) seedContents(ctx context.Context, prev repo.PreviousFiles, dists string, comps, archs []string) {
	if prev == nil || f.cache == nil {
		return
	}
	for _, comp := range comps {
		for _, arch := range archs {
			if ctx.Err() != nil {
				return
			}
			if f.wroteIt(ctx, prev, dists+comp+"/Contents-"+arch+".gz") {
				continue
			}
			gz, err := prev.ReadFile(ctx, dists+comp+"/Contents-"+arch+".gz")
			if err != nil {
				continue
			}
			first := true
			gzmember.Walk(gz, func(member, plain []byte) bool {
				k := f.cache.key(codecContents, plain)
				if first {
					if _, cached := f.cache.get(k); cached {
						return false
					}
					first = false
				}
				f.cache.put(k, member, 0)
				f.memo.addBlock(f.cache.key(codecContentsPacked, member), k)
				return true
			})
		}
	}
}

// wroteIt reports whether the previous generation's file at p is one this
// process wrote (by its sha256, when prev knows it without reading).
func (f *Format) wroteIt(ctx context.Context, prev repo.PreviousFiles, p string) bool {
	ps, ok := prev.(repo.PreviousSums)
	if !ok {
		return false
	}
	sum, err := ps.SHA256(ctx, p)
	if err != nil {
		return false
	}
	wrote, _ := f.wrote.Get(sum)
	return wrote
}

// wroteMax bounds Format.wrote: a few files per architecture and
// component of every target a process publishes.
const wroteMax = 4096
