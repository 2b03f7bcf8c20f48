package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"
	nfpmrpm "github.com/goreleaser/nfpm/v2/rpm"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// This file proves Pier's rpm repositories with the real dnf and zypper,
// each confined to a temp dir (see rpmSandbox), and checks with its own
// code what those clients skip: other.xml, filelists.xml, every listed
// checksum and size, and the repomd.xml signature itself.

// mkrpm builds an rpm with nfpm: one file /usr/share/<name>/payload holding
// payload. arch is nfpm's name (amd64, arm64, all).
func mkrpm(t *testing.T, name, epoch, version, arch, payload string, depends ...string) []byte {
	t.Helper()
	src := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(src, []byte(payload), 0o644); err != nil {
		t.Fatal(err)
	}
	info := &nfpm.Info{
		Name:          name,
		Arch:          arch,
		Platform:      "linux",
		Epoch:         epoch,
		Version:       version,
		VersionSchema: "none",
		Release:       "1",
		Maintainer:    "Pier e2e <e2e@example.org>",
		Description:   "test package " + name + "\nbuilt by the e2e test",
		Homepage:      "https://example.org/" + name,
		License:       "MIT",
		MTime:         time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Overridables: nfpm.Overridables{
			Depends:  depends,
			Contents: files.Contents{{Source: src, Destination: "/usr/share/" + name + "/payload"}},
			RPM:      nfpm.RPM{Summary: "Pier e2e test package " + name},
		},
	}
	var buf bytes.Buffer
	if err := nfpmrpm.DefaultRPM.Package(nfpm.WithDefaults(info), &buf); err != nil {
		t.Fatalf("nfpm %s %s: %v", name, arch, err)
	}
	return buf.Bytes()
}

// rpmFixture returns a committed fixture of repo/rpm (see its testdata/README.md).
func rpmFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "repo", "rpm", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rpmUpload is one package sent to Pier and where it must be published.
type rpmUpload struct {
	data    []byte
	name    string // rpm name
	version string // [E:]V-R as Pier reports it
	arch    string // rpm arch
	file    string // published file name
}

// href is where Pier publishes the package below the repository base:
// "<arch>/<file>", with an "e<epoch>/" folder for a non-zero epoch (rpm file
// names carry no epoch).
func (p rpmUpload) href() string {
	dir := p.arch + "/"
	if p.arch == "src" {
		dir = "source/Packages/" // the target's source repository
	}
	if epoch, _, ok := strings.Cut(p.version, ":"); ok && epoch != "0" {
		return dir + "e" + epoch + "/" + p.file
	}
	return dir + p.file
}

// uploadRPMs uploads pkgs to target without publishing, checks each reply,
// and checks the upload rules: a byte-identical re-upload is 200, the same
// NEVRA with other bytes is 409.
func uploadRPMs(t *testing.T, s *server, target string, pkgs []rpmUpload, conflicting []byte) {
	t.Helper()
	for _, p := range pkgs {
		code, reply := s.upload(target, p.data, "?publish=false")
		if code != http.StatusCreated {
			t.Fatalf("upload %s: %d %v", p.file, code, reply)
		}
		wantPath := "rpm/" + target + "/" + p.href()
		if reply["sha256"] != sha(p.data) || reply["size"] != float64(len(p.data)) || reply["path"] != wantPath ||
			reply["name"] != p.name || reply["version"] != p.version || reply["architecture"] != p.arch || reply["created"] != true {
			t.Fatalf("upload %s: reply %v, want path %s", p.file, reply, wantPath)
		}
	}
	code, reply := s.upload(target, pkgs[0].data, "?publish=false")
	if code != http.StatusOK || reply["created"] != false || reply["sha256"] != sha(pkgs[0].data) {
		t.Fatalf("identical re-upload: %d %v", code, reply)
	}
	code, reply = s.upload(target, conflicting, "?publish=false")
	if code != http.StatusConflict || reply["error"] == nil {
		t.Fatalf("same NEVRA, other bytes: want 409 with an error, got %d %v", code, reply)
	}
	t.Logf("conflicting upload: %d %v", code, reply["error"])
}

// ---------------------------------------------------------------------------
// Confinement of the real clients

// rpmWrapScript runs inside a private mount and pid namespace. It covers
// the host places that dnf, zypper and gpg write to whatever options they
// are given with directories of $T/host (libdnf creates /run/user/<uid>
// and gpg-agent puts its sockets there; libdnf imports keys through the
// hard-coded /tmp/repokey.XXXXXX and /tmp/tmpdir.XXXXXX; libzypp writes
// /var/lib/YaST2/cookies even with --root), binds $T back onto its own path
// through a file descriptor (it may lie below /tmp), and runs the command.
// Its mounts take -n: without it mount(8) records them in libmount's
// /run/mount/utab, a host write the check below catches on a machine where
// nothing has mounted before (it failed TestCluster on a fresh machine).
// When the command ends, the pid namespace ends and the kernel kills the
// gpg-agents that dnf and zypper leave behind. A place missing on the host
// stays uncovered: a client that created it would fail the trace check.
const rpmWrapScript = `set -e
T="$1"; shift
H="$T/host"
exec 9<"$T"
cover() { if [ -d "$2" ]; then mount -n --bind "$H/$1" "$2"; fi; }
cover run /run/user
cover varlib /var/lib
cover vartmp /var/tmp
cover tmp /tmp
mount -n --no-canonicalize --bind /proc/self/fd/9 "$T"
exec 9<&-
cd "$T"
"$@"
`

var (
	rpmNSOnce sync.Once
	rpmNSErr  error
)

// rpmSandbox runs real clients confined to dir and, with strace, checks
// that they wrote nothing outside it.
type rpmSandbox struct {
	t      *testing.T
	dir    string
	strace string
	n      int
}

// newRpmSandbox returns a sandbox in a new temp dir. It needs unshare with
// mount and pid namespaces (root): without them the clients would write to
// the host, so the test skips outside CI and fails in CI. strace is needed
// for the host-write check in CI; outside CI the check is left out when it
// is missing.
func newRpmSandbox(t *testing.T) *rpmSandbox {
	t.Helper()
	need(t, "unshare")
	rpmNSOnce.Do(func() {
		out, err := exec.Command("unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc", "true").CombinedOutput()
		if err != nil {
			rpmNSErr = fmt.Errorf("unshare --mount --pid: %v: %s", err, out)
		}
	})
	if rpmNSErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount namespaces are required in CI to confine dnf and zypper: %v", rpmNSErr)
		}
		t.Skipf("cannot confine dnf and zypper: %v", rpmNSErr)
	}
	sb := &rpmSandbox{t: t, dir: t.TempDir()}
	if p, err := exec.LookPath("strace"); err == nil {
		sb.strace = p
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("strace is required in CI for the host-write check")
	} else {
		t.Logf("strace not installed: the check that clients write nothing outside %s is left out", sb.dir)
	}
	dirs := []string{"host/run", "host/varlib", "host/vartmp", "host/tmp", "home"}
	// Where the wrapper covers a parent of dir, it binds dir back onto the
	// same path in the cover: create that mount point here.
	for cover, sub := range map[string]string{"/tmp/": "host/tmp", "/var/tmp/": "host/vartmp", "/var/lib/": "host/varlib", "/run/user/": "host/run"} {
		if rel, ok := strings.CutPrefix(sb.dir, cover); ok {
			dirs = append(dirs, filepath.Join(sub, rel))
		}
	}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(sb.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return sb
}

// path returns the absolute path of rel inside the sandbox.
func (sb *rpmSandbox) path(rel string) string { return filepath.Join(sb.dir, rel) }

// write writes a file inside the sandbox and returns its path.
func (sb *rpmSandbox) write(rel string, data []byte) string {
	sb.t.Helper()
	p := sb.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		sb.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		sb.t.Fatal(err)
	}
	return p
}

// run runs args confined, with env added, and returns the combined output
// and the error. Any write outside the sandbox fails the test.
func (sb *rpmSandbox) run(env []string, args ...string) (string, error) {
	sb.t.Helper()
	sb.n++
	argv := append([]string{"unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc",
		"sh", "-c", rpmWrapScript, "sh", sb.dir}, args...)
	trace := ""
	if sb.strace != "" {
		trace = sb.path(fmt.Sprintf("trace.%d", sb.n))
		argv = append([]string{sb.strace, "-f", "-y", "-s", "4096", "-o", trace, "-e", "trace=%file,bind"}, argv...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "HOME="+sb.path("home"), "LC_ALL=C", "LANG=C")
	cmd.Env = append(cmd.Env, env...)
	cmd.Dir = sb.dir
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if trace != "" {
		bad, seen := rpmHostWrites(trace, sb.dir)
		if seen == 0 {
			sb.t.Errorf("%s: the trace shows no write at all; is the strace parser broken?", strings.Join(args, " "))
		}
		if len(bad) > 0 {
			if len(bad) > 20 {
				bad = bad[:20]
			}
			sb.t.Errorf("%s wrote outside its sandbox %s:\n%s", strings.Join(args, " "), sb.dir, strings.Join(bad, "\n"))
		}
	}
	return string(out), err
}

var (
	rpmStraceLineRE = regexp.MustCompile(`^(\d+)\s+(.*)$`)
	rpmStraceCallRE = regexp.MustCompile(`^(\w+)\((.*)\)\s+=\s+(.*)$`)
	rpmStracePathRE = regexp.MustCompile(`(?:(?:AT_FDCWD|-?\d+)<((?:[^>\\]|\\.)*)>, )?"((?:[^"\\]|\\.)*)"`)
	rpmStraceFdRE   = regexp.MustCompile(`^-?\d+<((?:[^>\\]|\\.)*)>`)
	rpmStraceSunRE  = regexp.MustCompile(`sun_path="((?:[^"\\]|\\.)*)"`)
	rpmWriteOpenRE  = regexp.MustCompile(`O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_TMPFILE`)
)

// rpmWritingCalls are the traced system calls that change the file system
// (opens count only with a writing flag). mount is left out: the wrapper's
// mounts live in the private namespace.
var rpmWritingCalls = map[string]bool{
	"mkdir": true, "mkdirat": true, "rmdir": true, "unlink": true, "unlinkat": true,
	"rename": true, "renameat": true, "renameat2": true, "link": true, "linkat": true,
	"symlink": true, "symlinkat": true, "chmod": true, "fchmodat": true, "fchmodat2": true,
	"chown": true, "lchown": true, "fchownat": true, "utimensat": true, "utime": true,
	"utimes": true, "futimesat": true, "truncate": true, "mknod": true, "mknodat": true,
	"bind": true, "setxattr": true, "lsetxattr": true, "removexattr": true, "lremovexattr": true,
	"creat": true, "open": true, "openat": true, "openat2": true,
}

// rpmHostWrites reads an strace -f -y log and returns the calls that changed
// anything outside dir, and how many writing calls it saw. Inside the
// namespace /tmp, /var/tmp, /var/lib and /run/user are directories of dir,
// so writes there are allowed.
func rpmHostWrites(trace, dir string) (bad []string, seen int) {
	data, err := os.ReadFile(trace)
	if err != nil {
		return []string{fmt.Sprintf("read trace: %v", err)}, 0
	}
	allowed := []string{dir + "/", "/tmp/", "/var/tmp/", "/var/lib/", "/run/user/", "/dev/null", "/dev/tty", "/dev/pts/",
		"/proc/self/", "/proc/thread-self/"}
	ok := func(p string) bool {
		p = path.Clean(p)
		if p == dir || p == "/tmp" || p == "/var/tmp" || p == "/var/lib" || p == "/run/user" {
			return true
		}
		for _, a := range allowed {
			if strings.HasPrefix(p, a) || p == strings.TrimSuffix(a, "/") {
				return true
			}
		}
		return false
	}
	pending := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		m := rpmStraceLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		pid, rest := m[1], m[2]
		if r, found := strings.CutSuffix(rest, " <unfinished ...>"); found {
			pending[pid] = r
			continue
		}
		if strings.HasPrefix(rest, "<... ") {
			_, after, found := strings.Cut(rest, " resumed>")
			if !found {
				continue
			}
			rest = pending[pid] + after
			delete(pending, pid)
		}
		c := rpmStraceCallRE.FindStringSubmatch(rest)
		if c == nil || !rpmWritingCalls[c[1]] || strings.HasPrefix(c[3], "-1") || strings.HasPrefix(c[3], "?") {
			continue
		}
		name, args := c[1], c[2]
		if strings.HasPrefix(name, "open") && !rpmWriteOpenRE.MatchString(args) {
			continue
		}
		seen++
		var paths []string
		if name == "bind" {
			for _, sm := range rpmStraceSunRE.FindAllStringSubmatch(args, -1) {
				paths = append(paths, sm[1])
			}
		} else {
			ms := rpmStracePathRE.FindAllStringSubmatch(args, -1)
			if strings.HasPrefix(name, "symlink") && len(ms) > 0 {
				ms = ms[1:] // the first string is the link's content
			}
			for _, pm := range ms {
				p := rpmUnquote(pm[2])
				if !strings.HasPrefix(p, "/") {
					if pm[1] == "" {
						paths = append(paths, "(relative) "+p)
						continue
					}
					p = rpmUnquote(pm[1]) + "/" + p
				}
				paths = append(paths, p)
			}
			if len(ms) == 0 {
				if fm := rpmStraceFdRE.FindStringSubmatch(args); fm != nil {
					paths = append(paths, rpmUnquote(fm[1]))
				}
			}
		}
		for _, p := range paths {
			if !ok(p) {
				bad = append(bad, line)
				break
			}
		}
	}
	return bad, seen
}

func rpmUnquote(s string) string {
	if u, err := strconv.Unquote(`"` + s + `"`); err == nil {
		return u
	}
	return s
}

// ---------------------------------------------------------------------------
// dnf

// dnfClient is dnf confined to a sandbox: its own installroot, config,
// reposdir, cache, log and persist dirs.
type dnfClient struct {
	sb   *rpmSandbox
	repo string
}

// newDnf writes an isolated dnf configuration whose only repository is
// repoText (a .repo file), with id repo. key, if not nil, is stored in the
// sandbox and its path replaces @KEY@ in repoText.
func newDnf(t *testing.T, repo, repoText string, key []byte) *dnfClient {
	t.Helper()
	need(t, "dnf")
	sb := newRpmSandbox(t)
	if key != nil {
		repoText = strings.ReplaceAll(repoText, "@KEY@", sb.write("key.asc", key))
	}
	sb.write("dnf.conf", []byte(fmt.Sprintf("[main]\ncachedir=%[1]s/cache\nlogdir=%[1]s/log\npersistdir=%[1]s/persist\n"+
		"gpgcheck=0\ninstall_weak_deps=0\nkeepcache=0\n", sb.dir)))
	sb.write("repos/"+repo+".repo", []byte(repoText))
	return &dnfClient{sb: sb, repo: repo}
}

// dnfRepo is a .repo text with signed metadata, checked with the key that
// newDnf stores in the sandbox.
func dnfRepo(id, baseURL string) string {
	return fmt.Sprintf("[%s]\nname=%s\nbaseurl=%s\nenabled=1\nrepo_gpgcheck=1\ngpgcheck=0\ngpgkey=file://@KEY@\n"+
		"metadata_expire=0\nskip_if_unavailable=False\n", id, id, baseURL)
}

// run runs dnf with the isolation options and args.
func (d *dnfClient) run(args ...string) (string, error) {
	d.sb.t.Helper()
	base := []string{"dnf", "--installroot=" + d.sb.path("root"), "--config=" + d.sb.path("dnf.conf"),
		"--setopt=reposdir=" + d.sb.path("repos"), "--disablerepo=*", "--enablerepo=" + d.repo,
		"--releasever=9", "-y"}
	return d.sb.run(nil, append(base, args...)...)
}

// must runs dnf and fails the test on error.
func (d *dnfClient) must(args ...string) string {
	d.sb.t.Helper()
	out, err := d.run(args...)
	if err != nil {
		d.sb.t.Fatalf("dnf %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// download has dnf resolve pkg and download it with its dependencies into
// an empty dir (install --downloadonly into the empty installroot: dnf
// checks each file against the checksum in the signed metadata) and
// returns the files by name.
func (d *dnfClient) download(pkg string, extra ...string) (map[string][]byte, string, error) {
	d.sb.t.Helper()
	d.sb.n++
	dir := d.sb.path(fmt.Sprintf("dl.%d", d.sb.n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		d.sb.t.Fatal(err)
	}
	args := append(append([]string{}, extra...), "install", "--downloadonly", "--downloaddir="+dir, pkg)
	out, err := d.run(args...)
	got := map[string][]byte{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, rerr := os.ReadFile(filepath.Join(dir, e.Name()))
		if rerr != nil {
			d.sb.t.Fatal(rerr)
		}
		got[e.Name()] = b
	}
	return got, out, err
}

// rpmLines splits output into its non-empty lines, sorted.
func rpmLines(out string) []string {
	var l []string
	for _, s := range strings.Split(out, "\n") {
		if s = strings.TrimSpace(s); s != "" {
			l = append(l, s)
		}
	}
	sort.Strings(l)
	return l
}

// ---------------------------------------------------------------------------
// zypper

// zypperClient is zypper confined to a sandbox with root dir root.
type zypperClient struct {
	sb   *rpmSandbox
	root string
	env  []string
}

// newZypper sets up a root whose rpmdb trusts keys (rpm --import) and whose
// only repository is repoText, with alias alias.
func newZypper(t *testing.T, alias, repoText string, keys ...[]byte) *zypperClient {
	t.Helper()
	need(t, "zypper")
	need(t, "rpm")
	sb := newRpmSandbox(t)
	z := &zypperClient{sb: sb, root: sb.path("root")}
	sb.write("root/etc/zypp/repos.d/"+alias+".repo", []byte(repoText))
	z.env = []string{"ZYPP_CONF=" + sb.write("zypp.conf", []byte("[main]\n")),
		"ZYPP_LOGFILE=" + sb.path("zypper.log"), "ZYPPTMPDIR=" + sb.path("ztmp")}
	for i, k := range keys {
		p := sb.write(fmt.Sprintf("key%d.asc", i), k)
		if out, err := sb.run(z.env, "rpm", "--root", z.root, "--import", p); err != nil {
			t.Fatalf("rpm --import %s: %v\n%s", p, err, out)
		}
	}
	return z
}

func (z *zypperClient) run(args ...string) (string, error) {
	z.sb.t.Helper()
	return z.sb.run(z.env, append([]string{"zypper", "--root", z.root, "--non-interactive"}, args...)...)
}

// download runs zypper download pkg and returns the file it left in its
// package cache, or nil: zypper exits 0 even when it aborted the download.
func (z *zypperClient) download(alias, pkg, href string) ([]byte, string) {
	z.sb.t.Helper()
	out, err := z.run("download", pkg)
	p := filepath.Join(z.root, "var/cache/zypp/packages", alias, href)
	b, rerr := os.ReadFile(p)
	if err != nil || rerr != nil {
		return nil, fmt.Sprintf("exit %v, %s: %v\n%s", err, p, rerr, out)
	}
	return b, out
}

// ---------------------------------------------------------------------------
// Checking a repository with our own code

type rpmChecksum struct {
	Type  string `xml:"type,attr"`
	PkgID string `xml:"pkgid,attr"`
	Value string `xml:",chardata"`
}

type rpmRepomd struct {
	Revision string `xml:"revision"`
	Data     []struct {
		Type         string      `xml:"type,attr"`
		Checksum     rpmChecksum `xml:"checksum"`
		OpenChecksum rpmChecksum `xml:"open-checksum"`
		Location     struct {
			Href string `xml:"href,attr"`
		} `xml:"location"`
		Size     int64 `xml:"size"`
		OpenSize int64 `xml:"open-size"`
	} `xml:"data"`
}

type rpmVersion struct {
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
}

// rpmPrimaryPkg is one package of primary.xml.
type rpmPrimaryPkg struct {
	Name     string      `xml:"name"`
	Arch     string      `xml:"arch"`
	Version  rpmVersion  `xml:"version"`
	Checksum rpmChecksum `xml:"checksum"`
	Size     struct {
		Package int64 `xml:"package,attr"`
	} `xml:"size"`
	Location struct {
		Href string `xml:"href,attr"`
	} `xml:"location"`
}

type rpmPrimary struct {
	Count    int             `xml:"packages,attr"`
	Packages []rpmPrimaryPkg `xml:"package"`
}

// rpmSide is filelists.xml or other.xml: packages named by pkgid.
type rpmSide struct {
	Count    int `xml:"packages,attr"`
	Packages []struct {
		PkgID   string     `xml:"pkgid,attr"`
		Name    string     `xml:"name,attr"`
		Arch    string     `xml:"arch,attr"`
		Version rpmVersion `xml:"version"`
	} `xml:"package"`
}

// rpmFetcher returns a function that GETs paths below base.
func rpmFetcher(base string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		resp, err := http.Get(base + p)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", base+p, resp.Status)
		}
		return b, nil
	}
}

func rpmDecompress(name string, b []byte) ([]byte, error) {
	switch {
	case strings.HasSuffix(name, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	case strings.HasSuffix(name, ".zst"):
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		return io.ReadAll(zr)
	}
	return b, nil
}

// checkRpmRepo checks the repository fetch serves (paths relative to the
// folder holding repodata/) as no client fully does: repomd.xml.asc is a
// valid signature by a key of keyring; repomd.xml.key is that key; every
// file repomd.xml names (other.xml too) exists with the listed size and
// sha256, compressed and uncompressed, under its checksum-named location;
// primary, filelists and other list the same packages; and every package
// primary names is served with its pkgid and size. It returns primary's
// packages and the problems found.
func checkRpmRepo(fetch func(string) ([]byte, error), keyring openpgp.EntityList) ([]rpmPrimaryPkg, []string) {
	var probs []string
	bad := func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) }
	repomd, err := fetch("repodata/repomd.xml")
	if err != nil {
		return nil, []string{err.Error()}
	}
	if asc, err := fetch("repodata/repomd.xml.asc"); err != nil {
		bad("%v", err)
	} else if _, err := openpgp.CheckArmoredDetachedSignature(keyring, bytes.NewReader(repomd), bytes.NewReader(asc), nil); err != nil {
		bad("repomd.xml.asc does not verify against Pier's key: %v", err)
	}
	if keyFile, err := fetch("repodata/repomd.xml.key"); err != nil {
		bad("%v", err)
	} else if kr, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(keyFile)); err != nil || len(kr) != 1 ||
		!bytes.Equal(kr[0].PrimaryKey.Fingerprint, keyring[0].PrimaryKey.Fingerprint) {
		bad("repomd.xml.key is not Pier's key (%v)", err)
	}
	var md rpmRepomd
	if err := xml.Unmarshal(repomd, &md); err != nil {
		return nil, append(probs, fmt.Sprintf("repomd.xml: %v", err))
	}
	open := map[string][]byte{}
	for _, d := range md.Data {
		href := d.Location.Href
		b, err := fetch(href)
		if err != nil {
			bad("%s: %v", d.Type, err)
			continue
		}
		if d.Checksum.Type != "sha256" || sha(b) != d.Checksum.Value || int64(len(b)) != d.Size {
			bad("%s %s: served %d bytes sha256 %s, repomd says %d bytes %s %s", d.Type, href, len(b), sha(b), d.Size, d.Checksum.Type, d.Checksum.Value)
		}
		if path.Dir(href) != "repodata" || !strings.HasPrefix(path.Base(href), d.Checksum.Value+"-"+d.Type+".xml") {
			bad("%s: location %s is not repodata/<checksum>-%s.xml.*", d.Type, href, d.Type)
		}
		x, err := rpmDecompress(href, b)
		if err != nil {
			bad("%s: decompress: %v", d.Type, err)
			continue
		}
		if d.OpenChecksum.Type != "sha256" || sha(x) != d.OpenChecksum.Value || int64(len(x)) != d.OpenSize {
			bad("%s: uncompressed %d bytes sha256 %s, repomd says %d bytes %s", d.Type, len(x), sha(x), d.OpenSize, d.OpenChecksum.Value)
		}
		open[d.Type] = x
	}
	for _, typ := range []string{"primary", "filelists", "other"} {
		if open[typ] == nil {
			bad("repomd.xml names no readable %s", typ)
		}
	}
	if open["primary"] == nil {
		return nil, probs
	}
	var primary rpmPrimary
	if err := xml.Unmarshal(open["primary"], &primary); err != nil {
		return nil, append(probs, fmt.Sprintf("primary.xml: %v", err))
	}
	if primary.Count != len(primary.Packages) {
		bad("primary.xml says packages=%d and lists %d", primary.Count, len(primary.Packages))
	}
	ident := map[string]string{}
	for _, p := range primary.Packages {
		ident[p.Checksum.Value] = fmt.Sprintf("%s %s %s:%s-%s", p.Name, p.Arch, p.Version.Epoch, p.Version.Ver, p.Version.Rel)
		if p.Checksum.Type != "sha256" || p.Checksum.PkgID != "YES" {
			bad("%s: checksum type %q pkgid %q", p.Name, p.Checksum.Type, p.Checksum.PkgID)
		}
		b, err := fetch(p.Location.Href)
		if err != nil {
			bad("package %s: %v", p.Location.Href, err)
			continue
		}
		if sha(b) != p.Checksum.Value || int64(len(b)) != p.Size.Package {
			bad("package %s: served %d bytes sha256 %s, primary says %d bytes %s", p.Location.Href, len(b), sha(b), p.Size.Package, p.Checksum.Value)
		}
	}
	for _, typ := range []string{"filelists", "other"} {
		if open[typ] == nil {
			continue
		}
		var side rpmSide
		if err := xml.Unmarshal(open[typ], &side); err != nil {
			bad("%s.xml: %v", typ, err)
			continue
		}
		got := map[string]string{}
		for _, p := range side.Packages {
			got[p.PkgID] = fmt.Sprintf("%s %s %s:%s-%s", p.Name, p.Arch, p.Version.Epoch, p.Version.Ver, p.Version.Rel)
		}
		if fmt.Sprint(got) != fmt.Sprint(ident) || side.Count != len(side.Packages) {
			bad("%s.xml lists (packages=%d) %v, primary %v", typ, side.Count, got, ident)
		}
	}
	return primary.Packages, probs
}

// rpmKeyring fetches /keys/pier.asc and returns it and the parsed key.
func rpmKeyring(t *testing.T, s *server) ([]byte, openpgp.EntityList) {
	t.Helper()
	code, asc, _ := s.get("/keys/pier.asc")
	if code != 200 {
		t.Fatalf("/keys/pier.asc: %d", code)
	}
	kr, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(asc))
	if err != nil || len(kr) != 1 {
		t.Fatalf("/keys/pier.asc: %v (%d keys)", err, len(kr))
	}
	return asc, kr
}

// rpmCheckServed runs checkRpmRepo on base of s, fails on any problem and
// requires that exactly pkgs are published, each at its path.
func rpmCheckServed(t *testing.T, s *server, base string, kr openpgp.EntityList, pkgs []rpmUpload) {
	t.Helper()
	var bin, src []rpmUpload
	for _, p := range pkgs {
		if p.arch == "src" {
			src = append(src, p)
		} else {
			bin = append(bin, p)
		}
	}
	rpmCheckRepo(t, s, base, "", kr, bin)
	rpmCheckRepo(t, s, base, "source/", kr, src)
}

// rpmCheckRepo checks one repository of a target (dir "" or "source/")
// with checkRpmRepo and that it lists exactly pkgs.
func rpmCheckRepo(t *testing.T, s *server, base, dir string, kr openpgp.EntityList, pkgs []rpmUpload) {
	t.Helper()
	listed, probs := checkRpmRepo(rpmFetcher(s.url+"/"+base+dir), kr)
	for _, p := range probs {
		t.Errorf("%s%s: %s", base, dir, p)
	}
	want := map[string]string{}
	for _, p := range pkgs {
		want[sha(p.data)] = strings.TrimPrefix(p.href(), dir)
	}
	got := map[string]string{}
	for _, p := range listed {
		got[p.Checksum.Value] = p.Location.Href
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s publishes %v, want %v", base, got, want)
	}
}

// rpmSetupRepo fetches GET /setup/<target> and returns the .repo text inside
// its heredoc and the key URL of its `rpm --import` line.
func rpmSetupRepo(t *testing.T, s *server, target string) (repoText, keyURL string) {
	t.Helper()
	code, body, _ := s.get("/setup/" + target)
	if code != 200 {
		t.Fatalf("/setup/%s: %d %s", target, code, body)
	}
	text := string(body)
	_, rest, ok1 := strings.Cut(text, "<<'EOF'\n")
	repoText, _, ok2 := strings.Cut(rest, "\nEOF\n")
	m := regexp.MustCompile(`(?m)^sudo rpm --import (\S+)$`).FindStringSubmatch(text)
	if !ok1 || !ok2 || m == nil {
		t.Fatalf("/setup/%s: no .repo heredoc or rpm --import line:\n%s", target, text)
	}
	return repoText + "\n", m[1]
}

// rpmRepoOption returns the value of key in a .repo text.
func rpmRepoOption(repoText, key string) string {
	for _, l := range strings.Split(repoText, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// Tests

// rpmElPackages are the el/9 uploads: two architectures of one package, a
// noarch package (with an epoch) that requires it, and a source rpm made by
// rpmbuild. conflicting has pier-hello.x86_64's NEVRA and other bytes.
func rpmElPackages(t *testing.T) (pkgs []rpmUpload, conflicting []byte) {
	t.Helper()
	return []rpmUpload{
		{mkrpm(t, "pier-hello", "", "1.0", "amd64", "el9 x86_64"), "pier-hello", "1.0-1", "x86_64", "pier-hello-1.0-1.x86_64.rpm"},
		{mkrpm(t, "pier-hello", "", "1.0", "arm64", "el9 aarch64"), "pier-hello", "1.0-1", "aarch64", "pier-hello-1.0-1.aarch64.rpm"},
		{mkrpm(t, "pier-hello-data", "2", "1.0", "all", "el9 data", "pier-hello"), "pier-hello-data", "2:1.0-1", "noarch", "pier-hello-data-1.0-1.noarch.rpm"},
		{rpmFixture(t, "greet-1.0-1.src.rpm"), "greet", "3:1.0-1", "src", "greet-1.0-1.src.rpm"},
	}, mkrpm(t, "pier-hello", "", "1.0", "amd64", "el9 x86_64, other bytes")
}

// TestRpmDnfEndToEnd uploads rpms for el/9 (x86_64, aarch64, noarch and a
// src.rpm), checks the upload rules and the published repository, and has
// the real dnf, confined to a temp dir, verify the signed metadata and
// download every binary package; the src.rpm is fetched from the location
// dnf reports. The .repo text of GET /setup works as dnf's repo file.
func TestRpmDnfEndToEnd(t *testing.T) {
	need(t, "dnf")
	s := startServer(t, "")
	pkgs, conflicting := rpmElPackages(t)
	uploadRPMs(t, s, "5.8/el/9", pkgs, conflicting)
	s.publish("5.8/el/9")

	key, kr := rpmKeyring(t, s)
	rpmCheckServed(t, s, "rpm/5.8/el/9/", kr, pkgs)
	byFile := map[string][]byte{}
	for _, p := range pkgs {
		byFile[p.file] = p.data
	}

	baseURL := s.url + "/rpm/5.8/el/9/"
	dnf := newDnf(t, "pier", dnfRepo("pier", baseURL)+strings.Replace(dnfRepo("pier-source", baseURL+"source/"), "enabled=1", "enabled=0", 1), key)
	out := dnf.must("makecache")
	fpr := strings.ToUpper(hex.EncodeToString(kr[0].PrimaryKey.Fingerprint))
	if !strings.Contains(out, "Metadata cache created") || !strings.Contains(strings.ReplaceAll(out, " ", ""), fpr) {
		t.Errorf("dnf makecache did not import Pier's key %s and build its cache:\n%s", fpr, out)
	}
	got := rpmLines(dnf.must("-q", "repoquery", "--arch=x86_64,aarch64,noarch,src", "--qf", "%{name}|%{epoch}|%{version}|%{release}|%{arch}"))
	want := []string{"pier-hello-data|2|1.0|1|noarch", "pier-hello|0|1.0|1|aarch64", "pier-hello|0|1.0|1|x86_64"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("dnf repoquery: %q, want %q", got, want)
	}

	for _, c := range []struct {
		pkg   string
		extra []string
		files []string
	}{
		{"pier-hello", nil, []string{"pier-hello-1.0-1.x86_64.rpm"}},
		{"pier-hello", []string{"--forcearch", "aarch64"}, []string{"pier-hello-1.0-1.aarch64.rpm"}},
		// The noarch package pulls in its dependency.
		{"pier-hello-data", nil, []string{"pier-hello-1.0-1.x86_64.rpm", "pier-hello-data-1.0-1.noarch.rpm"}},
	} {
		files, out, err := dnf.download(c.pkg, c.extra...)
		if err != nil {
			t.Errorf("dnf %v install --downloadonly %s: %v\n%s", c.extra, c.pkg, err, out)
			continue
		}
		var names []string
		for name, b := range files {
			names = append(names, name)
			if !bytes.Equal(b, byFile[name]) {
				t.Errorf("dnf %v download %s: %s differs from the upload", c.extra, c.pkg, name)
			}
		}
		sort.Strings(names)
		if fmt.Sprint(names) != fmt.Sprint(c.files) {
			t.Errorf("dnf %v download %s: got %v, want %v\n%s", c.extra, c.pkg, names, c.files, out)
		}
	}

	// The source rpm, from the location in dnf's verified metadata of the
	// source repository.
	dnf.must("--enablerepo=pier-source", "makecache") // imports the key for pier-source (printed)
	loc := rpmLines(dnf.must("-q", "--enablerepo=pier-source", "repoquery", "--arch=src", "--location", "greet"))
	if len(loc) != 1 || loc[0] != baseURL+"source/Packages/e3/greet-1.0-1.src.rpm" {
		t.Fatalf("dnf repoquery --location greet.src: %q", loc)
	}
	resp, err := http.Get(loc[0])
	if err != nil {
		t.Fatal(err)
	}
	srpm, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(srpm, byFile["greet-1.0-1.src.rpm"]) {
		t.Errorf("src.rpm at dnf's location: %d, bytes differ from the upload", resp.StatusCode)
	}

	// GET /setup: its .repo points at the repository and its key, and dnf
	// accepts it as it is (the key comes over HTTP from repomd.xml.key).
	repoText, keyURL := rpmSetupRepo(t, s, "5.8/el/9")
	id := "pier-5.8-el-9"
	if !strings.HasPrefix(repoText, "["+id+"]\n") || rpmRepoOption(repoText, "baseurl") != baseURL ||
		rpmRepoOption(repoText, "gpgkey") != baseURL+"repodata/repomd.xml.key" || keyURL != rpmRepoOption(repoText, "gpgkey") ||
		rpmRepoOption(repoText, "repo_gpgcheck") != "1" || rpmRepoOption(repoText, "enabled") != "1" {
		t.Errorf("setup .repo for 5.8/el/9 (key %s):\n%s", keyURL, repoText)
	}
	setupDnf := newDnf(t, id, repoText, nil)
	if out := setupDnf.must("makecache"); !strings.Contains(strings.ReplaceAll(out, " ", ""), fpr) {
		t.Errorf("dnf with the setup .repo did not import Pier's key %s:\n%s", fpr, out)
	}
	if files, out, err := setupDnf.download("pier-hello"); err != nil || !bytes.Equal(files["pier-hello-1.0-1.x86_64.rpm"], byFile["pier-hello-1.0-1.x86_64.rpm"]) {
		t.Errorf("dnf with the setup .repo: download pier-hello: %v\n%s", err, out)
	}
}

// TestRpmZypperEndToEnd publishes opensuse/15.6 and has the real zypper,
// confined to a temp dir and trusting Pier's key through its rpmdb, verify
// the signed metadata and download the packages, with the .repo of the
// brief (pkg_gpgcheck=0) and with the one GET /setup prints (pkg_gpgcheck
// unset: zypp takes unsigned packages from a repository whose metadata
// signature verified).
func TestRpmZypperEndToEnd(t *testing.T) {
	need(t, "zypper")
	need(t, "rpm")
	s := startServer(t, "")
	pkgs := []rpmUpload{
		{mkrpm(t, "pier-hello", "", "1.0", "amd64", "suse x86_64"), "pier-hello", "1.0-1", "x86_64", "pier-hello-1.0-1.x86_64.rpm"},
		{mkrpm(t, "pier-hello-data", "2", "1.0", "all", "suse data", "pier-hello"), "pier-hello-data", "2:1.0-1", "noarch", "pier-hello-data-1.0-1.noarch.rpm"},
	}
	uploadRPMs(t, s, "5.8/opensuse/15.6", pkgs, mkrpm(t, "pier-hello", "", "1.0", "amd64", "suse x86_64, other bytes"))
	s.publish("5.8/opensuse/15.6")
	key, kr := rpmKeyring(t, s)
	rpmCheckServed(t, s, "rpm/5.8/opensuse/15.6/", kr, pkgs)

	baseURL := s.url + "/rpm/5.8/opensuse/15.6/"
	repoText := "[pier]\nname=pier\nbaseurl=" + baseURL + "\nenabled=1\nautorefresh=1\ntype=rpm-md\n" +
		"gpgcheck=1\nrepo_gpgcheck=1\npkg_gpgcheck=0\n"
	z := newZypper(t, "pier", repoText, key)
	if out, err := z.run("refresh"); err != nil || !strings.Contains(out, "All repositories have been refreshed") {
		t.Fatalf("zypper refresh: %v\n%s", err, out)
	}
	for _, p := range pkgs {
		got, out := z.download("pier", p.name, p.href())
		if !bytes.Equal(got, p.data) {
			t.Errorf("zypper download %s: no file or other bytes than the upload:\n%s", p.name, out)
		}
	}

	// GET /setup: zypper takes its .repo as it is, after rpm --import of the
	// key it names.
	setupText, keyURL := rpmSetupRepo(t, s, "5.8/opensuse/15.6")
	id := "pier-5.8-opensuse-15.6"
	if !strings.HasPrefix(setupText, "["+id+"]\n") || rpmRepoOption(setupText, "baseurl") != baseURL ||
		rpmRepoOption(setupText, "gpgkey") != baseURL+"repodata/repomd.xml.key" || keyURL != rpmRepoOption(setupText, "gpgkey") ||
		rpmRepoOption(setupText, "repo_gpgcheck") != "1" || rpmRepoOption(setupText, "gpgcheck") != "1" {
		t.Errorf("setup .repo for 5.8/opensuse/15.6 (key %s):\n%s", keyURL, setupText)
	}
	keyFile, err := rpmFetcher("")(keyURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("setup .repo for zypper: gpgcheck=%s repo_gpgcheck=%s pkg_gpgcheck=%q", rpmRepoOption(setupText, "gpgcheck"),
		rpmRepoOption(setupText, "repo_gpgcheck"), rpmRepoOption(setupText, "pkg_gpgcheck"))
	zs := newZypper(t, id, setupText, keyFile)
	if out, err := zs.run("refresh"); err != nil || !strings.Contains(out, "All repositories have been refreshed") {
		t.Fatalf("zypper refresh with the setup .repo: %v\n%s", err, out)
	}
	if got, out := zs.download(id, "pier-hello", "x86_64/pier-hello-1.0-1.x86_64.rpm"); !bytes.Equal(got, pkgs[0].data) {
		t.Errorf("zypper download with the setup .repo: no file or other bytes than the upload:\n%s", out)
	}
}

// mirrorRpmRepo copies every file the repository at s/base names (repomd.xml,
// its .asc and .key, each repodata file, each package) into dir.
func mirrorRpmRepo(t *testing.T, s *server, base, dir string) {
	t.Helper()
	fetch := rpmFetcher(s.url + "/" + base)
	put := func(rel string) []byte {
		b, err := fetch(rel)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return b
	}
	repomd := put("repodata/repomd.xml")
	put("repodata/repomd.xml.asc")
	put("repodata/repomd.xml.key")
	var md rpmRepomd
	if err := xml.Unmarshal(repomd, &md); err != nil {
		t.Fatal(err)
	}
	for _, d := range md.Data {
		b := put(d.Location.Href)
		if d.Type != "primary" {
			continue
		}
		x, err := rpmDecompress(d.Location.Href, b)
		if err != nil {
			t.Fatal(err)
		}
		var primary rpmPrimary
		if err := xml.Unmarshal(x, &primary); err != nil {
			t.Fatal(err)
		}
		for _, p := range primary.Packages {
			put(p.Location.Href)
		}
	}
}

// rpmRegzip rewrites the gzip file at p after applying edit to its content,
// keeping its size (padded with a gzip header comment): a client must then
// notice the change by the checksum, not by the size.
func rpmRegzip(t *testing.T, p string, edit func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	x, err := rpmDecompress(p, b)
	if err != nil {
		t.Fatal(err)
	}
	y := edit(x)
	if bytes.Equal(x, y) {
		t.Fatalf("edit of %s changed nothing", p)
	}
	pack := func(level int, comment string) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, level)
		zw.Comment = comment
		zw.Write(y)
		zw.Close()
		return buf.Bytes()
	}
	var out []byte
	for level := gzip.BestCompression; level >= gzip.BestSpeed && len(out) != len(b); level-- {
		out = pack(level, "")
		if d := len(b) - len(out); d > 1 {
			out = pack(level, strings.Repeat("x", d-1)) // the comment costs its length + a NUL
		}
	}
	if len(out) != len(b) {
		t.Fatalf("tampered %s: cannot keep its %d bytes", p, len(b))
	}
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rpmRepodataFile returns the path of the repodata file of type typ in the
// mirror at dir.
func rpmRepodataFile(t *testing.T, dir, typ string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "repodata", "*-"+typ+".xml.*"))
	if len(m) != 1 {
		t.Fatalf("mirror %s: want one %s file, got %v", dir, typ, m)
	}
	return m[0]
}

// rpmRefused fails the test unless a client run failed with a message
// containing why (so that it failed for the reason under test).
func rpmRefused(t *testing.T, what, out string, err error, why string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s succeeded:\n%s", what, out)
	case !strings.Contains(out, why):
		t.Errorf("%s failed (%v), but not with %q:\n%s", what, err, why, out)
	default:
		t.Logf("%s refused: %v, %q", what, err, why)
	}
}

// TestRpmNegative checks that the real clients refuse what they must: the
// wrong key, a tampered primary.xml (repomd.xml left as signed, so its
// checksum no longer matches), a tampered repomd.xml, a missing signature
// and a tampered package; and that checkRpmRepo catches the tampering,
// including of other.xml, which dnf and zypper never download.
func TestRpmNegative(t *testing.T) {
	need(t, "dnf")
	need(t, "zypper")
	need(t, "rpm")
	s := startServer(t, "")
	pkgs, conflicting := rpmElPackages(t)
	uploadRPMs(t, s, "5.8/el/9", pkgs, conflicting)
	s.publish("5.8/el/9")
	key, kr := rpmKeyring(t, s)
	baseURL := s.url + "/rpm/5.8/el/9/"

	// The wrong key: another Pier's.
	other := startServer(t, "")
	wrongKey, wrongKR := rpmKeyring(t, other)
	if bytes.Equal(wrongKR[0].PrimaryKey.Fingerprint, kr[0].PrimaryKey.Fingerprint) {
		t.Fatal("both servers have the same key")
	}
	out, err := newDnf(t, "pier", dnfRepo("pier", baseURL), wrongKey).run("makecache")
	rpmRefused(t, "dnf makecache with the wrong key", out, err, "repomd.xml GPG signature verification error")
	zRepo := func(url string) string {
		return "[pier]\nname=pier\nbaseurl=" + url + "\nenabled=1\nautorefresh=1\ntype=rpm-md\ngpgcheck=1\nrepo_gpgcheck=1\npkg_gpgcheck=0\n"
	}
	out, err = newZypper(t, "pier", zRepo(baseURL), wrongKey).run("refresh")
	rpmRefused(t, "zypper refresh with the wrong key", out, err, "Signature verification failed for repomd.xml")
	if _, probs := checkRpmRepo(rpmFetcher(baseURL), wrongKR); len(probs) == 0 {
		t.Errorf("checkRpmRepo accepted the repository with the wrong key")
	}

	// Tampered copies of the repository, served over HTTP.
	www := t.TempDir()
	variants := []string{"pristine", "bad-primary", "bad-other", "bad-repomd", "no-asc", "bad-package"}
	for _, v := range variants {
		mirrorRpmRepo(t, s, "rpm/5.8/el/9/", filepath.Join(www, v))
	}
	rpmRegzip(t, rpmRepodataFile(t, filepath.Join(www, "bad-primary"), "primary"), func(b []byte) []byte {
		return bytes.Replace(b, []byte("<summary>Pier e2e test package pier-hello</summary>"), []byte("<summary>Pier e2e TEST package pier-hello</summary>"), 1)
	})
	rpmRegzip(t, rpmRepodataFile(t, filepath.Join(www, "bad-other"), "other"), func(b []byte) []byte {
		return bytes.Replace(b, []byte(`name="pier-hello-data"`), []byte(`name="pier-hello-DATA"`), 1)
	})
	repomdPath := filepath.Join(www, "bad-repomd", "repodata", "repomd.xml")
	repomd, _ := os.ReadFile(repomdPath)
	if err := os.WriteFile(repomdPath, regexp.MustCompile(`<revision>\d+</revision>`).ReplaceAll(repomd, []byte("<revision>1</revision>")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(www, "no-asc", "repodata", "repomd.xml.asc")); err != nil {
		t.Fatal(err)
	}
	pkgPath := filepath.Join(www, "bad-package", "x86_64", "pier-hello-1.0-1.x86_64.rpm")
	rpmBytes, _ := os.ReadFile(pkgPath)
	rpmBytes[len(rpmBytes)-1] ^= 0xff
	if err := os.WriteFile(pkgPath, rpmBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	mirror := httptest.NewServer(http.FileServer(http.Dir(www)))
	defer mirror.Close()
	url := func(v string) string { return mirror.URL + "/" + v + "/" }

	// Our own check: the pristine copy passes, every tampered one fails for
	// the right reason.
	wantProblem := map[string]string{"pristine": "", "bad-primary": "primary ", "bad-other": "other ",
		"bad-repomd": "repomd.xml.asc does not verify", "no-asc": "repomd.xml.asc: 404", "bad-package": "package x86_64/pier-hello-1.0-1.x86_64.rpm"}
	for _, v := range variants {
		_, probs := checkRpmRepo(rpmFetcher(url(v)), kr)
		want := wantProblem[v]
		if (want == "") != (len(probs) == 0) || (want != "" && !strings.Contains(strings.Join(probs, "\n"), want)) {
			t.Errorf("checkRpmRepo on %s: want a problem with %q, got %q", v, want, probs)
		} else if len(probs) > 0 {
			t.Logf("checkRpmRepo on %s: %s", v, probs[0])
		}
	}

	// dnf: the pristine copy works (so the failures below come from the
	// tampering), each tampered metadata fails makecache, the tampered
	// package fails its download.
	pristine := newDnf(t, "pier", dnfRepo("pier", url("pristine")), key)
	pristine.must("makecache")
	if files, out, err := pristine.download("pier-hello"); err != nil || !bytes.Equal(files["pier-hello-1.0-1.x86_64.rpm"], pkgs[0].data) {
		t.Fatalf("dnf download from the pristine mirror: %v\n%s", err, out)
	}
	for _, c := range []struct{ variant, why string }{
		{"bad-primary", "checksum doesn't match"},
		{"bad-repomd", "repomd.xml GPG signature verification error"},
		{"no-asc", "GPG signature is not available"},
	} {
		out, err := newDnf(t, "pier", dnfRepo("pier", url(c.variant)), key).run("makecache")
		rpmRefused(t, "dnf makecache on "+c.variant, out, err, c.why)
	}
	badPkg := newDnf(t, "pier", dnfRepo("pier", url("bad-package")), key)
	badPkg.must("makecache")
	files, out, err := badPkg.download("pier-hello")
	rpmRefused(t, "dnf download of a tampered package", out, err, "checksum doesn't match")
	if len(files) != 0 {
		t.Errorf("dnf left the tampered package in its download dir")
	}
	// What dnf does not check: it never downloads other.xml.
	if out, err := newDnf(t, "pier", dnfRepo("pier", url("bad-other")), key).run("makecache"); err == nil {
		t.Logf("dnf makecache on bad-other succeeds: dnf never fetches other.xml; checkRpmRepo caught it")
	} else {
		t.Logf("dnf makecache on bad-other failed: %v\n%s", err, out)
	}

	// zypper refuses the tampered primary and repomd too.
	for _, c := range []struct{ variant, why string }{
		{"bad-primary", "Digest verification failed"},
		{"bad-repomd", "Signature verification failed for repomd.xml"},
	} {
		out, err := newZypper(t, "pier", zRepo(url(c.variant)), key).run("refresh")
		rpmRefused(t, "zypper refresh on "+c.variant, out, err, c.why)
	}
}
