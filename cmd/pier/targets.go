package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// TargetsConfig is the targets section: which targets uploads may create.
type TargetsConfig struct {
	// Allow, when not empty, lists the stream/distro/release glob patterns
	// of the targets that uploads, imports and promotions may create;
	// existing targets take uploads whatever it says. Empty: any target
	// of a known distro.
	Allow []string `yaml:"allow"`
}

func (tc TargetsConfig) validate() error {
	for _, p := range tc.Allow {
		if err := auth.ValidatePattern(p); err != nil {
			return fmt.Errorf("targets.allow: %w", err)
		}
	}
	return nil
}

// mayCreate checks targets.allow before a command adds packages to t: a
// target that does not exist yet must match one of the patterns.
func mayCreate(ctx context.Context, a *app, t repo.Target) error {
	allow := a.cfg.Targets.Allow
	if len(allow) == 0 {
		return nil
	}
	if _, err := a.svc.FindTarget(ctx, t); err == nil {
		return nil
	}
	for _, p := range allow {
		if auth.MatchTarget(p, t) {
			return nil
		}
	}
	return fmt.Errorf("target %s does not exist and targets.allow lets uploads create only %s (a typo in the target?)",
		t, strings.Join(allow, ", "))
}

// targetRow is one line of pier targets.
type targetRow struct {
	repo.TargetInfo
	Private bool   `json:"private"`
	Path    string `json:"path,omitempty"`
	// URL is the canonical URL of the target's tree when public_url is
	// set (a data-dir command does not know where the server listens).
	URL string `json:"url,omitempty"`
}

// targetsCmd lists the targets with their publish state.
func (c *cli) targetsCmd() *cobra.Command {
	var asJSON bool
	return c.command(dataCmd{
		use:   "targets",
		short: "list the targets: packages, current generation, publish state (pending, failed and why), access, path",
		args:  args(0, 0, "no arguments"),
		flags: func(fs *pflag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON") },
		run: func(ctx context.Context, a *app, _ *cobra.Command, _ []string) error {
			ts, err := a.svc.Targets(ctx)
			if err != nil {
				return err
			}
			ts = repo.LiveTargets(ts)
			rows := make([]targetRow, 0, len(ts))
			for _, ti := range ts {
				r := targetRow{TargetInfo: ti, Path: a.svc.Path(ti.Target)}
				for _, p := range a.cfg.Auth.Private {
					r.Private = r.Private || auth.MatchTarget(p, ti.Target)
				}
				if a.cfg.PublicURL != "" && r.Path != "" {
					r.URL = strings.TrimSuffix(a.cfg.PublicURL, "/") + "/" + r.Path
				}
				rows = append(rows, r)
			}
			if asJSON {
				return writeJSON(c.stdout, rows)
			}
			return printTargets(c, rows)
		},
	})
}

func printTargets(c *cli, rows []targetRow) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tFORMAT\tPACKAGES\tGENERATION\tPUBLISHED\tSTATE\tACCESS\tPATH")
	for _, r := range rows {
		gen, when := "-", "-"
		if r.Current != nil {
			gen = fmt.Sprint(r.Current.Seq)
			when = r.Current.Created.Format(time.RFC3339)
		}
		access := "public"
		if r.Private {
			access = "private"
		}
		where := r.Path
		if r.URL != "" {
			where = r.URL
		}
		state := r.State
		if r.Frozen != nil {
			state += " (frozen: snapshot of " + r.Frozen.Source.String() + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.Target, r.Format, r.Packages, gen, when, state, access, where)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if r.PublishError != "" {
			fmt.Fprintf(c.stdout, "%s: publish failing since %s (%d attempts): %s\n", r.Target,
				r.FailingSince.Format(time.RFC3339), r.PublishFailures, r.PublishError)
		}
	}
	return nil
}

// targetCmd groups the commands on one target.
func (c *cli) targetCmd() *cobra.Command {
	var t repo.Target
	var dry bool
	rm := c.command(dataCmd{
		use:   "rm TARGET",
		short: "remove a target: its packages, generations and published files",
		long: `Remove a target: it is listed, served and published no more; its packages, generations and pins
are forgotten. The blobs only it held are deleted by the next garbage collection once older than
retention.gc_grace; mirrors delete its copies from the next sync on (after their grace). An alias
it held (the distro-less paths of Pier's first releases) is served no more and never passes to
another target. An upload to the same name later makes a new, empty target (targets.allow can
forbid that). Recorded in the audit log as target.remove.`,
		args:  args(1, 1, "TARGET (stream/distro/release)"),
		flags: func(fs *pflag.FlagSet) { fs.BoolVar(&dry, "dry-run", false, "only show what would be removed") },
		check: func(cmd *cobra.Command, as []string) (err error) { t, err = parseTarget(cmd, as[0]); return err },
		run: func(ctx context.Context, a *app, _ *cobra.Command, _ []string) error {
			if dry {
				ti, err := findListed(ctx, a, t)
				if err != nil {
					return notFoundHint(ctx, a, t, err)
				}
				gens, err := a.svc.Generations(ctx, t)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "would remove %s: %d package(s), %d generation(s)\n", t, ti.Packages, len(gens))
				return nil
			}
			ev := cliEvent(audit.TargetRemove, t, nil)
			res, err := a.svc.RemoveTarget(audit.WithEvent(ctx, ev), t)
			if errors.Is(err, repo.ErrNotFound) {
				return notFoundHint(ctx, a, t, err)
			}
			if err != nil {
				return err
			}
			settleCLI(ctx, a, ev)
			fmt.Fprintf(c.stdout, "removed %s: %d package(s), %d generation(s), %d pin(s)\n", t, res.Packages, res.Generations, res.Pins)
			for _, al := range res.Aliases {
				fmt.Fprintf(c.stdout, "alias %s stays reserved for %s: it is served no more\n", al, t)
			}
			return nil
		},
	})
	return group("target", "work on one target: rm", rm)
}

// notFoundHint adds to err the existing targets nearest to t (a typo in
// the name?).
func notFoundHint(ctx context.Context, a *app, t repo.Target, err error) error {
	heads, herr := a.svc.Heads(ctx)
	if herr != nil {
		return err
	}
	var names []string
	for _, h := range repo.LiveTargets(heads) {
		names = append(names, h.Target.String())
	}
	if near := nearest(t.String(), names); len(near) > 0 {
		return fmt.Errorf("%w; did you mean %s?", err, orList(near))
	}
	return err
}

// findListed returns t as pier targets lists it (with its package count).
func findListed(ctx context.Context, a *app, t repo.Target) (*repo.TargetInfo, error) {
	ts, err := a.svc.Targets(ctx)
	if err != nil {
		return nil, err
	}
	for i := range ts {
		if ts[i].Target == t {
			return &ts[i], nil
		}
	}
	return nil, fmt.Errorf("target %s: %w", t, repo.ErrNotFound)
}
