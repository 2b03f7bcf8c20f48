package rpm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pierhq/pier/repo"
)

// Index from keys (repo.KeyIndexer): a process whose row cache is empty (a
// new pier import, a server's first publish of a target) is handed the
// target's package keys only. Rendering every package needs every row's
// Meta (~20 MB at 10,000 packages, most of a new process's +1), but the
// previous generation's repodata already holds every unchanged package
// rendered: seeding (Prepare) decompressed its members, and each member's
// package elements name their packages by sha256. So Index from keys:
//
//  1. takes the known packages (those of the previous generation, by id:
//     IndexInput.PreviousIDs) in the order the previous primary lists them
//     (its sha256s; each package's location comes from there too),
//  2. reads the rows of the new packages and places them by binary search,
//     reading the row of each known package it compares with,
//  3. plans, per file, which previous members stand unchanged at a block
//     start of the new list (the same known packages, cut at the same
//     place: planReuse) and reads the rows of the packages in between,
//  4. checks, per file, that the first package of the first member it
//     reuses is what rendering its row gives now (a generation written by
//     an older Pier whose entries read otherwise is not carried on:
//     sameRendering),
//  5. writes the files as a whole-row Index would, emitting each reusable
//     member's bytes instead of rendering them.
//
// Blocks are cut at content-defined points, so an added package changes
// the member it falls in, and the rest are reused. Whenever something does
// not line up (a package the previous primary does not list once, a row
// shared by two sha256s, many new packages, a cap cut moving a boundary)
// it gives up with errNeedRows and Index reads every row: the output is the
// same either way (TestIndexFromKeys).

// errNeedRows means an Index from keys needs every row after all.
var errNeedRows = errors.New("rpm: index from keys needs every row")

// maxKeyedNew is how many new packages an Index from keys places by binary
// search (reading ~log2(n) rows for each); more read every row.
const maxKeyedNew = 256

// prevMember is one member of a previous repodata file holding packages:
// its decompressed bytes and its package elements.
type prevMember struct {
	plain []byte
	refs  []pkgRef
}

// prevFile is a previous repodata file as seeding read it: its members of
// packages, in order (not the head and tail members).
type prevFile struct {
	members []prevMember
}

// seededFiles keeps what seeding read, by repository base and href, until an
// Index of that target takes or drops it, and the targets indexed in this
// process. Safe for concurrent use.
type seededFiles struct {
	mu   sync.Mutex
	m    map[string]*prevFile
	done map[string]bool // target bases Index has run for
}

// markIndexed records that Index ran for the target at base.
func (p *seededFiles) markIndexed(base string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		p.done = map[string]bool{}
	}
	p.done[base] = true
}

// indexed reports whether Index ran for the target whose binary or source
// repository is at base: the publisher hands keys only before that.
func (p *seededFiles) indexed(base string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done[base] || p.done[strings.TrimSuffix(base, SourceDir)]
}

func (p *seededFiles) put(key string, f *prevFile) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[key] = f
}

// take returns and forgets the file recorded under key.
func (p *seededFiles) take(key string) *prevFile {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.m[key]
	delete(p.m, key)
	return f
}

// drop forgets every file recorded below base.
func (p *seededFiles) drop(base string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.m {
		if strings.HasPrefix(k, base) {
			delete(p.m, k)
		}
	}
}

// IndexesKeys implements repo.KeyIndexer: Index can work from keys when
// it can reuse the previous repodata's members (a member cache, gzip).
func (f *Format) IndexesKeys() bool { return f.cache != nil && f.codec.id == gzipCodecID }

// keysOnly reports whether pkgs are keys without Meta.
func keysOnly(pkgs []repo.Package) bool {
	for i := range pkgs {
		if pkgs[i].Meta == nil {
			return true
		}
	}
	return false
}

// keyed is an Index from keys under way: the rows it has read.
type keyed struct {
	ctx  context.Context
	in   *repo.IndexInput
	rows map[int64]*entry // entries whose row was read, by package id
}

// indexFromKeys is Index for packages given as keys (see above); it
// returns errNeedRows when it cannot do without every row.
func (f *Format) indexFromKeys(ctx context.Context, in *repo.IndexInput, base string) ([]repo.File, error) {
	if in.Previous == nil || in.PreviousIDs == nil || in.Rows == nil {
		return nil, errNeedRows
	}
	bases := [2]string{base, base + SourceDir}
	var docs [2][]*prevFile
	for r, b := range bases {
		md, err := in.Previous.ReadFile(ctx, b+"repodata/repomd.xml")
		if err != nil {
			return nil, errNeedRows
		}
		byKind := map[string]*prevFile{}
		for _, m := range repodataHref.FindAllSubmatch(md, -1) {
			href := string(m[1])
			if pf := f.prev.take(b + href); pf != nil {
				byKind[kindOf(href)] = pf
			}
		}
		for _, d := range documents {
			if byKind[d.kind] == nil {
				return nil, errNeedRows
			}
			docs[r] = append(docs[r], byKind[d.kind])
		}
	}
	prevIDs, err := in.PreviousIDs(ctx)
	if err != nil {
		return nil, errNeedRows
	}
	known := make(map[int64]bool, len(prevIDs))
	for _, id := range prevIDs {
		known[id] = true
	}
	bySum := make(map[string]*repo.Package, len(in.Packages))
	var fresh []int64
	for i := range in.Packages {
		p := &in.Packages[i]
		if !known[p.ID] {
			fresh = append(fresh, p.ID)
			continue
		}
		if !isSHA256(p.SHA256) || bySum[p.SHA256] != nil {
			return nil, errNeedRows
		}
		bySum[p.SHA256] = p
	}
	if len(fresh) > maxKeyedNew {
		return nil, errNeedRows
	}
	k := &keyed{ctx: ctx, in: in, rows: map[int64]*entry{}}
	// The known packages of each repository, in the previous order.
	var lists [2][]*entry
	used := 0
	for r := range bases {
		list, err := knownEntries(docs[r], bySum)
		if err != nil {
			return nil, err
		}
		lists[r], used = list, used+len(list)
	}
	if used != len(bySum) {
		return nil, errNeedRows // a known package the previous primary does not list
	}
	// The new packages, placed.
	news, err := k.read(fresh)
	if err != nil {
		return nil, err
	}
	for _, e := range news {
		e.href = packageHref(e.m.Arch, e.m.Name, e.m.Epoch, e.m.Version, e.m.Release)
	}
	bin, src := splitSource(news)
	for r, add := range [2][]*entry{bin, src} {
		if lists[r], err = k.place(lists[r], add); err != nil {
			return nil, err
		}
	}
	// What each file reuses, and the rows of what it renders.
	var reuse [2][]map[int]*prevMember
	var need []*entry
	for r := range bases {
		var n []*entry
		reuse[r], n = planReuse(lists[r], docs[r])
		need = append(need, n...)
	}
	ids := make([]int64, len(need))
	for i, e := range need {
		ids[i] = e.pkg.ID
	}
	if _, err := k.read(ids); err != nil {
		return nil, err
	}
	for _, e := range need {
		if err := k.whole(e); err != nil {
			return nil, err
		}
	}
	for r := range bases {
		if err := k.sameRendering(lists[r], reuse[r]); err != nil {
			return nil, err
		}
	}
	return f.repositories(ctx, in, base, lists[0], lists[1], reuse)
}

// sameRendering renders, for each file, the first package of the first
// member reuse would emit and compares it with the start of that member:
// a previous generation rendered by another Pier (a changed entry layout)
// gives errNeedRows, so that what is published is what this Pier renders
// from whole rows. One package per file: a layout change shows in every
// entry.
func (k *keyed) sameRendering(entries []*entry, reuse []map[int]*prevMember) error {
	for d, starts := range reuse {
		at := -1
		for i := range starts {
			if at < 0 || i < at {
				at = i
			}
		}
		if at < 0 {
			continue
		}
		e := entries[at]
		if err := k.whole(e); err != nil {
			return err
		}
		if !bytes.HasPrefix(starts[at].plain, documents[d].entry(nil, e)) {
			return errNeedRows
		}
	}
	return nil
}

// kindOf returns the document kind of a repodata href.
func kindOf(href string) string {
	switch rootOf(href) {
	case "metadata":
		return "primary"
	case "filelists":
		return "filelists"
	}
	return "other"
}

// knownEntries returns the live known packages of one repository in the
// order of its previous files (docs: primary, filelists, other), as
// entries without meta. Each file must list the same packages in the same
// order; packages bySum does not hold were removed since.
func knownEntries(docs []*prevFile, bySum map[string]*repo.Package) ([]*entry, error) {
	var list []*entry
	for _, m := range docs[0].members {
		for _, ref := range m.refs {
			p := bySum[ref.id]
			if p == nil {
				continue
			}
			if ref.size != strconv.FormatInt(p.Size, 10) || p.Size < 0 {
				return nil, errNeedRows
			}
			list = append(list, &entry{pkg: p, sum: ref.id, ends: endsBlock(ref.id), href: ref.href, idx: -1, known: true})
		}
	}
	for _, d := range docs[1:] {
		i := 0
		for _, m := range d.members {
			for _, ref := range m.refs {
				if bySum[ref.id] == nil {
					continue
				}
				if i >= len(list) || list[i].sum != ref.id {
					return nil, errNeedRows
				}
				i++
			}
		}
		if i != len(list) {
			return nil, errNeedRows
		}
	}
	return list, nil
}

// read returns the entries of the packages ids, reading the rows it has
// not read yet.
func (k *keyed) read(ids []int64) ([]*entry, error) {
	var missing []int64
	for _, id := range ids {
		if k.rows[id] == nil {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		rows, err := k.in.Rows(k.ctx, missing)
		if err != nil {
			return nil, err
		}
		if len(rows) != len(missing) {
			return nil, fmt.Errorf("rpm: %s: read %d of %d package rows", k.in.Target, len(rows), len(missing))
		}
		slab := make([]entry, len(rows))
		metas := make([]meta, len(rows))
		for i := range rows {
			if err := decodeEntry(&slab[i], &metas[i], &rows[i]); err != nil {
				return nil, err
			}
			slab[i].idx = -1
			k.rows[rows[i].ID] = &slab[i]
		}
	}
	out := make([]*entry, len(ids))
	for i, id := range ids {
		if out[i] = k.rows[id]; out[i] == nil {
			return nil, fmt.Errorf("rpm: %s: package %d has no row", k.in.Target, id)
		}
	}
	return out, nil
}

// whole gives e (a known entry) the meta of its row.
func (k *keyed) whole(e *entry) error {
	if e.m != nil {
		return nil
	}
	r, err := k.read([]int64{e.pkg.ID})
	if err != nil {
		return err
	}
	m := r[0].m
	if r[0].sum != e.sum || packageHref(m.Arch, m.Name, m.Epoch, m.Version, m.Release) != e.href {
		return errNeedRows
	}
	e.m, e.evr, e.pkg = r[0].m, r[0].evr, r[0].pkg
	return nil
}

// place merges add (entries with meta) into list (sorted by
// compareEntries), finding each one's place by binary search. A package
// equal to one listed (the same sha256) gives errNeedRows: a whole-row
// Index would drop the repeat.
func (k *keyed) place(list, add []*entry) ([]*entry, error) {
	if len(add) == 0 {
		return list, nil
	}
	slices.SortFunc(add, compareEntries)
	var err error
	at := make([]int, len(add))
	for a, e := range add {
		if a > 0 && add[a-1].sum == e.sum {
			return nil, errNeedRows
		}
		at[a] = sort.Search(len(list), func(j int) bool {
			if err != nil {
				return true
			}
			if err = k.whole(list[j]); err != nil {
				return true
			}
			c := compareEntries(e, list[j])
			if c == 0 {
				err = errNeedRows
			}
			return c < 0
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]*entry, 0, len(list)+len(add))
	prev := 0
	for a, e := range add {
		out = append(out, list[prev:at[a]]...)
		out = append(out, e)
		prev = at[a]
	}
	return append(out, list[prev:]...), nil
}

// planReuse works out, for each file (docs: primary, filelists, other) of
// a repository listing entries, which previous members stand for a run of
// entries starting at a block start of the new list, and returns the known
// entries (without meta) that the rest renders, whose rows it needs. A member stands at
// position i when it lists, in order, the known entries from i on, and
// writeMetadata would cut a block after its last one as the previous
// publish did: that entry ends a block by itself (endsBlock), the member
// holds blockMax packages or blockBytes of XML, or it is the last entry.
// A stretch that must be rendered runs from its block start to an entry
// that ends a block and is followed by a member that stands (or the end).
func planReuse(entries []*entry, docs []*prevFile) ([]map[int]*prevMember, []*entry) {
	bySum := make(map[string]int, len(entries))
	for i, e := range entries {
		if e.known {
			bySum[e.sum] = i
		}
	}
	var need []*entry
	needed := map[int]bool{}
	out := make([]map[int]*prevMember, len(docs))
	for d, pf := range docs {
		starts := map[int]*prevMember{}
		for m := range pf.members {
			pm := &pf.members[m]
			if len(pm.refs) == 0 {
				continue
			}
			i, ok := bySum[pm.refs[0].id]
			if !ok || i+len(pm.refs) > len(entries) {
				continue
			}
			match := true
			for j, ref := range pm.refs {
				if e := entries[i+j]; e.sum != ref.id || !e.known {
					match = false
					break
				}
			}
			last := entries[i+len(pm.refs)-1]
			cut := i+len(pm.refs) == len(entries) || last.ends || len(pm.refs) == blockMax || len(pm.plain) >= blockBytes
			if match && cut {
				starts[i] = pm
			}
		}
		// Walk as writeMetadata will, marking what it renders.
		for i := 0; i < len(entries); {
			if pm := starts[i]; pm != nil {
				i += len(pm.refs)
				continue
			}
			for ; i < len(entries); i++ {
				if !needed[i] {
					needed[i] = true
					if entries[i].m == nil {
						need = append(need, entries[i])
					}
				}
				if entries[i].ends && (i+1 == len(entries) || starts[i+1] != nil) {
					i++
					break
				}
			}
		}
		out[d] = starts
	}
	return out, need
}
