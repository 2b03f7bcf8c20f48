package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pierhq/pier/audit"
	"github.com/pierhq/pier/auth"
	"github.com/pierhq/pier/repo"
)

// authConfig resolves the auth section of cfg for the Authenticator: the
// admin token (scope admin) and the configured tokens' values from their
// environment variables or files.
func authConfig(cfg *Config, adminToken string) (auth.Config, error) {
	ac := auth.Config{Private: cfg.Auth.Private, Failures: cfg.Auth.RateLimit.Failures, Window: cfg.Auth.RateLimit.Window}
	if adminToken != "" {
		ac.Tokens = append(ac.Tokens, auth.ConfigToken{Name: auth.AdminName, Secret: adminToken, Scopes: []string{string(auth.Admin)}})
	}
	for _, t := range cfg.Auth.Tokens {
		var v string
		var err error
		if t.TokenEnv != "" {
			if v = os.Getenv(t.TokenEnv); v == "" {
				err = fmt.Errorf("environment variable %s is empty", t.TokenEnv)
			}
		} else if v, err = secret("", t.TokenFile); err == nil && v == "" {
			err = fmt.Errorf("%s is empty", t.TokenFile)
		}
		if err != nil {
			return auth.Config{}, fmt.Errorf("auth.tokens: %s: %w", t.Name, err)
		}
		ac.Tokens = append(ac.Tokens, auth.ConfigToken{Name: t.Name, Secret: v, Scopes: t.Scopes})
	}
	if err := ac.Validate(); err != nil {
		return auth.Config{}, fmt.Errorf("auth: %w", err)
	}
	return ac, nil
}

// tokenCmd creates, lists and revokes API tokens on the data dir.
func (c *cli) tokenCmd() *cobra.Command {
	// withAuth opens the app and an Authenticator over its catalog.
	withAuth := func(fn func(ctx context.Context, a *app, authn *auth.Authenticator, args []string) error) func(context.Context, *app, *cobra.Command, []string) error {
		return func(ctx context.Context, a *app, _ *cobra.Command, as []string) error {
			authn, err := auth.New(tokenStore{a.cat}, auth.Config{}, a.log)
			if err != nil {
				return err
			}
			return fn(ctx, a, authn, as)
		}
	}
	var scopes scopeList
	var expires string
	create := c.command(dataCmd{
		use:   "create NAME --scope SCOPE... [--expires 90d]",
		short: "make an API token; it is printed once, as the last line",
		long: `Make an API token. It is printed alone as the last line of stdout, the only time it is shown:
Pier keeps only its SHA-256.

SCOPE is read, upload, publish, delete, promote or admin, optionally limited to a
stream/distro/release pattern: upload:5.8/*/*, read:nightly/el/*. Repeat --scope, separate
scopes with commas, or list them after the name (--scope a b).`,
		args: args(1, -1, "NAME [SCOPE...]"),
		flags: func(fs *pflag.FlagSet) {
			fs.Var(&scopes, "scope", "a scope (repeat, or separate with commas)")
			fs.StringVar(&expires, "expires", "", "expiry: a duration (90d, 12h), a date (2006-01-02) or an RFC 3339 time; default never")
		},
		run: withAuth(func(ctx context.Context, a *app, authn *auth.Authenticator, as []string) error {
			scopes = append(scopes, as[1:]...) // --scope A B: B is a scope too
			return tokenCreate(ctx, a, authn, as[0], scopes, expires, c.stdout)
		}),
	})
	var asJSON bool
	list := c.command(dataCmd{
		use:   "list",
		short: "list tokens: names, scopes, expiry, last use (never a token)",
		args:  args(0, 0, "no arguments"),
		flags: func(fs *pflag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON") },
		run: withAuth(func(ctx context.Context, a *app, authn *auth.Authenticator, _ []string) error {
			return tokenList(ctx, a, authn, asJSON, c.stdout)
		}),
	})
	revoke := c.command(dataCmd{
		use:   "revoke NAME",
		short: "revoke a stored token: refused from the next request on",
		args:  args(1, 1, "NAME"),
		run: withAuth(func(ctx context.Context, a *app, authn *auth.Authenticator, as []string) error {
			ev := cliEvent(audit.TokenRevoke, repo.Target{}, map[string]string{"name": as[0]})
			if err := authn.Revoke(audit.WithEvent(ctx, ev), as[0]); err != nil {
				return err
			}
			settleCLI(ctx, a, ev)
			fmt.Fprintf(c.stdout, "revoked token %s\n", as[0])
			return nil
		}),
	})
	return group("token", "create, list and revoke API tokens (create prints the token once, last line)", create, list, revoke)
}

// tokenCreate makes a token and prints it alone on the last line of
// stdout (the only time it is shown).
func tokenCreate(ctx context.Context, a *app, authn *auth.Authenticator, name string, scopes []string, expires string, stdout io.Writer) error {
	for _, t := range a.cfg.Auth.Tokens {
		if t.Name == name {
			return fmt.Errorf("token name %q is taken by a token of the configuration: %w", name, repo.ErrConflict)
		}
	}
	exp, err := auth.ParseExpiry(expires, time.Now())
	if err != nil {
		return err
	}
	detail := map[string]any{"name": name, "scopes": scopes}
	if !exp.IsZero() {
		detail["expires"] = exp
	}
	ev := cliEvent(audit.TokenCreate, repo.Target{}, detail)
	tok, info, err := authn.Create(audit.WithEvent(ctx, ev), name, scopes, exp)
	if err != nil {
		return err
	}
	settleCLI(ctx, a, ev)
	when := "never expires"
	if !info.Expires.IsZero() {
		when = "expires " + info.Expires.Format(time.RFC3339)
	}
	fmt.Fprintf(stdout, "created token %s (%s; %s)\n", info.Name, strings.Join(info.Scopes, " "), when)
	fmt.Fprintln(stdout, "store it now: Pier keeps only its hash and cannot show it again")
	fmt.Fprintln(stdout, tok)
	return nil
}

// tokenList prints the configuration's tokens and the stored ones.
func tokenList(ctx context.Context, a *app, authn *auth.Authenticator, asJSON bool, stdout io.Writer) error {
	ts, err := authn.List(ctx)
	if err != nil {
		return err
	}
	conf := []auth.Token{{Name: auth.AdminName, Scopes: []string{string(auth.Admin)}, Source: "config"}}
	for _, t := range a.cfg.Auth.Tokens {
		conf = append(conf, auth.Token{Name: t.Name, Scopes: t.Scopes, Source: "config"})
	}
	ts = append(conf, ts...)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ts)
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSCOPES\tEXPIRES\tLAST USED\tSOURCE")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, strings.Join(t.Scopes, " "), orNever(t.Expires, "never"), orNever(t.LastUsed, "-"), t.Source)
	}
	return tw.Flush()
}

func orNever(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	s := t.UTC().Format(time.RFC3339)
	if t.Before(time.Now()) && none == "never" {
		s += " (expired)"
	}
	return s
}

// scopeList is a repeatable flag; commas separate values too.
type scopeList []string

func (l *scopeList) String() string { return strings.Join(*l, ",") }
func (l *scopeList) Type() string   { return "SCOPE" }

func (l *scopeList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}
