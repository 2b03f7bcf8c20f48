package deb

import (
	"bytes"
	"context"
	"crypto"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/pierhq/pier/internal/gzmember"
	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/deb/debtest"
)

// pgpSigner signs with a throw-away Ed25519 key through go-crypto, the way
// Pier's signing package does.
type pgpSigner struct {
	entity *openpgp.Entity
	config *packet.Config
}

func newPGPSigner(t *testing.T) *pgpSigner {
	t.Helper()
	config := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: crypto.SHA256}
	e, err := openpgp.NewEntity("Pier Test", "", "test@example.org", config)
	if err != nil {
		t.Fatal(err)
	}
	return &pgpSigner{entity: e, config: config}
}

func (s *pgpSigner) ClearSign(msg []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, s.entity.PrivateKey, s.config)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(msg); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (s *pgpSigner) DetachSign(msg []byte) ([]byte, error) {
	var b bytes.Buffer
	err := openpgp.ArmoredDetachSign(&b, s.entity, bytes.NewReader(msg), s.config)
	return b.Bytes(), err
}

// PublicKey returns the binary (not armored) key, as a .gpg keyring file.
func (s *pgpSigner) PublicKey() []byte {
	var b bytes.Buffer
	if err := s.entity.Serialize(&b); err != nil {
		return nil
	}
	return b.Bytes()
}

// TestAptGet publishes a repository with a real signature into a directory
// and runs the real apt-get update against it (file:// URI, private apt
// state), then checks that apt sees the packages and can download one.
func TestAptGet(t *testing.T) {
	if _, err := exec.LookPath("apt-get"); err != nil {
		if isCI() {
			t.Fatal("apt-get is required when CI=true")
		}
		t.Skip("apt-get not installed")
	}
	f := goldenFormat()
	in := goldenInput(t, f)
	debs := map[string][]byte{}
	for _, set := range goldenDebs(t) {
		for _, b := range set {
			debs[sumsOf(b)[repo.SHA256]] = b
		}
	}
	signer := newPGPSigner(t)
	in.Signer = signer
	in.Time = time.Now().Add(-time.Minute)
	files, err := f.Index(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	for _, file := range files {
		data := file.Data
		if file.Kind == repo.KindPackage {
			data = debs[file.SHA256]
		}
		p := filepath.Join(www, filepath.FromSlash(file.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Plain Packages files stay, but apt must not need them: remove them to
	// make it fetch the compressed (by-hash) variants.
	for _, file := range files {
		if strings.HasSuffix(file.Path, "/Packages") {
			os.Remove(filepath.Join(www, filepath.FromSlash(file.Path)))
		}
	}

	run, apt := aptEnv(t, www, signer.PublicKey(), "main contrib")
	out := run("apt-get", "update")
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "W:") || strings.HasPrefix(line, "E:") || strings.HasPrefix(line, "N:") {
			t.Errorf("apt-get update: %s", line)
		}
	}
	if t.Failed() {
		t.Fatalf("apt-get update output:\n%s", out)
	}
	policy := run("apt-cache", "policy", "hello", "hello-doc", "libfoo1", "tool-data")
	for _, want := range []string{"hello:\n  Installed: (none)\n  Candidate: 1.0-1", "hello-doc:\n  Installed: (none)\n  Candidate: 1.0-1",
		"libfoo1:\n  Installed: (none)\n  Candidate: 2.0-1", "tool-data:\n  Installed: (none)\n  Candidate: 3.0"} {
		if !strings.Contains(policy, want) {
			t.Errorf("apt-cache policy lacks %q:\n%s", want, policy)
		}
	}
	show := run("apt-cache", "show", "hello=1.0-1")
	if !strings.Contains(show, "Description: greets the world\n Hello prints a friendly greeting.\n .\n It is a test package.\n") {
		t.Errorf("apt-cache show:\n%s", show)
	}
	run("apt-get", "download", "hello=1.0-1", "hello-doc")
	for _, name := range []string{"hello_1.0-1_amd64.deb", "hello-doc_1.0-1_all.deb"} {
		if _, err := os.Stat(filepath.Join(apt, "download", name)); err != nil {
			t.Errorf("apt-get download: %v", err)
		}
	}
}

// aptEnv makes a private apt state directory whose sources.list names the
// repository at www (file://, deb/5.8/debian bookworm, with components),
// trusting key, and returns a runner of apt commands in it (with opts
// added) and the directory.
func aptEnv(t *testing.T, www string, key []byte, components string, opts ...string) (run func(args ...string) string, apt string) {
	t.Helper()
	apt = filepath.Join(t.TempDir(), "apt")
	for _, d := range []string{"etc/apt/sources.list.d", "etc/apt/preferences.d", "etc/apt/apt.conf.d", "etc/apt/trusted.gpg.d",
		"var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg", "log", "download"} {
		if err := os.MkdirAll(filepath.Join(apt, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	keyFile := filepath.Join(apt, "pier.gpg")
	if err := os.WriteFile(keyFile, key, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(apt, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sources := "deb [signed-by=" + keyFile + "] file://" + www + "/deb/5.8/debian bookworm " + components + "\n"
	if err := os.WriteFile(filepath.Join(apt, "etc/apt/sources.list"), []byte(sources), 0o644); err != nil {
		t.Fatal(err)
	}
	opts = append([]string{
		"-o", "Dir=" + apt,
		"-o", "Dir::Etc=" + filepath.Join(apt, "etc/apt"),
		"-o", "Dir::State::status=" + filepath.Join(apt, "var/lib/dpkg/status"),
		"-o", "Dir::Log=" + filepath.Join(apt, "log"),
		"-o", "Debug::NoLocking=1",
		"-o", "APT::Architecture=amd64",
		"-o", "APT::Architectures::=amd64",
		"-o", "Acquire::Languages=none",
		"-o", "APT::Sandbox::User=root",
	}, opts...)
	return func(args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], append(opts, args[1:]...)...)
		cmd.Dir = filepath.Join(apt, "download")
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}, apt
}

// TestAptGetBlocks: apt-get reads Packages.gz as Pier writes it for a
// larger target (concatenated gzip members, one per block) and Packages.xz
// (a multi-block stream), each on its own: every package is seen.
func TestAptGetBlocks(t *testing.T) {
	if _, err := exec.LookPath("apt-get"); err != nil {
		if isCI() {
			t.Fatal("apt-get is required when CI=true")
		}
		t.Skip("apt-get not installed")
	}
	f := New(Config{Contents: SwitchOff})
	signer := newPGPSigner(t)
	pkgs := syntheticPackagesFiles(t, 1500, 0)
	files, err := f.Index(context.Background(), &repo.IndexInput{Target: repo.Target{Stream: "5.8", Distro: "debian", Release: "bookworm"},
		Packages: pkgs, Time: time.Now().Add(-time.Minute), Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, p := range pkgs {
		if p.Arch == "amd64" || p.Arch == "all" {
			want++
		}
	}
	for _, variant := range []string{"gz", "xz"} {
		t.Run(variant, func(t *testing.T) {
			www := filepath.Join(t.TempDir(), "www")
			for _, file := range files {
				if file.Kind == repo.KindPackage || strings.Contains(file.Path, "/by-hash/") ||
					strings.HasSuffix(file.Path, "/Packages") || (strings.Contains(file.Path, "/Packages.") && !strings.HasSuffix(file.Path, "."+variant)) {
					continue // apt must read this variant, and only it
				}
				if strings.HasSuffix(file.Path, "binary-amd64/Packages."+variant) {
					if n := members(t, variant, file.Data); n < 3 {
						t.Fatalf("%s has %d members, want several", file.Path, n)
					}
				}
				p := filepath.Join(www, filepath.FromSlash(file.Path))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, file.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			run, _ := aptEnv(t, www, signer.PublicKey(), "main", "-o", "Acquire::By-Hash=no",
				"-o", "Acquire::CompressionTypes::Order::="+variant)
			if out := run("apt-get", "update"); strings.Contains(out, "W:") || strings.Contains(out, "E:") {
				t.Fatalf("apt-get update:\n%s", out)
			}
			dump := run("apt-cache", "dumpavail")
			if got := strings.Count(dump, "\nPackage: ") + map[bool]int{true: 1}[strings.HasPrefix(dump, "Package: ")]; got != want {
				t.Errorf("apt sees %d packages, want %d", got, want)
			}
		})
	}
}

// members counts the gzip members or xz blocks of data.
func members(t *testing.T, variant string, data []byte) int {
	t.Helper()
	if variant == "gz" {
		ms, ok := gzmember.Split(data)
		if !ok {
			t.Fatal("Packages.gz does not split into gzip members")
		}
		return len(ms)
	}
	footer := data[len(data)-12:]
	index := data[len(data)-12-(int(binary.LittleEndian.Uint32(footer[4:8]))+1)*4:]
	n, _ := binary.Uvarint(index[1:])
	return int(n)
}

// TestAptFtparchiveOrder checks that the field order of our stanzas is the
// one apt-ftparchive writes for the same .deb.
func TestAptFtparchiveOrder(t *testing.T) {
	if _, err := exec.LookPath("apt-ftparchive"); err != nil {
		t.Skip("apt-ftparchive not installed")
	}
	f := New(Config{})
	b := build(t, debtest.Options{Package: "hello", Version: "1:1.0-1", Arch: "amd64", Depends: "libc6", Description: "d\n long\n .\n more",
		Fields: []debtest.Field{{Name: "X-Zeta", Value: "z"}, {Name: "Homepage", Value: "https://example.org"}, {Name: "Section", Value: "misc"},
			{Name: "Source", Value: "hello-src (1.0-1)"}, {Name: "Multi-Arch", Value: "foreign"}, {Name: "Recommends", Value: "x"}, {Name: "Built-Using", Value: "y (= 1)"}}})
	dir := t.TempDir()
	poolDir := filepath.Join(dir, "pool")
	if err := os.MkdirAll(poolDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(poolDir, "hello.deb"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("apt-ftparchive", "packages", "pool")
	cmd.Dir = dir
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("apt-ftparchive: %v", err)
	}
	p := ingest(t, f, "main", b)
	in := &repo.IndexInput{Target: repo.Target{Stream: "1", Distro: "debian", Release: "x"}, Packages: []repo.Package{p}, Time: goldenTime, Signer: fakeSigner{}}
	_, byPath := index(t, f, in)
	got := byPath["deb/1/debian/dists/x/main/binary-amd64/Packages"].Data
	names := func(stanza []byte) []string {
		fields, reason := parseStanza(stanza, 128)
		if reason != "" {
			t.Fatalf("%s\n%s", reason, stanza)
		}
		var n []string
		for _, f := range fields {
			if f.Name != "SHA512" { // apt-ftparchive adds SHA512; we do not
				n = append(n, f.Name)
			}
		}
		return n
	}
	if g, w := strings.Join(names(got), " "), strings.Join(names(want), " "); g != w {
		t.Errorf("field order\n got: %s\nwant: %s", g, w)
	}
	desc := func(stanza []byte) string {
		fields, _ := parseStanza(stanza, 128)
		v, _ := lookup(fields, "Description")
		return v
	}
	if desc(got) != desc(want) {
		t.Errorf("Description %q, apt-ftparchive %q", desc(got), desc(want))
	}
}
