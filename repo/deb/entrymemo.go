package deb

import (
	"slices"
	"unsafe"

	"github.com/pierhq/pier/internal/fifo"
	"github.com/pierhq/pier/repo"
)

// The entry memo remembers, per target, the packages of its last publish
// as decoded and sorted then, so that the next publish decodes, checks and
// sorts only the packages it has not seen and merges them in (adding one
// package to 10,000 otherwise decoded every Meta and sorted them all again
// with dpkg's version comparison: ~25 ms of CPU in every publish).
//
// A package is known by its row's Meta bytes (the same backing array and
// length: catalog rows are immutable and the publisher's row cache hands
// the same array to every publish) together with the row fields the
// remembered values were derived from. The memo holds each Meta slice, so
// an array it knows is never freed and reused while it is remembered.
// Bounded by memoMaxEntries packages over all targets, the target
// published longest ago forgotten first.
type entryMemo = fifo.Sized[string, *memoTarget]

// memoMaxEntries bounds the packages the memo remembers.
const memoMaxEntries = 400_000

func newEntryMemo() *entryMemo { return fifo.NewSized[string, *memoTarget](memoMaxEntries) }

// memoTarget is one target's last publish.
type memoTarget struct {
	sorted []*memoEntry         // in Packages order
	known  map[*byte]*memoEntry // by the Meta's backing array
}

// memoEntry is one package as a publish decoded it.
type memoEntry struct {
	raw                               []byte // the Meta (kept alive: see entryMemo)
	id                                int64
	sha256, comp, name, version, arch string
	meta                              metaView
	pool, md5, sha1                   string
}

// rowKey identifies a Meta by its backing array; nil for an empty one.
func rowKey(b []byte) *byte {
	if len(b) == 0 {
		return nil
	}
	return unsafe.SliceData(b)
}

// of reports whether me was made from the row p.
func (me *memoEntry) of(p *repo.Package) bool {
	return len(me.raw) == len(p.Meta) && me.id == p.ID && me.sha256 == p.SHA256 && me.comp == p.Component &&
		me.name == p.Name && me.version == p.Version && me.arch == p.Arch
}

// sortEntries sorts entries with compareEntries. With prev, the memo of
// the target's last publish, the entries known from it (known[i]) keep
// the order they had then and only the others are sorted and merged in.
func sortEntries(entries []indexEntry, prev *memoTarget, known []bool) []indexEntry {
	if prev == nil {
		slices.SortFunc(entries, func(a, b indexEntry) int { return compareEntries(&a, &b) })
		return entries
	}
	at := make(map[*memoEntry]int, len(entries)) // known entries: their index
	var fresh []*indexEntry
	for i := range entries {
		if known[i] {
			if me := prev.known[rowKey(entries[i].pkg.Meta)]; me != nil {
				if _, dup := at[me]; !dup {
					at[me] = i
					continue
				}
			}
		}
		fresh = append(fresh, &entries[i])
	}
	slices.SortFunc(fresh, compareEntries)
	out := make([]indexEntry, 0, len(entries))
	for _, me := range prev.sorted {
		i, ok := at[me]
		if !ok {
			continue
		}
		for len(fresh) > 0 && compareEntries(fresh[0], &entries[i]) < 0 {
			out, fresh = append(out, *fresh[0]), fresh[1:]
		}
		out = append(out, entries[i])
	}
	for _, e := range fresh {
		out = append(out, *e)
	}
	return out
}

// rememberEntries makes entries, sorted, the memo of target key.
func (f *Format) rememberEntries(key string, entries []indexEntry) {
	if len(entries) > memoMaxEntries {
		return
	}
	mt := &memoTarget{sorted: make([]*memoEntry, len(entries)), known: make(map[*byte]*memoEntry, len(entries))}
	for i := range entries {
		e := &entries[i]
		p := e.pkg
		me := &memoEntry{raw: p.Meta, id: p.ID, sha256: p.SHA256, comp: p.Component, name: p.Name, version: p.Version, arch: p.Arch,
			meta: e.meta, pool: e.pool, md5: e.md5, sha1: e.sha1}
		mt.sorted[i] = me
		mt.known[rowKey(p.Meta)] = me
	}
	f.entryMemo.Set(key, mt, len(entries))
}
