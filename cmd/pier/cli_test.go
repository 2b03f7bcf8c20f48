package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runPier runs pier in the process with args and returns the exit code,
// stdout and stderr. The environment is the test's.
func runPier(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestHelpAndSuggestions: help prints a command's usage and exits 0;
// unknown commands and flags are usage errors (exit 2) that suggest the
// nearest; a missing argument names what is wanted.
func TestHelpAndSuggestions(t *testing.T) {
	t.Setenv("PIER_CONFIG", "")
	for _, c := range []struct {
		args       []string
		code       int
		out, err   string
		notOut     string
		noExitHelp bool
	}{
		{args: []string{"help", "import"}, out: "pier import TARGET FILE_OR_DIR... [flags]"},
		{args: []string{"import", "-h"}, out: "pier import TARGET FILE_OR_DIR... [flags]"},
		{args: []string{"import", "--help"}, out: "--link"},
		{args: []string{"help", "target", "rm"}, out: "pier target rm TARGET [flags]"},
		{args: []string{"target", "rm", "--help"}, out: "retention.gc_grace"},
		{args: []string{"token", "create", "-h"}, out: "--expires"},
		{args: []string{"help"}, out: "doctor"},
		{args: []string{"--help"}, out: "push"},
		{args: []string{}, code: exitUsage, err: "no command given"},
		{args: []string{"imprt"}, code: exitUsage, err: `unknown command "imprt" for "pier"; did you mean "import"?`},
		{args: []string{"tragets"}, code: exitUsage, err: `did you mean "targets"?`},
		{args: []string{"token", "revok"}, code: exitUsage, err: `unknown command "revok" for "pier token"; did you mean "revoke"?`},
		{args: []string{"keys"}, code: exitUsage, err: "pier keys needs a subcommand"},
		{args: []string{"targets", "--jsn"}, code: exitUsage, err: "unknown flag: --jsn; did you mean --json?"},
		{args: []string{"push", "--sever", "x", "t/d/r", "f"}, code: exitUsage, err: "did you mean --server?"},
		{args: []string{"import", "5.8/debian/bookworm"}, code: exitUsage, err: "missing arguments: want TARGET FILE_OR_DIR..."},
		{args: []string{"rm", "5.8/debian/bookworm", "a", "b"}, code: exitUsage, err: "want TARGET NAME VERSION ARCH"},
		{args: []string{"publish", "5.8/debian"}, code: exitUsage, err: `target "5.8/debian" is not stream/distro/release`},
		{args: []string{"version", "extra"}, code: exitUsage, err: "too many arguments"},
	} {
		code, out, errOut := runPier(t, c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.err) {
			t.Errorf("pier %s: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", strings.Join(c.args, " "), code, c.code, out, errOut)
		}
	}
}

// TestFlagsAnywhere: every command takes its flags before, between or
// after its arguments (pier rm T N V A --data X).
func TestFlagsAnywhere(t *testing.T) {
	t.Setenv("PIER_CONFIG", "")
	missing := filepath.Join(t.TempDir(), "nowhere")
	for _, args := range [][]string{
		{"rm", "5.8/debian/bookworm", "n", "1.0", "amd64", "--data", missing},
		{"rm", "--data", missing, "5.8/debian/bookworm", "n", "1.0", "amd64"},
		{"rm", "5.8/debian/bookworm", "--data", missing, "n", "1.0", "amd64"},
		{"generations", "5.8/debian/bookworm", "--data=" + missing},
		{"promote", "a/debian/b", "c/debian/d", "--package", "x", "--data", missing},
		{"target", "rm", "5.8/debian/bookworm", "--data", missing},
		{"token", "create", "ci", "--scope", "read", "--data", missing},
	} {
		code, _, errOut := runPier(t, args...)
		// Parsed: the command got as far as the missing data directory.
		if code != exitFailed || !strings.Contains(errOut, "data directory "+missing+" does not exist") {
			t.Errorf("pier %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
		}
	}
}

// TestChooseConfig: --config (even empty) wins, then PIER_CONFIG (even
// empty), then the default file when it exists, else none.
func TestChooseConfig(t *testing.T) {
	dir := t.TempDir()
	def := filepath.Join(dir, "default.yaml")
	for _, c := range []struct {
		name       string
		flag       *string
		env        *string
		defExists  bool
		path, from string
	}{
		{name: "nothing", path: "", from: ""},
		{name: "default file", defExists: true, path: def, from: "default location"},
		{name: "env over default", env: ptr("/e.yaml"), defExists: true, path: "/e.yaml", from: "PIER_CONFIG"},
		{name: "empty env: none", env: ptr(""), defExists: true, path: "", from: "PIER_CONFIG"},
		{name: "flag over env", flag: ptr("/f.yaml"), env: ptr("/e.yaml"), path: "/f.yaml", from: "--config"},
		{name: "empty flag: none", flag: ptr(""), env: ptr("/e.yaml"), defExists: true, path: "", from: "--config"},
	} {
		os.Remove(def)
		if c.defExists {
			os.WriteFile(def, nil, 0o644)
		}
		env := map[string]string{}
		if c.env != nil {
			env["PIER_CONFIG"] = *c.env
		}
		cl := &cli{lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, defaultConfig: def}
		cmd := &cobra.Command{Use: "x"}
		cl.dataFlags(cmd)
		if c.flag != nil {
			if err := cmd.Flags().Set("config", *c.flag); err != nil {
				t.Fatal(err)
			}
		}
		path, from, err := cl.chooseConfig(cmd)
		if err != nil || path != c.path || from != c.from {
			t.Errorf("%s: %q from %q (%v), want %q from %q", c.name, path, from, err, c.path, c.from)
		}
	}
}

func ptr(s string) *string { return &s }

// TestServerURL: --server must be an http or https URL with a host.
func TestServerURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://pier.example.org":  "https://pier.example.org",
		"http://127.0.0.1:8080/":    "http://127.0.0.1:8080",
		"https://example.org/pier/": "https://example.org/pier",
		"pier.example.org":          "",
		"pier.example.org:8080":     "",
		"ftp://pier.example.org":    "",
		"//pier.example.org":        "",
		"https://":                  "",
	} {
		got, err := serverURL(in)
		switch {
		case want == "" && (err == nil || !strings.Contains(err.Error(), "give the scheme too")):
			t.Errorf("%q: accepted as %q (%v)", in, got, err)
		case want != "" && (err != nil || got != want):
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestVersion: pier version names the version and commit stamped with
// -ldflags, else those of the build information.
func TestVersion(t *testing.T) {
	v, c := version, commit
	t.Cleanup(func() { version, commit = v, c })
	version, commit = "1.2.3", "0123abcd"
	code, out, _ := runPier(t, "version")
	if code != 0 || !strings.HasPrefix(out, "pier 1.2.3 (commit 0123abcd, go") {
		t.Errorf("pier version: %d %q", code, out)
	}
	version, commit = "", ""
	if ver, rev, _ := buildVersion(); ver == "" || rev == "" {
		t.Errorf("without -ldflags: version %q commit %q", ver, rev)
	}
}
