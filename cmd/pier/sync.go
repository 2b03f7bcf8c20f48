package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pierhq/pier/repo/catalog"
	"github.com/pierhq/pier/repo/mirror"
	"github.com/pierhq/pier/storage"
	"github.com/pierhq/pier/storage/local"
	"github.com/pierhq/pier/storage/s3"
)

// openMirror builds the mirror a config entry names.
// On a PostgreSQL catalog the mirror's state and lock are the cluster's
// (cat's), so that whichever node syncs next continues where the last left.
func openMirror(ctx context.Context, cfg *Config, mc MirrorConfig, cat catalog.Store) (*mirror.Mirror, error) {
	var dest storage.Backend
	switch mc.Type {
	case "dir":
		b, err := local.New(mc.Path)
		if err != nil {
			return nil, fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		dest = b
	case "s3":
		b, err := s3.New(ctx, mc.S3)
		if err != nil {
			return nil, fmt.Errorf("mirror %s: %w", mc.Name, err)
		}
		dest = b
	}
	parallel := 4
	if mc.Type == "s3" {
		parallel = mc.S3.Concurrency
	}
	m := &mirror.Mirror{Name: mc.Name, Dest: dest, Targets: mc.Targets, Grace: mc.Grace, Parallel: parallel,
		CacheControl: mc.CacheControl,
		StateDir:     filepath.Join(cfg.DataDir, "mirrors")}
	if oc, ok := cat.(*openedCatalog); ok && oc.pg != nil {
		m.State, m.Locker = oc.pg, oc.locker
	}
	return m, nil
}

// syncCmd syncs (or with --verify checks) the configured mirrors, or the
// one named. It is safe while pier serve runs on the same data dir.
func (c *cli) syncCmd() *cobra.Command {
	var verify bool
	return c.command(dataCmd{
		use:   "sync [MIRROR]",
		short: "copy published repositories to the configured mirrors (--verify: check them)",
		args:  args(0, 1, "at most one MIRROR"),
		flags: func(fs *pflag.FlagSet) {
			fs.BoolVar(&verify, "verify", false, "check the mirror against the current generations without changing it")
		},
		run: func(ctx context.Context, a *app, _ *cobra.Command, as []string) error {
			cfg := a.cfg
			if len(cfg.Mirrors) == 0 {
				return fmt.Errorf("no mirrors configured (see mirrors: in config.example.yaml)")
			}
			found, failed := false, false
			for _, mc := range cfg.Mirrors {
				if len(as) > 0 && mc.Name != as[0] {
					continue
				}
				found = true
				m, err := openMirror(ctx, cfg, mc, a.cat)
				if err != nil {
					return err
				}
				start := time.Now()
				if verify {
					probs, err := m.Verify(ctx, a.svc)
					for _, p := range probs {
						fmt.Fprintf(c.stdout, "%s: %s: %s\n", mc.Name, p.Path, p.What)
					}
					if err != nil || len(probs) > 0 {
						failed = true
						fmt.Fprintf(c.stderr, "pier: mirror %s: %d problems %v\n", mc.Name, len(probs), errOrNil(err))
						continue
					}
					fmt.Fprintf(c.stdout, "%s: ok\n", mc.Name)
					continue
				}
				rep, err := m.Sync(ctx, a.svc)
				if err != nil {
					failed = true
					fmt.Fprintf(c.stderr, "pier: %v\n", err)
				}
				fmt.Fprintf(c.stdout, "%s: uploaded %d (%d bytes), unchanged %d, deleted %d in %.1fs\n", mc.Name,
					rep.Uploaded, rep.Bytes, rep.Skipped, rep.Deleted, time.Since(start).Seconds())
			}
			if !found {
				var names []string
				for _, mc := range cfg.Mirrors {
					names = append(names, mc.Name)
				}
				return fmt.Errorf("no mirror named %q (configured: %s)", as[0], strings.Join(names, ", "))
			}
			if failed {
				return errSilent
			}
			return nil
		},
	})
}

func errOrNil(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}
