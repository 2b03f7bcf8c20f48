package rpm

import (
	"context"
	"slices"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/entrymemo"
)

// memoValue is what the entry memo keeps of a package (see
// repo/entrymemo): its decoded Meta and its location.
type memoValue struct {
	m    *meta
	href string
}

// decodeEntriesMemo is decodeEntries followed by assignHrefs for target
// key, decoding only the packages the memo of the target's last publish
// does not know and merging them into the order it had; then it makes
// these entries the memo. The result is the one decodeEntries and
// assignHrefs give (TestDecodeEntriesMemo).
func (f *Format) decodeEntriesMemo(ctx context.Context, key string, pkgs []repo.Package) ([]*entry, error) {
	match := f.entries.Match(key, pkgs)
	slab := make([]entry, len(pkgs))
	items := make([]*entry, len(pkgs))
	var todo []int // packages to decode
	for i := range pkgs {
		items[i] = &slab[i]
		v, ok := match.Known(i)
		if !ok {
			todo = append(todo, i)
			continue
		}
		if err := fillEntry(&slab[i], v.m, &pkgs[i]); err != nil {
			return nil, err
		}
		slab[i].href, slab[i].idx = v.href, i
	}
	if len(todo) > 0 { // (a nil todo would decode them all)
		if err := decodeSome(ctx, slab, pkgs, todo); err != nil {
			return nil, err
		}
		fresh := make([]*entry, len(todo))
		for k, i := range todo {
			fresh[k] = &slab[i]
		}
		assignHrefs(fresh)
	}
	out := slices.CompactFunc(entrymemo.Sort(match, items, compareEntries), func(a, b *entry) bool { return a.sum == b.sum })
	order := make([]int, len(out))
	for r, e := range out {
		order[r] = e.idx
	}
	f.entries.Remember(key, pkgs, order, func(r int) memoValue { return memoValue{out[r].m, out[r].href} })
	return out, nil
}
