package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pierRun runs the pier binary with env added and returns its exit code,
// stdout and stderr.
func pierRun(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(pierBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("pier %s: %v", strings.Join(args, " "), err)
	}
	return code, stdout.String(), stderr.String()
}

// TestConfigDiscovery: every command finds the config as pier serve does
// (--config, PIER_CONFIG, then the default file) and names it and the data
// directory on stderr; only serve and init create a data directory: any
// other command given a missing or empty one exits non-zero naming it and
// creates nothing.
func TestConfigDiscovery(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	def := filepath.Join(dir, "etc-pier.yaml")
	os.WriteFile(def, []byte("data_dir: "+data+"\n"), 0o644)
	other := filepath.Join(dir, "other.yaml")
	os.WriteFile(other, []byte("data_dir: "+filepath.Join(dir, "other-data")+"\n"), 0o644)
	useDefault := []string{"PIER_TEST_DEFAULT_CONFIG=" + def}

	// A missing data directory: refused, named, not created.
	for _, args := range [][]string{{"targets"}, {"import", "5.8/debian/bookworm", dir}, {"token", "list"}, {"keys", "generate"},
		{"gc"}, {"publish", "5.8/debian/bookworm"}, {"sync"}, {"audit"}, {"target", "rm", "5.8/debian/bookworm"}} {
		code, _, errOut := pierRun(t, useDefault, args...)
		if code != 1 || !strings.Contains(errOut, "data directory "+data+" does not exist") ||
			!strings.Contains(errOut, "config "+def+" (default location)") {
			t.Errorf("pier %s on a missing data dir: exit %d\n%s", strings.Join(args, " "), code, errOut)
		}
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("a command created the data directory: %v", err)
	}
	// An empty one: refused, named, left empty.
	os.Mkdir(data, 0o755)
	code, _, errOut := pierRun(t, useDefault, "token", "create", "ci", "--scope", "read")
	if code != 1 || !strings.Contains(errOut, "data directory "+data+" holds no Pier catalog") {
		t.Errorf("token create on an empty data dir: exit %d\n%s", code, errOut)
	}
	if ents, _ := os.ReadDir(data); len(ents) != 0 {
		t.Errorf("the empty data directory got %v", ents)
	}

	// pier init makes it (the default config's data_dir), once.
	code, out, errOut := pierRun(t, useDefault, "init")
	if code != 0 || !strings.Contains(out, "created the data directory "+data) || !strings.Contains(out, "signing key (generated): ") ||
		!strings.Contains(out, "admin token: generated in "+filepath.Join(data, "admin.token")) {
		t.Fatalf("pier init: %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := pierRun(t, useDefault, "init"); code != 0 || !strings.Contains(out, "a Pier data directory already") {
		t.Errorf("second pier init: %d\n%s", code, out)
	}
	// Every command now acts on it, and says so.
	code, out, errOut = pierRun(t, useDefault, "targets", "--json")
	if code != 0 || strings.TrimSpace(out) != "[]" || !strings.Contains(errOut, "pier: config "+def+" (default location); data "+data+" (data_dir of the config)") {
		t.Errorf("pier targets: %d\n%s%s", code, out, errOut)
	}
	// PIER_CONFIG beats the default, --config beats PIER_CONFIG, an empty
	// --config means none, --data beats them all.
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{append(useDefault, "PIER_CONFIG="+other), nil, "config " + other + " (PIER_CONFIG); data " + filepath.Join(dir, "other-data")},
		{append(useDefault, "PIER_CONFIG="+other), []string{"--config", def}, "config " + def + " (--config); data " + data},
		{useDefault, []string{"--config", ""}, "config none (defaults) (--config); data ./pier-data (default)"},
		{append(useDefault, "PIER_CONFIG="), nil, "config none (defaults) (PIER_CONFIG); data ./pier-data (default)"},
		{useDefault, []string{"--data", data + "-x"}, "config " + def + " (default location); data " + data + "-x (--data)"},
		{append(useDefault, "PIER_DATA="+data+"-y"), nil, "data " + data + "-y (PIER_DATA)"},
	} {
		_, _, errOut := pierRun(t, c.env, append([]string{"targets"}, c.args...)...)
		if !strings.Contains(errOut, c.want) {
			t.Errorf("%v %v: stderr %q lacks %q", c.env, c.args, errOut, c.want)
		}
	}

	// A config error names the key and what it wants, in YAML terms.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("data_dir: "+data+"\npublish:\n  delay: soon\n"), 0o644)
	code, _, errOut = pierRun(t, nil, "targets", "--config", bad)
	if code != 1 || !strings.Contains(errOut, "line 3: publish.delay wants a duration such as 30s") || strings.Contains(errOut, "time.Duration") {
		t.Errorf("bad config: %d %s", code, errOut)
	}
}

// TestCLIHelp runs the built binary: help and -h print the command's
// usage and exit 0, mistakes exit 2 with the nearest command or flag.
func TestCLIHelp(t *testing.T) {
	for _, c := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"help", "push"}, 0, "pier push TARGET FILE_OR_DIR... [flags]", ""},
		{[]string{"push", "-h"}, 0, "--wait-timeout", ""},
		{[]string{"doctor", "--help"}, 0, "exit status is 1", ""},
		{[]string{"pussh"}, 2, "", `did you mean "push"?`},
		{[]string{"push", "--wiat", "a/b/c", "x"}, 2, "", "did you mean --wait?"},
		{[]string{"version"}, 0, "pier (devel) (commit ", ""},
		{[]string{"--version"}, 0, "pier (devel)", ""},
	} {
		code, out, errOut := pierRun(t, nil, c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.err) {
			t.Errorf("pier %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(c.args, " "), code, out, errOut)
		}
	}
}

// TestReleaseBuild builds pier as a release is built (no -tags piertest,
// version and commit stamped with -ldflags, as make packages does): pier
// version prints them, and the binary holds no test hook.
func TestReleaseBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pier")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=9.8.7 -X main.commit=c0ffee", "-o", bin, "../cmd/pier")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "pier 9.8.7 (commit c0ffee, go") || strings.Contains(string(out), "test hooks") {
		t.Errorf("pier version: %v %q", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, hook := range []string{"PIER_TEST_CRASHPOINT", "PIER_TEST_CLOCK_FILE", "PIER_TEST_DEFAULT_CONFIG"} {
		if bytes.Contains(data, []byte(hook)) {
			t.Errorf("the release binary holds %s", hook)
		}
	}
	if out, _ := exec.Command(pierBin, "version").Output(); !strings.Contains(string(out), "test hooks") {
		t.Errorf("the test binary does not say it has the test hooks: %q", out)
	}
}

// TestTargetRemove: a typo target is removed through the API and another
// through pier target rm: they are listed and served no more, the audit
// log says who removed what, the next sync deletes the mirror's copies,
// gc deletes the blobs only they held, and the alias the first holder
// claimed is served no more and not given to the other distro.
func TestTargetRemove(t *testing.T) {
	mirrorDir := t.TempDir()
	s := configServer(t, fmt.Sprintf("mirrors:\n  - name: www\n    type: dir\n    path: %s\n    grace: 1ms\n", mirrorDir))
	deb := mkdeb(t, "rm-keep", "1.0", "amd64", "keep")
	typo := mkdeb(t, "rm-typo", "1.0", "amd64", "typo only")
	for tg, pkgs := range map[string][][]byte{"5.8/debian/bookworm": {deb}, "5.8/debian/bookwrom": {deb, typo}} {
		for _, p := range pkgs {
			if code, r := s.upload(tg, p, "?publish=false"); code != 201 {
				t.Fatalf("upload to %s: %d %v", tg, code, r)
			}
		}
		s.publish(tg)
	}
	waitFor(t, 20*time.Second, "the mirror to hold both targets", func() bool {
		_, e1 := os.Stat(filepath.Join(mirrorDir, "deb/5.8/debian/dists/bookwrom/InRelease"))
		_, e2 := os.Stat(filepath.Join(mirrorDir, "deb/5.8/debian/dists/bookworm/InRelease"))
		return e1 == nil && e2 == nil
	})
	reader := createToken(t, s, "reader", "--scope", "read")
	if code := withToken(t, s, "DELETE", "/api/v1/targets/5.8/debian/bookwrom", reader, nil); code != 403 {
		t.Errorf("DELETE with a read token: %d", code)
	}
	deleter := createToken(t, s, "cleaner", "--scope", "delete:5.8/*/*")
	if code := withToken(t, s, "DELETE", "/api/v1/targets/5.8/debian/bookwrom", deleter, nil); code != 200 {
		t.Fatalf("DELETE: %d", code)
	}
	for _, p := range []string{"/deb/5.8/debian/dists/bookwrom/InRelease", "/deb/5.8/dists/bookwrom/InRelease", "/setup/5.8/debian/bookwrom"} {
		if code, _, _ := s.get(p); code != 404 {
			t.Errorf("GET %s after the removal: %d", p, code)
		}
	}
	if code, _, _ := s.get("/deb/5.8/debian/dists/bookworm/InRelease"); code != 200 {
		t.Errorf("the other target's InRelease: %d", code)
	}
	waitFor(t, 20*time.Second, "the sync to delete the removed target's copies", func() bool {
		_, err := os.Stat(filepath.Join(mirrorDir, "deb/5.8/debian/dists/bookwrom/InRelease"))
		return os.IsNotExist(err)
	})
	if _, err := os.Stat(filepath.Join(mirrorDir, "deb/5.8/debian/dists/bookworm/InRelease")); err != nil {
		t.Errorf("the sync deleted the other target's InRelease: %v", err)
	}
	// The alias holder goes through the CLI (flags after the argument).
	out := pier(t, nil, "target", "rm", "5.8/debian/bookworm", "--data", s.data)
	if !strings.Contains(out, "removed 5.8/debian/bookworm: 1 package(s), 1 generation(s)") ||
		!strings.Contains(out, "alias deb/5.8/dists/bookworm/ stays reserved") {
		t.Errorf("pier target rm:\n%s", out)
	}
	code, body := s.do("GET", "/api/v1/targets", nil)
	if code != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("GET /api/v1/targets: %d %s", code, body)
	}
	if out := pier(t, nil, "targets", "--data", s.data); strings.Contains(out, "5.8/") || strings.Contains(out, "removed") {
		t.Errorf("pier targets lists removed targets:\n%s", out)
	}
	// Another distro with the same release publishes: the alias stays
	// unserved (pier serve notices the CLI's removal within a second).
	waitFor(t, 10*time.Second, "pier serve to see the removal", func() bool {
		code, _, _ := s.get("/deb/5.8/dists/bookworm/InRelease")
		return code == 404
	})
	if code, r := s.upload("5.8/ubuntu/bookworm", mkdeb(t, "rm-ubuntu", "1.0", "amd64", "u"), "?publish=false"); code != 201 {
		t.Fatalf("upload to ubuntu: %d %v", code, r)
	}
	s.publish("5.8/ubuntu/bookworm")
	if code, _, _ := s.get("/deb/5.8/ubuntu/dists/bookworm/InRelease"); code != 200 {
		t.Errorf("ubuntu's canonical InRelease: %d", code)
	}
	if code, _, _ := s.get("/deb/5.8/dists/bookworm/InRelease"); code != 404 {
		t.Errorf("the removed holder's alias went to another target: %d", code)
	}
	// The audit log names both removals and who made them.
	out = pier(t, nil, "audit", "--data", s.data, "--action", "target.remove")
	if !strings.Contains(out, "cleaner") || !strings.Contains(out, "5.8/debian/bookwrom") || !strings.Contains(out, "cli:") ||
		!strings.Contains(out, `"aliases_kept":["deb/5.8/dists/bookworm/"]`) {
		t.Errorf("pier audit --action target.remove:\n%s", out)
	}
	// gc deletes the blobs no target holds any more.
	out = pier(t, nil, "gc", "--data", s.data, "--grace", "0s")
	if !regexp.MustCompile(`deleted [1-9][0-9]* blob`).MatchString(out) {
		t.Errorf("pier gc: %s", out)
	}
	for name, b := range map[string][]byte{"rm-keep": deb, "rm-typo": typo} {
		h := sha(b)
		if _, err := os.Stat(filepath.Join(s.data, "blobs", "sha256", h[:2], h)); !os.IsNotExist(err) {
			t.Errorf("the blob of %s is still there: %v", name, err)
		}
	}
	// Removing what is not there names it.
	code, _, errOut := pierRun(t, nil, "target", "rm", "--data", s.data, "5.8/debian/bookwrom")
	if code != 1 || !strings.Contains(errOut, "target 5.8/debian/bookwrom: not found") {
		t.Errorf("second removal: %d %s", code, errOut)
	}
	code, _, errOut = pierRun(t, nil, "target", "rm", "--data", s.data, "5.8/ubuntu/bookwrom")
	if code != 1 || !strings.Contains(errOut, "not found; did you mean 5.8/ubuntu/bookworm?") {
		t.Errorf("removal of a typo: %d %s", code, errOut)
	}
}

// TestTargetsAllowCLI: with targets.allow, pier import and uploads that
// would create another target are refused naming the patterns.
func TestTargetsAllowCLI(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "pier.yaml")
	os.WriteFile(cfg, []byte("targets:\n  allow: [\"5.8/debian/*\"]\n"), 0o644)
	s := startServer(t, "", "PIER_CONFIG="+cfg)
	code, r := s.upload("5.8/debian/bookwrom", mkdeb(t, "a", "1.0", "amd64", "a"), "?publish=false")
	if code != 201 {
		t.Errorf("upload to an allowed target: %d %v", code, r)
	}
	code, r = s.upload("5.8/ubuntu/noble", mkdeb(t, "a", "1.0", "amd64", "a"), "?publish=false")
	if code != 422 || !strings.Contains(fmt.Sprint(r["error"]), "5.8/debian/*") {
		t.Errorf("upload to a target outside targets.allow: %d %v", code, r)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.deb"), mkdeb(t, "a", "1.0", "amd64", "a"), 0o644)
	code, _, errOut := pierRun(t, []string{"PIER_CONFIG=" + cfg}, "import", "--data", s.data, "nightly/debian/sid", dir)
	if code != 1 || !strings.Contains(errOut, "targets.allow lets uploads create only 5.8/debian/*") {
		t.Errorf("pier import outside targets.allow: %d %s", code, errOut)
	}
}

// TestPushWaitJSON: pier push --wait exits once a generation holding the
// files is live (a line per file), --json prints one document, a server
// without a scheme is a usage error.
func TestPushWaitJSON(t *testing.T) {
	s := configServer(t, "publish:\n  delay: 300ms\n")
	dir := t.TempDir()
	a := filepath.Join(dir, "w-a.deb")
	b := filepath.Join(dir, "w-b.deb")
	os.WriteFile(a, mkdeb(t, "w-a", "1.0", "amd64", "a"), 0o644)
	os.WriteFile(b, mkdeb(t, "w-b", "1.0", "amd64", "b"), 0o644)
	env := []string{"PIER_SERVER=" + s.url, "PIER_TOKEN=" + testToken}
	code, out, errOut := pierRun(t, env, "push", "--wait", "5.8/debian/bookworm", dir)
	if code != 0 || !strings.Contains(out, "published "+a+" in 5.8/debian/bookworm generation 1") ||
		!strings.Contains(out, "published "+b+" in 5.8/debian/bookworm generation 1") {
		t.Fatalf("push --wait: %d\n%s%s", code, out, errOut)
	}
	// --wait returned only once the packages are served.
	_, pk, _ := s.get("/deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages")
	if !strings.Contains(string(pk), "Package: w-a") || !strings.Contains(string(pk), "Package: w-b") {
		t.Errorf("Packages after push --wait:\n%s", pk)
	}
	c := filepath.Join(dir, "w-c.deb")
	os.WriteFile(c, mkdeb(t, "w-c", "1.0", "amd64", "c"), 0o644)
	code, out, errOut = pierRun(t, env, "push", "--wait", "--json", "5.8/debian/bookworm", a, c)
	var rep struct {
		OK    bool
		Files []struct {
			File, Outcome, Name string
		}
		Generation struct{ ID int64 }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.OK || len(rep.Files) != 2 ||
		rep.Files[0].Outcome != "unchanged" || rep.Files[1].Outcome != "added" || rep.Files[1].Name != "w-c" || rep.Generation.ID != 2 {
		t.Errorf("push --json: %d %v\n%s%s", code, err, out, errOut)
	}
	code, _, errOut = pierRun(t, nil, "push", "--server", strings.TrimPrefix(s.url, "http://"), "--token", testToken, "5.8/debian/bookworm", a)
	if code != 2 || !strings.Contains(errOut, "give the scheme too, e.g. https://127.0.0.1") {
		t.Errorf("push without a scheme: %d %s", code, errOut)
	}
}

// TestPushProgress: on a terminal (script(1) runs pier in a pseudo
// terminal), a large file gets a progress bar on stderr.
func TestPushProgress(t *testing.T) {
	need(t, "script")
	s := startServer(t, "")
	big := filepath.Join(t.TempDir(), "big.deb")
	noise := make([]byte, 6<<20)
	rand.Read(noise) // incompressible: the .deb stays over the bar's 4 MiB
	os.WriteFile(big, mkdeb(t, "big", "1.0", "amd64", string(noise)), 0o644)
	line := fmt.Sprintf("%s push --server %s --token %s 5.8/debian/bookworm %s", pierBin, s.url, testToken, big)
	out, err := exec.Command("script", "-qec", line, "/dev/null").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "uploading "+big) || !strings.Contains(string(out), "%") ||
		!strings.Contains(string(out), "added big 1.0 amd64 "+big) {
		t.Errorf("push on a terminal: %v\n%q", err, out)
	}
	// Not on a terminal: no bar.
	code, stdout, stderr := pierRun(t, nil, "push", "--server", s.url, "--token", testToken, "5.8/debian/bookworm", big)
	if code != 0 || strings.Contains(stdout+stderr, "uploading") {
		t.Errorf("push off a terminal: %d\n%s%s", code, stdout, stderr)
	}
}

// TestImportTree: pier import of a tree of symbolic links follows them
// (a directory reached twice is walked once), skips files of another
// format with one line, and of two files that are one package with
// other bytes imports the first in path order, whatever finishes first,
// naming both files.
func TestImportTree(t *testing.T) {
	s := startServer(t, "")
	store := t.TempDir()
	tree := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(store, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	one := write("one_1.0_amd64.deb", mkdeb(t, "tree-one", "1.0", "amd64", "one"))
	write("two_1.0_amd64.deb", mkdeb(t, "tree-two", "1.0", "amd64", "two"))
	write("x.rpm", mkrpm(t, "tree-rpm", "", "1.0", "x86_64", "r"))
	os.Mkdir(filepath.Join(tree, "dist"), 0o755)
	os.Symlink(one, filepath.Join(tree, "dist", "one.deb"))
	os.Symlink(store, filepath.Join(tree, "store"))                              // a linked directory: two.deb, x.rpm (and one again)
	os.Symlink(filepath.Join(tree, "dist"), filepath.Join(tree, "dist", "loop")) // a loop
	os.Symlink(filepath.Join(store, "gone.deb"), filepath.Join(tree, "dist", "broken.deb"))
	code, out, errOut := pierRun(t, nil, "import", "--data", s.data, "5.8/debian/bookworm", tree)
	if code != 1 || !strings.Contains(out, "skipped 1 file(s) of another format (1 .rpm): 5.8/debian/bookworm takes .deb files") ||
		!strings.Contains(out, "imported 2 new, 0 unchanged, 1 failed") || !strings.Contains(errOut, "broken.deb: a symbolic link to nothing") {
		t.Errorf("import of a tree of links: %d\n%s%s", code, out, errOut)
	}
	_, pk, _ := s.get("/deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages")
	waitFor(t, 10*time.Second, "pier serve to see the import", func() bool {
		_, pk, _ = s.get("/deb/5.8/debian/dists/bookworm/main/binary-amd64/Packages")
		return strings.Contains(string(pk), "Package: tree-two")
	})
	if !strings.Contains(string(pk), "Package: tree-one") {
		t.Errorf("Packages:\n%s", pk)
	}

	// Two builds of one package: the first in path order wins, even when
	// it is the slower one (a large file staged after the small one).
	for round := range 3 {
		conflict := t.TempDir()
		noise := make([]byte, 3<<20)
		for i := range noise {
			noise[i] = byte(i*31 + i>>9 + round)
		}
		first := filepath.Join(conflict, "a", "dup_1.0_amd64.deb")
		second := filepath.Join(conflict, "b", "dup_1.0_amd64.deb")
		os.MkdirAll(filepath.Dir(first), 0o755)
		os.MkdirAll(filepath.Dir(second), 0o755)
		firstBytes := mkdeb(t, "dup", "1.0", "amd64", string(noise))
		os.WriteFile(first, firstBytes, 0o644)
		os.WriteFile(second, mkdeb(t, "dup", "1.0", "amd64", fmt.Sprintf("small %d", round)), 0o644)
		tg := fmt.Sprintf("conflict%d/debian/bookworm", round)
		code, out, errOut := pierRun(t, nil, "import", "--data", s.data, tg, conflict)
		if code != 1 || !strings.Contains(out, "imported 1 new, 0 unchanged, 1 failed") ||
			!strings.Contains(errOut, second+": dup 1.0 (amd64) is also in "+first+", with other bytes: "+first+" was imported (the first in path order)") {
			t.Errorf("round %d: import of two builds of one package: %d\n%s%s", round, code, out, errOut)
		}
		code, body := s.do("GET", "/api/v1/targets/"+tg+"/packages", nil)
		if code != 200 || !strings.Contains(string(body), sha(firstBytes)) {
			t.Errorf("round %d: the target holds another build than the first file's: %s", round, body)
		}
	}
}

// TestDoctor: pier doctor passes on a healthy deployment and lists what
// is wrong (a missing blob of a current generation, an unreachable
// mirror, a failing publish) with exit status 1.
func TestDoctor(t *testing.T) {
	mirrorDir := filepath.Join(t.TempDir(), "www")
	os.Mkdir(mirrorDir, 0o755)
	cfgPath := filepath.Join(t.TempDir(), "pier.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("mirrors:\n  - name: www\n    type: dir\n    path: %s\n", mirrorDir)), 0o644)
	s := startServer(t, "", "PIER_CONFIG="+cfgPath)
	pkg := mkdeb(t, "doc", "1.0", "amd64", "d")
	if code, r := s.upload("5.8/debian/bookworm", pkg, "?publish=false"); code != 201 {
		t.Fatalf("upload: %d %v", code, r)
	}
	s.publish("5.8/debian/bookworm")
	env := []string{"PIER_CONFIG=" + cfgPath}
	code, out, errOut := pierRun(t, env, "doctor", "--data", s.data, "--deep")
	for _, want := range []string{"ok    config: config " + cfgPath, "ok    data directory " + s.data + " is writable", "ok    disk: ",
		"ok    blob store (local) takes a write", "can sign", "ok    mirror www: directory " + mirrorDir + " is writable",
		"ok    target 5.8/debian/bookworm: generation 1 servable", "ok    clock: "} {
		if !strings.Contains(out, want) {
			t.Errorf("healthy doctor lacks %q", want)
		}
	}
	if code != 0 || !strings.Contains(errOut, "no problems found") {
		t.Errorf("healthy doctor: %d\n%s%s", code, out, errOut)
	}
	// Break things: the package blob goes, the mirror directory goes. The
	// server stops first: its mirror sync of the publish may still be
	// running, and it would make the directory again (doctor found
	// it writable in a full test run here).
	s.stop()
	h := sha(pkg)
	os.Remove(filepath.Join(s.data, "blobs", "sha256", h[:2], h))
	os.RemoveAll(mirrorDir)
	code, out, errOut = pierRun(t, env, "doctor", "--data", s.data, "--deep")
	if code != 1 || !strings.Contains(out, "FAIL  target 5.8/debian/bookworm: generation 1 is not servable") ||
		!strings.Contains(out, "FAIL  mirror www: directory "+mirrorDir+" is not writable") || !strings.Contains(errOut, "2 problem(s)") {
		t.Errorf("broken doctor: %d\n%s%s", code, out, errOut)
	}
	// A missing data directory is one clear line.
	code, out, _ = pierRun(t, env, "doctor", "--data", filepath.Join(t.TempDir(), "nothing"))
	if code != 1 || !strings.Contains(out, "FAIL  data directory") {
		t.Errorf("doctor of nothing: %d\n%s", code, out)
	}
}
