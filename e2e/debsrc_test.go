package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// srcPkg is a Debian source package built by dpkg-source -b in a test.
type srcPkg struct {
	dir   string // holds the .dsc and its files
	dsc   string // the .dsc's file name
	files []string
	tree  string // the unpacked source tree
}

// buildSource makes a 3.0 (quilt) source package name_version with
// dpkg-source -b; it Build-Depends on buildDep.
func buildSource(t *testing.T, name, upstream, buildDep string) *srcPkg {
	t.Helper()
	need(t, "dpkg-source")
	dir := t.TempDir()
	tree := filepath.Join(dir, name+"-"+upstream)
	must := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(tree, "debian", "source"), 0o755))
	must(os.WriteFile(filepath.Join(tree, "README"), []byte("upstream of "+name+"\n"), 0o644))
	tar := exec.Command("tar", "-czf", name+"_"+upstream+".orig.tar.gz", name+"-"+upstream)
	tar.Dir = dir
	if out, err := tar.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	control := fmt.Sprintf(`Source: %[1]s
Section: misc
Priority: optional
Maintainer: Pier Test <test@example.org>
Build-Depends: %[2]s
Standards-Version: 4.6.2

Package: %[1]s
Architecture: all
Description: Pier e2e source package
 Built by dpkg-source in a test.
`, name, buildDep)
	must(os.WriteFile(filepath.Join(tree, "debian", "control"), []byte(control), 0o644))
	must(os.WriteFile(filepath.Join(tree, "debian", "changelog"), fmt.Appendf(nil, `%s (%s-1) unstable; urgency=medium

  * Test.

 -- Pier Test <test@example.org>  Tue, 14 Nov 2023 22:13:20 +0000
`, name, upstream), 0o644))
	must(os.WriteFile(filepath.Join(tree, "debian", "rules"), []byte("#!/usr/bin/make -f\n%:\n\tdh $@\n"), 0o755))
	must(os.WriteFile(filepath.Join(tree, "debian", "source", "format"), []byte("3.0 (quilt)\n"), 0o644))
	cmd := exec.Command("dpkg-source", "-b", filepath.Base(tree))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-source -b: %v\n%s", err, out)
	}
	p := &srcPkg{dir: dir, dsc: name + "_" + upstream + "-1.dsc", tree: tree,
		files: []string{name + "_" + upstream + ".orig.tar.gz", name + "_" + upstream + "-1.debian.tar.xz"}}
	for _, f := range append([]string{p.dsc}, p.files...) {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("dpkg-source -b made no %s: %v", f, err)
		}
	}
	return p
}

// buildDepDeb makes a tiny arch-all binary package with dpkg-deb.
func buildDepDeb(t *testing.T, name, version string) string {
	t.Helper()
	need(t, "dpkg-deb")
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "DEBIAN", "control"), fmt.Appendf(nil, "Package: %s\nVersion: %s\nArchitecture: all\n"+
		"Maintainer: Pier Test <test@example.org>\nDescription: build dependency\n", name, version), 0o644)
	out := filepath.Join(dir, name+"_"+version+"_all.deb")
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, b)
	}
	return out
}

// postFiles sends files (path → name in the form) as multipart form files
// named "file" to route of target and returns status and reply.
func (s *server) postFiles(target, route string, files [][2]string) (int, map[string]any) {
	s.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range files {
		data, err := os.ReadFile(f[0])
		if err != nil {
			s.t.Fatal(err)
		}
		w, _ := mw.CreateFormFile("file", f[1])
		w.Write(data)
	}
	mw.Close()
	code, reply := s.do("POST", "/api/v1/targets/"+target+"/"+route, &body, "Content-Type", mw.FormDataContentType())
	var m map[string]any
	json.Unmarshal(reply, &m)
	if m == nil {
		m = map[string]any{"raw": string(reply)}
	}
	return code, m
}

// set lists the .dsc and its files for postFiles.
func (p *srcPkg) set(extra ...string) [][2]string {
	var out [][2]string
	for _, f := range append(append([]string{p.dsc}, p.files...), extra...) {
		out = append(out, [2]string{filepath.Join(p.dir, f), f})
	}
	return out
}

// livePackages lists target's packages as "name version arch".
func (s *server) livePackages(target string) []string {
	s.t.Helper()
	code, body := s.do("GET", "/api/v1/targets/"+target+"/packages", nil)
	if code == 404 {
		return nil
	}
	var ps []struct {
		Name, Version, Architecture string
	}
	if code != 200 || json.Unmarshal(body, &ps) != nil {
		s.t.Fatalf("GET packages of %s: %d %s", target, code, body)
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.Name+" "+p.Version+" "+p.Architecture)
	}
	return out
}

// TestDebSourceAptGetSource uploads a source package made by dpkg-source
// and the binary package it Build-Depends on, then runs apt-get source
// (which verifies every file against Sources and unpacks with
// dpkg-source -x) and apt-get build-dep against Pier.
func TestDebSourceAptGetSource(t *testing.T) {
	src := buildSource(t, "pier-srcpkg", "1.0", "pier-builddep (>= 1.0)")
	dep := buildDepDeb(t, "pier-builddep", "1.0-1")
	s := startServer(t, "")
	target := "5.8/debian/bookworm"

	// Incomplete and damaged sets are refused, naming the file.
	code, reply := s.postFiles(target, "sources", src.set()[:2])
	if code != 422 || !strings.Contains(fmt.Sprint(reply["error"]), src.files[1]) {
		t.Fatalf("a set without %s: %d %v", src.files[1], code, reply)
	}
	bad := filepath.Join(t.TempDir(), src.files[0])
	orig, _ := os.ReadFile(filepath.Join(src.dir, src.files[0]))
	os.WriteFile(bad, append(bytes.Clone(orig[:len(orig)-1]), orig[len(orig)-1]^1), 0o644)
	set := src.set()
	set[1][0] = bad
	code, reply = s.postFiles(target, "sources", set)
	if code != 422 || !strings.Contains(fmt.Sprint(reply["error"]), src.files[0]) || !strings.Contains(fmt.Sprint(reply["error"]), "checksum") {
		t.Fatalf("a set with a damaged %s: %d %v", src.files[0], code, reply)
	}
	// A .dsc alone on the single-package route says what to do.
	dscBytes, _ := os.ReadFile(filepath.Join(src.dir, src.dsc))
	if code, reply := s.upload(target, dscBytes, ""); code != 422 || !strings.Contains(fmt.Sprint(reply["error"]), "pier push FILE.dsc") {
		t.Fatalf("a .dsc alone: %d %v", code, reply)
	}
	if got := s.livePackages(target); len(got) != 0 {
		t.Fatalf("refused uploads left packages: %v", got)
	}

	code, reply = s.postFiles(target, "sources", src.set())
	if code != 201 {
		t.Fatalf("source upload: %d %v", code, reply)
	}
	if code, reply := s.postFiles(target, "sources", src.set()); code != 200 {
		t.Fatalf("the same source again: %d %v", code, reply)
	}
	depBytes, _ := os.ReadFile(dep)
	if code, reply := s.upload(target, depBytes, ""); code != 201 {
		t.Fatalf("binary upload: %d %v", code, reply)
	}
	s.publish(target)

	apt := newApt(t, "")
	key := writeKey(t, s, apt.dir)
	lines := fmt.Sprintf("deb [arch=amd64 signed-by=%[1]s] %[2]s/deb/5.8/debian bookworm main\n"+
		"deb-src [signed-by=%[1]s] %[2]s/deb/5.8/debian bookworm main\n", key, s.url)
	os.WriteFile(filepath.Join(apt.dir, "etc/sources.list"), []byte(lines), 0o644)
	apt.update()
	out, err := apt.run("source", "pier-srcpkg")
	if err != nil || len(problems(out)) > 0 {
		t.Fatalf("apt-get source: %v\n%s", err, out)
	}
	for _, f := range append([]string{src.dsc}, src.files...) {
		got, err := os.ReadFile(filepath.Join(apt.dir, "out", f))
		want, _ := os.ReadFile(filepath.Join(src.dir, f))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("apt-get source fetched %s: %v, %d bytes (want %d)", f, err, len(got), len(want))
		}
	}
	if _, err := os.Stat(filepath.Join(apt.dir, "out", "pier-srcpkg-1.0", "debian", "control")); err != nil {
		t.Errorf("apt-get source did not unpack the tree: %v\n%s", err, out)
	}
	// The isolated status holds nothing, build-essential included: the
	// check is about the source's own Build-Depends.
	os.WriteFile(filepath.Join(apt.dir, "etc/apt.conf.d/99-no-build-essential"), []byte("#clear APT::Build-Essential;\n"), 0o644)
	out, err = apt.run("build-dep", "--simulate", "pier-srcpkg")
	if err != nil || len(problems(out)) > 0 || !strings.Contains(out, "Inst pier-builddep (1.0-1") {
		t.Fatalf("apt-get build-dep --simulate: %v\n%s", err, out)
	}
}

// gpgHome makes a GnuPG home with one new signing key for uid and returns
// it with the armored public key's path.
func gpgHome(t *testing.T, uid string) (home, pub string) {
	t.Helper()
	need(t, "gpg")
	home = t.TempDir()
	os.Chmod(home, 0o700)
	gpg := func(args ...string) []byte {
		cmd := exec.Command("gpg", append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpg %v: %v", args, err)
		}
		return out
	}
	gpg("--quick-gen-key", uid, "rsa2048", "sign", "never")
	pub = filepath.Join(home, "pub.asc")
	os.WriteFile(pub, gpg("--armor", "--export", uid), 0o644)
	return home, pub
}

// gpgClearsign signs in with the key of home into out.
func gpgClearsign(t *testing.T, home, in, out string) {
	t.Helper()
	cmd := exec.Command("gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--yes",
		"--clearsign", "--output", out, in)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpg --clearsign: %v\n%s", err, b)
	}
}

// TestDebChangesUpload uploads .changes files: one made by
// dpkg-genchanges for a source upload, one with a binary package too
// that a damaged file refuses whole (nothing recorded, nothing
// published), and signed ones against a target whose uploaders rule
// allows one key: that key is accepted, another key and no signature
// are refused with 403.
func TestDebChangesUpload(t *testing.T) {
	need(t, "dpkg-genchanges")
	src := buildSource(t, "pier-chg", "2.0", "pier-builddep")
	gen := exec.Command("dpkg-genchanges", "-S", "-sa", "-O../pier-chg_2.0-1_source.changes")
	gen.Dir = src.tree
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-genchanges: %v\n%s", err, out)
	}
	changes := "pier-chg_2.0-1_source.changes"
	allowedHome, allowedPub := gpgHome(t, "Allowed Uploader <up@example.org>")
	otherHome, _ := gpgHome(t, "Other <other@example.org>")
	cfg := fmt.Sprintf("uploaders:\n  - targets: [\"signed/debian/*\"]\n    key_files: [%q]\n", allowedPub)
	s := configServer(t, cfg)

	// dpkg-genchanges' .changes, unsigned, to a target without a rule.
	withChanges := append([][2]string{{filepath.Join(src.dir, changes), changes}}, src.set()...)
	code, reply := s.postFiles("5.8/debian/bookworm", "changes", withChanges)
	if code != 201 {
		t.Fatalf(".changes upload: %d %v", code, reply)
	}
	if got := s.livePackages("5.8/debian/bookworm"); len(got) != 1 || got[0] != "pier-chg 2.0-1 source" {
		t.Fatalf("packages after the .changes: %v", got)
	}
	// Revision 2.0-2: dpkg-genchanges leaves the orig tarball out (-si),
	// and the target's 2.0-1 holds it, as dak's archive would.
	cl := filepath.Join(src.tree, "debian", "changelog")
	old, _ := os.ReadFile(cl)
	os.WriteFile(cl, append([]byte("pier-chg (2.0-2) unstable; urgency=medium\n\n  * Second.\n\n"+
		" -- Pier Test <test@example.org>  Wed, 15 Nov 2023 22:13:20 +0000\n\n"), old...), 0o644)
	for _, args := range [][]string{{"dpkg-source", "-b", filepath.Base(src.tree)}, {"dpkg-genchanges", "-S", "-O../pier-chg_2.0-2_source.changes"}} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = src.dir
		if args[0] == "dpkg-genchanges" {
			cmd.Dir = src.tree
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	rev2 := [][2]string{{filepath.Join(src.dir, "pier-chg_2.0-2_source.changes"), "pier-chg_2.0-2_source.changes"},
		{filepath.Join(src.dir, "pier-chg_2.0-2.dsc"), "pier-chg_2.0-2.dsc"},
		{filepath.Join(src.dir, "pier-chg_2.0-2.debian.tar.xz"), "pier-chg_2.0-2.debian.tar.xz"}}
	if code, reply := s.postFiles("5.8/debian/bookworm", "changes", rev2); code != 201 {
		t.Fatalf("revision 2.0-2 without its orig tarball: %d %v", code, reply)
	}
	if got := s.livePackages("5.8/debian/bookworm"); len(got) != 2 {
		t.Fatalf("packages after revision 2.0-2: %v", got)
	}
	// A file missing from the request.
	if code, reply := s.postFiles("5.8/debian/bullseye", "changes", withChanges[:3]); code != 422 ||
		!strings.Contains(fmt.Sprint(reply["error"]), src.files[1]) {
		t.Fatalf(".changes without %s: %d %v", src.files[1], code, reply)
	}

	// A .changes with a binary package and the source: all or nothing.
	deb := buildDepDeb(t, "pier-chg-bin", "2.0-1")
	dir := t.TempDir()
	mixed := filepath.Join(dir, "mixed.changes")
	writeChanges(t, mixed, "pier-chg", "2.0-1", append([]string{filepath.Join(src.dir, src.dsc)},
		filepath.Join(src.dir, src.files[0]), filepath.Join(src.dir, src.files[1]), deb))
	mixedSet := [][2]string{{mixed, "mixed.changes"}, {deb, filepath.Base(deb)}}
	mixedSet = append(mixedSet, src.set()...)
	tampered := filepath.Join(dir, filepath.Base(deb))
	b, _ := os.ReadFile(deb)
	b[len(b)-1] ^= 1
	os.WriteFile(tampered, b, 0o644)
	bad := append([][2]string{}, mixedSet...)
	bad[1][0] = tampered
	code, reply = s.postFiles("5.8/debian/trixie", "changes", bad)
	if code != 422 || !strings.Contains(fmt.Sprint(reply["error"]), filepath.Base(deb)) {
		t.Fatalf("tampered .changes set: %d %v", code, reply)
	}
	if got := s.livePackages("5.8/debian/trixie"); len(got) != 0 {
		t.Fatalf("a refused .changes left packages: %v", got)
	}
	if code, _, _ := s.get("/deb/5.8/debian/dists/trixie/InRelease"); code != 404 {
		t.Fatalf("a refused .changes published trixie: %d", code)
	}
	code, reply = s.postFiles("5.8/debian/trixie", "changes", mixedSet)
	if code != 201 {
		t.Fatalf("mixed .changes: %d %v", code, reply)
	}
	if got := s.livePackages("5.8/debian/trixie"); len(got) != 2 {
		t.Fatalf("packages after the mixed .changes: %v", got)
	}
	// pier push sends a .dsc or a .changes with the files it lists; a
	// .changes is read as one by its name, with or without a Distribution
	// field (the server does not require one).
	genChanges, err := os.ReadFile(filepath.Join(src.dir, changes))
	if err != nil {
		t.Fatal(err)
	}
	noDist := regexp.MustCompile(`(?m)^Distribution: .*\n`).ReplaceAll(genChanges, nil)
	if bytes.Equal(noDist, genChanges) {
		t.Fatal("dpkg-genchanges wrote no Distribution field")
	}
	if err := os.WriteFile(filepath.Join(src.dir, "pier-chg_2.0-1_nodist.changes"), noDist, 0o644); err != nil {
		t.Fatal(err)
	}
	for target, file := range map[string]string{"push/debian/dsc": filepath.Join(src.dir, src.dsc),
		"push/debian/changes": filepath.Join(src.dir, changes),
		"push/debian/nodist":  filepath.Join(src.dir, "pier-chg_2.0-1_nodist.changes")} {
		out, err := exec.Command(pierBin, "push", "--server", s.url, "--token", testToken, target, file).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "added pier-chg 2.0-1 source") {
			t.Errorf("pier push %s: %v\n%s", filepath.Base(file), err, out)
		}
		if got := s.livePackages(target); len(got) != 1 {
			t.Errorf("packages after pier push %s: %v", filepath.Base(file), got)
		}
	}
	if files, _ := reply["files"].([]any); len(files) != 5 {
		t.Errorf("reply lists %d files, want 5: %v", len(files), reply)
	}

	// Signed .changes against the uploaders rule.
	signed := filepath.Join(dir, "signed.changes")
	gpgClearsign(t, allowedHome, mixed, signed)
	other := filepath.Join(dir, "other.changes")
	gpgClearsign(t, otherHome, mixed, other)
	for _, c := range []struct {
		file, want string
		code       int
	}{
		{mixed, "not signed", 403},
		{other, "not one of this target's uploader keys", 403},
		{signed, "", 201},
	} {
		set := append([][2]string{{c.file, "x.changes"}}, mixedSet[1:]...)
		code, reply := s.postFiles("signed/debian/bookworm", "changes", set)
		if code != c.code || !strings.Contains(fmt.Sprint(reply["error"]), c.want) {
			t.Errorf("%s to a target with uploaders: %d %v, want %d %q", filepath.Base(c.file), code, reply, c.code, c.want)
		}
		if c.code == 201 && reply["signer"] == "" {
			t.Errorf("the reply names no signer: %v", reply)
		}
	}
}

// writeChanges writes a .changes listing files with their sizes and
// checksums, as dpkg-genchanges lays them out.
func writeChanges(t *testing.T, out, source, version string, files []string) {
	t.Helper()
	var md5s, sha256s strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		md5 := exec.Command("md5sum", f)
		o, err := md5.Output()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&md5s, " %s %d misc optional %s\n", strings.Fields(string(o))[0], len(b), filepath.Base(f))
		fmt.Fprintf(&sha256s, " %s %d %s\n", sha(b), len(b), filepath.Base(f))
	}
	text := fmt.Sprintf("Format: 1.8\nDate: Tue, 14 Nov 2023 22:13:20 +0000\nSource: %s\nArchitecture: source all\nVersion: %s\n"+
		"Distribution: unstable\nMaintainer: Pier Test <test@example.org>\nChanges:\n %s (%s) unstable; urgency=medium\n"+
		"Checksums-Sha256:\n%sFiles:\n%s", source, version, source, version, sha256s.String(), md5s.String())
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
