// Command pier publishes and serves signed Linux package repositories.
//
// `pier help` lists the commands, `pier help CMD` (or `pier CMD --help`)
// shows one. Every command that works on a data directory finds its
// configuration the same way (--config, PIER_CONFIG, /etc/pier/pier.yaml)
// and only pier serve and pier init create a data directory.
//
// All dependencies are wired here explicitly; nothing registers itself.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

// Set at build time with -ldflags "-X main.version=… -X main.commit=…"
// (make build, make packages); otherwise read from the module's build
// information (go install, go build in a checkout).
var (
	version = ""
	commit  = ""
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// signalContext is cancelled by SIGINT and SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// buildVersion returns the version and commit pier was built from: the
// -ldflags values when set, else the module version and VCS revision of
// the build information ("(devel)" and "unknown" when there is none,
// e.g. a build with -buildvcs=false).
func buildVersion() (ver, rev string, modified bool) {
	ver, rev = version, commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if ver == "" {
			ver = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true" && commit == ""
			}
		}
	}
	if ver == "" {
		ver = "(devel)"
	}
	if rev == "" {
		rev = "unknown"
	}
	return ver, rev, modified
}

// versionString is what pier version prints.
func versionString() string {
	ver, rev, modified := buildVersion()
	if modified {
		rev += " (modified)"
	}
	s := fmt.Sprintf("pier %s (commit %s, %s %s/%s)", ver, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if testHooks {
		s += " [test hooks: built with -tags piertest]"
	}
	return s
}

// shortVersion is the version alone, for the serve banner.
func shortVersion() string {
	ver, _, _ := buildVersion()
	return ver
}

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version and commit pier was built from",
		Args:  args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(c.stdout, versionString())
			return nil
		},
	}
}
