package main

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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

// auditCmd prints the audit log of the data dir, newest first.
func (c *cli) auditCmd() *cobra.Command {
	var target, action, actor, since string
	var limit int
	var asJSON bool
	var q audit.Query
	return c.command(dataCmd{
		use:   "audit",
		short: "show who uploaded, deleted, published, promoted… what, when and from where",
		args:  args(0, 0, "no arguments"),
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&target, "target", "", "only this target, or a pattern such as 5.8/* (* matches / too)")
			fs.StringVar(&action, "action", "", "only this action: upload, delete, publish, promote, rollback, pin, unpin, prune, gc, "+
				"target.remove, token.create, token.revoke")
			fs.StringVar(&actor, "actor", "", "only this actor (a token name, or cli:<user>)")
			fs.StringVar(&since, "since", "", "only events since: a duration back from now (24h, 7d), a date or an RFC 3339 time")
			fs.IntVar(&limit, "limit", 50, fmt.Sprintf("how many of the newest events (at most %d)", audit.MaxLimit))
			fs.BoolVar(&asJSON, "json", false, "print JSON")
		},
		check: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > audit.MaxLimit {
				return usagef(cmd, "--limit must be 1-%d", audit.MaxLimit)
			}
			q = audit.Query{Target: target, Action: action, Actor: actor, Limit: limit}
			if since != "" {
				t, err := api.ParseSince(since, time.Now())
				if err != nil {
					return usagef(cmd, "--since: %v", err)
				}
				q.Since = t
			}
			return nil
		},
		run: func(ctx context.Context, a *app, _ *cobra.Command, _ []string) error {
			es, err := a.cat.AuditEvents(ctx, q)
			if err != nil {
				return err
			}
			if asJSON {
				if es == nil {
					es = []audit.Event{}
				}
				return writeJSON(c.stdout, es)
			}
			tw := tabwriter.NewWriter(c.stdout, 2, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tTARGET\tFROM\tDETAIL\tCI")
			for _, e := range es {
				ci := strings.TrimSpace(e.CIJobURL + " " + e.CICommit)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Actor, e.Action, orDash(e.Target),
					orDash(e.Remote), orDash(string(e.Detail)), orDash(ci))
			}
			return tw.Flush()
		},
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
