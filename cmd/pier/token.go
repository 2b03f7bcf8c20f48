package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

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

const tokenUsage = `usage:
  pier token create NAME --scope SCOPE [--scope SCOPE...] [--expires 90d]
  pier token list [--json]
  pier token revoke NAME

SCOPE is read, upload, publish, delete, promote or admin, optionally limited
to a stream/distro/release pattern: upload:5.8/*/*, read:nightly/el/*.
The commands work on the data dir (--data, --config), beside pier serve.
`

// cmdToken creates, lists and revokes API tokens on the data dir.
func cmdToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tokenUsage)
		return errSilent
	}
	fset := flag.NewFlagSet("pier token "+args[0], flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.Usage = func() { fmt.Fprint(stderr, tokenUsage); fset.PrintDefaults() }
	var cf commonFlags
	cf.register(fset)
	var scopes scopeList
	var expires *string
	asJSON := new(bool)
	switch args[0] {
	case "create":
		fset.Var(&scopes, "scope", "a scope (repeat, or separate with commas)")
		expires = fset.String("expires", "", "expiry: a duration (90d, 12h), a date (2006-01-02) or an RFC 3339 time; default never")
	case "list":
		asJSON = fset.Bool("json", false, "print JSON")
	case "revoke":
	default:
		fmt.Fprintf(stderr, "pier token: unknown subcommand %q\n\n%s", args[0], tokenUsage)
		return errSilent
	}
	pos, err := parseFlagsAndArgs(fset, args[1:])
	if err != nil {
		return errSilent
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	switch {
	case args[0] == "create" && len(pos) >= 1:
		scopes = append(scopes, pos[1:]...) // --scope A B: B is a scope too
	case args[0] == "revoke" && len(pos) == 1, args[0] == "list" && len(pos) == 0:
	default:
		fmt.Fprint(stderr, tokenUsage)
		return errSilent
	}
	a, err := open(ctx, cfg, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer a.Close()
	authn, err := auth.New(tokenStore{a.cat}, auth.Config{}, a.log)
	if err != nil {
		return err
	}
	switch args[0] {
	case "create":
		return tokenCreate(ctx, a, authn, pos[0], scopes, *expires, stdout)
	case "list":
		return tokenList(ctx, a, authn, *asJSON, stdout)
	default:
		ev := cliEvent(audit.TokenRevoke, repo.Target{}, map[string]string{"name": pos[0]})
		if err := authn.Revoke(audit.WithEvent(ctx, ev), pos[0]); err != nil {
			return err
		}
		settleCLI(ctx, a, ev)
		fmt.Fprintf(stdout, "revoked token %s\n", pos[0])
		return nil
	}
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

func (l *scopeList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}
