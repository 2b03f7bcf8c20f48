package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/agnivade/levenshtein"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pierhq/pier/repo"
)

// The command line is built with github.com/spf13/cobra (flags by
// github.com/spf13/pflag): `pier help CMD` and `pier CMD -h/--help`, flags
// before, between or after the arguments (`pier rm T N V A --data X`), the
// nearest command suggested for a mistyped one; the nearest flag for a
// mistyped flag is added here (flagError).

// Exit codes of pier.
const (
	exitOK      = 0
	exitFailed  = 1 // the command ran and failed
	exitUsage   = 2 // the command line is wrong: nothing was done
	maxSuggestD = 2 // edit distance within which a flag is suggested
)

// cli is what every command shares: the output streams, how the
// environment is read, and the data-dir flags. One cli serves one run of
// pier.
type cli struct {
	stdout, stderr io.Writer
	// lookupEnv reads the environment (os.LookupEnv).
	lookupEnv func(string) (string, bool)
	// defaultConfig is the config file every command reads when neither
	// --config nor PIER_CONFIG names one and it exists.
	defaultConfig string
	// config and data are the --config and --data flags of the command
	// that runs.
	config, data string
	// quiet leaves out the line that names the config and the data dir.
	quiet bool
}

// getenv returns the environment variable k, or "" when unset.
func (c *cli) getenv(k string) string {
	v, _ := c.lookupEnv(k)
	return v
}

// usageError is a wrong command line: pier prints it with the command's
// usage hint and exits 2.
type usageError struct {
	cmd *cobra.Command
	msg string
}

func (e *usageError) Error() string { return e.msg }

// errSilent reports failure after the command already said why.
var errSilent = errors.New("failed")

// usagef returns a usageError of cmd.
func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// run runs pier with args and returns its exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signalContext()
	defer stop()
	c := &cli{stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv, defaultConfig: defaultConfigPath()}
	if path, ok := c.lookupEnv("PIER_CPUPROFILE"); ok && path != "" {
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			fmt.Fprintln(stderr, "pier:", err)
			return exitFailed
		}
		defer stopProfile()
	}
	root := c.root()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	_, err := root.ExecuteContextC(ctx)
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "pier: %s\n", ue.msg)
		if ue.cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", ue.cmd.CommandPath())
		}
		return exitUsage
	case errors.Is(err, errSilent):
		return exitFailed
	default:
		fmt.Fprintln(stderr, "pier:", err)
		return exitFailed
	}
}

// root returns the pier command with every subcommand.
func (c *cli) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "pier",
		Short: "Pier publishes and serves signed apt, rpm-md and APKINDEX repositories",
		Long: `Pier takes built packages (.deb, .rpm, .apk), keeps them, and publishes signed repositories
that apt, dnf/yum, zypper and apk install from, served over HTTP(S) and mirrored to S3.

Every command that works on a data directory finds its configuration the same way:
--config FILE, else $PIER_CONFIG, else ` + defaultConfigFile + ` when it exists, else none
(the defaults). --config '' or PIER_CONFIG= (empty) means none. The data directory is --data,
else $PIER_DATA, else the config's data_dir, else ./pier-data. Only 'pier serve' and
'pier init' create a data directory.`,
		SilenceErrors:              true,
		SilenceUsage:               true,
		SuggestionsMinimumDistance: maxSuggestD,
		Version:                    versionString(),
		// Unknown commands are usage errors with a suggestion (cobra
		// only checks the root's arguments when Args is unset, and then
		// answers unknown subcommands of groups with their help and 0).
		Args: c.unknownCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(c.stderr)
			cmd.Usage()
			return &usageError{msg: "no command given"}
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(c.flagError)
	root.AddGroup(&cobra.Group{ID: "server", Title: "Server:"},
		&cobra.Group{ID: "data", Title: "On the data directory (beside a running pier serve):"},
		&cobra.Group{ID: "remote", Title: "Against a running Pier:"})
	add := func(group string, cmds ...*cobra.Command) {
		for _, cmd := range cmds {
			cmd.GroupID = group
			root.AddCommand(cmd)
		}
	}
	add("server", c.serveCmd(), c.initCmd(), c.doctorCmd())
	add("data", c.importCmd(), c.publishCmd(), c.rmCmd(), c.targetsCmd(), c.targetCmd(), c.promoteCmd(), c.snapshotCmd(),
		c.generationsCmd(), c.rollbackCmd(), c.pruneCmd(), c.pinCmd(), c.gcCmd(), c.syncCmd(), c.verifyCmd(),
		c.tokenCmd(), c.keysCmd(), c.auditCmd(), c.migrateCatalogCmd())
	add("remote", c.pushCmd())
	root.AddCommand(c.versionCmd())
	return root
}

// unknownCommand is the root's argument check: the root runs only
// without arguments; an argument is a command no subcommand took.
func (c *cli) unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return unknownSub(cmd, args[0])
}

// unknownSub is the error for an unknown subcommand name of cmd, with the
// nearest ones.
func unknownSub(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + orList(quoteAll(s)) + "?"
	}
	return &usageError{cmd: cmd, msg: msg}
}

// group returns a command that only holds subcommands: without one it
// prints its usage and exits 2, an unknown one is a usage error.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{
		Use:                        use,
		Short:                      short,
		SuggestionsMinimumDistance: maxSuggestD,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownSub(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(cmd.ErrOrStderr())
			cmd.Usage()
			return &usageError{msg: "pier " + cmd.Name() + " needs a subcommand"}
		},
	}
	g.AddCommand(subs...)
	return g
}

// flagError turns a flag parsing error into a usage error; an unknown
// flag gets the nearest flags of the command as suggestions.
func (c *cli) flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	var ne *pflag.NotExistError
	if errors.As(err, &ne) && ne.GetSpecifiedName() != "" {
		if s := nearestFlags(cmd, ne.GetSpecifiedName()); len(s) > 0 {
			msg += "; did you mean " + orList(s) + "?"
		}
	}
	return &usageError{cmd: cmd, msg: msg}
}

// nearestFlags returns the flags of cmd whose names are within
// maxSuggestD edits of name, or start with it, nearest first.
func nearestFlags(cmd *cobra.Command, name string) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := levenshtein.ComputeDistance(strings.ToLower(name), f.Name)
		if d <= maxSuggestD || strings.HasPrefix(f.Name, strings.ToLower(name)) {
			cs = append(cs, cand{"--" + f.Name, d})
		}
	})
	slices.SortStableFunc(cs, func(a, b cand) int { return a.d - b.d })
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return out
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// orList joins "a", "a or b", "a, b or c".
func orList(ss []string) string {
	if len(ss) <= 1 {
		return strings.Join(ss, "")
	}
	return strings.Join(ss[:len(ss)-1], ", ") + " or " + ss[len(ss)-1]
}

// args returns an argument check: between lo and hi arguments (hi < 0: no
// upper bound), else a usage error naming what is expected.
func args(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, as []string) error {
		if len(as) < lo || (hi >= 0 && len(as) > hi) {
			if len(as) > 0 && hi >= 0 && len(as) > hi {
				return usagef(cmd, "too many arguments (%s): want %s", strings.Join(as[hi:], " "), what)
			}
			return usagef(cmd, "missing arguments: want %s", what)
		}
		return nil
	}
}

// dataFlags registers --config and --data on cmd: every command that works
// on a data directory has them.
func (c *cli) dataFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.config, "config", "", "YAML config file (default: $PIER_CONFIG, else "+defaultConfigFile+" when present; '' for none)")
	cmd.Flags().StringVar(&c.data, "data", "", "data directory (default: $PIER_DATA, else the config's data_dir, else ./pier-data)")
}

// parseTarget reads argument i of a target command as
// STREAM/DISTRO/RELEASE; a malformed one is a usage error.
func parseTarget(cmd *cobra.Command, arg string) (repo.Target, error) {
	t, err := repo.ParseTarget(arg)
	if err != nil {
		return repo.Target{}, &usageError{cmd: cmd, msg: strings.TrimSuffix(err.Error(), ": "+repo.ErrInvalid.Error())}
	}
	return t, nil
}

// dataCmd describes a command that works on an existing data directory:
// the skeleton every such command shares (flags parsed the same way,
// config and data dir found the same way and named on stderr, the app
// opened and closed).
type dataCmd struct {
	use, short, long string
	args             cobra.PositionalArgs
	// flags registers the command's own flags.
	flags func(fs *pflag.FlagSet)
	// check validates the arguments before anything is opened.
	check func(cmd *cobra.Command, args []string) error
	// run does the work on the opened app.
	run func(ctx context.Context, a *app, cmd *cobra.Command, args []string) error
	// logLevel is the level of the app's log on stderr (default warn).
	logLevel string
}

// command builds the cobra command of d.
func (c *cli) command(d dataCmd) *cobra.Command {
	cmd := &cobra.Command{Use: d.use, Short: d.short, Long: d.long, Args: d.args}
	c.dataFlags(cmd)
	if d.flags != nil {
		d.flags(cmd.Flags())
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if d.check != nil {
			if err := d.check(cmd, args); err != nil {
				return err
			}
		}
		level := d.logLevel
		if level == "" {
			level = "warn"
		}
		a, err := c.openApp(cmd.Context(), cmd, newLogger(c.stderr, level))
		if err != nil {
			return err
		}
		defer a.Close()
		return d.run(cmd.Context(), a, cmd, args)
	}
	return cmd
}
