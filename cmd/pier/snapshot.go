package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

// snapshotCmd makes a frozen snapshot of a target on the data dir
// (repo.Service.Snapshot) and publishes it.
func (c *cli) snapshotCmd() *cobra.Command {
	var asJSON bool
	var src, dst repo.Target
	return c.command(dataCmd{
		use:   "snapshot SOURCE_TARGET NEW_TARGET",
		short: "make NEW_TARGET a frozen copy of what SOURCE_TARGET serves (same blobs), then publish it",
		long: `snapshot makes NEW_TARGET, a new target holding exactly the packages SOURCE_TARGET serves
(its current generation; a publish it owes runs first), as catalog rows naming the same
blobs, and marks it frozen: uploads, deletes, retention and promotion into it are refused
(409 over the API). It is published now and afterwards only re-signed. Remove it like any
target (pier target rm). Example, at the release of 5.8.1:

  pier snapshot 5.8/el/9 5.8.1/el/9
  pier snapshot 5.8/debian/bookworm 5.8.1/debian/bookworm`,
		args:  args(2, 2, "SOURCE_TARGET NEW_TARGET"),
		flags: func(fs *pflag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON") },
		check: func(cmd *cobra.Command, as []string) (err error) {
			if src, err = parseTarget(cmd, as[0]); err != nil {
				return err
			}
			dst, err = parseTarget(cmd, as[1])
			return err
		},
		run: func(ctx context.Context, a *app, _ *cobra.Command, _ []string) error {
			if err := mayCreate(ctx, a, dst); err != nil {
				return err
			}
			ev := cliEvent(audit.TargetSnapshot, dst, map[string]any{"source": src.String()})
			res, err := a.svc.Snapshot(audit.WithEvent(ctx, ev), src, dst)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c.stdout, res)
			}
			fmt.Fprintf(c.stdout, "%s: frozen snapshot of %s generation %d (%d packages)\n", dst, src,
				res.Target.Frozen.SourceGeneration, res.Packages)
			if res.Generation == nil {
				return fmt.Errorf("the snapshot %s was made, but its publish failed (pier serve publishes it again): %s",
					dst, res.PublishError)
			}
			fmt.Fprintf(c.stdout, "published %s generation %d (%d packages)\n", dst, res.Generation.Seq, res.Generation.Packages)
			return nil
		},
	})
}
