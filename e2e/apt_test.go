package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// aptClient is apt-get fully isolated in a temp dir through APT_CONFIG.
type aptClient struct {
	t    *testing.T
	dir  string
	conf string
}

// newApt writes an isolated apt configuration whose only source is
// sources (deb822 or one-line entries, written to sources.list).
func newApt(t *testing.T, sources string) *aptClient {
	t.Helper()
	need(t, "apt-get")
	dir := t.TempDir()
	for _, d := range []string{"state/lists/partial", "cache/archives/partial", "etc/apt.conf.d",
		"etc/sources.list.d", "etc/trusted.gpg.d", "etc/preferences.d", "out", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "state/status"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "etc/sources.list"), []byte(sources), 0o644)
	conf := fmt.Sprintf(`Dir::State "%[1]s/state";
Dir::State::status "%[1]s/state/status";
Dir::Cache "%[1]s/cache";
Dir::Etc "%[1]s/etc";
Dir::Etc::sourcelist "%[1]s/etc/sources.list";
Dir::Etc::sourceparts "%[1]s/etc/sources.list.d";
Dir::Etc::trusted "%[1]s/etc/trusted.gpg";
Dir::Etc::trustedparts "%[1]s/etc/trusted.gpg.d";
Dir::Etc::parts "%[1]s/etc/apt.conf.d";
Dir::Etc::preferences "%[1]s/etc/preferences";
Dir::Etc::preferencesparts "%[1]s/etc/preferences.d";
Dir::Log "%[1]s/log";
APT::Architecture "amd64";
APT::Architectures { "amd64"; "arm64"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::Retries "0";
Debug::NoLocking "true";
`, dir)
	p := filepath.Join(dir, "apt.conf")
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return &aptClient{t: t, dir: dir, conf: p}
}

// run runs apt-get with args and returns combined output and error.
func (a *aptClient) run(args ...string) (string, error) {
	cmd := exec.Command("apt-get", append([]string{"-q"}, args...)...)
	cmd.Env = append(os.Environ(), "APT_CONFIG="+a.conf, "LC_ALL=C")
	cmd.Dir = filepath.Join(a.dir, "out")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// problems returns apt's warning, error and notice lines: apt-get update
// exits 0 on many problems, so any of them is a failure.
func problems(out string) []string {
	var bad []string
	for _, l := range strings.Split(out, "\n") {
		for _, p := range []string{"W:", "E:", "Err:", "N:"} {
			if strings.HasPrefix(l, p) {
				bad = append(bad, l)
			}
		}
	}
	return bad
}

// update runs apt-get update and fails the test on any problem.
func (a *aptClient) update() {
	a.t.Helper()
	out, err := a.run("update")
	if err != nil || len(problems(out)) > 0 {
		a.t.Fatalf("apt-get update failed (err %v):\n%s", err, out)
	}
}

// download runs apt-get download pkg and returns the downloaded bytes.
func (a *aptClient) download(pkg string) []byte {
	a.t.Helper()
	out, err := a.run("download", pkg)
	if err != nil || len(problems(out)) > 0 {
		a.t.Fatalf("apt-get download %s failed (err %v):\n%s", pkg, err, out)
	}
	name, arch, _ := strings.Cut(pkg, ":")
	matches, _ := filepath.Glob(filepath.Join(a.dir, "out", name+"_*_"+orDefault(arch, "*")+".deb"))
	if len(matches) != 1 {
		a.t.Fatalf("apt-get download %s: want one file, found %v\n%s", pkg, matches, out)
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		a.t.Fatal(err)
	}
	os.Remove(matches[0])
	return data
}

// listsFor reports whether apt stored a Packages list whose file name
// contains substr (apt skips an architecture silently if Release lacks it).
func (a *aptClient) listsFor(substr string) bool {
	ents, _ := os.ReadDir(filepath.Join(a.dir, "state/lists"))
	for _, e := range ents {
		if strings.Contains(e.Name(), substr) && strings.Contains(e.Name(), "Packages") {
			return true
		}
	}
	return false
}

// listContains reports whether the Packages list apt stored for substr
// contains text.
func (a *aptClient) listContains(substr, text string) bool {
	ents, _ := os.ReadDir(filepath.Join(a.dir, "state/lists"))
	for _, e := range ents {
		if strings.Contains(e.Name(), substr) && strings.HasSuffix(e.Name(), "Packages") {
			data, _ := os.ReadFile(filepath.Join(a.dir, "state/lists", e.Name()))
			return strings.Contains(string(data), text)
		}
	}
	return false
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// writeKey fetches Pier's binary public key into dir and returns its path.
func writeKey(t *testing.T, s *server, dir string) string {
	t.Helper()
	code, key, _ := s.get("/keys/pier.gpg")
	if code != 200 || len(key) == 0 || (key[0] != 0x99 && key[0] != 0x98 && key[0] != 0xC6) {
		t.Fatalf("GET /keys/pier.gpg: %d, %d bytes", code, len(key))
	}
	p := filepath.Join(dir, "pier.gpg")
	if err := os.WriteFile(p, key, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func sourceLine(keyPath, url, stream, release string) string {
	return fmt.Sprintf("deb [arch=amd64,arm64 signed-by=%s] %s/deb/%s/debian %s main\n", keyPath, url, stream, release)
}

// aliasSourceLine is sourceLine with the distro-less path of Pier's first
// releases, which stays an alias of the target that claimed it first.
func aliasSourceLine(keyPath, url, stream, release string) string {
	return fmt.Sprintf("deb [arch=amd64,arm64 signed-by=%s] %s/deb/%s %s main\n", keyPath, url, stream, release)
}
