package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pierhq/pier/repo"
)

// verifyCmd runs the read-back check every publish runs before a
// generation goes live on the current generations of the named targets
// (all targets without arguments).
func (c *cli) verifyCmd() *cobra.Command {
	var deep bool
	var targets []repo.Target
	return c.command(dataCmd{
		use:   "verify [TARGET...]",
		short: "check the current generations as clients would: signatures, indexes, packages (--deep: hash every package)",
		args:  args(0, -1, "targets"),
		flags: func(fs *pflag.FlagSet) {
			fs.BoolVar(&deep, "deep", false, "also read every package file and check its sha256")
		},
		check: func(cmd *cobra.Command, as []string) (err error) { targets, err = targetArgs(cmd, as); return err },
		run: func(ctx context.Context, a *app, _ *cobra.Command, _ []string) error {
			if len(targets) == 0 {
				heads, err := a.svc.Heads(ctx)
				if err != nil {
					return err
				}
				for _, ti := range repo.LiveTargets(heads) {
					if ti.Current != nil {
						targets = append(targets, ti.Target)
					}
				}
			}
			failed := 0
			for _, t := range targets {
				gen, err := a.svc.VerifyTarget(ctx, t, deep)
				if err != nil {
					failed++
					fmt.Fprintf(c.stdout, "FAIL %s: %v\n", t, err)
					continue
				}
				fmt.Fprintf(c.stdout, "ok   %s generation %d (%d files, %d packages)\n", t, gen.Seq, gen.Files, gen.Packages)
			}
			if failed > 0 {
				fmt.Fprintf(c.stderr, "pier verify: %d of %d targets failed\n", failed, len(targets))
				return errSilent
			}
			return nil
		},
	})
}
