package catalogtest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
)

// testPackageRoundTrip: every field of a package row comes back as it was
// written (Meta byte for byte, Uploaded to the nanosecond, in UTC) through
// every read.
func testPackageRoundTrip(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/el/9").ID
	p := &repo.Package{Component: "contrib", Name: "hello", Version: "1:2.12-1.el9", Arch: "x86_64", Size: 123456,
		Sums:   repo.Sums{repo.SHA256: "sum", repo.SHA1: "sha1", repo.SHA512: "sha512", repo.MD5: "md5"},
		SHA256: "sum", OrigSHA256: "orig", Meta: []byte{0, 1, 2, 0xff, '\n', '"', 0},
		Uploaded: time.Date(2024, 2, 29, 23, 59, 59, 987654321, time.FixedZone("X", 3600))}
	got := e.add(id, p)
	if got.ID == 0 || got.ID != p.ID {
		t.Fatalf("AddPackage: id %d, p.ID %d", got.ID, p.ID)
	}
	want := *p
	want.Uploaded = p.Uploaded.UTC()
	found, err := e.c.FindPackage(ctx, id, "hello", "1:2.12-1.el9", "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if d := samePackage(found, &want); d != "" {
		t.Errorf("FindPackage: %s", d)
	}
	all, err := e.c.Packages(ctx, id)
	if err != nil || len(all) != 1 {
		t.Fatalf("Packages: %v %v", all, err)
	}
	if d := samePackage(&all[0], &want); d != "" {
		t.Errorf("Packages: %s", d)
	}
	byID, err := e.c.PackagesByID(ctx, id, []int64{p.ID})
	if err != nil || len(byID) != 1 {
		t.Fatalf("PackagesByID: %v %v", byID, err)
	}
	if d := samePackage(&byID[0], &want); d != "" {
		t.Errorf("PackagesByID: %s", d)
	}
	keys, err := e.c.PackageKeys(ctx, id)
	if err != nil || len(keys) != 1 {
		t.Fatalf("PackageKeys: %v %v", keys, err)
	}
	k := keys[0]
	if k.ID != p.ID || k.Component != "contrib" || k.Name != "hello" || k.Version != p.Version || k.Arch != "x86_64" ||
		k.SHA256 != "sum" || k.OrigSHA256 != "orig" || k.Size != 123456 || !k.Uploaded.Equal(p.Uploaded) {
		t.Errorf("PackageKeys: %+v", k)
	}
}

// testAddPackageSameOrConflict: a second package with a live one's name,
// version and architecture is the same upload (by published or original
// sha256) or a conflict; neither changes anything.
func testAddPackageSameOrConflict(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/el/9").ID
	first := pkg("a", "1", "published")
	first.OrigSHA256 = "uploaded"
	first = e.add(id, first)
	rev := e.revision(id)
	for _, c := range []struct {
		name      string
		sha, orig string
		same      bool
	}{
		{"same published bytes", "published", "", true},
		{"the original bytes again", "uploaded", "", true},
		{"rewritten again from the same original", "resigned", "uploaded", true},
		{"other bytes", "other", "", false},
		{"other bytes rewritten", "other", "other-orig", false},
	} {
		q := pkg("a", "1", c.sha)
		q.OrigSHA256 = c.orig
		got, added, err := e.c.AddPackage(ctx, id, q)
		if added {
			t.Errorf("%s: added", c.name)
		}
		if c.same && (err != nil || got == nil || got.ID != first.ID || got.SHA256 != "published") {
			t.Errorf("%s: %+v %v, want the first package", c.name, got, err)
		}
		if !c.same {
			wantErr(t, c.name, err, repo.ErrConflict)
		}
	}
	if r := e.revision(id); r != rev {
		t.Errorf("revision %d after adding nothing, want %d", r, rev)
	}
	if got := e.live(id); !slices.Equal(got, []string{"a 1 published"}) {
		t.Errorf("live packages: %v", got)
	}
	// Another version, another architecture, another target: no clash.
	other := pkg("a", "1", "x")
	other.Arch = "arm64"
	e.add(id, other)
	e.add(id, pkg("a", "2", "y"))
	e.add(e.target("5.8/el/10").ID, pkg("a", "1", "z"))
}

// testAddPackagesBatch: AddPackages adds in order in one transaction, one
// result per package, and bumps the revision once when anything was added.
func testAddPackagesBatch(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/debian/bookworm").ID
	old := e.add(id, pkg("old", "1", "o"))
	rev := e.revision(id)
	batch := []*repo.Package{pkg("a", "1", "a1"), pkg("b", "1", "b1"), pkg("a", "1", "a1"), pkg("a", "1", "a2"), pkg("old", "1", "o"),
		pkg("old", "1", "o2"), pkg("c", "1", "c1")}
	res, err := e.c.AddPackages(ctx, id, batch)
	if err != nil || len(res) != len(batch) {
		t.Fatalf("AddPackages: %d results, %v", len(res), err)
	}
	for i, w := range []struct {
		added    bool
		conflict bool
		sha      string
	}{{true, false, "a1"}, {true, false, "b1"}, {false, false, "a1"}, {false, true, "a1"}, {false, false, "o"}, {false, true, "o"},
		{true, false, "c1"}} {
		r := res[i]
		if r.Added != w.added || errors.Is(r.Err, repo.ErrConflict) != w.conflict || (!w.conflict && r.Err != nil) ||
			r.Package == nil || r.Package.SHA256 != w.sha || r.Package.ID == 0 {
			t.Errorf("result %d (%s %s): %+v, want added %v conflict %v with the package of %s", i, batch[i].Name, batch[i].SHA256, r,
				w.added, w.conflict, w.sha)
		}
	}
	if res[2].Package.ID != res[0].Package.ID || res[4].Package.ID != old.ID {
		t.Errorf("same uploads name other rows: %d vs %d, %d vs %d", res[2].Package.ID, res[0].Package.ID, res[4].Package.ID, old.ID)
	}
	if r := e.revision(id); r != rev+1 {
		t.Errorf("revision %d after one batch, want %d", r, rev+1)
	}
	if got := e.live(id); !slices.Equal(got, []string{"old 1 o", "a 1 a1", "b 1 b1", "c 1 c1"}) {
		t.Errorf("live packages in id order: %v", got)
	}
	// Nothing added, nothing changed.
	res, err = e.c.AddPackages(ctx, id, []*repo.Package{pkg("a", "1", "a1"), pkg("b", "1", "bX")})
	if err != nil || res[0].Added || res[1].Err == nil {
		t.Errorf("a batch adding nothing: %+v %v", res, err)
	}
	if res, err := e.c.AddPackages(ctx, id, nil); err != nil || len(res) != 0 {
		t.Errorf("an empty batch: %+v %v", res, err)
	}
	if r := e.revision(id); r != rev+1 {
		t.Errorf("revision %d after batches adding nothing, want %d", r, rev+1)
	}
}

// testFindPackage: only a live row of that target with that name, version
// and architecture is found.
func testFindPackage(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/debian/bookworm").ID
	other := e.target("5.8/debian/trixie").ID
	e.add(id, pkg("a", "1", "aa"))
	e.add(other, pkg("b", "1", "bb"))
	e.add(id, pkg("gone", "1", "gg"))
	if err := e.c.DeletePackage(ctx, id, "gone", "1", "amd64"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, version, arch string
		found               bool
	}{
		{"a", "1", "amd64", true},
		{"a", "2", "amd64", false},
		{"a", "1", "arm64", false},
		{"A", "1", "amd64", false},
		{"b", "1", "amd64", false},
		{"gone", "1", "amd64", false},
	} {
		p, err := e.c.FindPackage(ctx, id, c.name, c.version, c.arch)
		if c.found && (err != nil || p.Name != c.name) {
			t.Errorf("FindPackage(%s %s %s): %+v %v", c.name, c.version, c.arch, p, err)
		}
		if !c.found {
			wantErr(t, fmt.Sprintf("FindPackage(%s %s %s)", c.name, c.version, c.arch), err, repo.ErrNotFound)
		}
	}
}

// testDeletePackage: a delete removes the live row (it stays readable by
// id), bumps the revision, frees the name for other bytes, and a second
// delete is ErrNotFound.
func testDeletePackage(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/debian/bookworm").ID
	other := e.target("5.8/debian/trixie").ID
	a := e.add(id, pkg("a", "1", "aa"))
	e.add(other, pkg("a", "1", "aa"))
	rev := e.revision(id)
	if err := e.c.DeletePackage(ctx, id, "a", "1", "amd64"); err != nil {
		t.Fatal(err)
	}
	if r := e.revision(id); r != rev+1 {
		t.Errorf("revision %d after a delete, want %d", r, rev+1)
	}
	wantErr(t, "FindPackage after the delete", errOf(e.c.FindPackage(ctx, id, "a", "1", "amd64")), repo.ErrNotFound)
	wantErr(t, "a second delete", e.c.DeletePackage(ctx, id, "a", "1", "amd64"), repo.ErrNotFound)
	wantErr(t, "deleting what never was", e.c.DeletePackage(ctx, id, "zz", "1", "amd64"), repo.ErrNotFound)
	if r := e.revision(id); r != rev+1 {
		t.Errorf("revision %d after failed deletes, want %d", r, rev+1)
	}
	if got := e.live(other); !slices.Equal(got, []string{"a 1 aa"}) {
		t.Errorf("the other target lost its package: %v", got)
	}
	rows, err := e.c.PackagesByID(ctx, id, []int64{a.ID})
	if err != nil || len(rows) != 1 || rows[0].SHA256 != "aa" {
		t.Errorf("the removed row by id: %+v %v", rows, err)
	}
	// The name, version and architecture are free again, for other bytes.
	b := e.add(id, pkg("a", "1", "other"))
	if b.ID == a.ID {
		t.Errorf("the new row reuses id %d", a.ID)
	}
	if got := e.live(id); !slices.Equal(got, []string{"a 1 other"}) {
		t.Errorf("live after re-adding: %v", got)
	}
}

// testPackageReads: LivePackageIDs, Packages, PackageKeys and PackagesByID
// agree on which rows are live and whose they are, also past a thousand
// ids.
func testPackageReads(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/debian/bookworm").ID
	other := e.target("5.8/debian/trixie").ID
	const n = 1203
	var batch []*repo.Package
	for i := range n {
		batch = append(batch, pkg(fmt.Sprintf("p%04d", i), "1", fmt.Sprintf("s%04d", i)))
	}
	res, err := e.c.AddPackages(ctx, id, batch)
	if err != nil {
		t.Fatal(err)
	}
	var all []int64
	for _, r := range res {
		all = append(all, r.Package.ID)
	}
	foreign := e.add(other, pkg("f", "1", "ff"))
	// Remove every third row.
	var removed, live []int64
	for i, pid := range all {
		if i%3 == 0 {
			removed = append(removed, pid)
		} else {
			live = append(live, pid)
		}
	}
	if err := e.c.RemovePackages(ctx, id, removed); err != nil {
		t.Fatal(err)
	}
	slices.Sort(live)
	ids, err := e.c.LivePackageIDs(ctx, id)
	if err != nil || !slices.Equal(ids, live) {
		t.Errorf("LivePackageIDs: %d ids (%v), want %d ascending", len(ids), err, len(live))
	}
	ps, err := e.c.Packages(ctx, id)
	if err != nil || len(ps) != len(live) {
		t.Fatalf("Packages: %d, %v", len(ps), err)
	}
	for i := range ps {
		if ps[i].ID != live[i] || len(ps[i].Meta) == 0 || ps[i].Sums[repo.SHA256] == "" {
			t.Fatalf("Packages[%d]: id %d (want %d), Meta %q, Sums %v", i, ps[i].ID, live[i], ps[i].Meta, ps[i].Sums)
		}
	}
	keys, err := e.c.PackageKeys(ctx, id)
	if err != nil || len(keys) != len(live) {
		t.Fatalf("PackageKeys: %d, %v", len(keys), err)
	}
	for _, k := range keys {
		if k.Meta != nil || k.Sums != nil || k.SHA256 == "" || k.Name == "" {
			t.Fatalf("PackageKeys row %+v: want no Meta nor Sums", k)
		}
	}
	// By id: removed rows too; another target's and unknown ids left out.
	ask := append(slices.Clone(all), foreign.ID, all[len(all)-1]+foreign.ID+1000)
	rows, err := e.c.PackagesByID(ctx, id, ask)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range rows {
		got = append(got, r.ID)
		if len(r.Meta) == 0 || r.Sums[repo.SHA256] != r.SHA256 {
			t.Fatalf("PackagesByID row %d without Meta or Sums", r.ID)
		}
	}
	slices.Sort(got)
	sortedAll := slices.Sorted(slices.Values(all))
	if !slices.Equal(got, sortedAll) {
		t.Errorf("PackagesByID: %d rows, want the %d rows of the target", len(got), len(all))
	}
	if rows, err := e.c.PackagesByID(ctx, id, nil); err != nil || len(rows) != 0 {
		t.Errorf("PackagesByID(nil): %v %v", rows, err)
	}
	for _, read := range []struct {
		name string
		n    func() (int, error)
	}{
		{"LivePackageIDs", func() (int, error) { ids, err := e.c.LivePackageIDs(ctx, id+1000); return len(ids), err }},
		{"Packages", func() (int, error) { ps, err := e.c.Packages(ctx, id+1000); return len(ps), err }},
		{"PackageKeys", func() (int, error) { ps, err := e.c.PackageKeys(ctx, id+1000); return len(ps), err }},
	} {
		if n, err := read.n(); n != 0 || err != nil {
			t.Errorf("%s of an unknown target: %d rows, %v", read.name, n, err)
		}
	}
}

// testLiveElsewhere: only sums live in another target count.
func testLiveElsewhere(t *testing.T, e *env) {
	ctx := t.Context()
	a := e.target("5.8/debian/bookworm").ID
	b := e.target("5.9/debian/bookworm").ID
	e.add(a, pkg("x", "1", "shared"))
	e.add(b, pkg("x", "1", "shared"))
	e.add(a, pkg("y", "1", "only-a"))
	e.add(b, pkg("z", "1", "removed-in-b"))
	if err := e.c.DeletePackage(ctx, b, "z", "1", "amd64"); err != nil {
		t.Fatal(err)
	}
	many := make([]string, 0, 1100)
	for i := range 1100 {
		many = append(many, fmt.Sprintf("nothing-%d", i))
	}
	for _, c := range []struct {
		from int64
		sums []string
		want []string
	}{
		{a, []string{"shared", "only-a", "removed-in-b", "unknown"}, []string{"shared"}},
		{b, []string{"shared", "only-a"}, []string{"only-a", "shared"}},
		{a, nil, nil},
		{a, append(many, "shared"), []string{"shared"}},
	} {
		got, err := e.c.LiveElsewhere(ctx, c.from, c.sums)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for k, v := range got {
			if !v {
				t.Errorf("LiveElsewhere returned %s: false", k)
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, c.want) {
			t.Errorf("LiveElsewhere from %d of %d sums: %v, want %v", c.from, len(c.sums), keys, c.want)
		}
	}
}

// testPackageIDsNeverReused: a row deleted by Collect leaves its id
// unused for ever, so a cache of rows by id is never stale.
func testPackageIDsNeverReused(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/debian/bookworm").ID
	e.add(id, pkg("a", "1", "aa"))
	b := e.add(id, pkg("b", "1", "bb"))
	if err := e.c.DeletePackage(ctx, id, "b", "1", "amd64"); err != nil {
		t.Fatal(err)
	}
	if st, err := e.c.Collect(ctx, 1); err != nil || st.Packages != 1 {
		t.Fatalf("Collect: %+v %v", st, err)
	}
	for _, h := range []string{"this handle", "another handle"} {
		c := e.c
		if h != "this handle" {
			c = e.open()
		}
		p, _, err := c.AddPackage(ctx, id, pkg("c"+h, "1", "cc"+h))
		if err != nil || p.ID <= b.ID {
			t.Errorf("a row added on %s after the newest row was collected: id %d, collected %d (%v)", h, p.ID, b.ID, err)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }

// testPackagePage: walking a target's pages of any size gives exactly the
// rows Packages gives, in its order, filtered by name and architecture
// (bytes compare); another target's and removed rows never show; a row
// added or removed between two pages neither shifts nor repeats the
// others; a bad limit or after is ErrInvalid.
func testPackagePage(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/debian/bookworm").ID
	other := e.target("5.8/debian/trixie").ID
	for i := range 40 {
		p := pkg(fmt.Sprintf("n%d", i%4), fmt.Sprint(i), fmt.Sprintf("s%02d", i))
		if i%3 == 0 {
			p.Arch = "arm64"
		}
		e.add(id, p)
		// Interleave another target's rows between this one's ids.
		e.add(other, pkg(fmt.Sprintf("n%d", i%4), fmt.Sprint(i), fmt.Sprintf("o%02d", i)))
	}
	e.add(id, pkg("N0", "1", "upper"))
	for _, i := range []int{4, 5, 13} { // all amd64 (i%3 != 0)
		if err := e.c.DeletePackage(ctx, id, fmt.Sprintf("n%d", i%4), fmt.Sprint(i), "amd64"); err != nil {
			t.Fatal(err)
		}
	}
	all, err := e.c.Packages(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	walk := func(q repo.PackageQuery) []repo.Package {
		t.Helper()
		var out []repo.Package
		for range 100 {
			page, err := e.c.PackagePage(ctx, id, q)
			if err != nil {
				t.Fatalf("PackagePage(%+v): %v", q, err)
			}
			if len(page) > q.Limit {
				t.Fatalf("PackagePage(%+v): %d rows, more than the limit", q, len(page))
			}
			out = append(out, page...)
			if len(page) < q.Limit {
				return out
			}
			q.After = page[len(page)-1].ID
		}
		t.Fatalf("PackagePage(%+v) never ends", q)
		return nil
	}
	keep := func(name, arch string) []int64 {
		var ids []int64
		for _, p := range all {
			if (name == "" || p.Name == name) && (arch == "" || p.Arch == arch) {
				ids = append(ids, p.ID)
			}
		}
		return ids
	}
	ids := func(ps []repo.Package) []int64 {
		var out []int64
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	for _, c := range []struct{ name, arch string }{{"", ""}, {"n1", ""}, {"", "arm64"}, {"n0", "arm64"}, {"N0", ""}, {"n9", ""}, {"", "i386"}} {
		want := keep(c.name, c.arch)
		if c.name == "" && c.arch == "" && len(want) != 38 {
			t.Fatalf("Packages: %d rows, want 38", len(want))
		}
		for _, limit := range []int{1, 2, 7, 38, 1000} {
			got := walk(repo.PackageQuery{Limit: limit, Name: c.name, Arch: c.arch})
			if !slices.Equal(ids(got), want) {
				t.Errorf("pages of %d, name %q arch %q: ids %v, want %v", limit, c.name, c.arch, ids(got), want)
			}
		}
	}
	// Rows come whole, as Packages gives them.
	first, err := e.c.PackagePage(ctx, id, repo.PackageQuery{Limit: 1})
	if err != nil || len(first) != 1 || first[0].ID != all[0].ID || string(first[0].Meta) != string(all[0].Meta) ||
		first[0].Sums[repo.MD5] != all[0].Sums[repo.MD5] || !first[0].Uploaded.Equal(all[0].Uploaded) || first[0].Size != all[0].Size {
		t.Errorf("first page %+v, %v; want the row %+v", first, err, all[0])
	}
	// Between two pages: a row before the cursor removed, one after it
	// removed, one added; the next page is what follows the cursor now.
	page, err := e.c.PackagePage(ctx, id, repo.PackageQuery{Limit: 10})
	if err != nil || len(page) != 10 {
		t.Fatalf("first page of 10: %d rows, %v", len(page), err)
	}
	if err := e.c.RemovePackages(ctx, id, []int64{page[3].ID, all[15].ID}); err != nil {
		t.Fatal(err)
	}
	added := e.add(id, pkg("late", "1", "late"))
	rest := walk(repo.PackageQuery{Limit: 4, After: page[9].ID})
	var want []int64
	for _, p := range all[10:] {
		if p.ID != all[15].ID {
			want = append(want, p.ID)
		}
	}
	want = append(want, added.ID)
	if !slices.Equal(ids(rest), want) {
		t.Errorf("pages after a change: %v, want %v", ids(rest), want)
	}
	if ps, err := e.c.PackagePage(ctx, id, repo.PackageQuery{Limit: 5, After: added.ID}); err != nil || len(ps) != 0 {
		t.Errorf("a page past the last row: %d rows, %v", len(ps), err)
	}
	if ps, err := e.c.PackagePage(ctx, id+1000, repo.PackageQuery{Limit: 5}); err != nil || len(ps) != 0 {
		t.Errorf("a page of an unknown target: %d rows, %v", len(ps), err)
	}
	for _, q := range []repo.PackageQuery{{Limit: 0}, {Limit: -1}, {Limit: 5, After: -1}} {
		wantErr(t, fmt.Sprintf("PackagePage(%+v)", q), errOf(e.c.PackagePage(ctx, id, q)), repo.ErrInvalid)
	}
}
