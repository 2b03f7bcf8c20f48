// Package entrymemo remembers, per target, what a format's indexer derived
// from each package of the target's last publish (its decoded metadata,
// its path) and the order it sorted them in, so that the next publish
// derives and sorts only the packages it has not seen and merges them into
// the order they had: adding one package to 10,000 otherwise decodes every
// package's Meta and sorts them all again with the format's version
// comparison.
//
// The publisher hands a target's packages in ascending id order (catalog
// ids are never reused and rows never change), so a memo is matched to them
// by walking both lists in step, without hashing: a package is known when
// its id and its Meta (the same backing array and length: the publisher's
// row cache hands the same array to every publish) are the ones remembered.
// The memo holds each Meta slice, so an array it knows is never freed and
// reused while it is remembered: the same array is the same row, read once
// (a row read again, or another catalog's row under that id, has an array
// of its own and is derived afresh). Packages in any other order are
// never matched. A Memo is bounded by MaxBytes over all targets (see
// weight), the target published longest ago forgotten first. Safe for
// concurrent use.
package entrymemo

import (
	"slices"
	"unsafe"

	"github.com/pierhq/pier/internal/fifo"
	"github.com/pierhq/pier/repo"
)

// MaxBytes bounds what a Memo holds alive: the Meta it points at and its
// own entries. It is the publisher's default row cache size
// (publish.package_cache), so that with the defaults a memo remembers the
// targets whose rows that cache holds anyway and adds little memory of its
// own; a target too large for it is never remembered.
const MaxBytes = 256 << 20

// Memo remembers a value V per package of each target's last publish.
type Memo[V any] struct {
	targets *fifo.Sized[string, *target[V]]
}

// target is one target's last publish: its packages by ascending id.
type target[V any] struct {
	byID []entry[V]
}

// entry is one package: what identifies its row, and what was derived.
type entry[V any] struct {
	id   int64
	raw  []byte // the Meta (kept alive: see the package comment)
	v    V
	rank int // its place in that publish's sorted order; -1: not in it
}

// New returns an empty Memo.
func New[V any]() *Memo[V] {
	return &Memo[V]{targets: fifo.NewSized[string, *target[V]](MaxBytes)}
}

// weight is what the memo of pkgs holds alive, about.
func weight(pkgs []repo.Package) int {
	n := 0
	for i := range pkgs {
		n += len(pkgs[i].Meta) + 512
	}
	return n
}

// InIDOrder reports whether pkgs have positive, strictly increasing ids.
func InIDOrder(pkgs []repo.Package) bool {
	for i := range pkgs {
		if pkgs[i].ID <= 0 || (i > 0 && pkgs[i].ID <= pkgs[i-1].ID) {
			return false
		}
	}
	return true
}

// of reports whether e was made from the row p.
func (e *entry[V]) of(p *repo.Package) bool {
	return e.id == p.ID && len(e.raw) == len(p.Meta) &&
		(len(e.raw) == 0 || unsafe.SliceData(e.raw) == unsafe.SliceData(p.Meta))
}

// Match is a target's memo matched to the packages of a publish.
type Match[V any] struct {
	of    []*entry[V] // per package: its remembered entry, nil when new
	ranks int         // the remembered publish's number of places
}

// Match matches the memo of target key to pkgs. Nothing is known when the
// memo has no such target or pkgs are not in ascending id order.
func (m *Memo[V]) Match(key string, pkgs []repo.Package) Match[V] {
	prev, ok := m.targets.Get(key)
	if !ok || !InIDOrder(pkgs) {
		return Match[V]{}
	}
	mt := Match[V]{of: make([]*entry[V], len(pkgs)), ranks: len(prev.byID)}
	j := 0
	for i := range pkgs {
		p := &pkgs[i]
		for j < len(prev.byID) && prev.byID[j].id < p.ID {
			j++
		}
		if j < len(prev.byID) && prev.byID[j].of(p) {
			mt.of[i] = &prev.byID[j]
		}
	}
	return mt
}

// Any reports whether the match knows any package at all.
func (mt Match[V]) Any() bool { return mt.of != nil }

// Known returns the value remembered for package i.
func (mt Match[V]) Known(i int) (V, bool) {
	if mt.of == nil || mt.of[i] == nil {
		var zero V
		return zero, false
	}
	return mt.of[i].v, true
}

// Sort returns items (items[i] of package i) sorted by cmp: the packages
// known with a place keep the order they had, the others are sorted and
// merged in. The result is what sorting all of them by cmp gives when cmp
// orders them totally and the remembered order was sorted by it.
func Sort[V, T any](mt Match[V], items []T, cmp func(a, b T) int) []T {
	if mt.of == nil {
		slices.SortFunc(items, cmp)
		return items
	}
	slot := make([]int, mt.ranks) // per remembered place: 1 + the index of its item now
	var fresh []T
	for i := range items {
		if e := mt.of[i]; e != nil && e.rank >= 0 {
			slot[e.rank] = i + 1
		} else {
			fresh = append(fresh, items[i])
		}
	}
	slices.SortFunc(fresh, cmp)
	out := make([]T, 0, len(items))
	for _, s := range slot {
		if s == 0 {
			continue
		}
		it := items[s-1]
		for len(fresh) > 0 && cmp(fresh[0], it) < 0 {
			out, fresh = append(out, fresh[0]), fresh[1:]
		}
		out = append(out, it)
	}
	return append(out, fresh...)
}

// Remember makes the memo of target key pkgs (when in ascending id order
// and within MaxBytes), sorted as order gives their indexes, with value(r)
// for the package in place r (packages not in order, such as repeats
// dropped from the sorted list, are not remembered).
func (m *Memo[V]) Remember(key string, pkgs []repo.Package, order []int, value func(r int) V) {
	w := weight(pkgs)
	if w > MaxBytes || !InIDOrder(pkgs) {
		return
	}
	t := &target[V]{byID: make([]entry[V], len(pkgs))}
	for i := range pkgs {
		t.byID[i] = entry[V]{id: pkgs[i].ID, rank: -1}
	}
	for r, i := range order {
		p := &pkgs[i]
		t.byID[i] = entry[V]{id: p.ID, raw: p.Meta, v: value(r), rank: r}
	}
	m.targets.Set(key, t, w)
}
