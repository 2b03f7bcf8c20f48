package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// targetRow is one line of pier targets.
type targetRow struct {
	repo.TargetInfo
	Private bool   `json:"private"`
	Path    string `json:"path,omitempty"`
}

// cmdTargets lists the targets with their publish state.
//
//	pier targets [--config F] [--data DIR] [--json]
func cmdTargets(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fset := newFlagSet("pier targets", stderr, &cf)
	asJSON := fset.Bool("json", false, "print JSON")
	if err := parseInterspersed(fset, args); err != nil {
		return errSilent
	}
	if fset.NArg() != 0 {
		return fmt.Errorf("usage: pier targets [--json]")
	}
	a, err := cf.openApp(ctx, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer a.Close()
	ts, err := a.svc.Targets(ctx)
	if err != nil {
		return err
	}
	rows := make([]targetRow, 0, len(ts))
	for _, ti := range ts {
		r := targetRow{TargetInfo: ti, Path: a.svc.Path(ti.Target)}
		for _, p := range a.cfg.Auth.Private {
			r.Private = r.Private || auth.MatchTarget(p, ti.Target)
		}
		rows = append(rows, r)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
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
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.Target, r.Format, r.Packages, gen, when, r.State, access, r.Path)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if r.PublishError != "" {
			fmt.Fprintf(stdout, "%s: publish failing since %s (%d attempts): %s\n", r.Target,
				r.FailingSince.Format(time.RFC3339), r.PublishFailures, r.PublishError)
		}
	}
	return nil
}
