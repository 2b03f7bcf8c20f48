// Package packaging holds Pier's service files (systemd units, sysusers,
// tmpfiles, environment file, OpenRC script, default config) and the
// tests that check them with systemd's own tools.
package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI", tool)
		}
		t.Skipf("%s not installed", tool)
	}
	return p
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// TestUnitsVerify runs systemd-analyze verify on pier.service and an
// instance of pier@.service inside a root that holds the pier binary and
// the system's units; any message is a failure (verify exits 0 on parse
// warnings). sysusers.d and tmpfiles.d files are applied to the same root
// with systemd-sysusers and systemd-tmpfiles.
func TestUnitsVerify(t *testing.T) {
	analyze := need(t, "systemd-analyze")
	root := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(root, "usr/bin/pier"), "../cmd/pier")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	copyFile(t, "/bin/kill", filepath.Join(root, "bin/kill"), 0o755)
	sys := "/lib/systemd/system"
	if _, err := os.Stat(sys); err != nil {
		t.Skipf("no system units at %s", sys)
	}
	if _, err := exec.Command("cp", "-r", sys, filepath.Join(root, "usr/lib/systemd/")).CombinedOutput(); err != nil {
		os.MkdirAll(filepath.Join(root, "usr/lib/systemd"), 0o755)
		if out, err := exec.Command("cp", "-r", sys, filepath.Join(root, "usr/lib/systemd/")).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}
	units := filepath.Join(root, "etc/systemd/system")
	copyFile(t, "pier.service", filepath.Join(units, "pier.service"), 0o644)
	copyFile(t, "pier@.service", filepath.Join(units, "pier@.service"), 0o644)
	os.Symlink("pier@.service", filepath.Join(units, "pier@demo.service"))
	for _, u := range []string{"pier.service", "pier@demo.service"} {
		out, err := exec.Command(analyze, "--root="+root, "verify", filepath.Join(units, u)).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", u, err, out)
		}
	}
	// The check can fail: a unit with a bad value is reported.
	b, _ := os.ReadFile("pier.service")
	os.WriteFile(filepath.Join(units, "broken.service"), []byte(strings.Replace(string(b), "ProtectSystem=strict", "ProtectSystem=stricter", 1)), 0o644)
	if out, _ := exec.Command(analyze, "--root="+root, "verify", filepath.Join(units, "broken.service")).CombinedOutput(); !strings.Contains(string(out), "ProtectSystem") &&
		!strings.Contains(string(out), "protect system") {
		t.Errorf("systemd-analyze did not report a broken unit: %s", out)
	}

	if sysusers, err := exec.LookPath("systemd-sysusers"); err == nil {
		os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		// Installed where the packages put them; the tools then read every
		// file of the root's sysusers.d and tmpfiles.d.
		copyFile(t, "pier.sysusers", filepath.Join(root, "usr/lib/sysusers.d/pier.conf"), 0o644)
		copyFile(t, "pier.tmpfiles", filepath.Join(root, "usr/lib/tmpfiles.d/pier.conf"), 0o644)
		if out, err := exec.Command(sysusers, "--root="+root).CombinedOutput(); err != nil {
			t.Errorf("systemd-sysusers: %v\n%s", err, out)
		}
		passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
		if !regexp.MustCompile(`(?m)^pier:x:\d+:\d+:.*:/var/lib/pier:/usr/sbin/nologin$`).Match(passwd) {
			t.Errorf("sysusers did not create the pier user:\n%s", passwd)
		}
		if tmpfiles, err := exec.LookPath("systemd-tmpfiles"); err == nil {
			if out, err := exec.Command(tmpfiles, "--root="+root, "--create").CombinedOutput(); err != nil {
				t.Errorf("systemd-tmpfiles: %v\n%s", err, out)
			}
			if fi, err := os.Stat(filepath.Join(root, "var/lib/pier")); err != nil || fi.Mode().Perm() != 0o750 {
				t.Errorf("tmpfiles did not create /var/lib/pier 0750: %v", err)
			}
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatal("systemd-sysusers is required in CI")
	}
}

// TestUnitContents checks what the units promise: the pier user, state
// and runtime directories, both environment files, restarts, reload by
// SIGHUP and the hardening.
func TestUnitContents(t *testing.T) {
	for _, u := range []string{"pier.service", "pier@.service"} {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"User=pier", "StateDirectory=pier", "RuntimeDirectory=pier", "EnvironmentFile=-/etc/default/pier",
			"EnvironmentFile=-/etc/sysconfig/pier", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes",
			"ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "ReadWritePaths=/var/lib/pier", "CapabilityBoundingSet=\n",
			"ExecStart=/usr/bin/pier serve"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %q", u, strings.TrimSpace(want))
			}
		}
	}
	b, _ := os.ReadFile("pier@.service")
	for _, want := range []string{"PIER_CONFIG=/etc/pier/pier-%i.yaml", "StateDirectory=pier-%i", "PIER_DATA=/var/lib/pier-%i"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("pier@.service lacks %q", want)
		}
	}
}

// TestEnvFileDocumentsEveryVariable: every PIER_* variable the release
// build reads is listed in the environment file (the test hooks, built
// only with -tags piertest, are not for production).
func TestEnvFileDocumentsEveryVariable(t *testing.T) {
	env, err := os.ReadFile("pier.env")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"(PIER_[A-Z_]+)"`)
	seen := map[string]bool{}
	filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() && (d.Name() == "e2e" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != ".." {
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, _ := os.ReadFile(p)
		if strings.HasPrefix(string(b), "//go:build piertest") {
			return nil
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			seen[m[1]] = true
		}
		return nil
	})
	if len(seen) < 5 {
		t.Fatalf("found only %v in the code", seen)
	}
	for v := range seen {
		if strings.HasPrefix(v, "PIER_TEST_") {
			t.Errorf("%s is read by the release build: test hooks belong in a piertest-tagged file", v)
		}
		if !strings.Contains(string(env), v+"=") {
			t.Errorf("pier.env does not document %s", v)
		}
	}
}
