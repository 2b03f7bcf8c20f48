package deb

import (
	"slices"
	"unsafe"

	"github.com/pierhq/pier/internal/fifo"
	"github.com/pierhq/pier/repo"
)

// The entry memo remembers, per target, the packages of its last publish
// as decoded and sorted then, so that the next publish decodes, checks and
// sorts only the packages it has not seen and merges them into the order
// they had (adding one package to 10,000 otherwise decoded every Meta and
// sorted them all again with dpkg's version comparison: ~25 ms of CPU in
// every publish).
//
// The publisher hands a target's packages in ascending id order (catalog
// ids are never reused and rows never change), so the memo is matched to
// them by walking both lists in step: a package is known when its id, its
// Meta (the same backing array and length: the package cache hands the
// same array to every publish) and its sha256 are the ones remembered. The
// memo holds each Meta slice, so an array it knows is never freed and
// reused while it is remembered. Packages in any other order are decoded
// and sorted in full. Bounded by memoMaxBytes over all targets (see
// memoWeight), the target published longest ago forgotten first.
type entryMemo = fifo.Sized[string, *memoTarget]

// memoMaxBytes bounds what the memo holds alive: the Meta it points at and
// its own entries. It is the publisher's default row cache size
// (publish.package_cache), so that with the defaults the memo remembers
// the targets whose rows the cache holds anyway, and adds little memory of
// its own; a target too large for it is decoded and sorted in full.
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

// memoEntry is one package as a publish decoded it: what identifies its
// row (ids are never reused and rows never change; the Meta array and the
// sha256 guard against another catalog's row under the same id) and what
// decoding it gave, kept small (it is held for every package of a target).
type memoEntry struct {
	id     int64
	raw    []byte // the Meta (kept alive: see entryMemo)
	sha256 string
	meta   metaView
	pool   string
	rank   int // its place in that publish's sorted entries
}

// of reports whether me was made from the row p.
func (me *memoEntry) of(p *repo.Package) bool {
	return me.id == p.ID && len(me.raw) == len(p.Meta) && (len(me.raw) == 0 || unsafe.SliceData(me.raw) == unsafe.SliceData(p.Meta)) &&
		me.sha256 == p.SHA256
}

// memoMatch is the memo of a target's last publish matched to the
// packages of this one.
type memoMatch struct {
	prev *memoTarget
	of   []*memoEntry // per package: its remembered entry, nil when new
}

// matchMemo matches the memo of target key to pkgs; the zero memoMatch
// when there is none or pkgs are not in ascending id order.
func (f *Format) matchMemo(key string, pkgs []repo.Package) memoMatch {
	prev, ok := f.entryMemo.Get(key)
	if !ok || !ascendingIDs(pkgs) {
		return memoMatch{}
	}
	m := memoMatch{prev: prev, of: make([]*memoEntry, len(pkgs))}
	j := 0
	for i := range pkgs {
		p := &pkgs[i]
		for j < len(prev.byID) && prev.byID[j].id < p.ID {
			j++
		}
		if j < len(prev.byID) && prev.byID[j].of(p) {
			m.of[i] = &prev.byID[j]
		}
	}
	return m
}

// known returns the remembered entry of package i, nil when none.
func (m memoMatch) known(i int) *memoEntry {
	if m.of == nil {
		return nil
	}
	return m.of[i]
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

// sort sorts entries (entries[i] of package i) with compareEntries: the
// known ones keep the order they had, the others are sorted and merged in.
func (m memoMatch) sort(entries []indexEntry) []indexEntry {
	if m.prev == nil {
		slices.SortFunc(entries, func(a, b indexEntry) int { return compareEntries(&a, &b) })
		return entries
	}
	slot := make([]int, len(m.prev.byID)) // per remembered rank: 1 + index of its entry now
	var fresh []*indexEntry
	for i := range entries {
		if me := m.of[i]; me != nil && me.rank >= 0 {
			slot[me.rank] = i + 1
		} else {
			fresh = append(fresh, &entries[i])
		}
	}
	slices.SortFunc(fresh, compareEntries)
	out := make([]indexEntry, 0, len(entries))
	for _, s := range slot {
		if s == 0 {
			continue
		}
		e := &entries[s-1]
		for len(fresh) > 0 && compareEntries(fresh[0], e) < 0 {
			out, fresh = append(out, *fresh[0]), fresh[1:]
		}
		out = append(out, *e)
	}
	for _, e := range fresh {
		out = append(out, *e)
	}
	return out
}

// rememberEntries makes entries, the sorted entries of pkgs, the memo of
// target key (when pkgs are in ascending id order).
func (f *Format) rememberEntries(key string, pkgs []repo.Package, entries []indexEntry) {
	w := memoWeight(pkgs)
	if w > memoMaxBytes || !ascendingIDs(pkgs) {
		return
	}
	mt := &memoTarget{byID: make([]memoEntry, len(pkgs))}
	for i := range pkgs {
		mt.byID[i] = memoEntry{id: pkgs[i].ID, rank: -1}
	}
	for r := range entries {
		e := &entries[r]
		p := e.pkg
		mt.byID[e.idx] = memoEntry{id: p.ID, raw: p.Meta, sha256: p.SHA256, meta: e.meta, pool: e.pool, rank: r}
	}
	f.entryMemo.Set(key, mt, w)
}
