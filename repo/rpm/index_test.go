package rpm

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/pierhq/pier/repo"
)

// fakeSigner signs deterministically, so golden files stay stable.
type fakeSigner struct{}

func (fakeSigner) ClearSign(msg []byte) ([]byte, error) {
	return append([]byte("-----BEGIN PGP SIGNED MESSAGE-----\n\n"), msg...), nil
}

func (fakeSigner) DetachSign(msg []byte) ([]byte, error) {
	sum := sha256.Sum256(msg)
	return []byte("-----BEGIN PGP SIGNATURE-----\n\nfake " + hex.EncodeToString(sum[:]) + "\n-----END PGP SIGNATURE-----\n"), nil
}

func (fakeSigner) PublicKey() []byte {
	return []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nfake\n-----END PGP PUBLIC KEY BLOCK-----\n")
}

var testTarget = repo.Target{Stream: "5.8", Distro: "el", Release: "9"}

const testBase = "rpm/5.8/el/9/"

// catalogPackage reads b as an upload would and returns the catalog record.
func catalogPackage(t testing.TB, f *Format, b []byte, uploaded time.Time) repo.Package {
	t.Helper()
	sum := sha256.Sum256(b)
	hexSum := hex.EncodeToString(sum[:])
	p, err := f.Read(context.Background(), bytes.NewReader(b), int64(len(b)), repo.Sums{repo.SHA256: hexSum})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return repo.Package{
		Name: p.Name, Version: p.Version, Arch: p.Arch, Size: int64(len(b)),
		SHA256: hexSum, Sums: repo.Sums{repo.SHA256: hexSum}, Meta: p.Meta, Uploaded: uploaded,
	}
}

// fixturePackages returns the committed fixtures as catalog records, each
// uploaded a minute after the previous one.
func fixturePackages(t testing.TB, f *Format) []repo.Package {
	var pkgs []repo.Package
	for i, name := range fixtureFiles {
		pkgs = append(pkgs, catalogPackage(t, f, readFixture(t, name), fixtureTime.Add(time.Duration(i)*time.Minute)))
	}
	return pkgs
}

func index(t testing.TB, f *Format, pkgs []repo.Package) []repo.File {
	t.Helper()
	files, err := f.Index(context.Background(), &repo.IndexInput{
		Target: testTarget, Packages: pkgs, Time: fixtureTime.Add(time.Hour), Signer: fakeSigner{},
	})
	if err != nil {
		t.Fatalf("index: %v", err)
	}
	return files
}

// published is an Index result by path, with its repodata decompressed.
type published struct {
	files  map[string]repo.File
	repomd []byte
	xml    map[string][]byte // "primary", "filelists", "other" → uncompressed
	hrefs  map[string]string // "primary" → href from repomd
	md     repomdXML
}

type repomdXML struct {
	Revision string `xml:"revision"`
	Data     []struct {
		Type         string `xml:"type,attr"`
		Checksum     string `xml:"checksum"`
		OpenChecksum string `xml:"open-checksum"`
		Location     struct {
			Href string `xml:"href,attr"`
		} `xml:"location"`
		Timestamp string `xml:"timestamp"`
		Size      int64  `xml:"size"`
		OpenSize  int64  `xml:"open-size"`
	} `xml:"data"`
}

func decompress(t testing.TB, name string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch {
	case strings.HasSuffix(name, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r = zr
	case strings.HasSuffix(name, ".zst"):
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("unknown compression: %s", name)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

// open checks the binary repository's repomd.xml against the files it
// names and decompresses them.
func open(t testing.TB, files []repo.File) *published {
	t.Helper()
	return openAt(t, files, testBase)
}

// openAt is open for the repository whose repodata/ lies at base.
func openAt(t testing.TB, files []repo.File, base string) *published {
	t.Helper()
	testBase := base
	p := &published{files: map[string]repo.File{}, xml: map[string][]byte{}, hrefs: map[string]string{}}
	for _, f := range files {
		if _, dup := p.files[f.Path]; dup {
			t.Fatalf("duplicate path %s", f.Path)
		}
		p.files[f.Path] = f
	}
	md, ok := p.files[testBase+"repodata/repomd.xml"]
	if !ok {
		t.Fatal("no repomd.xml")
	}
	p.repomd = md.Data
	if err := xml.Unmarshal(md.Data, &p.md); err != nil {
		t.Fatalf("repomd.xml: %v", err)
	}
	for _, d := range p.md.Data {
		f, ok := p.files[testBase+d.Location.Href]
		if !ok {
			t.Fatalf("repomd names %s, which is not published", d.Location.Href)
		}
		if f.Kind != repo.KindHashed {
			t.Errorf("%s: kind %d, want KindHashed", f.Path, f.Kind)
		}
		sum := sha256.Sum256(f.Data)
		if got := hex.EncodeToString(sum[:]); got != d.Checksum || !strings.Contains(d.Location.Href, got+"-"+d.Type+".xml.") {
			t.Errorf("%s: checksum %s, repomd says %s", d.Type, got, d.Checksum)
		}
		if int64(len(f.Data)) != d.Size {
			t.Errorf("%s: size %d, repomd says %d", d.Type, len(f.Data), d.Size)
		}
		plain := decompress(t, f.Path, f.Data)
		sum = sha256.Sum256(plain)
		if got := hex.EncodeToString(sum[:]); got != d.OpenChecksum {
			t.Errorf("%s: open checksum %s, repomd says %s", d.Type, got, d.OpenChecksum)
		}
		if int64(len(plain)) != d.OpenSize {
			t.Errorf("%s: open size %d, repomd says %d", d.Type, len(plain), d.OpenSize)
		}
		p.xml[d.Type] = plain
		p.hrefs[d.Type] = d.Location.Href
	}
	for _, typ := range []string{"primary", "filelists", "other"} {
		if p.xml[typ] == nil {
			t.Fatalf("repomd lacks %s", typ)
		}
	}
	return p
}

// XML shapes for reading the repodata back, with encoding/xml. Go matches
// the prefixed names by local name ("entry" for "rpm:entry").
type xmlEntry struct {
	Name  string `xml:"name,attr"`
	Flags string `xml:"flags,attr"`
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
	Pre   string `xml:"pre,attr"`
}

type xmlFile struct {
	Type string `xml:"type,attr"`
	Path string `xml:",chardata"`
}

type xmlVersion struct {
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
}

type xmlDeps struct {
	Entries []xmlEntry `xml:"entry"`
}

type primaryXML struct {
	XMLName  xml.Name `xml:"metadata"`
	Count    int      `xml:"packages,attr"`
	Packages []struct {
		Type     string     `xml:"type,attr"`
		Name     string     `xml:"name"`
		Arch     string     `xml:"arch"`
		Version  xmlVersion `xml:"version"`
		Checksum struct {
			Type  string `xml:"type,attr"`
			PkgID string `xml:"pkgid,attr"`
			Value string `xml:",chardata"`
		} `xml:"checksum"`
		Summary     string `xml:"summary"`
		Description string `xml:"description"`
		Packager    string `xml:"packager"`
		URL         string `xml:"url"`
		Time        struct {
			File  int64 `xml:"file,attr"`
			Build int64 `xml:"build,attr"`
		} `xml:"time"`
		Size struct {
			Package   int64 `xml:"package,attr"`
			Installed int64 `xml:"installed,attr"`
			Archive   int64 `xml:"archive,attr"`
		} `xml:"size"`
		Location struct {
			Href string `xml:"href,attr"`
		} `xml:"location"`
		Format struct {
			License     string `xml:"license"`
			Vendor      string `xml:"vendor"`
			Group       string `xml:"group"`
			BuildHost   string `xml:"buildhost"`
			SourceRPM   string `xml:"sourcerpm"`
			HeaderRange struct {
				Start int64 `xml:"start,attr"`
				End   int64 `xml:"end,attr"`
			} `xml:"header-range"`
			Provides    xmlDeps   `xml:"provides"`
			Requires    xmlDeps   `xml:"requires"`
			Conflicts   xmlDeps   `xml:"conflicts"`
			Obsoletes   xmlDeps   `xml:"obsoletes"`
			Suggests    xmlDeps   `xml:"suggests"`
			Enhances    xmlDeps   `xml:"enhances"`
			Recommends  xmlDeps   `xml:"recommends"`
			Supplements xmlDeps   `xml:"supplements"`
			Files       []xmlFile `xml:"file"`
		} `xml:"format"`
	} `xml:"package"`
}

type filelistsXML struct {
	XMLName  xml.Name `xml:"filelists"`
	Count    int      `xml:"packages,attr"`
	Packages []struct {
		PkgID   string     `xml:"pkgid,attr"`
		Name    string     `xml:"name,attr"`
		Arch    string     `xml:"arch,attr"`
		Version xmlVersion `xml:"version"`
		Files   []xmlFile  `xml:"file"`
	} `xml:"package"`
}

type otherXML struct {
	XMLName  xml.Name `xml:"otherdata"`
	Count    int      `xml:"packages,attr"`
	Packages []struct {
		PkgID     string     `xml:"pkgid,attr"`
		Name      string     `xml:"name,attr"`
		Arch      string     `xml:"arch,attr"`
		Version   xmlVersion `xml:"version"`
		Changelog []struct {
			Author string `xml:"author,attr"`
			Date   int64  `xml:"date,attr"`
			Text   string `xml:",chardata"`
		} `xml:"changelog"`
	} `xml:"package"`
}

func unmarshal(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := xml.Unmarshal(b, v); err != nil {
		t.Fatalf("unmarshal %T: %v", v, err)
	}
}

// TestIndexGolden holds the binary repository's repodata and the source
// repository's (source-*.xml: the fixtures' one .src.rpm) to golden files.
func TestIndexGolden(t *testing.T) {
	f := newTestFormat()
	files := index(t, f, fixturePackages(t, f))
	p, src := open(t, files), openAt(t, files, testBase+SourceDir)
	for name, got := range map[string][]byte{
		"primary.xml": p.xml["primary"], "filelists.xml": p.xml["filelists"], "other.xml": p.xml["other"], "repomd.xml": p.repomd,
		"source-primary.xml": src.xml["primary"], "source-filelists.xml": src.xml["filelists"],
		"source-other.xml": src.xml["other"], "source-repomd.xml": src.repomd,
	} {
		path := filepath.Join("testdata", "golden", name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the golden file (run go test -update after checking the change):\n%s", name, firstDiff(got, want))
		}
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return "(identical lines)"
}

func TestIndexConsistency(t *testing.T) {
	f := newTestFormat()
	pkgs := fixturePackages(t, f)
	files := index(t, f, pkgs)
	p := open(t, files)
	src := openAt(t, files, testBase+SourceDir)

	var pri, spri primaryXML
	var fl filelistsXML
	var ot otherXML
	unmarshal(t, p.xml["primary"], &pri)
	unmarshal(t, p.xml["filelists"], &fl)
	unmarshal(t, p.xml["other"], &ot)
	unmarshal(t, src.xml["primary"], &spri)
	// The source package is in the source repository only.
	if len(spri.Packages) != 1 || spri.Packages[0].Arch != "src" || spri.Packages[0].Location.Href != "Packages/e3/greet-1.0-1.src.rpm" {
		t.Errorf("source primary: %+v", spri.Packages)
	} else if pf, ok := src.files[testBase+SourceDir+"Packages/e3/greet-1.0-1.src.rpm"]; !ok || pf.Kind != repo.KindPackage ||
		pf.SHA256 != spri.Packages[0].Checksum.Value {
		t.Errorf("source package published as %+v", pf)
	}
	n := len(pkgs) - 1
	if pri.Count != n || len(pri.Packages) != n || fl.Count != n || len(fl.Packages) != n || ot.Count != n || len(ot.Packages) != n {
		t.Fatalf("counts: primary %d/%d filelists %d/%d other %d/%d, want %d",
			pri.Count, len(pri.Packages), fl.Count, len(fl.Packages), ot.Count, len(ot.Packages), n)
	}
	type ident struct{ id, name, arch, e, v, r string }
	var wantOrder []string
	for i, pp := range pri.Packages {
		a := ident{pp.Checksum.Value, pp.Name, pp.Arch, pp.Version.Epoch, pp.Version.Ver, pp.Version.Rel}
		b := ident{fl.Packages[i].PkgID, fl.Packages[i].Name, fl.Packages[i].Arch, fl.Packages[i].Version.Epoch, fl.Packages[i].Version.Ver, fl.Packages[i].Version.Rel}
		c := ident{ot.Packages[i].PkgID, ot.Packages[i].Name, ot.Packages[i].Arch, ot.Packages[i].Version.Epoch, ot.Packages[i].Version.Ver, ot.Packages[i].Version.Rel}
		if a != b || a != c {
			t.Errorf("package %d differs: primary %+v filelists %+v other %+v", i, a, b, c)
		}
		if pp.Type != "rpm" || pp.Checksum.Type != "sha256" || pp.Checksum.PkgID != "YES" {
			t.Errorf("package %d: type %q checksum %q/%q", i, pp.Type, pp.Checksum.Type, pp.Checksum.PkgID)
		}
		pf, ok := p.files[testBase+pp.Location.Href]
		if !ok {
			t.Errorf("%s: location %s is not published", pp.Name, pp.Location.Href)
			continue
		}
		if pf.Kind != repo.KindPackage || pf.SHA256 != pp.Checksum.Value || pf.Size != pp.Size.Package {
			t.Errorf("%s: published %+v, primary says %s %d", pp.Name, pf, pp.Checksum.Value, pp.Size.Package)
		}
		wantOrder = append(wantOrder, pp.Name+" "+pp.Arch)
		// Every primary file is in filelists too.
		all := map[xmlFile]bool{}
		for _, x := range fl.Packages[i].Files {
			all[x] = true
		}
		for _, x := range pp.Format.Files {
			if !all[x] || !isPrimaryFile(x.Path) {
				t.Errorf("%s: primary file %+v", pp.Name, x)
			}
		}
	}
	if want := []string{"greet noarch", "hello aarch64", "hello x86_64", "hello-data noarch"}; !reflect.DeepEqual(wantOrder, want) {
		t.Errorf("order = %q, want %q", wantOrder, want)
	}
	if pri.Packages[0].Location.Href != "noarch/e3/greet-1.0-1.noarch.rpm" || pri.Packages[2].Location.Href != "x86_64/hello-1.2.3-1.x86_64.rpm" {
		t.Errorf("hrefs: %s, %s", pri.Packages[0].Location.Href, pri.Packages[2].Location.Href)
	}
	if got := pri.Packages[0].Time.File; got != fixtureTime.Add(3*time.Minute).Unix() {
		t.Errorf("time file = %d, want the upload time", got)
	}

	// Roots, signature, key.
	want := map[string]struct {
		kind  repo.Kind
		order int
	}{
		testBase + "repodata/repomd.xml":                 {repo.KindRoot, 0},
		testBase + "repodata/repomd.xml.asc":             {repo.KindRoot, 1},
		testBase + "repodata/repomd.xml.key":             {repo.KindIndex, 0},
		testBase + SourceDir + "repodata/repomd.xml":     {repo.KindRoot, 0},
		testBase + SourceDir + "repodata/repomd.xml.asc": {repo.KindRoot, 1},
		testBase + SourceDir + "repodata/repomd.xml.key": {repo.KindIndex, 0},
	}
	for path, w := range want {
		f := p.files[path]
		if f.Kind != w.kind || f.Order != w.order {
			t.Errorf("%s: kind %d order %d, want %d %d", path, f.Kind, f.Order, w.kind, w.order)
		}
	}
	sig, _ := fakeSigner{}.DetachSign(p.repomd)
	if !bytes.Equal(p.files[testBase+"repodata/repomd.xml.asc"].Data, sig) {
		t.Error("repomd.xml.asc does not sign repomd.xml")
	}
	if sig, _ := (fakeSigner{}).DetachSign(src.repomd); !bytes.Equal(src.files[testBase+SourceDir+"repodata/repomd.xml.asc"].Data, sig) {
		t.Error("source repomd.xml.asc does not sign the source repomd.xml")
	}
	if len(files) != len(pkgs)+12 { // each repository: 3 repodata files, repomd.xml, .asc, .key
		t.Errorf("%d files, want %d", len(files), len(pkgs)+12)
	}
	rev := strconv.FormatInt(fixtureTime.Add(time.Hour).Unix(), 10)
	if p.md.Revision != rev || p.md.Data[0].Timestamp != rev {
		t.Errorf("revision %s timestamp %s, want %s", p.md.Revision, p.md.Data[0].Timestamp, rev)
	}
	// Literal rpm: names and namespace declarations.
	for _, s := range []string{`xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="4"`,
		"<rpm:entry ", "<rpm:provides>", "<rpm:header-range "} {
		if !bytes.Contains(p.xml["primary"], []byte(s)) {
			t.Errorf("primary lacks %s", s)
		}
	}
}

func TestIndexDeterministic(t *testing.T) {
	f := newTestFormat()
	pkgs := fixturePackages(t, f)
	first := index(t, f, pkgs)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5; i++ {
		shuffled := append([]repo.Package(nil), pkgs...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		// A repeated package is listed once.
		shuffled = append(shuffled, shuffled[0])
		again := index(t, f, shuffled)
		if len(again) != len(first) {
			t.Fatalf("run %d: %d files, want %d", i, len(again), len(first))
		}
		for k := range first {
			if first[k].Path != again[k].Path || !bytes.Equal(first[k].Data, again[k].Data) || first[k].SHA256 != again[k].SHA256 {
				t.Fatalf("run %d: file %d differs: %s vs %s", i, k, first[k].Path, again[k].Path)
			}
		}
	}
}

func TestIndexZstd(t *testing.T) {
	gz := open(t, index(t, newTestFormat(), fixturePackages(t, newTestFormat())))
	f := New(Config{Compression: CompressionZstd})
	zs := open(t, index(t, f, fixturePackages(t, f)))
	for _, typ := range []string{"primary", "filelists", "other"} {
		if !strings.HasSuffix(zs.hrefs[typ], "-"+typ+".xml.zst") {
			t.Errorf("%s href %s", typ, zs.hrefs[typ])
		}
		if !bytes.Equal(gz.xml[typ], zs.xml[typ]) {
			t.Errorf("%s differs between gzip and zstd", typ)
		}
	}
}

func TestIndexEmpty(t *testing.T) {
	f := newTestFormat()
	files, err := f.Index(context.Background(), &repo.IndexInput{Target: testTarget, Time: fixtureTime})
	if err != nil {
		t.Fatal(err)
	}
	p := open(t, files)
	var pri primaryXML
	unmarshal(t, p.xml["primary"], &pri)
	if pri.Count != 0 || len(pri.Packages) != 0 {
		t.Errorf("primary: %+v", pri)
	}
	if _, ok := p.files[testBase+"repodata/repomd.xml.asc"]; ok {
		t.Error("signature without a signer")
	}
	// The source repository is there too, empty: a .repo names it.
	src := openAt(t, files, testBase+SourceDir)
	if !bytes.Contains(src.xml["primary"], []byte(`packages="0"`)) {
		t.Errorf("source primary: %s", src.xml["primary"])
	}
	if len(files) != 8 {
		t.Errorf("%d files, want 8 (repodata and repomd.xml of both repositories)", len(files))
	}
}

// TestIndexEpochCollision publishes two packages that differ only by
// epoch: each non-zero epoch has its own folder, and PackagePath agrees.
func TestIndexEpochCollision(t *testing.T) {
	f := newTestFormat()
	mk := func(epoch uint32, at time.Time) repo.Package {
		extra := []tv{{1003, []uint32{epoch}}}
		return catalogPackage(t, f, rpmSpec{main: basicMain("dup", "1.0", "1", "x86_64", extra...)}.build(), at)
	}
	older, newer := mk(2, fixtureTime), mk(1, fixtureTime.Add(time.Minute))
	p := open(t, index(t, f, []repo.Package{newer, older}))
	var pri primaryXML
	unmarshal(t, p.xml["primary"], &pri)
	got := map[string]string{}
	for _, pp := range pri.Packages {
		got[pp.Version.Epoch] = pp.Location.Href
	}
	want := map[string]string{
		"2": "x86_64/e2/dup-1.0-1.x86_64.rpm",
		"1": "x86_64/e1/dup-1.0-1.x86_64.rpm",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hrefs = %v, want %v", got, want)
	}
	for _, p := range []repo.Package{older, newer} {
		if got, want := f.PackagePath(testTarget, &p), "rpm/"+testTarget.String()+"/x86_64/e"+p.Version[:1]+"/dup-1.0-1.x86_64.rpm"; got != want {
			t.Errorf("PackagePath = %s, want %s", got, want)
		}
	}
	if pri.Packages[0].Version.Epoch != "1" {
		t.Errorf("epoch 1 should sort first: %+v", pri.Packages[0].Version)
	}
}

func TestIndexErrors(t *testing.T) {
	f := newTestFormat()
	good := fixturePackages(t, f)[0]
	for _, tc := range []struct {
		name   string
		target repo.Target
		mutate func(p *repo.Package)
		want   error
	}{
		{"bad target", repo.Target{Stream: "..", Distro: "el", Release: "9"}, nil, repo.ErrInvalid},
		{"slash in target", repo.Target{Stream: "5.8", Distro: "el/x", Release: "9"}, nil, repo.ErrInvalid},
		{"corrupt meta", testTarget, func(p *repo.Package) { p.Meta = p.Meta[:10] }, errMetaCorrupt},
		{"bad sha256", testTarget, func(p *repo.Package) { p.SHA256 = "xyz"; p.Sums = nil }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			p.Meta = bytes.Clone(good.Meta)
			if tc.mutate != nil {
				tc.mutate(&p)
			}
			_, err := f.Index(context.Background(), &repo.IndexInput{Target: tc.target, Packages: []repo.Package{p}, Time: fixtureTime})
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Index(ctx, &repo.IndexInput{Target: testTarget, Packages: []repo.Package{good}, Time: fixtureTime}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err = %v", err)
	}
}

func TestPackagePathAndSetup(t *testing.T) {
	f := newTestFormat()
	pkgs := fixturePackages(t, f)
	p := open(t, index(t, f, pkgs))
	for i := range pkgs {
		path := f.PackagePath(testTarget, &pkgs[i])
		if got, ok := p.files[path]; !ok || got.SHA256 != pkgs[i].SHA256 {
			t.Errorf("PackagePath(%s %s %s) = %s, not published there", pkgs[i].Name, pkgs[i].Version, pkgs[i].Arch, path)
		}
	}
	s := f.Setup(testTarget, repo.SetupInfo{BaseURL: "https://pier.example.org", Fingerprint: "ABCD"})
	for _, want := range []string{"baseurl=https://pier.example.org/rpm/5.8/el/9/", "repo_gpgcheck=1",
		"gpgkey=https://pier.example.org/rpm/5.8/el/9/repodata/repomd.xml.key", "/etc/yum.repos.d/pier-5.8-el-9.repo"} {
		if !strings.Contains(s, want) {
			t.Errorf("setup lacks %q:\n%s", want, s)
		}
	}
	s = f.Setup(repo.Target{Stream: "5.8", Distro: "opensuse", Release: "15.6"}, repo.SetupInfo{BaseURL: "https://h"})
	if !strings.Contains(s, "/etc/zypp/repos.d/pier-5.8-opensuse-15.6.repo") || !strings.Contains(s, "zypper refresh") {
		t.Errorf("zypper setup:\n%s", s)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"zstd", Config{Compression: "zstd"}, true},
		{"xz", Config{Compression: "xz"}, false},
		{"tiny header limit", Config{MaxHeaderSize: 100}, false},
		{"huge header limit", Config{MaxHeaderSize: 1 << 40}, false},
		{"negative files", Config{MaxFiles: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.Defaults()
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	c := Config{}
	c.Defaults()
	if !reflect.DeepEqual(c, Config{Compression: "gzip", MaxHeaderSize: DefaultMaxHeaderSize, MaxFiles: DefaultMaxFiles, IndexCacheSize: DefaultIndexCacheSize}) {
		t.Errorf("defaults = %+v", c)
	}
	if New(Config{}).Name() != "rpm" || len(Digests) != 1 || Digests[0] != repo.SHA256 {
		t.Error("Name or Digests")
	}
}
