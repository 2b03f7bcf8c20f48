package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

// rmCmd removes a package from a target on the data dir, then publishes
// it.
func (c *cli) rmCmd() *cobra.Command {
	var publish bool
	var t repo.Target
	return c.command(dataCmd{
		use:   "rm TARGET NAME VERSION ARCH",
		short: "remove a package from a target, then publish it",
		args:  args(4, 4, "TARGET NAME VERSION ARCH"),
		flags: func(fs *pflag.FlagSet) { fs.BoolVar(&publish, "publish", true, "publish the target afterwards") },
		check: func(cmd *cobra.Command, as []string) (err error) { t, err = parseTarget(cmd, as[0]); return err },
		run: func(ctx context.Context, a *app, _ *cobra.Command, as []string) error {
			name, version, arch := as[1], as[2], as[3]
			ev := cliEvent(audit.Delete, t, map[string]string{"name": name, "version": version, "arch": arch})
			if err := a.svc.Delete(audit.WithEvent(ctx, ev), t, name, version, arch); err != nil {
				return err
			}
			settleCLI(ctx, a, ev)
			fmt.Fprintf(c.stdout, "removed %s %s %s from %s\n", name, version, arch, t)
			if !publish {
				return nil
			}
			gen, err := a.svc.Publish(ctx, t)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "published %s generation %d (%d packages)\n", t, gen.Seq, gen.Packages)
			return nil
		},
	})
}
