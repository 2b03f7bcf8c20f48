package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pierhq/pier/api"
	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/repo"
)

// ciFromEnv returns the URL of the CI job pier runs in and the commit it
// builds: GitHub Actions ($GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/
// runs/$GITHUB_RUN_ID, $GITHUB_SHA) or GitLab CI ($CI_JOB_URL,
// $CI_COMMIT_SHA). Empty outside CI.
func ciFromEnv() (jobURL, commit string) {
	if id := os.Getenv("GITHUB_RUN_ID"); id != "" && os.Getenv("GITHUB_REPOSITORY") != "" {
		server := getenv("GITHUB_SERVER_URL", "https://github.com")
		return strings.TrimSuffix(server, "/") + "/" + os.Getenv("GITHUB_REPOSITORY") + "/actions/runs/" + id, os.Getenv("GITHUB_SHA")
	}
	if u := os.Getenv("CI_JOB_URL"); u != "" {
		return u, os.Getenv("CI_COMMIT_SHA")
	}
	return "", ""
}

// cliActor is who the audit log says made a change from the command line.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return fmt.Sprintf("cli:uid-%d", os.Getuid())
}

// cliEvent is the audit event of a change a command makes on the data
// dir: actor "cli:<user>", and the CI job and commit of the environment.
// Put in the context of the call that makes the change (audit.WithEvent),
// the catalog writes it in the same transaction; settleCLI writes it when
// the call changed nothing.
func cliEvent(action string, t repo.Target, detail any) *audit.Event {
	job, commit := ciFromEnv()
	e := &audit.Event{Actor: cliActor(), Action: action, Detail: audit.Detail(detail), CIJobURL: job, CICommit: commit}
	if t != (repo.Target{}) {
		e.Target = t.String()
	}
	return e
}

// settleCLI writes e unless the catalog wrote it with its change.
func settleCLI(ctx context.Context, a *app, e *audit.Event) {
	if e.Recorded() {
		return
	}
	if err := a.cat.RecordAudit(context.WithoutCancel(ctx), e); err != nil {
		a.log.Error("record audit event", "action", e.Action, "target", e.Target, "err", err)
	}
}

// cmdAudit prints the audit log of the data dir, newest first.
//
//	pier audit [--target T] [--action A] [--actor NAME] [--since 24h] [--limit N] [--json]
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("pier audit", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var cf commonFlags
	cf.register(fset)
	target := fset.String("target", "", "only this target, or a pattern such as 5.8/* (* matches / too)")
	action := fset.String("action", "", "only this action: upload, delete, publish, promote, rollback, pin, unpin, prune, gc, token.create, token.revoke")
	actor := fset.String("actor", "", "only this actor (a token name, or cli:<user>)")
	since := fset.String("since", "", "only events since: a duration back from now (24h, 7d), a date or an RFC 3339 time")
	limit := fset.Int("limit", 50, fmt.Sprintf("how many of the newest events (at most %d)", audit.MaxLimit))
	asJSON := fset.Bool("json", false, "print JSON")
	if err := fset.Parse(args); err != nil {
		return errSilent
	}
	if fset.NArg() != 0 {
		return fmt.Errorf("usage: pier audit [--target T] [--action A] [--actor NAME] [--since D] [--limit N] [--json]")
	}
	if *limit < 1 || *limit > audit.MaxLimit {
		return fmt.Errorf("--limit must be 1-%d", audit.MaxLimit)
	}
	q := audit.Query{Target: *target, Action: *action, Actor: *actor, Limit: *limit}
	if *since != "" {
		t, err := api.ParseSince(*since, time.Now())
		if err != nil {
			return err
		}
		q.Since = t
	}
	a, err := cf.openApp(ctx, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer a.Close()
	es, err := a.cat.AuditEvents(ctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		if es == nil {
			es = []audit.Event{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(es)
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tTARGET\tFROM\tDETAIL\tCI")
	for _, e := range es {
		ci := strings.TrimSpace(e.CIJobURL + " " + e.CICommit)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Actor, e.Action, orDash(e.Target),
			orDash(e.Remote), orDash(string(e.Detail)), orDash(ci))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
