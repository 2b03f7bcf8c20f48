package main

import (
	"context"
	"fmt"
	"io"

	"github.com/pierhq/pier/repo"
)

// cmdVerify runs the read-back check every publish runs before a
// generation goes live on the current generations of the named targets
// (all targets without arguments).
//
//	pier verify [--config F] [--data DIR] [--deep] [TARGET...]
func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fset := newFlagSet("pier verify", stderr, &cf)
	deep := fset.Bool("deep", false, "also read every package file and check its sha256")
	if err := parseInterspersed(fset, args); err != nil {
		return errSilent
	}
	var targets []repo.Target
	for _, arg := range fset.Args() {
		t, err := repo.ParseTarget(arg)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	a, err := cf.openApp(ctx, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer a.Close()
	if len(targets) == 0 {
		heads, err := a.svc.Heads(ctx)
		if err != nil {
			return err
		}
		for _, ti := range heads {
			if ti.Current != nil {
				targets = append(targets, ti.Target)
			}
		}
	}
	failed := 0
	for _, t := range targets {
		gen, err := a.svc.VerifyTarget(ctx, t, *deep)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %v\n", t, err)
			continue
		}
		fmt.Fprintf(stdout, "ok   %s generation %d (%d files, %d packages)\n", t, gen.Seq, gen.Files, gen.Packages)
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "pier verify: %d of %d targets failed\n", failed, len(targets))
		return errSilent
	}
	return nil
}
