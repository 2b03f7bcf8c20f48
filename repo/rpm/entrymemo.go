package rpm

import (
	"context"
	"slices"
	"unsafe"

	"github.com/pierhq/pier/internal/fifo"
	"github.com/pierhq/pier/repo"
)

// entryMemo remembers, per target, the packages of its last publish as
// decoded and sorted then, so that the next publish of the target decodes
// only the packages it has not seen and merges them into the order it
// had: adding one package to 10,000 otherwise decodes every Meta (60,000
// allocations) and sorts them all again with rpm's version comparison.
//
// The publisher hands a target's packages in ascending id order (catalog
// ids are never reused and rows never change), so the memo is matched to
// them by walking both lists in step, without hashing: a package is known
// when its id, its Meta (the same backing array and length: the package
// cache hands the same array to every publish) and its sha256 are the ones
// remembered. The memo holds each Meta slice, so an array it knows is
// never freed and reused while it is remembered. Packages in any other
// order are decoded in full. Bounded by memoMaxBytes over all targets (see
// memoWeight), the target published longest ago forgotten first.
type entryMemo = fifo.Sized[string, *memoTarget]

// memoMaxBytes bounds what the memo holds alive: the Meta it points at and
// its own entries. It is the publisher's default row cache size
// (publish.package_cache), so that with the defaults the memo remembers
// the targets whose rows the cache holds anyway, and adds little memory of
// its own; a target too large for it is decoded in full.
const memoMaxBytes = 256 << 20

// memoWeight is what the memo of pkgs holds alive, about.
func memoWeight(pkgs []repo.Package) int {
	n := 0
	for i := range pkgs {
		n += len(pkgs[i].Meta) + 512
	}
	return n
}

func newEntryMemo() *entryMemo { return fifo.NewSized[string, *memoTarget](memoMaxBytes) }

// memoTarget is one target's last publish: its packages by ascending id.
type memoTarget struct {
	byID []memoEntry
}

// memoEntry is one decoded package.
type memoEntry struct {
	id   int64
	raw  []byte // the Meta it was decoded from (kept alive: see entryMemo)
	m    *meta
	sum  string
	href string
	rank int // its place in the sorted entries of that publish; -1: dropped as a repeat
}

// ascendingIDs reports whether pkgs have positive, strictly increasing ids.
func ascendingIDs(pkgs []repo.Package) bool {
	for i := range pkgs {
		if pkgs[i].ID <= 0 || (i > 0 && pkgs[i].ID <= pkgs[i-1].ID) {
			return false
		}
	}
	return true
}

// sameBytes reports whether a and b are the same slice of one array.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || unsafe.SliceData(a) == unsafe.SliceData(b))
}

// decodeEntriesMemo is decodeEntries followed by assignHrefs for target
// key, reusing and then replacing what the memo holds of the target's last
// publish. The result is the one decodeEntries and assignHrefs give
// (TestDecodeEntriesMemo).
func (f *Format) decodeEntriesMemo(ctx context.Context, key string, pkgs []repo.Package) ([]*entry, error) {
	if !ascendingIDs(pkgs) {
		entries, err := decodeEntries(ctx, pkgs)
		if err != nil {
			return nil, err
		}
		assignHrefs(entries)
		return entries, nil
	}
	slab := make([]entry, len(pkgs))
	var todo []int // packages to decode
	var slot []int // per remembered rank: 1 + the index of its package now, 0 for none
	prev, ok := f.entries.Get(key)
	if !ok {
		todo = make([]int, len(pkgs))
		for i := range todo {
			todo[i] = i
		}
	} else {
		slot = make([]int, len(prev.byID))
		j := 0
		for i := range pkgs {
			p := &pkgs[i]
			for j < len(prev.byID) && prev.byID[j].id < p.ID {
				j++
			}
			if j < len(prev.byID) {
				if me := &prev.byID[j]; me.id == p.ID && me.rank >= 0 && sameBytes(me.raw, p.Meta) {
					if err := fillEntry(&slab[i], me.m, p); err == nil && slab[i].sum == me.sum {
						slab[i].href, slab[i].idx = me.href, i
						slot[me.rank] = i + 1
						continue
					}
				}
			}
			todo = append(todo, i)
		}
	}
	if len(todo) > 0 { // (a nil todo would decode them all)
		if err := decodeSome(ctx, slab, pkgs, todo); err != nil {
			return nil, err
		}
	}
	fresh := make([]*entry, len(todo))
	for k, i := range todo {
		fresh[k] = &slab[i]
	}
	assignHrefs(fresh)
	slices.SortFunc(fresh, compareEntries)
	known := make([]*entry, 0, len(pkgs)-len(todo))
	for _, s := range slot {
		if s > 0 {
			known = append(known, &slab[s-1])
		}
	}
	out := slices.CompactFunc(mergeSorted(known, fresh), func(a, b *entry) bool { return a.sum == b.sum })
	f.remember(key, pkgs, out)
	return out, nil
}

// remember makes out, the sorted entries of pkgs, the memo of target key.
func (f *Format) remember(key string, pkgs []repo.Package, out []*entry) {
	w := memoWeight(pkgs)
	if w > memoMaxBytes {
		return
	}
	mt := &memoTarget{byID: make([]memoEntry, len(pkgs))}
	for i := range pkgs {
		mt.byID[i] = memoEntry{id: pkgs[i].ID, rank: -1}
	}
	for r, e := range out {
		me := &mt.byID[e.idx]
		me.raw, me.m, me.sum, me.href, me.rank = e.pkg.Meta, e.m, e.sum, e.href, r
	}
	f.entries.Set(key, mt, w)
}

// mergeSorted merges two lists each sorted by compareEntries.
func mergeSorted(a, b []*entry) []*entry {
	out := make([]*entry, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if compareEntries(b[0], a[0]) < 0 {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}
