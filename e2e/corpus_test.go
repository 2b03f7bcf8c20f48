package e2e

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	goapk "github.com/chainguard-dev/go-apk/pkg/apk"
	apkfs "github.com/chainguard-dev/go-apk/pkg/fs"
)

// This file runs the conformance corpus of testdata/ (see its README.md):
// every file of testdata/MANIFEST.tsv goes to its target through the
// upload API of a real pier serve and through pier import, and must get
// the manifest's status and a message containing the manifest's
// substring. Refused files must leave what was served unchanged. The
// accepted packages are then fetched and checked by the real clients.

// corpusDir is the corpus, relative to this package's directory.
const corpusDir = "../testdata"

// corpusConfig is the configuration the corpus runs Pier with: the one
// 413 row is a valid package larger than this max_upload_size.
const corpusConfig = "max_upload_size: 1MiB\n"

// corpusRow is one line of testdata/MANIFEST.tsv.
type corpusRow struct {
	File    string // below testdata/
	Format  string // deb, rpm or apk: the format of Target
	Target  string // stream/distro/release
	Status  int    // the HTTP status of an upload
	Message string // a substring of the refusal's message, case-insensitive
	Tool    string // what the real tool does with File
	How     string // how File was made
}

// name names the row in subtests and failures.
func (r corpusRow) name() string { return r.File + "→" + r.Format }

// path is the row's file on disk.
func (r corpusRow) path() string { return filepath.Join(corpusDir, r.File) }

// accepted reports whether Pier must accept the row's file.
func (r corpusRow) accepted() bool { return r.Status == http.StatusCreated }

// readCorpus parses the manifest and checks it against the files: every
// row's file exists, every file of the corpus has a row, and every refusal
// has a message.
func readCorpus(t *testing.T) []corpusRow {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) < 2 || lines[0] != "file\tformat\ttarget\tstatus\tmessage\ttool\thow" {
		t.Fatalf("MANIFEST.tsv: unexpected header %q", lines[0])
	}
	var rows []corpusRow
	listed := map[string]bool{}
	for i, l := range lines[1:] {
		f := strings.Split(l, "\t")
		if len(f) != 7 {
			t.Fatalf("MANIFEST.tsv line %d: %d fields, want 7", i+2, len(f))
		}
		status, err := strconv.Atoi(f[3])
		if err != nil {
			t.Fatalf("MANIFEST.tsv line %d: status %q", i+2, f[3])
		}
		r := corpusRow{File: f[0], Format: f[1], Target: f[2], Status: status, Message: f[4], Tool: f[5], How: f[6]}
		if !slices.Contains([]string{"deb", "rpm", "apk"}, r.Format) || strings.Count(r.Target, "/") != 2 {
			t.Fatalf("MANIFEST.tsv line %d: format %q, target %q", i+2, r.Format, r.Target)
		}
		if r.accepted() != (r.Message == "") {
			t.Fatalf("MANIFEST.tsv line %d: status %d with message %q", i+2, r.Status, r.Message)
		}
		if _, err := os.Stat(r.path()); err != nil {
			t.Fatalf("MANIFEST.tsv line %d: %v", i+2, err)
		}
		listed[r.File] = true
		rows = append(rows, r)
	}
	for _, sub := range []string{"deb", "rpm", "apk", "crafted"} {
		err := filepath.WalkDir(filepath.Join(corpusDir, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(corpusDir, p)
			if !listed[filepath.ToSlash(rel)] {
				t.Errorf("testdata/%s has no row in MANIFEST.tsv", rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return rows
}

// corpusTargets returns the targets of rows, in order of appearance.
func corpusTargets(rows []corpusRow) []string {
	var ts []string
	for _, r := range rows {
		if !slices.Contains(ts, r.Target) {
			ts = append(ts, r.Target)
		}
	}
	return ts
}

// writeCorpusConfig writes corpusConfig to a temp file and returns its path.
func writeCorpusConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pier.yaml")
	if err := os.WriteFile(p, []byte(corpusConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// corpusUpload posts the file of r to its target and returns the status
// and the decoded reply.
func corpusUpload(t *testing.T, s *server, r corpusRow, query string) (int, map[string]any) {
	t.Helper()
	data, err := os.ReadFile(r.path())
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", s.url+"/api/v1/targets/"+r.Target+"/packages"+query, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if len(data) > 256<<10 {
		// A server that refuses the upload from its Content-Length answers
		// before reading the body; with 100-continue the client then sends
		// none, instead of racing the server's close with its writes.
		req.Header.Set("Expect", "100-continue")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("upload %s: %v", r.name(), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var reply map[string]any
	if json.Unmarshal(body, &reply) != nil {
		reply = map[string]any{"raw": string(body)}
	}
	return resp.StatusCode, reply
}

// corpusRoots are the root files of each target's published repository:
// between them they name every index and package a client sees.
func corpusRoots(target string) []string {
	stream, rest, _ := strings.Cut(target, "/")
	distro, release, _ := strings.Cut(rest, "/")
	switch distro {
	case "debian", "ubuntu":
		return []string{"/deb/" + stream + "/" + distro + "/dists/" + release + "/InRelease"}
	case "alpine":
		return []string{"/apk/" + target + "/main/x86_64/APKINDEX.tar.gz", "/apk/" + target + "/main/aarch64/APKINDEX.tar.gz"}
	default:
		return []string{"/rpm/" + target + "/repodata/repomd.xml"}
	}
}

// corpusSnapshot records what s serves for targets: the root files'
// bytes, each target's catalog record (revision, package count,
// generation) and its package list.
func corpusSnapshot(t *testing.T, s *server, targets []string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	for _, tg := range targets {
		for _, p := range corpusRoots(tg) {
			code, body, _ := s.get(p)
			snap[p] = fmt.Sprintf("%d %s", code, sha(body))
		}
		code, body := s.do("GET", "/api/v1/targets/"+tg+"/packages", nil)
		snap["packages of "+tg] = fmt.Sprintf("%d %s", code, body)
	}
	code, body := s.do("GET", "/api/v1/targets", nil)
	var infos []map[string]any
	if code != http.StatusOK || json.Unmarshal(body, &infos) != nil {
		t.Fatalf("GET /api/v1/targets: %d %s", code, body)
	}
	for _, ti := range infos {
		id := fmt.Sprintf("%v/%v/%v", ti["stream"], ti["distro"], ti["release"])
		if slices.Contains(targets, id) {
			snap["catalog record of "+id] = fmt.Sprintf("revision %v, %v packages, generation %v", ti["revision"], ti["packages"], ti["generation"])
		}
	}
	return snap
}

// compareSnapshots reports every entry that differs.
func compareSnapshots(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	var keys []string
	for k := range before {
		keys = append(keys, k)
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if before[k] != after[k] {
			t.Errorf("%s changed %s:\nbefore: %.300s\nafter:  %.300s", what, k, before[k], after[k])
		}
	}
}

// TestCorpusUpload sends the whole corpus through the upload API of a
// real pier serve: first the files the manifest says are accepted (each
// must get 201 with its sha256), then, after a publish, the refused ones
// (each must get its status and a message containing its substring) while
// the roots, the catalog records and the package lists of every target
// stay exactly as they were. Then apt-get, dnf and go-apk (with the
// apk-tools checks it skips) fetch every accepted package from the signed
// repositories and get the uploaded bytes; dpkg installs the debs the
// real tools built, rpmkeys checks every rpm's digests and signatures.
func TestCorpusUpload(t *testing.T) {
	rows := readCorpus(t)
	s := startServer(t, "", "PIER_CONFIG="+writeCorpusConfig(t))
	targets := corpusTargets(rows)

	// Accepted files. The replies name each package for the clients.
	names := map[string]map[string]any{} // row name → upload reply
	for _, r := range rows {
		if !r.accepted() {
			continue
		}
		t.Run("upload/"+r.name(), func(t *testing.T) {
			code, reply := corpusUpload(t, s, r, "?publish=false")
			data, _ := os.ReadFile(r.path())
			if code != r.Status || reply["sha256"] != sha(data) {
				t.Fatalf("%s (%s): got %d %v, want %d (the real tool %s)", r.name(), r.How, code, reply, r.Status, r.Tool)
			}
			names[r.name()] = reply
		})
	}
	for _, tg := range targets {
		s.publish(tg)
	}
	before := corpusSnapshot(t, s, targets)

	// Refused files: status and message, and nothing may change.
	for _, r := range rows {
		if r.accepted() {
			continue
		}
		t.Run("upload/"+r.name(), func(t *testing.T) {
			code, reply := corpusUpload(t, s, r, "")
			msg, _ := reply["error"].(string)
			switch {
			case code != r.Status:
				t.Errorf("%s (%s): got %d %q, want %d with %q", r.name(), r.How, code, msg, r.Status, r.Message)
			case !strings.Contains(strings.ToLower(msg), strings.ToLower(r.Message)):
				t.Errorf("%s (%s): the message %q does not contain %q", r.name(), r.How, msg, r.Message)
			}
		})
	}
	compareSnapshots(t, "after the refused uploads, the served state", before, corpusSnapshot(t, s, targets))
	if ents := tempFiles(filepath.Join(s.data, "tmp")); len(ents) != 0 {
		t.Errorf("temporary upload files left: %v", ents)
	}

	byFormat := map[string][]corpusRow{}
	for _, r := range rows {
		if r.accepted() && names[r.name()] != nil {
			byFormat[r.Format] = append(byFormat[r.Format], r)
		}
	}
	t.Run("apt-get", func(t *testing.T) { corpusApt(t, s, byFormat["deb"], names) })
	t.Run("dnf", func(t *testing.T) { corpusDnf(t, s, byFormat["rpm"], names) })
	t.Run("apk", func(t *testing.T) { corpusApk(t, s, byFormat["apk"], names) })
}

// corpusApt has apt-get download every accepted deb from the signed
// repository (canonical path /deb/<stream>/<distro>) and compares the
// bytes; then dpkg installs the debs the real tools built into a scratch
// root. The hand-made debs with names that climb out of the root are only
// downloaded: dpkg would write outside the scratch root.
func corpusApt(t *testing.T, s *server, rows []corpusRow, replies map[string]map[string]any) {
	need(t, "dpkg")
	if len(rows) == 0 {
		t.Fatal("no accepted debs")
	}
	stream, rest, _ := strings.Cut(rows[0].Target, "/")
	distro, release, _ := strings.Cut(rest, "/")
	key := writeKey(t, s, t.TempDir())
	apt := newApt(t, fmt.Sprintf("deb [arch=amd64,arm64 signed-by=%s] %s/deb/%s/%s %s main\n", key, s.url, stream, distro, release))
	apt.update()
	var install []string
	for _, r := range rows {
		reply := replies[r.name()]
		pkg := fmt.Sprint(reply["name"])
		if arch := fmt.Sprint(reply["architecture"]); arch != "all" {
			pkg += ":" + arch
		}
		want, _ := os.ReadFile(r.path())
		if got := apt.download(pkg); !bytes.Equal(got, want) {
			t.Errorf("apt-get download %s: %d bytes differ from %s", pkg, len(got), r.File)
		}
		if strings.HasPrefix(r.File, "deb/") {
			abs, _ := filepath.Abs(r.path())
			install = append(install, abs)
		}
	}
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/updates", "var/lib/dpkg/info"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
	args := append([]string{"--root=" + root, "--force-not-root", "--force-bad-path", "--force-architecture",
		"--force-script-chrootless", "--log=/dev/null", "--install"}, install...)
	if out, err := exec.Command("dpkg", args...).CombinedOutput(); err != nil {
		t.Fatalf("dpkg --install of the tool-built debs: %v\n%s", err, out)
	}
	for _, r := range rows {
		if !strings.HasPrefix(r.File, "deb/") {
			continue
		}
		name := fmt.Sprint(replies[r.name()]["name"])
		got, err := os.ReadFile(filepath.Join(root, "usr/share", name, "payload.txt"))
		if err != nil || !strings.HasPrefix(string(got), "payload of "+name) {
			t.Errorf("dpkg installed %s without its payload.txt: %v %q", name, err, got)
		}
	}
	t.Logf("apt-get downloaded %d debs, dpkg installed %d", len(rows), len(install))
}

// corpusDnf has the real dnf (repo_gpgcheck=1) resolve and download every
// accepted rpm into an empty installroot, compares the bytes, and runs
// rpmkeys -Kv on each with only the corpus's test-only packager key
// trusted: every digest and every signature must be OK.
func corpusDnf(t *testing.T, s *server, rows []corpusRow, replies map[string]map[string]any) {
	rpmkeys := need(t, "rpmkeys")
	if len(rows) == 0 {
		t.Fatal("no accepted rpms")
	}
	key, _ := rpmKeyring(t, s)
	dnf := newDnf(t, "corpus", dnfRepo("corpus", s.url+"/rpm/"+rows[0].Target+"/"), key)
	dnf.must("makecache")
	dir := dnf.sb.path("downloads")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"install", "--downloadonly", "--downloaddir=" + dir}
	for _, r := range rows {
		args = append(args, fmt.Sprint(replies[r.name()]["name"]))
	}
	if out, err := dnf.run(args...); err != nil {
		t.Fatalf("dnf %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	keyroot := t.TempDir()
	keyFile := filepath.Join(corpusDir, "keys/test-only-rpm-signing.pub.asc")
	if out, err := exec.Command(rpmkeys, "--root", keyroot, "--import", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("rpmkeys --import: %v\n%s", err, out)
	}
	armored, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil || len(kr) != 1 {
		t.Fatalf("%s: %v", keyFile, err)
	}
	// rpmkeys names a key by the low 32 bits of its key ID.
	goodSig := fmt.Sprintf("Signature, key ID %08x: OK", uint32(kr[0].PrimaryKey.KeyId))
	for _, r := range rows {
		file := filepath.Join(dir, filepath.Base(fmt.Sprint(replies[r.name()]["path"])))
		got, err := os.ReadFile(file)
		want, _ := os.ReadFile(r.path())
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("dnf download of %s: %v (%d bytes, the corpus file has %d)", r.File, err, len(got), len(want))
			continue
		}
		out, err := exec.Command(rpmkeys, "--root", keyroot, "-Kv", file).CombinedOutput()
		if err != nil || bytes.Contains(out, []byte("BAD")) || bytes.Contains(out, []byte("NOKEY")) || !bytes.Contains(out, []byte("digest: OK")) {
			t.Errorf("rpmkeys -Kv on the downloaded %s: %v\n%s", r.File, err, out)
		}
		if strings.Contains(r.File, "signed") && !bytes.Contains(out, []byte(goodSig)) {
			t.Errorf("rpmkeys -Kv on the downloaded %s: no good signature by the test-only key:\n%s", r.File, out)
		}
	}
	t.Logf("dnf downloaded and rpmkeys checked %d rpms", len(rows))
}

// corpusApk has go-apk fetch and verify the signed x86_64 index and
// download every accepted apk, compares the bytes, and makes the checks
// apk-tools makes and go-apk skips (key name, signature over the exact
// index bytes, C:, datahash, S:).
func corpusApk(t *testing.T, s *server, rows []corpusRow, replies map[string]map[string]any) {
	if len(rows) == 0 {
		t.Fatal("no accepted apks")
	}
	target := rows[0].Target
	keyName, pubPEM := apkServerKey(t, s, target)
	pub, err := apkPublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	repoURL := s.url + "/apk/" + target + "/main"
	ctx := context.Background()
	client := &http.Client{Timeout: time.Minute}
	idx, via, _, err := goapkIndexes(ctx, t, client, []string{repoURL}, map[string][]byte{keyName: pubPEM}, "x86_64")
	if err != nil || len(idx) != 1 {
		t.Fatalf("go-apk index of %s: %v", repoURL, err)
	}
	a, err := goapk.New(goapk.WithFS(apkfs.NewMemFS()), goapk.WithArch("x86_64"))
	if err != nil {
		t.Fatal(err)
	}
	a.SetClient(via)
	code, raw, _ := s.get("/apk/" + target + "/main/x86_64/APKINDEX.tar.gz")
	if code != http.StatusOK {
		t.Fatalf("APKINDEX.tar.gz: %d", code)
	}
	text, err := apkVerifyIndex(raw, map[string]*rsa.PublicKey{keyName: pub})
	if err != nil {
		t.Fatalf("APKINDEX.tar.gz: %v", err)
	}
	stanzas, err := apkParseIndex(text)
	if err != nil {
		t.Fatalf("APKINDEX: %v", err)
	}
	for _, r := range rows {
		name := fmt.Sprint(replies[r.name()]["name"])
		var st map[string]string
		for _, x := range stanzas {
			if x["P"] == name {
				st = x
			}
		}
		var found bool
		for _, p := range idx[0].Packages() {
			if p.Name != name {
				continue
			}
			found = true
			rc, err := a.FetchPackage(ctx, p)
			if err != nil {
				t.Errorf("go-apk fetch %s: %v", name, err)
				continue
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			want, _ := os.ReadFile(r.path())
			if !bytes.Equal(got, want) {
				t.Errorf("go-apk fetch %s: the bytes differ from %s", name, r.File)
			}
			if st == nil {
				t.Errorf("%s is not in the APKINDEX text", name)
			} else if err := apkCheckPackage(got, st); err != nil {
				t.Errorf("%s: %v", r.File, err)
			}
		}
		if !found {
			t.Errorf("go-apk does not list %s (%s)", name, r.File)
		}
	}
	t.Logf("go-apk fetched %d apks, each checked against its index stanza", len(rows))
}

// corpusImport runs pier import of files into target on data dir data
// and returns its stdout, the error line of each file, and its exit error.
func corpusImport(t *testing.T, cfg, data, target string, files []string) (string, map[string]string, error) {
	t.Helper()
	cmd := exec.Command(pierBin, append([]string{"import", "--config", cfg, "--data", data, target}, files...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	lines := map[string]string{}
	for _, l := range strings.Split(stderr.String(), "\n") {
		for _, f := range files {
			if msg, ok := strings.CutPrefix(l, f+": "); ok {
				lines[f] = msg
			}
		}
	}
	return stdout.String(), lines, err
}

// pierTargets returns `pier targets --json` of data dir data, by target.
func pierTargets(t *testing.T, cfg, data string) map[string]string {
	t.Helper()
	out, err := exec.Command(pierBin, "targets", "--json", "--config", cfg, "--data", data).Output()
	if err != nil {
		t.Fatalf("pier targets: %v", err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("pier targets --json: %v\n%s", err, out)
	}
	snap := map[string]string{}
	for _, r := range rows {
		snap[fmt.Sprintf("%v/%v/%v", r["stream"], r["distro"], r["release"])] =
			fmt.Sprintf("revision %v, %v packages, generation %v", r["revision"], r["packages"], r["generation"])
	}
	return snap
}

// TestCorpusImport sends the whole corpus through `pier import`: per
// target, one import of the accepted files (exit 0, every file imported)
// and one of the refused files (exit 1, every file named on stderr with a
// message containing the manifest's substring, nothing imported), and
// the targets' catalog records do not change through the refused imports.
func TestCorpusImport(t *testing.T) {
	rows := readCorpus(t)
	cfg := writeCorpusConfig(t)
	data := t.TempDir()
	pier(t, nil, "init", "--config", cfg, "--data", data)
	targets := corpusTargets(rows)
	abs := func(r corpusRow) string {
		p, err := filepath.Abs(r.path())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	perTarget := func(accepted bool) map[string][]corpusRow {
		m := map[string][]corpusRow{}
		for _, r := range rows {
			if r.accepted() == accepted {
				m[r.Target] = append(m[r.Target], r)
			}
		}
		return m
	}

	for _, tg := range targets {
		rs := perTarget(true)[tg]
		var files []string
		for _, r := range rs {
			files = append(files, abs(r))
		}
		stdout, lines, err := corpusImport(t, cfg, data, tg, files)
		if want := fmt.Sprintf("imported %d new, 0 unchanged, 0 failed into %s", len(rs), tg); err != nil || !strings.Contains(stdout, want) {
			t.Errorf("pier import of the accepted files of %s: %v; want %q, got:\n%s", tg, err, want, stdout)
		}
		for _, r := range rs {
			t.Run("import/"+r.name(), func(t *testing.T) {
				if msg, failed := lines[abs(r)]; failed {
					t.Errorf("%s (%s): pier import refused it: %s (the real tool %s)", r.name(), r.How, msg, r.Tool)
				}
			})
		}
	}
	before := pierTargets(t, cfg, data)
	for _, tg := range targets {
		rs := perTarget(false)[tg]
		var files []string
		for _, r := range rs {
			files = append(files, abs(r))
		}
		stdout, lines, err := corpusImport(t, cfg, data, tg, files)
		if want := fmt.Sprintf("imported 0 new, 0 unchanged, %d failed into %s", len(rs), tg); err == nil || !strings.Contains(stdout, want) {
			t.Errorf("pier import of the refused files of %s: exit %v; want a failure and %q, got:\n%s", tg, err, want, stdout)
		}
		for _, r := range rs {
			t.Run("import/"+r.name(), func(t *testing.T) {
				msg, failed := lines[abs(r)]
				switch {
				case !failed:
					t.Errorf("%s (%s): pier import did not refuse it (want a message with %q)", r.name(), r.How, r.Message)
				case !strings.Contains(strings.ToLower(msg), strings.ToLower(r.Message)):
					t.Errorf("%s (%s): the message %q does not contain %q", r.name(), r.How, msg, r.Message)
				}
			})
		}
	}
	compareSnapshots(t, "after the refused imports, the catalog", before, pierTargets(t, cfg, data))
}
