package catalogtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

// testSnapshot: Snapshot copies exactly the rows of the source's
// generation (not its later uploads, and removed rows the generation holds)
// into a new target with new ids, the same bytes and Meta, marks it frozen
// (Targets and Heads show it), bumps its revision once and writes the audit
// event in its transaction; it refuses an existing target, itself, another
// format, a missing source or generation. The source stays as it was.
func testSnapshot(t *testing.T, e *env) {
	ctx := t.Context()
	src := e.target("5.8/debian/bookworm")
	a := e.add(src.ID, pkg("a", "1", "aa"))
	b := e.add(src.ID, pkg("b", "1", "bb"))
	e.generation(src.ID, "m1", a.ID, b.ID)
	// After the generation: b is deleted (the generation still holds it)
	// and c uploaded (the generation does not).
	if err := e.c.DeletePackage(ctx, src.ID, "b", "1", "amd64"); err != nil {
		t.Fatal(err)
	}
	e.add(src.ID, pkg("c", "1", "cc"))
	srcRev := e.revision(src.ID)

	dst := tg("5.8.1/debian/bookworm")
	at := e.clock.Now().Add(-3)
	ev := &audit.Event{Actor: "test", Action: audit.TargetSnapshot, Target: dst.String()}
	ti, err := e.c.Snapshot(audit.WithEvent(ctx, ev), src.ID, 1, dst, "deb", at)
	if err != nil {
		t.Fatal(err)
	}
	want := repo.Frozen{Source: src.Target, SourceGeneration: 1, Created: at.UTC()}
	if ti.Target != dst || ti.Format != "deb" || ti.Revision != 1 || ti.Current != nil || ti.Frozen == nil || *ti.Frozen != want ||
		!ti.Pending() {
		t.Errorf("Snapshot returned %+v (frozen %+v), want a pending target frozen as %+v", ti, ti.Frozen, want)
	}
	if !ev.Recorded() || !strings.Contains(string(ev.Detail), `"packages":2`) {
		t.Errorf("audit event: recorded %v, detail %s", ev.Recorded(), ev.Detail)
	}
	if got := fmt.Sprint(e.live(ti.ID)); got != "[a 1 aa b 1 bb]" {
		t.Errorf("the snapshot holds %s, want the generation's a and b", got)
	}
	copies, err := e.c.Packages(ctx, ti.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, orig := range []*repo.Package{a, b} {
		c := copies[i]
		if c.ID == orig.ID {
			t.Errorf("%s: the copy has the source row's id", c.Name)
		}
		o := *orig
		o.ID = c.ID
		if d := samePackage(&c, &o); d != "" {
			t.Errorf("copy of %s: %s", orig.Name, d)
		}
	}
	if got := fmt.Sprint(e.live(src.ID)); got != "[a 1 aa c 1 cc]" || e.revision(src.ID) != srcRev {
		t.Errorf("the source changed: %s, revision %d (was %d)", got, e.revision(src.ID), srcRev)
	}
	for _, list := range []func() ([]repo.TargetInfo, error){
		func() ([]repo.TargetInfo, error) { return e.c.Targets(ctx) },
		func() ([]repo.TargetInfo, error) { return e.c.Heads(ctx) },
	} {
		ts, err := list()
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ts {
			if (x.ID == ti.ID) != (x.Frozen != nil) || (x.Frozen != nil && *x.Frozen != want) {
				t.Errorf("listing: %s frozen %+v", x.Target, x.Frozen)
			}
		}
	}
	if again, err := e.c.Target(ctx, dst, "deb"); err != nil || again.Frozen == nil || *again.Frozen != want {
		t.Errorf("Target(%s): %+v, %v", dst, again, err)
	}

	// Refusals change nothing.
	for _, c := range []struct {
		name string
		src  int64
		seq  int64
		dst  string
		f    string
		want error
	}{
		{"existing target", src.ID, 1, "5.8.1/debian/bookworm", "deb", repo.ErrConflict},
		{"the source itself", src.ID, 1, "5.8/debian/bookworm", "deb", repo.ErrInvalid},
		{"another format", src.ID, 1, "5.8.2/debian/bookworm", "rpm", repo.ErrInvalid},
		{"missing generation", src.ID, 7, "5.8.2/debian/bookworm", "deb", repo.ErrNotFound},
		{"missing source", 999, 1, "5.8.2/debian/bookworm", "deb", repo.ErrNotFound},
	} {
		ev := &audit.Event{Actor: "test", Action: audit.TargetSnapshot, Target: c.dst}
		_, err := e.c.Snapshot(audit.WithEvent(ctx, ev), c.src, c.seq, tg(c.dst), c.f, at)
		wantErr(t, c.name, err, c.want)
		if ev.Recorded() {
			t.Errorf("%s: the refused snapshot wrote its event", c.name)
		}
	}
	ts, err := e.c.Heads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		if x.Target == tg("5.8.2/debian/bookworm") && (x.Revision != 0 || x.Frozen != nil) {
			t.Errorf("a refused snapshot left %+v", x)
		}
	}
	// An empty target that never held a package (a failed upload made it)
	// is taken.
	empty := e.target("5.8.3/debian/bookworm")
	if ti3, err := e.c.Snapshot(ctx, src.ID, 1, empty.Target, "deb", at); err != nil || ti3.ID != empty.ID || ti3.Frozen == nil {
		t.Errorf("snapshot into an empty target: %+v, %v", ti3, err)
	}
}

// testFrozenRefusals: every PackageWriter call on a frozen target fails
// with a *repo.FrozenError (wrapping ErrFrozen and ErrConflict) naming the
// target, changes nothing and writes no event; generations are recorded
// (re-signing); the target is removed like any other; LiveElsewhere does
// not count the frozen copies.
func testFrozenRefusals(t *testing.T, e *env) {
	ctx := t.Context()
	src := e.target("5.8/debian/bookworm")
	a := e.add(src.ID, pkg("a", "1", "aa"))
	e.generation(src.ID, "m1", a.ID)
	ti, err := e.c.Snapshot(ctx, src.ID, 1, tg("5.8.1/debian/bookworm"), "deb", e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	copies, err := e.c.Packages(ctx, ti.ID)
	if err != nil || len(copies) != 1 {
		t.Fatalf("snapshot rows: %v, %v", copies, err)
	}
	before := e.revision(ti.ID)
	for _, c := range []struct {
		name string
		fn   func(ev *audit.Event) error
	}{
		{"AddPackage", func(ev *audit.Event) error {
			_, _, err := e.c.AddPackage(audit.WithEvent(ctx, ev), ti.ID, pkg("new", "1", "nn"))
			return err
		}},
		{"AddPackage of the same upload", func(ev *audit.Event) error {
			p := *a
			p.ID = 0
			_, _, err := e.c.AddPackage(audit.WithEvent(ctx, ev), ti.ID, &p)
			return err
		}},
		{"AddPackages", func(ev *audit.Event) error {
			_, err := e.c.AddPackages(audit.WithEvent(ctx, ev), ti.ID, []*repo.Package{pkg("new", "1", "nn")})
			return err
		}},
		{"DeletePackage", func(ev *audit.Event) error {
			return e.c.DeletePackage(audit.WithEvent(ctx, ev), ti.ID, "a", "1", "amd64")
		}},
		{"RemovePackages", func(ev *audit.Event) error {
			return e.c.RemovePackages(audit.WithEvent(ctx, ev), ti.ID, []int64{copies[0].ID})
		}},
		{"SetLivePackages", func(ev *audit.Event) error {
			return e.c.SetLivePackages(audit.WithEvent(ctx, ev), ti.ID, nil)
		}},
	} {
		ev := &audit.Event{Actor: "test", Action: audit.Upload, Target: ti.Target.String()}
		err := c.fn(ev)
		var fe *repo.FrozenError
		if !errors.As(err, &fe) || fe.Target != ti.Target || fe.Frozen.Source != src.Target || !errors.Is(err, repo.ErrFrozen) ||
			!errors.Is(err, repo.ErrConflict) || !strings.Contains(err.Error(), "5.8.1/debian/bookworm is frozen") {
			t.Errorf("%s on the frozen target: %v, want a *repo.FrozenError naming it", c.name, err)
		}
		if ev.Recorded() {
			t.Errorf("%s: the refused change wrote its event", c.name)
		}
	}
	if got := fmt.Sprint(e.live(ti.ID)); got != "[a 1 aa]" || e.revision(ti.ID) != before {
		t.Errorf("the frozen target changed: %s, revision %d (was %d)", got, e.revision(ti.ID), before)
	}
	// The source's retention does not count the snapshot's copy.
	if got, err := e.c.LiveElsewhere(ctx, src.ID, []string{"aa"}); err != nil || len(got) != 0 {
		t.Errorf("LiveElsewhere counts the frozen copy: %v, %v", got, err)
	}
	// Re-signing: generations are recorded.
	g := e.generation(ti.ID, "m-snap", copies[0].ID)
	e.generation(ti.ID, "m-snap-resigned", copies[0].ID)
	if h := e.head(ti.ID); h.Current == nil || h.Current.Seq != g.Seq+1 || h.Pending() {
		t.Errorf("after two generations: %+v", h)
	}
	// Removed like any target; the name then makes a new, unfrozen target.
	if _, err := e.c.RemoveTarget(ctx, ti.ID, e.clock.Now()); err != nil {
		t.Fatalf("RemoveTarget of a frozen target: %v", err)
	}
	again := e.target("5.8.1/debian/bookworm")
	if again.Frozen != nil {
		t.Errorf("the new target of the removed snapshot's name is frozen: %+v", again.Frozen)
	}
	e.add(again.ID, pkg("new", "1", "nn"))
}
