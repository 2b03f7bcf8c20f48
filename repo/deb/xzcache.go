package deb

import (
	"bytes"
	"container/list"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Packages.xz is a multi-block xz stream and Packages.gz a concatenation of
// gzip members, both cut at the same content-defined points of the Packages
// file (cutBlocks), and the compressed form of every block is kept in a
// cache by the hash of its input (compressCache). So a publish after one
// upload compresses the block the new stanza landed in, in both forms,
// instead of every byte of every index, and a publish that changes nothing
// compresses nothing. The output is a function of the input alone, cache
// or not: a block's bytes decide its cut points and its compressed forms.
const (
	// DefaultCompressCacheSize bounds the compressed bytes the cache keeps;
	// a 10,000-package target needs about 5 MB (xz and gz).
	DefaultCompressCacheSize = 64 << 20
	// A block ends after a stanza once it holds xzMinBlock bytes and the
	// stanza's hash has its low bits zero (1 in cutOdds), or when the next
	// stanza would take it past xzMaxBlock. The average block is about
	// xzMinBlock + cutOdds stanzas, ~128 KiB with ~1 KB stanzas: on 10,000
	// synthetic packages (BenchmarkIndexAddOne10k) a change costs 140
	// CPU-ms with these blocks against 330 with ~1 MiB ones, and the .xz
	// is 2% smaller (ulikunitz's HashTable4 matcher does better on short
	// blocks); each gzip member restarts the 32 KiB deflate window, which
	// costs well under 1%.
	xzMinBlock = 64 << 10
	xzMaxBlock = 256 << 10
	cutOdds    = 64
)

// cutBlocks cuts plain (stanzas separated by blank lines) into xz blocks at
// content-defined stanza boundaries: inserting or removing a stanza
// changes the block it is in and, rarely, the next one.
func cutBlocks(plain []byte) []xzBlock {
	var blocks []xzBlock
	start := 0
	for pos := 0; pos < len(plain); {
		end := bytes.Index(plain[pos:], []byte("\n\n"))
		if end < 0 {
			end = len(plain)
		} else {
			end = pos + end + 2
		}
		if end-start > xzMaxBlock && pos > start {
			blocks = append(blocks, xzBlock{in: plain[start:pos]})
			start = pos
		}
		if end-start >= xzMinBlock && stanzaHash(plain[pos:end])%cutOdds == 0 {
			blocks = append(blocks, xzBlock{in: plain[start:end]})
			start = end
		}
		pos = end
	}
	if start < len(plain) {
		blocks = append(blocks, xzBlock{in: plain[start:]})
	}
	return blocks
}

// stanzaHash is FNV-1a of a stanza: fixed, so that cut points never depend
// on the process.
func stanzaHash(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

// cacheKey names uncompressed bytes: two independently seeded 64-bit hashes
// (seeds drawn at random per process, so no uploader can aim for a
// collision), the length and the codec.
type cacheKey struct {
	h0, h1 uint64
	n      int
	codec  uint8
}

const (
	codecXZBlock  uint8 = iota + 1
	codecGzip           // a gzip member of Packages (one per xz block)
	codecContents       // a gzip member of Contents
	codecWritten        // marks a Packages file this process compressed (no data)
)

// compressCache keeps compressed outputs by the key of their input, least
// recently used first out once the kept bytes pass limit. A nil cache keeps
// nothing. Safe for concurrent use; shared by every target of the Format.
type compressCache struct {
	seeds [2]maphash.Seed
	limit int64

	mu    sync.Mutex
	size  int64
	items map[cacheKey]*list.Element
	lru   list.List // of *cached, most recently used first

	hits, misses atomic.Int64 // for tests and benchmarks
}

type cached struct {
	key cacheKey
	out []byte
	crc uint64 // xz blocks: the CRC64 of the input
}

func newCompressCache(limit int64) *compressCache {
	if limit <= 0 {
		return nil
	}
	return &compressCache{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, limit: limit,
		items: map[cacheKey]*list.Element{}}
}

func (c *compressCache) key(codec uint8, in []byte) cacheKey {
	if c == nil {
		return cacheKey{}
	}
	return cacheKey{maphash.Bytes(c.seeds[0], in), maphash.Bytes(c.seeds[1], in), len(in), codec}
}

// get returns what put stored under k; the caller must not modify it.
func (c *compressCache) get(k cacheKey) (*cached, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	c.lru.MoveToFront(el)
	return el.Value.(*cached), true
}

func (c *compressCache) put(k cacheKey, out []byte, crc uint64) {
	if c == nil || int64(len(out)) > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; ok {
		return
	}
	c.items[k] = c.lru.PushFront(&cached{key: k, out: out, crc: crc})
	c.size += int64(len(out)) + 160
	for c.size > c.limit {
		el := c.lru.Back()
		v := el.Value.(*cached)
		c.lru.Remove(el)
		delete(c.items, v.key)
		c.size -= int64(len(v.out)) + 160
	}
}
