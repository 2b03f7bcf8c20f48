package rpm

import (
	"container/list"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// DefaultIndexCacheSize is Config.IndexCacheSize's default: compressed
// repodata members kept for the next publish. A 10,000-package target needs
// about 4 MB with gzip.
const DefaultIndexCacheSize = 64 << 20

// blockKey names the uncompressed bytes of a member: two independently
// seeded 64-bit hashes (seeds drawn at random per process, so no uploader
// can aim for a collision), the length and the codec.
type blockKey struct {
	h0, h1 uint64
	n      int
	codec  uint8
}

// blockCache keeps compressed members by the hash of their uncompressed
// bytes, least recently used first out once the compressed bytes pass the
// limit. A nil *blockCache caches nothing. It is safe for concurrent use
// and shared by every target of the Format.
type blockCache struct {
	seeds [2]maphash.Seed
	limit int64

	mu    sync.Mutex
	size  int64
	items map[blockKey]*list.Element
	lru   list.List // of *cachedBlock, most recently used first

	hits, misses atomic.Int64 // for tests and benchmarks
}

type cachedBlock struct {
	key  blockKey
	data []byte
}

// cacheOverhead approximates the memory of one entry besides its data.
const cacheOverhead = 160

// newBlockCache returns a cache of at most limit bytes, or nil for a limit
// of zero or less.
func newBlockCache(limit int64) *blockCache {
	if limit <= 0 {
		return nil
	}
	return &blockCache{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, limit: limit,
		items: map[blockKey]*list.Element{}}
}

// key returns the key of src compressed by codec.
func (c *blockCache) key(codec uint8, src []byte) blockKey {
	if c == nil {
		return blockKey{}
	}
	return blockKey{maphash.Bytes(c.seeds[0], src), maphash.Bytes(c.seeds[1], src), len(src), codec}
}

// get returns the compressed member stored under k. The caller must not
// modify it.
func (c *blockCache) get(k blockKey) ([]byte, bool) {
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
	return el.Value.(*cachedBlock).data, true
}

// put stores data under k and evicts the least recently used members past
// the limit. data must not be modified afterwards.
func (c *blockCache) put(k blockKey, data []byte) {
	if c == nil || int64(cap(data)+cacheOverhead) > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.lru.MoveToFront(el)
		return
	}
	c.items[k] = c.lru.PushFront(&cachedBlock{key: k, data: data})
	c.size += int64(cap(data) + cacheOverhead)
	for c.size > c.limit {
		el := c.lru.Back()
		b := el.Value.(*cachedBlock)
		c.lru.Remove(el)
		delete(c.items, b.key)
		c.size -= int64(cap(b.data) + cacheOverhead)
	}
}
