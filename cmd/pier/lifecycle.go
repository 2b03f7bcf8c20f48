package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

// packageList is a repeatable --package flag.
type packageList []string

func (p *packageList) String() string     { return strings.Join(*p, ",") }
func (p *packageList) Set(v string) error { *p = append(*p, v); return nil }
func (p *packageList) Type() string       { return "NAME[=VERSION]" }

// promoteCmd copies packages between two targets of one format, then
// publishes the destination.
func (c *cli) promoteCmd() *cobra.Command {
	var pkgs packageList
	var publish bool
	var src, dst repo.Target
	var specs []repo.PackageSpec
	return c.command(dataCmd{
		use:   "promote SRC DST --package NAME[=VERSION]...",
		short: "copy packages from one target to another (same blobs), then publish it",
		args:  args(2, 2, "SRC DST (targets)"),
		flags: func(fs *pflag.FlagSet) {
			fs.Var(&pkgs, "package", "NAME or NAME=VERSION to promote (repeatable; without a version, the highest)")
			fs.BoolVar(&publish, "publish", true, "publish the destination afterwards")
		},
		check: func(cmd *cobra.Command, as []string) (err error) {
			if len(pkgs) == 0 {
				return usagef(cmd, "name the packages to promote with --package NAME[=VERSION]")
			}
			if src, err = parseTarget(cmd, as[0]); err != nil {
				return err
			}
			if dst, err = parseTarget(cmd, as[1]); err != nil {
				return err
			}
			for _, p := range pkgs {
				sp, err := repo.ParsePackageSpec(p)
				if err != nil {
					return usagef(cmd, "%v", err)
				}
				specs = append(specs, sp)
			}
			return nil
		},
		run: func(ctx context.Context, a *app, _ *cobra.Command, _ []string) error {
			if err := mayCreate(ctx, a, dst); err != nil {
				return err
			}
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
				fmt.Fprintf(c.stdout, "%s %s %s %s: %s -> %s\n", verb, r.Package.Name, r.Package.Version, r.Package.Arch, src, dst)
			}
			settleCLI(ctx, a, ev)
			if !publish {
				return nil
			}
			gen, err := a.svc.Publish(ctx, dst)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "published %s generation %d (%d packages)\n", dst, gen.Seq, gen.Packages)
			return nil
		},
	})
}

// generationsCmd lists a target's recorded generations.
func (c *cli) generationsCmd() *cobra.Command {
	var asJSON bool
	var t repo.Target
	return c.command(dataCmd{
		use:   "generations TARGET",
		short: "list a target's retained generations and what each changed",
		args:  args(1, 1, "TARGET (stream/distro/release)"),
		flags: func(fs *pflag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON") },
		check: func(cmd *cobra.Command, as []string) (err error) { t, err = parseTarget(cmd, as[0]); return err },
		run: func(ctx context.Context, a *app, _ *cobra.Command, _ []string) error {
			ti, err := a.svc.FindTarget(ctx, t)
			if err != nil {
				return err
			}
			gens, err := a.svc.Generations(ctx, t)
			if err != nil {
				return err
			}
			if asJSON {
				if gens == nil {
					gens = []repo.Generation{}
				}
				return writeJSON(c.stdout, gens)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "GEN\tCREATED\tPACKAGES\tCHANGES")
			for _, g := range gens {
				cur := " "
				if ti.Current != nil && ti.Current.Seq == g.Seq {
					cur = "*"
				}
				fmt.Fprintf(tw, "%d%s\t%s\t%d\t%s\n", g.Seq, cur, g.Created.Format(time.RFC3339), g.Packages, describeChanges(&g))
			}
			return tw.Flush()
		},
	})
}

// writeJSON writes v indented.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
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

// rollbackCmd republishes a retained generation's package set as a new
// generation.
func (c *cli) rollbackCmd() *cobra.Command {
	var t repo.Target
	var seq int64
	return c.command(dataCmd{
		use:   "rollback TARGET GENERATION",
		short: "republish a retained generation as a new generation",
		args:  args(2, 2, "TARGET GENERATION"),
		check: func(cmd *cobra.Command, as []string) (err error) {
			if t, err = parseTarget(cmd, as[0]); err != nil {
				return err
			}
			if seq, err = strconv.ParseInt(as[1], 10, 64); err != nil || seq < 1 {
				return usagef(cmd, "generation %q must be a generation number (see pier generations %s)", as[1], t)
			}
			return nil
		},
		run: func(ctx context.Context, a *app, _ *cobra.Command, _ []string) error {
			ev := cliEvent(audit.Rollback, t, map[string]any{"to": seq})
			gen, err := a.svc.Rollback(audit.WithEvent(ctx, ev), t, seq)
			if err != nil {
				return err
			}
			if !ev.Recorded() {
				ev.Set("generation", gen.Seq)
			}
			settleCLI(ctx, a, ev)
			fmt.Fprintf(c.stdout, "rolled %s back to generation %d: published generation %d (%d packages)\n", t, seq, gen.Seq, gen.Packages)
			return nil
		},
	})
}

// targetArgs parses every argument as a target.
func targetArgs(cmd *cobra.Command, as []string) ([]repo.Target, error) {
	var out []repo.Target
	for _, arg := range as {
		t, err := parseTarget(cmd, arg)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// pruneCmd applies the targets' retention rules now.
func (c *cli) pruneCmd() *cobra.Command {
	var dry bool
	var targets []repo.Target
	return c.command(dataCmd{
		use:   "prune [TARGET...]",
		short: "apply the retention rules now (--dry-run: show what would go)",
		args:  args(0, -1, "targets"),
		flags: func(fs *pflag.FlagSet) { fs.BoolVar(&dry, "dry-run", false, "only show what would be removed") },
		check: func(cmd *cobra.Command, as []string) (err error) { targets, err = targetArgs(cmd, as); return err },
		run: func(ctx context.Context, a *app, _ *cobra.Command, _ []string) error {
			if len(targets) == 0 {
				ts, err := a.svc.Heads(ctx)
				if err != nil {
					return err
				}
				for _, ti := range repo.LiveTargets(ts) {
					targets = append(targets, ti.Target)
				}
			}
			verb := "removed"
			if dry {
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
				if !dry {
					pctx = audit.WithEvent(ctx, ev) // written with the removal, which sets "removed"
				}
				gone, gen, err := a.svc.Prune(pctx, t, dry)
				if err != nil {
					return fmt.Errorf("prune %s: %w", t, err)
				}
				for _, p := range gone {
					fmt.Fprintf(c.stdout, "%s %s %s %s from %s\n", verb, p.Name, p.Version, p.Arch, t)
				}
				total += len(gone)
				if gen != nil {
					fmt.Fprintf(c.stdout, "published %s generation %d (%d packages)\n", t, gen.Seq, gen.Packages)
				}
				if !dry && len(gone) > 0 {
					if !ev.Recorded() {
						ev.Set("removed", len(gone))
					}
					settleCLI(ctx, a, ev)
				}
			}
			fmt.Fprintf(c.stdout, "%s %d package(s)\n", verb, total)
			return nil
		},
	})
}

// pinCmd pins (or with --remove unpins) versions so retention never
// prunes them; with no versions it lists the target's pins.
func (c *cli) pinCmd() *cobra.Command {
	var remove bool
	var t repo.Target
	var specs []repo.PackageSpec
	return c.command(dataCmd{
		use:   "pin TARGET [NAME=VERSION...]",
		short: "keep versions from retention (--remove: unpin; no versions: list)",
		args:  args(1, -1, "TARGET [NAME=VERSION...]"),
		flags: func(fs *pflag.FlagSet) { fs.BoolVar(&remove, "remove", false, "unpin the named versions") },
		check: func(cmd *cobra.Command, as []string) (err error) {
			if t, err = parseTarget(cmd, as[0]); err != nil {
				return err
			}
			for _, arg := range as[1:] {
				sp, err := repo.ParsePackageSpec(arg)
				if err != nil || sp.Version == "" {
					return usagef(cmd, "pin %q: want NAME=VERSION", arg)
				}
				specs = append(specs, sp)
			}
			return nil
		},
		run: func(ctx context.Context, a *app, _ *cobra.Command, _ []string) error {
			if len(specs) == 0 {
				pins, err := a.svc.Pins(ctx, t)
				if err != nil {
					return err
				}
				for _, p := range pins {
					fmt.Fprintf(c.stdout, "%s=%s\n", p.Name, p.Version)
				}
				return nil
			}
			for _, sp := range specs {
				action, verb := audit.Pin, "pinned"
				if remove {
					action, verb = audit.Unpin, "unpinned"
				}
				ev := cliEvent(action, t, map[string]string{"name": sp.Name, "version": sp.Version})
				if err := a.svc.SetPin(audit.WithEvent(ctx, ev), t, sp.Name, sp.Version, !remove); err != nil {
					return err
				}
				settleCLI(ctx, a, ev)
				fmt.Fprintf(c.stdout, "%s %s in %s\n", verb, sp, t)
			}
			return nil
		},
	})
}

// gcCmd deletes blobs that no package and no retained generation
// references.
func (c *cli) gcCmd() *cobra.Command {
	var dry bool
	var grace time.Duration
	return c.command(dataCmd{
		use:   "gc",
		short: "delete blobs no package or retained generation references",
		args:  args(0, 0, "no arguments"),
		flags: func(fs *pflag.FlagSet) {
			fs.BoolVar(&dry, "dry-run", false, "only count what would be deleted")
			fs.DurationVar(&grace, "grace", -1, "spare unreferenced blobs younger than this (default: retention.gc_grace)")
		},
		run: func(ctx context.Context, a *app, _ *cobra.Command, _ []string) error {
			o := repo.GCOptions{DryRun: dry, Grace: a.cfg.Retention.GCGrace}
			if grace >= 0 {
				o.Grace = grace
			}
			ev := cliEvent(audit.GC, repo.Target{}, nil)
			gctx := ctx
			if !dry {
				gctx = audit.WithEvent(ctx, ev) // written by the catalog's collection, with its counts
			}
			st, err := a.svc.CollectGarbage(gctx, o)
			if err != nil {
				return err
			}
			verb := "deleted"
			if dry {
				verb = "would delete"
			} else {
				settleCLI(ctx, a, ev)
			}
			fmt.Fprintf(c.stdout, "%s %d blob(s), %d bytes; forgot %d generation(s) and %d removed package(s); %d blob(s) kept\n",
				verb, st.Blobs, st.Bytes, st.Generations, st.Packages, st.Kept)
			return nil
		},
	})
}
