package deb

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"hash/crc64"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/ulikunitz/xz/lzma"

	"github.com/pierhq/pier/internal/gzmember"
	"github.com/pierhq/pier/internal/panics"
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
		sum, done := f.wroteIt(ctx, prev, dir+names[0])
		if done {
			continue // this process wrote it (or seeded it): its blocks are cached
		}
		plain, err := prev.ReadFile(ctx, dir+names[0])
		if err != nil {
			continue // not there (a new architecture) or unreadable: nothing to reuse
		}
		if _, ok := f.cache.get(f.cache.key(codecWritten, plain)); ok {
			continue // this process wrote it: its blocks are cached
		}
		if f.seedPackages(ctx, prev, dir, names, plain) && ctx.Err() == nil && sum != "" {
			// Seeded whole: a later seeding of the same file (Prepare,
			// then Index) has nothing to add.
			f.wrote.Put(sum, true)
		}
	}
}

// seedPackages seeds the cache from the previous .gz and .xz of the index
// whose plain text is plain; it reports whether both were read and split
// whole.
func (f *Format) seedPackages(ctx context.Context, prev repo.PreviousFiles, dir string, names [3]string, plain []byte) bool {
	whole := false
	if gz, err := prev.ReadFile(ctx, dir+names[1]); err == nil {
		// One member per block (a Packages.gz of an earlier Pier is
		// one member: cached whole, it never matches a block).
		whole = gzmember.Walk(gz, func(member, plain []byte) bool {
			in := f.cache.key(codecGzip, plain)
			f.cache.put(in, member, 0)
			f.memo.addBlock(f.cache.key(codecGzipPacked, member), in)
			return true
		})
	}
	x, err := prev.ReadFile(ctx, dir+names[2])
	if err != nil {
		return false
	}
	blocks, ok := splitXZ(x, plain)
	if !ok {
		return false
	}
	for _, b := range blocks {
		in := f.cache.key(codecXZBlock, b.in)
		f.cache.put(in, b.out, b.crc)
		// The previous generation was checked before it went live,
		// and the block's CRC64 matches its input: Verify need not
		// decode it again when the new generation reuses it.
		f.memo.addBlock(f.cache.key(codecXZPacked, b.out), in)
	}
	return whole
}

// Prepare implements repo.Preparer: it seeds the cache from the index
// files the current generation's Release lists (seedCache, seedContents),
// so that a new process reads them while the publisher reads the rows.
// The Index that follows does not read a file seeded whole again.
func (f *Format) Prepare(ctx context.Context, t repo.Target, prev repo.PreviousFiles) {
	if f.cache == nil {
		return
	}
	for _, v := range []string{t.Stream, t.Distro, t.Release} {
		if pathElemProblem(v) != "" {
			return
		}
	}
	dists := base(t) + "dists/" + t.Release + "/"
	release, err := prev.ReadFile(ctx, dists+"Release")
	if err != nil {
		return
	}
	fields, reason := parseStanza(release, 1024)
	if reason != "" {
		return
	}
	entries, _, err := releaseEntries(fields)
	if err != nil {
		return
	}
	var files []*packagesFile
	var comps, archs []string
	for _, e := range entries {
		dir, name := path.Split(e.path)
		dir = strings.TrimSuffix(dir, "/")
		arch, isContents := strings.CutSuffix(strings.TrimPrefix(name, "Contents-"), ".gz")
		switch {
		case name == "Packages" && strings.Count(dir, "/") == 1:
			files = append(files, &packagesFile{dir: dir})
		case name == "Sources" && strings.HasSuffix(dir, "/source") && strings.Count(dir, "/") == 1:
			files = append(files, &packagesFile{dir: dir, base: "Sources"})
		case isContents && strings.HasPrefix(name, "Contents-") && dir != "" && !strings.Contains(dir, "/"):
			if !slices.Contains(comps, dir) {
				comps = append(comps, dir)
			}
			if !slices.Contains(archs, arch) {
				archs = append(archs, arch)
			}
		}
	}
	var wg sync.WaitGroup
	var bug error
	wg.Go(func() {
		defer panics.Recover(&bug)
		f.seedContents(ctx, prev, dists, comps, archs)
	})
	f.seedCache(ctx, prev, dists, files)
	wg.Wait()
	if bug != nil {
		panic(bug) // on Prepare's goroutine, whose recovery logs it
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
			sum, done := f.wroteIt(ctx, prev, dists+comp+"/Contents-"+arch+".gz")
			if done {
				continue
			}
			gz, err := prev.ReadFile(ctx, dists+comp+"/Contents-"+arch+".gz")
			if err != nil {
				continue
			}
			first := true
			whole := gzmember.Walk(gz, func(member, plain []byte) bool {
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
			if whole && ctx.Err() == nil && sum != "" {
				f.wrote.Put(sum, true) // seeded whole: not again
			}
		}
	}
}

// wroteIt reports whether the previous generation's file at p is one this
// process wrote or seeded whole (by its sha256, when prev knows it without
// reading), and returns that sha256 ("" when prev does not know it).
func (f *Format) wroteIt(ctx context.Context, prev repo.PreviousFiles, p string) (sum string, wrote bool) {
	ps, ok := prev.(repo.PreviousSums)
	if !ok {
		return "", false
	}
	sum, err := ps.SHA256(ctx, p)
	if err != nil {
		return "", false
	}
	wrote, _ = f.wrote.Get(sum)
	return sum, wrote
}

// wroteMax bounds Format.wrote: a few files per architecture and
// component of every target a process publishes.
const wroteMax = 4096
