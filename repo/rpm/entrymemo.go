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
// and sorts only the packages it has not seen and merges them in: adding
// one package to 10,000 otherwise decodes every Meta and sorts them all
// again with rpm's version comparison (10–20 ms of a 100 ms publish).
//
// A package is known by its row's Meta bytes: the same backing array and
// length (catalog rows are immutable and the publisher's row cache hands
// the same array to every publish) means the same decoded meta. The memo
// holds each Meta slice it has decoded, so an array it knows is never
// freed and reused for other bytes while it is remembered. Everything else
// an entry carries (the package, its sha256) is taken from the publish at
// hand. Bounded by memoMaxEntries packages over all targets, the target
// published longest ago forgotten first.
type entryMemo = fifo.Sized[string, *memoTarget]

// memoMaxEntries bounds the packages an entryMemo remembers: a few large
// targets (its memory is a small part of the rows it points at, which
// the row cache holds anyway while they are published).
const memoMaxEntries = 400_000

// memoTarget is one target's last publish.
type memoTarget struct {
	sorted []memoEntry         // in the order decodeEntries returned them
	known  map[*byte]memoEntry // by the Meta's backing array
}

// memoEntry is one decoded package.
type memoEntry struct {
	raw  []byte // the Meta it was decoded from (kept alive: see entryMemo)
	m    *meta
	sum  string
	href string
}

// placed identifies one package of a publish: its Meta and sha256 (two
// rows could share one Meta array, not one sha256).
type placed struct {
	meta *byte
	sum  string
}

func newEntryMemo() *entryMemo { return fifo.NewSized[string, *memoTarget](memoMaxEntries) }

// rowKey identifies a Meta by its backing array; nil for an empty one
// (which never decodes).
func rowKey(b []byte) *byte {
	if len(b) == 0 {
		return nil
	}
	return unsafe.SliceData(b)
}

// remember makes entries the memo of target key.
func (f *Format) remember(key string, entries []*entry) {
	if len(entries) > memoMaxEntries {
		return
	}
	mt := &memoTarget{sorted: make([]memoEntry, len(entries)), known: make(map[*byte]memoEntry, len(entries))}
	for i, e := range entries {
		me := memoEntry{raw: e.pkg.Meta, m: e.m, sum: e.sum, href: e.href}
		mt.sorted[i] = me
		mt.known[rowKey(e.pkg.Meta)] = me
	}
	f.entries.Set(key, mt, len(entries))
}

// decodeEntriesMemo is decodeEntries followed by assignHrefs for target
// key, reusing and then replacing what the memo holds of the target's last
// publish. The result is the one decodeEntries and assignHrefs give
// (TestDecodeEntriesMemo).
func (f *Format) decodeEntriesMemo(ctx context.Context, key string, pkgs []repo.Package) ([]*entry, error) {
	prev, ok := f.entries.Get(key)
	if !ok {
		entries, err := decodeEntries(ctx, pkgs)
		if err != nil {
			return nil, err
		}
		assignHrefs(entries)
		f.remember(key, entries)
		return entries, nil
	}
	slab := make([]entry, len(pkgs))
	at := make(map[placed]int, len(pkgs)) // known packages: their index in pkgs
	var fresh []repo.Package              // the others, decoded below
	for i := range pkgs {
		p := &pkgs[i]
		me, ok := prev.known[rowKey(p.Meta)]
		if !ok || len(me.raw) != len(p.Meta) {
			fresh = append(fresh, *p)
			continue
		}
		if err := fillEntry(&slab[i], me.m, p); err != nil {
			return nil, err
		}
		slab[i].href = me.href
		at[placed{rowKey(p.Meta), slab[i].sum}] = i
	}
	added, err := decodeEntries(ctx, fresh)
	if err != nil {
		return nil, err
	}
	assignHrefs(added)
	// The known ones in their previous order, merged with the new ones.
	known := make([]*entry, 0, len(at))
	for _, me := range prev.sorted {
		k := placed{rowKey(me.raw), me.sum}
		if i, ok := at[k]; ok {
			known = append(known, &slab[i])
			delete(at, k) // placed once
		}
	}
	if len(at) > 0 { // known Meta, but not so placed last time: sort them in
		for _, i := range at {
			added = append(added, &slab[i])
		}
		slices.SortFunc(added, compareEntries)
	}
	out := slices.CompactFunc(mergeSorted(known, added), func(a, b *entry) bool { return a.sum == b.sum })
	f.remember(key, out)
	return out, nil
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
