package catalogtest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/catalog"
)

// testTargetCreate: Target makes a target once, returns it again (same id,
// no counting), and refuses it for another format.
func testTargetCreate(t *testing.T, e *env) {
	ctx := t.Context()
	ti, err := e.c.Target(ctx, tg("5.8/debian/bookworm"), "deb")
	if err != nil {
		t.Fatal(err)
	}
	if ti.ID == 0 || ti.Target != tg("5.8/debian/bookworm") || ti.Format != "deb" || ti.Revision != 0 || ti.Current != nil ||
		ti.Packages != 0 || ti.Bytes != 0 || ti.State != repo.StateEmpty || ti.PublishFailures != 0 || ti.FailingSince != nil {
		t.Errorf("new target: %+v", ti)
	}
	e.add(ti.ID, pkg("a", "1", "aa"))
	again, err := e.c.Target(ctx, tg("5.8/debian/bookworm"), "deb")
	if err != nil || again.ID != ti.ID || again.Revision != 1 || again.Packages != 0 || again.Bytes != 0 || again.State != repo.StatePending {
		t.Errorf("existing target: %+v %v", again, err)
	}
	_, err = e.c.Target(ctx, tg("5.8/debian/bookworm"), "rpm")
	wantErr(t, "the target with another format", err, repo.ErrInvalid)
	other, err := e.c.Target(ctx, tg("5.8/el/9"), "rpm")
	if err != nil || other.ID == ti.ID || other.Format != "rpm" {
		t.Errorf("a second target: %+v %v", other, err)
	}
}

// testTargetConcurrentCreate: first calls of Target on two handles at once
// agree on one target.
func testTargetConcurrentCreate(t *testing.T, e *env) {
	handles := []catalog.Store{e.c, e.open()}
	var wg sync.WaitGroup
	ids := make([]int64, 16)
	errs := make([]error, 16)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ti, err := handles[i%2].Target(t.Context(), tg("5.8/debian/trixie"), "deb")
			if err == nil {
				ids[i] = ti.ID
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] || ids[0] == 0 {
			t.Errorf("call %d: id %d (first %d), %v", i, ids[i], ids[0], errs[i])
		}
	}
	ts, err := e.c.Targets(t.Context())
	if err != nil || len(ts) != 1 {
		t.Errorf("Targets after concurrent creation: %+v %v", ts, err)
	}
}

// testTargetsList: Targets orders by stream, distro and release as bytes
// and counts live packages and their bytes; Heads lists the same without
// counting; both carry the current generation.
func testTargetsList(t *testing.T, e *env) {
	ctx := t.Context()
	names := []string{"b/debian/x", "B/debian/x", "a/el/9", "a/debian/z", "a/debian/Z", "5.10/debian/x", "5.8/debian/x"}
	ids := map[string]int64{}
	for _, n := range names {
		ids[n] = e.target(n).ID
	}
	want := slices.Clone(names)
	slices.Sort(want) // byte order
	x := ids["a/debian/z"]
	p1 := e.add(x, pkg("one", "1", "s1"))
	e.add(x, pkg("two", "1", "s22"))
	gone := e.add(x, pkg("three", "1", "s333"))
	if err := e.c.DeletePackage(ctx, x, gone.Name, gone.Version, gone.Arch); err != nil {
		t.Fatal(err)
	}
	e.clock.set(time.Unix(1_700_000_123, 0))
	g := e.generation(x, "manifest-1", p1.ID)
	for _, list := range []struct {
		name  string
		count bool
		fn    func() ([]repo.TargetInfo, error)
	}{
		{"Targets", true, func() ([]repo.TargetInfo, error) { return e.c.Targets(ctx) }},
		{"Heads", false, func() ([]repo.TargetInfo, error) { return e.c.Heads(ctx) }},
	} {
		ts, err := list.fn()
		if err != nil {
			t.Fatalf("%s: %v", list.name, err)
		}
		var got []string
		for _, ti := range ts {
			got = append(got, ti.Target.String())
			if ti.ID != ids[ti.Target.String()] {
				t.Errorf("%s: %s has id %d, Target gave %d", list.name, ti.Target, ti.ID, ids[ti.Target.String()])
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s order: %v, want %v", list.name, got, want)
		}
		for _, ti := range ts {
			if ti.ID != x {
				if ti.Packages != 0 || ti.Bytes != 0 || ti.Current != nil || ti.State != repo.StateEmpty {
					t.Errorf("%s: empty target %s: %+v", list.name, ti.Target, ti)
				}
				continue
			}
			wantPkgs, wantBytes := int64(2), int64(20+30)
			if !list.count {
				wantPkgs, wantBytes = 0, 0
			}
			if ti.Packages != wantPkgs || ti.Bytes != wantBytes || ti.Revision != 4 || ti.Format != "deb" {
				t.Errorf("%s: %s: packages %d bytes %d revision %d, want %d %d 4", list.name, ti.Target, ti.Packages, ti.Bytes,
					ti.Revision, wantPkgs, wantBytes)
			}
			c := ti.Current
			if c == nil || c.ID != g.ID || c.Seq != 1 || !c.Created.Equal(time.Unix(1_700_000_123, 0)) || c.Revision != 4 ||
				c.Manifest != "manifest-1" || c.Files != 3 || c.Packages != 1 || ti.State != repo.StatePublished {
				t.Errorf("%s: current generation %+v (state %s), want %+v", list.name, c, ti.State, g)
			}
		}
	}
}

// testPublishState: PublishFailed counts failures, keeps the first time and
// the last message; AddGeneration clears them; the state follows.
func testPublishState(t *testing.T, e *env) {
	ctx := t.Context()
	id := e.target("5.8/debian/bookworm").ID
	p := e.add(id, pkg("a", "1", "aa"))
	if st := e.head(id).State; st != repo.StatePending {
		t.Errorf("state after an upload: %s", st)
	}
	first := time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC)
	for i, msg := range []string{"disk full", "still full"} {
		if err := e.c.PublishFailed(ctx, id, msg, first.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	h := e.head(id)
	if h.State != repo.StateFailed || h.PublishError != "still full" || h.PublishFailures != 2 || h.FailingSince == nil ||
		!h.FailingSince.Equal(first) || h.FailingSince.Location() != time.UTC {
		t.Errorf("after two failures: %+v", h)
	}
	wantErr(t, "PublishFailed of a missing target", e.c.PublishFailed(ctx, id+1000, "x", first), repo.ErrNotFound)
	e.generation(id, "m", p.ID)
	h = e.head(id)
	if h.State != repo.StatePublished || h.PublishError != "" || h.PublishFailures != 0 || h.FailingSince != nil || h.Pending() {
		t.Errorf("after a generation: %+v", h)
	}
	e.add(id, pkg("b", "1", "bb"))
	if h := e.head(id); h.State != repo.StatePending || !h.Pending() || h.Revision != h.Current.Revision+1 {
		t.Errorf("after another upload: %+v", h)
	}
}
