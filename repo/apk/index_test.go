package apk

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	goapk "github.com/chainguard-dev/go-apk/pkg/apk"
	apkfs "github.com/chainguard-dev/go-apk/pkg/fs"

	"github.com/pierhq/pier/repo"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	testTarget = repo.Target{Stream: "5.8", Distro: "alpine", Release: "v3.20"}
	testTime   = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
)

// testRepo is the fixtures of the golden test: the nfpm packages in main
// and a riscv64 package in a second component; blobs maps sha256 to bytes.
func testRepo(t testing.TB, f *Format) (pkgs []repo.Package, blobs map[string][]byte) {
	t.Helper()
	blobs = map[string][]byte{}
	add := func(component string, data []byte) {
		p := readPackage(t, f, component, data)
		pkgs = append(pkgs, p)
		blobs[p.SHA256] = data
	}
	for _, fx := range fixtures(t) {
		add("main", fx.data)
	}
	add("community", rawPkg{pkginfo: "pkgname = riscy\npkgver = 0.1_git20250101-r0\narch = riscv64\nsize = 5\n" +
		"pkgdesc = Runs on RISC-V\nurl = https://example.org\nlicense = Apache-2.0\norigin = riscy\n" +
		"builddate = 1735689600\nprovider_priority = 100\ndepend = hello-data\ninstall_if = hello riscv-base\n"}.build(t))
	return pkgs, blobs
}

func TestIndexGolden(t *testing.T) {
	f := newTestFormat(t, Config{})
	pkgs, _ := testRepo(t, f)
	files, err := f.Index(context.Background(), &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: testTime})
	if err != nil {
		t.Fatal(err)
	}
	var listing strings.Builder
	for _, file := range files {
		fmt.Fprintf(&listing, "%d %s\n", file.Kind, file.Path)
		if file.Kind != repo.KindRoot {
			continue
		}
		_, entries := readIndex(t, file.Data)
		dir := strings.TrimPrefix(filepath.Dir(file.Path), "apk/5.8/alpine/v3.20/")
		golden(t, strings.ReplaceAll(dir, "/", "_")+".APKINDEX", entries["APKINDEX"])
		if want := "Pier 5.8 v3.20 " + strings.Split(dir, "/")[0]; string(entries["DESCRIPTION"]) != want {
			t.Errorf("%s: DESCRIPTION %q, want %q", file.Path, entries["DESCRIPTION"], want)
		}
	}
	golden(t, "files.txt", []byte(listing.String()))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update and review the diff):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// readIndex splits an APKINDEX.tar.gz with the standard library alone and
// returns its gzip members and the entries of the index member.
func readIndex(t testing.TB, data []byte) ([][]byte, map[string][]byte) {
	t.Helper()
	members := gzipMembers(t, data)
	zr, err := gzip.NewReader(bytes.NewReader(members[len(members)-1]))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	entries := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if entries[hdr.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
	return members, entries
}

func testPublicKey(t testing.TB) *rsa.PublicKey {
	t.Helper()
	blk, _ := pem.Decode(testPublicKeyPEM(t))
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return pub.(*rsa.PublicKey)
}

// TestIndexVerifyIndependently re-reads every APKINDEX.tar.gz with
// archive/tar, compress/gzip and crypto/rsa only: the two-member layout, the
// signature entry, the signature over the exact bytes of member 2, the tar
// headers, the stanza order and every C: and S: against the package bytes.
func TestIndexVerifyIndependently(t *testing.T) {
	f := newTestFormat(t, Config{})
	pkgs, blobs := testRepo(t, f)
	files, err := f.Index(context.Background(), &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: testTime})
	if err != nil {
		t.Fatal(err)
	}
	pub := testPublicKey(t)
	byPath := map[string]repo.File{}
	for _, file := range files {
		byPath[file.Path] = file
	}
	indexes := 0
	for _, file := range files {
		if file.Kind != repo.KindRoot {
			if file.Kind != repo.KindPackage || !strings.HasSuffix(file.Path, ".apk") || blobs[file.SHA256] == nil ||
				file.Size != int64(len(blobs[file.SHA256])) {
				t.Errorf("%s: unexpected file %+v", file.Path, file)
			}
			continue
		}
		indexes++
		dir := filepath.Dir(file.Path)
		t.Run(dir, func(t *testing.T) {
			members := gzipMembers(t, file.Data)
			if len(members) != 2 {
				t.Fatalf("%d gzip members, want 2", len(members))
			}
			// Member 1: one cut tar entry holding the signature.
			zr, err := gzip.NewReader(bytes.NewReader(members[0]))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			tr := tar.NewReader(bytes.NewReader(raw))
			hdr, err := tr.Next()
			if err != nil {
				t.Fatal(err)
			}
			if hdr.Name != ".SIGN.RSA."+testKeyName {
				t.Errorf("signature entry %q, want %q", hdr.Name, ".SIGN.RSA."+testKeyName)
			}
			checkHeader(t, hdr)
			sig, _ := io.ReadAll(tr)
			if want := 512 + (len(sig)+511)/512*512; len(raw) != want {
				t.Errorf("signature stream is %d bytes uncompressed, want %d (one entry, no end-of-archive blocks)", len(raw), want)
			}
			digest := sha1.Sum(file.Data[len(members[0]):])
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, digest[:], sig); err != nil {
				t.Errorf("signature does not verify: %v", err)
			}
			if !bytes.Equal(file.Data[len(members[0]):], members[1]) {
				t.Error("the signed bytes are not exactly member 2")
			}

			// Member 2: DESCRIPTION, APKINDEX, end-of-archive.
			zr, err = gzip.NewReader(bytes.NewReader(members[1]))
			if err != nil {
				t.Fatal(err)
			}
			raw, err = io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw)%512 != 0 || !bytes.Equal(raw[len(raw)-1024:], make([]byte, 1024)) {
				t.Error("index tar does not end with end-of-archive blocks")
			}
			tr = tar.NewReader(bytes.NewReader(raw))
			var names []string
			var text []byte
			for {
				hdr, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				checkHeader(t, hdr)
				names = append(names, hdr.Name)
				if hdr.Name == "APKINDEX" {
					text, _ = io.ReadAll(tr)
				}
			}
			if !slices.Equal(names, []string{"DESCRIPTION", "APKINDEX"}) {
				t.Errorf("entries %q", names)
			}
			checkStanzas(t, dir, text, byPath, blobs)
		})
	}
	if indexes != 2*3 { // main, community × x86_64, aarch64, riscv64
		t.Errorf("%d indexes, want 6", indexes)
	}
}

func checkHeader(t *testing.T, hdr *tar.Header) {
	t.Helper()
	if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "root" || hdr.Gname != "root" || hdr.Mode != 0o644 ||
		!hdr.ModTime.Equal(testTime) || hdr.Typeflag != tar.TypeReg {
		t.Errorf("%s: header %+v", hdr.Name, hdr)
	}
}

// checkStanzas parses APKINDEX text and checks it against the published
// package files of dir.
func checkStanzas(t *testing.T, dir string, text []byte, byPath map[string]repo.File, blobs map[string][]byte) {
	t.Helper()
	if len(text) > 0 && !bytes.HasSuffix(text, []byte("\n\n")) {
		t.Error("APKINDEX does not end with a blank line")
	}
	listed := map[string]bool{}
	var prevName, prevVersion string
	for stanza := range strings.SplitSeq(strings.TrimSuffix(string(text), "\n\n"), "\n\n") {
		if stanza == "" {
			continue
		}
		fields := map[string]string{}
		var order []string
		for line := range strings.SplitSeq(stanza, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok || len(k) != 1 {
				t.Fatalf("bad line %q", line)
			}
			fields[k] = v
			order = append(order, k)
		}
		if want := "CPVASITUL"; len(order) < len(want) || strings.Join(order[:len(want)], "") != want {
			t.Errorf("field order %q", order)
		}
		path := dir + "/" + fields["P"] + "-" + fields["V"] + ".apk"
		listed[path] = true
		pf, ok := byPath[path]
		if !ok {
			t.Errorf("%s is in the index but not published", path)
			continue
		}
		data := blobs[pf.SHA256]
		signed := len(gzipMembers(t, data)) == 3
		if fields["C"] != wantChecksum(t, data, signed) {
			t.Errorf("%s: C:%s, want %s", path, fields["C"], wantChecksum(t, data, signed))
		}
		if fields["S"] != fmt.Sprint(len(data)) {
			t.Errorf("%s: S:%s, want %d", path, fields["S"], len(data))
		}
		if arch := filepath.Base(dir); fields["A"] != arch && fields["A"] != "noarch" {
			t.Errorf("%s: A:%s in %s", path, fields["A"], arch)
		}
		if prevName > fields["P"] || prevName == fields["P"] && CompareVersions(prevVersion, fields["V"]) >= 0 {
			t.Errorf("stanzas out of order: %s %s before %s %s", prevName, prevVersion, fields["P"], fields["V"])
		}
		prevName, prevVersion = fields["P"], fields["V"]
	}
	for p, file := range byPath {
		if file.Kind == repo.KindPackage && filepath.Dir(p) == dir && !listed[p] {
			t.Errorf("%s is published but not in the index", p)
		}
	}
}

// TestIndexGoApk loads the published repository with go-apk (a separate
// client implementation) over HTTP: it verifies the index signature with the
// public key, lists the packages, downloads them and checks each against
// the index's C: and S: (go-apk does not check those itself).
func TestIndexGoApk(t *testing.T) {
	f := newTestFormat(t, Config{})
	pkgs, blobs := testRepo(t, f)
	files, err := f.Index(context.Background(), &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: testTime})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveFiles(t, files, blobs)
	ctx := context.Background()
	keys := map[string][]byte{testKeyName: testPublicKeyPEM(t)}
	repoURL := srv.URL + "/apk/5.8/alpine/v3.20/main"

	want := map[string][]string{
		"x86_64":  {"hello 1.0.0-r0 x86_64", "hello 1.0.10-r1 x86_64", "hello-data 2.1_rc1-r3 noarch"},
		"aarch64": {"hello 1.0.0-r0 aarch64", "hello-data 2.1_rc1-r3 noarch"},
		"riscv64": {"hello-data 2.1_rc1-r3 noarch"},
	}
	for arch, wantPkgs := range want {
		t.Run(arch, func(t *testing.T) {
			indexes, err := goapk.GetRepositoryIndexes(ctx, []string{repoURL}, keys, arch, goapk.WithHTTPClient(srv.Client()))
			if err != nil {
				t.Fatal(err)
			}
			if len(indexes) != 1 {
				t.Fatalf("%d indexes", len(indexes))
			}
			a, err := goapk.New(goapk.WithFS(apkfs.NewMemFS()), goapk.WithArch(arch))
			if err != nil {
				t.Fatal(err)
			}
			a.SetClient(srv.Client())
			var got []string
			for _, p := range indexes[0].Packages() {
				got = append(got, p.Name+" "+p.Version+" "+p.Arch)
				rc, err := a.FetchPackage(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				data, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				parsed, err := goapk.ParsePackage(ctx, bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(parsed.Checksum, p.Checksum) || parsed.Size != p.Size {
					t.Errorf("%s: downloaded package C:%s S:%d, index says C:%s S:%d",
						p.URL(), parsed.ChecksumString(), parsed.Size, p.ChecksumString(), p.Size)
				}
			}
			if !slices.Equal(got, wantPkgs) {
				t.Errorf("packages %q, want %q", got, wantPkgs)
			}
		})
	}

	// A key that did not sign the index is refused.
	other, err := rsa.GenerateKey(crand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	otherPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	srv2 := serveFiles(t, files, blobs) // go-apk caches indexes by URL
	_, err = goapk.GetRepositoryIndexes(ctx, []string{srv2.URL + "/apk/5.8/alpine/v3.20/main"},
		map[string][]byte{testKeyName: otherPEM}, "x86_64", goapk.WithHTTPClient(srv2.Client()))
	if err == nil {
		t.Error("go-apk accepted the index with the wrong key")
	}
}

// serveFiles serves a generation like Pier does: index bytes from Data,
// packages from their blobs.
func serveFiles(t *testing.T, files []repo.File, blobs map[string][]byte) *httptest.Server {
	t.Helper()
	byPath := map[string][]byte{}
	for _, file := range files {
		if file.Data != nil {
			byPath["/"+file.Path] = file.Data
		} else {
			byPath["/"+file.Path] = blobs[file.SHA256]
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := byPath[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestIndexDeterministic(t *testing.T) {
	f := newTestFormat(t, Config{})
	pkgs, _ := testRepo(t, f)
	in := &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: testTime}
	first, err := f.Index(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		shuffled := slices.Clone(pkgs)
		rand.New(rand.NewPCG(uint64(i), 7)).Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		again, err := f.Index(context.Background(), &repo.IndexInput{Target: testTarget, Packages: shuffled, Time: testTime})
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != len(first) {
			t.Fatalf("%d files, then %d", len(first), len(again))
		}
		for j := range first {
			a, b := first[j], again[j]
			if a.Path != b.Path || a.SHA256 != b.SHA256 || a.Size != b.Size || a.Kind != b.Kind || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("run %d: %s differs", i, a.Path)
			}
		}
	}
	// A later time changes the indexes (mtime) but nothing else.
	later, err := f.Index(context.Background(), &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: testTime.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	for j := range first {
		if first[j].Kind == repo.KindRoot && bytes.Equal(later[j].Data, first[j].Data) {
			t.Errorf("%s did not change with the time", first[j].Path)
		}
		if first[j].Kind == repo.KindPackage && (later[j].Path != first[j].Path || later[j].SHA256 != first[j].SHA256) {
			t.Errorf("%s changed with the time", first[j].Path)
		}
	}
}

func TestIndexUnsigned(t *testing.T) {
	f := New(Config{}, nil)
	data := rawPkg{}.build(t)
	p := readPackage(t, f, "main", data)
	files, err := f.Index(context.Background(), &repo.IndexInput{Target: testTarget, Packages: []repo.Package{p}, Time: testTime})
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if file.Kind == repo.KindRoot {
			members, entries := readIndex(t, file.Data)
			if len(members) != 1 || entries["APKINDEX"] == nil {
				t.Errorf("%s: %d members, entries %v", file.Path, len(members), slices.Collect(mapsKeys(entries)))
			}
		}
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestIndexSelection(t *testing.T) {
	f := newTestFormat(t, Config{Architectures: []string{"x86_64"}, Components: []string{"main", "extra"}})
	mk := func(comp, name, version, arch string) repo.Package {
		data := rawPkg{pkginfo: fmt.Sprintf("pkgname = %s\npkgver = %s\narch = %s\n", name, version, arch)}.build(t)
		return readPackage(t, f, comp, data)
	}
	tests := []struct {
		name    string
		pkgs    []repo.Package
		want    map[string][]string // dir → "P V A" in index order
		wantErr string
	}{
		{name: "empty target publishes configured dirs", want: map[string][]string{"main/x86_64": nil, "extra/x86_64": nil}},
		{name: "arch beats noarch of the same version", pkgs: []repo.Package{
			mk("main", "tool", "1.0-r0", "noarch"), mk("main", "tool", "1.0-r0", "x86_64"), mk("main", "tool", "1.0-r0", "armv7")},
			want: map[string][]string{
				"main/x86_64": {"tool 1.0-r0 x86_64"}, "main/armv7": {"tool 1.0-r0 armv7"},
				"extra/x86_64": nil, "extra/armv7": nil}},
		{name: "version order is apk order", pkgs: []repo.Package{
			mk("main", "a", "1.10-r0", "x86_64"), mk("main", "a", "1.9-r0", "x86_64"), mk("main", "a", "1.9_rc1-r0", "x86_64"),
			mk("main", "a-b", "1-r0", "x86_64"), mk("main", "B", "1-r0", "x86_64")},
			want: map[string][]string{"main/x86_64": {"B 1-r0 x86_64", "a 1.9_rc1-r0 x86_64", "a 1.9-r0 x86_64", "a 1.10-r0 x86_64", "a-b 1-r0 x86_64"},
				"extra/x86_64": nil}},
		{name: "duplicate package", pkgs: []repo.Package{mk("main", "dup", "1-r0", "x86_64"), mk("main", "dup", "1-r0", "x86_64")},
			wantErr: "twice"},
		{name: "bad meta", pkgs: func() []repo.Package {
			p := mk("main", "x", "1-r0", "x86_64")
			p.Meta = []byte("garbage")
			return []repo.Package{p}
		}(), wantErr: "not an apk index stanza"},
		{name: "meta of another package", pkgs: func() []repo.Package {
			p := mk("main", "x", "1-r0", "x86_64")
			p.Name = "y"
			return []repo.Package{p}
		}(), wantErr: "not an apk index stanza"},
		{name: "bad component", pkgs: func() []repo.Package {
			p := mk("main", "x", "1-r0", "x86_64")
			p.Component = "../etc"
			return []repo.Package{p}
		}(), wantErr: "component"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := f.Index(context.Background(), &repo.IndexInput{Target: testTarget, Packages: tt.pkgs, Time: testTime})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, file := range files {
				if file.Kind != repo.KindRoot {
					continue
				}
				dir := strings.TrimSuffix(strings.TrimPrefix(file.Path, "apk/5.8/alpine/v3.20/"), "/APKINDEX.tar.gz")
				_, entries := readIndex(t, file.Data)
				got[dir] = nil
				for stanza := range strings.SplitSeq(strings.TrimSpace(string(entries["APKINDEX"])), "\n\n") {
					if stanza != "" {
						m := []byte(stanza + "\n")
						got[dir] = append(got[dir], stanzaField(m, "P")+" "+stanzaField(m, "V")+" "+stanzaField(m, "A"))
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

type failingSigner struct{}

func (failingSigner) KeyName() string                      { return "x.rsa.pub" }
func (failingSigner) SignSHA1(data []byte) ([]byte, error) { return nil, errors.New("hsm unplugged") }
func (failingSigner) Public() *rsa.PublicKey               { return nil }

func TestIndexErrors(t *testing.T) {
	ctx := context.Background()
	f := New(Config{}, failingSigner{})
	if _, err := f.Index(ctx, &repo.IndexInput{Target: testTarget, Time: testTime}); err == nil || !strings.Contains(err.Error(), "hsm unplugged") {
		t.Errorf("signer failure: %v", err)
	}
	f = newTestFormat(t, Config{})
	if _, err := f.Index(ctx, &repo.IndexInput{Target: repo.Target{Stream: "..", Distro: "alpine", Release: "v3.20"}, Time: testTime}); err == nil {
		t.Error("target with .. accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Index(cctx, &repo.IndexInput{Target: testTarget, Time: testTime}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// BenchmarkIndex10k publishes 10,000 synthetic packages (x86_64 plus some
// noarch) in one component: the cost of a publish after the first.
func BenchmarkIndex10k(b *testing.B) {
	f := newTestFormat(b, Config{})
	pkgs := benchPackages(10000)
	in := &repo.IndexInput{Target: testTarget, Packages: pkgs, Time: testTime}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		files, err := f.Index(context.Background(), in)
		if err != nil {
			b.Fatal(err)
		}
		if len(files) < 10000 {
			b.Fatal(len(files))
		}
		for _, file := range files {
			if file.Path == "apk/5.8/alpine/v3.20/main/x86_64/APKINDEX.tar.gz" {
				b.ReportMetric(float64(len(file.Data)), "x86_64-index-bytes")
			}
		}
	}
}

// benchPackages makes n synthetic catalog rows (x86_64, every tenth noarch)
// in component main.
func benchPackages(n int) []repo.Package {
	pkgs := make([]repo.Package, n)
	for i := range pkgs {
		name := fmt.Sprintf("pkg%05d", i)
		arch := "x86_64"
		if i%10 == 0 {
			arch = "noarch"
		}
		version := fmt.Sprintf("%d.%d.%d-r%d", i%7, i%13, i%100, i%3)
		sum := sha256.Sum256([]byte(name))
		meta := fmt.Sprintf("C:Q1%s=\nP:%s\nV:%s\nA:%s\nS:%d\nI:%d\nT:Synthetic package number %d for the benchmark\nU:https://example.com/%s\nL:MIT\no:%s\nm:Bench <bench@example.com>\nt:1700000000\nD:so:libc.musl-x86_64.so.1 busybox>=1.36\np:cmd:%s=%s\n",
			hex.EncodeToString(sum[:20])[:27], name, version, arch, 10000+i, 50000+i, i, name, name, name, version)
		pkgs[i] = repo.Package{Component: "main", Name: name, Version: version, Arch: arch, Size: int64(10000 + i),
			SHA256: hex.EncodeToString(sum[:]), Meta: []byte(meta)}
	}
	return pkgs
}
