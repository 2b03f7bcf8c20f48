package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

// cmdRm removes packages from a target on the data dir, then publishes it.
//
//	pier rm [--data DIR] STREAM/DISTRO/RELEASE NAME VERSION ARCH
func cmdRm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("pier rm", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var cf commonFlags
	cf.register(fset)
	publish := fset.Bool("publish", true, "publish the target afterwards")
	if err := fset.Parse(args); err != nil {
		return errSilent
	}
	if fset.NArg() != 4 {
		return fmt.Errorf("usage: pier rm STREAM/DISTRO/RELEASE NAME VERSION ARCH")
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
	name, version, arch := fset.Arg(1), fset.Arg(2), fset.Arg(3)
	ev := cliEvent(audit.Delete, t, map[string]string{"name": name, "version": version, "arch": arch})
	if err := a.svc.Delete(audit.WithEvent(ctx, ev), t, name, version, arch); err != nil {
		return err
	}
	settleCLI(ctx, a, ev)
	fmt.Fprintf(stdout, "removed %s %s %s from %s\n", name, version, arch, t)
	if !*publish {
		return nil
	}
	gen, err := a.svc.Publish(ctx, t)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "published %s generation %d (%d packages)\n", t, gen.Seq, gen.Packages)
	return nil
}
