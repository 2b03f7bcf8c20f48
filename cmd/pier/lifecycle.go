package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

// newFlagSet returns a flag set for a data-dir command, with the common
// flags registered.
func newFlagSet(name string, stderr io.Writer, cf *commonFlags) *flag.FlagSet {
	fset := flag.NewFlagSet(name, flag.ContinueOnError)
	fset.SetOutput(stderr)
	cf.register(fset)
	return fset
}

// packageList is a repeatable --package flag.
type packageList []string

func (p *packageList) String() string     { return strings.Join(*p, ",") }
func (p *packageList) Set(v string) error { *p = append(*p, v); return nil }

// cmdPromote copies packages between two targets of one format, then
// publishes the destination.
//
//	pier promote [--data DIR] SRC DST --package NAME[=VERSION]...
func cmdPromote(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fset := newFlagSet("pier promote", stderr, &cf)
	var pkgs packageList
	fset.Var(&pkgs, "package", "NAME or NAME=VERSION to promote (repeatable; without a version, the highest)")
	publish := fset.Bool("publish", true, "publish the destination afterwards")
	if err := parseInterspersed(fset, args); err != nil {
		return errSilent
	}
	if fset.NArg() != 2 || len(pkgs) == 0 {
		return fmt.Errorf("usage: pier promote SRC_STREAM/DISTRO/RELEASE DST_STREAM/DISTRO/RELEASE --package NAME[=VERSION]...")
	}
	src, err := repo.ParseTarget(fset.Arg(0))
	if err != nil {
		return err
	}
	dst, err := repo.ParseTarget(fset.Arg(1))
	if err != nil {
		return err
	}
	var specs []repo.PackageSpec
	for _, p := range pkgs {
		sp, err := repo.ParsePackageSpec(p)
		if err != nil {
			return err
		}
		specs = append(specs, sp)
	}
	a, err := cf.openApp(ctx, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer a.Close()
	ev := cliEvent(audit.Promote, dst, map[string]any{"from": src.String(), "packages": []string(pkgs)})
	res, err := a.svc.Promote(audit.WithEvent(ctx, ev), src, dst, specs)
	if err != nil {
		return err
	}
	for _, r := range res {
		verb := "promoted"
		if !r.Added {
			verb = "already in"
		}
		fmt.Fprintf(stdout, "%s %s %s %s: %s -> %s\n", verb, r.Package.Name, r.Package.Version, r.Package.Arch, src, dst)
	}
	settleCLI(ctx, a, ev)
	if !*publish {
		return nil
	}
	gen, err := a.svc.Publish(ctx, dst)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "published %s generation %d (%d packages)\n", dst, gen.Seq, gen.Packages)
	return nil
}

// cmdGenerations lists a target's recorded generations.
//
//	pier generations [--data DIR] [--json] TARGET
func cmdGenerations(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fset := newFlagSet("pier generations", stderr, &cf)
	asJSON := fset.Bool("json", false, "print JSON")
	if err := parseInterspersed(fset, args); err != nil {
		return errSilent
	}
	if fset.NArg() != 1 {
		return fmt.Errorf("usage: pier generations STREAM/DISTRO/RELEASE")
	}
	t, err := repo.ParseTarget(fset.Arg(0))
	if err != nil {
		return err
	}
	a, err := cf.openApp(ctx, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer a.Close()
	ti, err := a.svc.FindTarget(ctx, t)
	if err != nil {
		return err
	}
	gens, err := a.svc.Generations(ctx, t)
	if err != nil {
		return err
	}
	if *asJSON {
		if gens == nil {
			gens = []repo.Generation{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(gens)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GEN\tCREATED\tPACKAGES\tCHANGES")
	for _, g := range gens {
		cur := " "
		if ti.Current != nil && ti.Current.Seq == g.Seq {
			cur = "*"
		}
		fmt.Fprintf(tw, "%d%s\t%s\t%d\t%s\n", g.Seq, cur, g.Created.Format(time.RFC3339), g.Packages, describeChanges(&g))
	}
	return tw.Flush()
}

// describeChanges renders a generation's changes on one line.
func describeChanges(g *repo.Generation) string {
	var parts []string
	if g.Note != "" {
		parts = append(parts, g.Note+":")
	}
	c := g.Changes
	switch {
	case c == nil:
		parts = append(parts, "(not recorded)")
	case c.AddedCount == 0 && c.RemovedCount == 0:
		parts = append(parts, "no package changes")
	default:
		list := func(sign string, names []string, n int) {
			if n == 0 {
				return
			}
			s := sign + strings.Join(names, ", "+sign)
			if n > len(names) {
				s += fmt.Sprintf(" (+%d more)", n-len(names))
			}
			parts = append(parts, s)
		}
		list("+", c.Added, c.AddedCount)
		list("-", c.Removed, c.RemovedCount)
	}
	return strings.Join(parts, " ")
}

// cmdRollback republishes a retained generation's package set as a new
// generation.
//
//	pier rollback [--data DIR] TARGET GENERATION
func cmdRollback(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fset := newFlagSet("pier rollback", stderr, &cf)
	if err := parseInterspersed(fset, args); err != nil {
		return errSilent
	}
	if fset.NArg() != 2 {
		return fmt.Errorf("usage: pier rollback STREAM/DISTRO/RELEASE GENERATION")
	}
	t, err := repo.ParseTarget(fset.Arg(0))
	if err != nil {
		return err
	}
	seq, err := strconv.ParseInt(fset.Arg(1), 10, 64)
	if err != nil || seq < 1 {
		return fmt.Errorf("generation %q must be a generation number (see pier generations %s)", fset.Arg(1), t)
	}
	a, err := cf.openApp(ctx, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer a.Close()
	ev := cliEvent(audit.Rollback, t, map[string]any{"to": seq})
	gen, err := a.svc.Rollback(audit.WithEvent(ctx, ev), t, seq)
	if err != nil {
		return err
	}
	if !ev.Recorded() {
		ev.Set("generation", gen.Seq)
	}
	settleCLI(ctx, a, ev)
	fmt.Fprintf(stdout, "rolled %s back to generation %d: published generation %d (%d packages)\n", t, seq, gen.Seq, gen.Packages)
	return nil
}

// cmdPrune applies the targets' retention rules now.
//
//	pier prune [--data DIR] [--dry-run] [TARGET...]
func cmdPrune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fset := newFlagSet("pier prune", stderr, &cf)
	dry := fset.Bool("dry-run", false, "only show what would be removed")
	if err := parseInterspersed(fset, args); err != nil {
		return errSilent
	}
	a, err := cf.openApp(ctx, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer a.Close()
	var targets []repo.Target
	for _, arg := range fset.Args() {
		t, err := repo.ParseTarget(arg)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		ts, err := a.svc.Heads(ctx)
		if err != nil {
			return err
		}
		for _, ti := range ts {
			targets = append(targets, ti.Target)
		}
	}
	verb := "removed"
	if *dry {
		verb = "would remove"
	}
	total := 0
	for _, t := range targets {
		r := a.svc.RetentionFor(t)
		if r.Zero() {
			continue
		}
		ev := cliEvent(audit.Prune, t, nil)
		pctx := ctx
		if !*dry {
			pctx = audit.WithEvent(ctx, ev) // written with the removal, which sets "removed"
		}
		gone, gen, err := a.svc.Prune(pctx, t, *dry)
		if err != nil {
			return fmt.Errorf("prune %s: %w", t, err)
		}
		for _, p := range gone {
			fmt.Fprintf(stdout, "%s %s %s %s from %s\n", verb, p.Name, p.Version, p.Arch, t)
		}
		total += len(gone)
		if gen != nil {
			fmt.Fprintf(stdout, "published %s generation %d (%d packages)\n", t, gen.Seq, gen.Packages)
		}
		if !*dry && len(gone) > 0 {
			if !ev.Recorded() {
				ev.Set("removed", len(gone))
			}
			settleCLI(ctx, a, ev)
		}
	}
	fmt.Fprintf(stdout, "%s %d package(s)\n", verb, total)
	return nil
}

// cmdPin pins (or with --remove unpins) versions so retention never prunes
// them; with no versions it lists the target's pins.
//
//	pier pin [--data DIR] [--remove] TARGET [NAME=VERSION...]
func cmdPin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fset := newFlagSet("pier pin", stderr, &cf)
	remove := fset.Bool("remove", false, "unpin the named versions")
	if err := parseInterspersed(fset, args); err != nil {
		return errSilent
	}
	if fset.NArg() < 1 {
		return fmt.Errorf("usage: pier pin [--remove] STREAM/DISTRO/RELEASE [NAME=VERSION...]")
	}
	t, err := repo.ParseTarget(fset.Arg(0))
	if err != nil {
		return err
	}
	a, err := cf.openApp(ctx, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer a.Close()
	if fset.NArg() == 1 {
		pins, err := a.svc.Pins(ctx, t)
		if err != nil {
			return err
		}
		for _, p := range pins {
			fmt.Fprintf(stdout, "%s=%s\n", p.Name, p.Version)
		}
		return nil
	}
	for _, arg := range fset.Args()[1:] {
		sp, err := repo.ParsePackageSpec(arg)
		if err != nil || sp.Version == "" {
			return fmt.Errorf("pin %q: want NAME=VERSION", arg)
		}
		action, verb := audit.Pin, "pinned"
		if *remove {
			action, verb = audit.Unpin, "unpinned"
		}
		ev := cliEvent(action, t, map[string]string{"name": sp.Name, "version": sp.Version})
		if err := a.svc.SetPin(audit.WithEvent(ctx, ev), t, sp.Name, sp.Version, !*remove); err != nil {
			return err
		}
		settleCLI(ctx, a, ev)
		fmt.Fprintf(stdout, "%s %s in %s\n", verb, sp, t)
	}
	return nil
}

// cmdGC deletes blobs that no package and no retained generation
// references.
//
//	pier gc [--data DIR] [--dry-run] [--grace 1h]
func cmdGC(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fset := newFlagSet("pier gc", stderr, &cf)
	dry := fset.Bool("dry-run", false, "only count what would be deleted")
	grace := fset.Duration("grace", -1, "spare unreferenced blobs younger than this (default: retention.gc_grace)")
	if err := parseInterspersed(fset, args); err != nil {
		return errSilent
	}
	if fset.NArg() != 0 {
		return fmt.Errorf("usage: pier gc [--dry-run] [--grace DURATION]")
	}
	a, err := cf.openApp(ctx, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer a.Close()
	o := repo.GCOptions{DryRun: *dry, Grace: a.cfg.Retention.GCGrace}
	if *grace >= 0 {
		o.Grace = *grace
	}
	ev := cliEvent(audit.GC, repo.Target{}, nil)
	gctx := ctx
	if !*dry {
		gctx = audit.WithEvent(ctx, ev) // written by the catalog's collection, with its counts
	}
	st, err := a.svc.CollectGarbage(gctx, o)
	if err != nil {
		return err
	}
	verb := "deleted"
	if *dry {
		verb = "would delete"
	} else {
		settleCLI(ctx, a, ev)
	}
	fmt.Fprintf(stdout, "%s %d blob(s), %d bytes; forgot %d generation(s) and %d removed package(s); %d blob(s) kept\n",
		verb, st.Blobs, st.Bytes, st.Generations, st.Packages, st.Kept)
	return nil
}

// parseInterspersed parses flags that may come after the positional
// arguments too ("pier promote SRC DST --package x"); fset.Args() holds the
// positional arguments afterwards.
func parseInterspersed(fset *flag.FlagSet, args []string) error {
	pos, err := parseFlagsAndArgs(fset, args)
	if err != nil {
		return err
	}
	return fset.Parse(append([]string{"--"}, pos...))
}

// parseFlagsAndArgs parses flags that may come before, between or after
// the positional arguments, and returns those.
func parseFlagsAndArgs(fset *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fset.Parse(args); err != nil {
			return nil, err
		}
		args = fset.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
