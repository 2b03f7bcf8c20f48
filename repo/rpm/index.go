package rpm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pierhq/pier/internal/panics"
	"github.com/pierhq/pier/repo"
)

// entry is one package of a publish, decoded.
type entry struct {
	pkg  *repo.Package
	m    *meta
	evr  evr
	sum  string // sha256, the pkgid
	ends bool   // the package ends a block of repodata (endsBlock)
	href string // location relative to the repository base
	idx  int    // index of pkg in the packages being indexed
	// known: listed by the previous generation's repodata, whose members
	// may stand for it (Index from keys; see keys.go)
	known bool
}

// Index writes the target's repositories: the binary one at the base
// ("rpm/<stream>/<distro>/<release>/": every binary package under
// <arch>/) and the source one below it at SourceDir (every source package,
// arch "src", under Packages/), each with repodata/{primary,filelists,
// other}.xml.gz named by their checksum, repodata/repomd.xml, and with a
// Signer repomd.xml.asc and repomd.xml.key. Both are always written, the
// source one empty when the target holds no source package, so that a
// .repo section naming it never points at nothing.
func (f *Format) Index(ctx context.Context, in *repo.IndexInput) ([]repo.File, error) {
	base, err := basePath(in.Target)
	if err != nil {
		return nil, err
	}
	defer f.prev.drop(base) // what seeding kept for indexFromKeys
	f.prev.markIndexed(base)
	if keysOnly(in.Packages) {
		out, err := f.indexFromKeys(ctx, in, base)
		if !errors.Is(err, errNeedRows) {
			return out, err
		}
		if in, err = in.WholeRows(ctx); err != nil {
			return nil, err
		}
	}
	entries, err := f.decodeEntriesMemo(ctx, base, in.Packages)
	if err != nil {
		return nil, err
	}
	bin, src := splitSource(entries)
	return f.repositories(ctx, in, base, bin, src, [2][]map[int]*prevMember{})
}

// repositories writes the binary and the source repository of a target
// at base (reuse: see writeMetadata; per repository, nil for none).
func (f *Format) repositories(ctx context.Context, in *repo.IndexInput, base string, bin, src []*entry, reuse [2][]map[int]*prevMember) ([]repo.File, error) {
	// The two repositories at once: each ends with a signature, which
	// would otherwise wait for the other's.
	var srcFiles []repo.File
	var srcErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer panics.Recover(&srcErr)
		srcFiles, srcErr = f.repository(ctx, in, base+SourceDir, src, reuse[1])
	})
	out, err := f.repository(ctx, in, base, bin, reuse[0])
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if srcErr != nil {
		return nil, srcErr
	}
	return append(out, srcFiles...), nil
}

// SourceDir is the folder, below a target's repository base, of its
// source repository: the layout of Fedora's and EPEL's mirrors, whose
// source repositories lie in a "source/tree/" beside the architectures'
// trees, with the .src.rpm files under Packages/ (Pier has no installer
// tree, so no "tree/"). The .repo file's [<id>-source] section points at
// it.
const SourceDir = "source/"

// splitSource splits the sorted entries into binary packages and source
// packages (arch "src": rpm's headerIsSource, as Read sets it), keeping
// their order.
func splitSource(entries []*entry) (bin, src []*entry) {
	for _, e := range entries {
		if e.m.Arch == "src" {
			src = append(src, e)
		} else {
			bin = append(bin, e)
		}
	}
	return bin, src
}

// repository writes one repository at base: its packages (hrefs relative
// to base), repodata and roots.
func (f *Format) repository(ctx context.Context, in *repo.IndexInput, base string, entries []*entry, reuse []map[int]*prevMember) ([]repo.File, error) {
	out := make([]repo.File, 0, len(entries)+6)
	for _, e := range entries {
		out = append(out, repo.File{Path: base + e.href, SHA256: e.sum, Size: e.pkg.Size, Kind: repo.KindPackage})
	}
	f.seedCache(ctx, in.Previous, base)
	parts, err := f.writeMetadata(ctx, entries, reuse)
	if err != nil {
		return nil, err
	}
	hrefs := make([]string, len(parts))
	for i, p := range parts {
		out = append(out, repo.File{Path: base + p.href, Data: p.data, Kind: repo.KindHashed})
		hrefs[i] = p.href
	}
	if f.cache != nil {
		f.written.set(base, hrefs)
	}
	repomd := buildRepomd(in.Time.Unix(), parts)
	if in.Signer != nil {
		out = append(out, repo.File{Path: base + "repodata/repomd.xml.key", Data: in.Signer.PublicKey(), Kind: repo.KindIndex})
	}
	out = append(out, repo.File{Path: base + "repodata/repomd.xml", Data: repomd, Kind: repo.KindRoot, Order: 0})
	if in.Signer != nil {
		sig, err := in.Signer.DetachSign(repomd)
		if err != nil {
			return nil, fmt.Errorf("rpm: sign %srepodata/repomd.xml: %w", base, err)
		}
		out = append(out, repo.File{Path: base + "repodata/repomd.xml.asc", Data: sig, Kind: repo.KindRoot, Order: 1})
	}
	return out, nil
}

// basePath returns "rpm/<stream>/<distro>/<release>/" after checking that
// each part is one plain path segment.
func basePath(t repo.Target) (string, error) {
	for _, s := range []string{t.Stream, t.Distro, t.Release} {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\\") {
			return "", fmt.Errorf("rpm: target %q: %w", t.String(), repo.ErrInvalid)
		}
	}
	return "rpm/" + t.Stream + "/" + t.Distro + "/" + t.Release + "/", nil
}

// decodeEntries decodes every package's Meta (on every CPU: for a large
// target this is mostly waiting for memory), sorts the packages by name,
// version (rpm order) and architecture, and drops repeats of the same file.
func decodeEntries(ctx context.Context, pkgs []repo.Package) ([]*entry, error) {
	slab := make([]entry, len(pkgs))
	if err := decodeSome(ctx, slab, pkgs, nil); err != nil {
		return nil, err
	}
	entries := make([]*entry, len(slab))
	for i := range slab {
		entries[i] = &slab[i]
	}
	slices.SortFunc(entries, compareEntries)
	return slices.CompactFunc(entries, func(a, b *entry) bool { return a.sum == b.sum }), nil
}

// decodeSome decodes pkgs[i] into slab[i] for each i in todo (every
// package when todo is nil), on every CPU.
func decodeSome(ctx context.Context, slab []entry, pkgs []repo.Package, todo []int) error {
	n := len(todo)
	if todo == nil {
		n = len(pkgs)
	}
	at := func(k int) int {
		if todo == nil {
			return k
		}
		return todo[k]
	}
	metas := make([]meta, n)
	workers := min(runtime.GOMAXPROCS(0), n/256+1)
	per := (n + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			defer panics.Recover(&errs[w])
			for k := w * per; k < min((w+1)*per, n); k++ {
				if k%1024 == 0 {
					if errs[w] = ctx.Err(); errs[w] != nil {
						return
					}
				}
				i := at(k)
				if errs[w] = decodeEntry(&slab[i], &metas[k], &pkgs[i]); errs[w] != nil {
					return
				}
				slab[i].idx = i
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// compareEntries orders packages by name, version (rpm order),
// architecture and sha256.
func compareEntries(a, b *entry) int {
	if c := strings.Compare(a.m.Name, b.m.Name); c != 0 {
		return c
	}
	if c := compareEVR(a.evr, b.evr); c != 0 {
		return c
	}
	if c := strings.Compare(a.m.Arch, b.m.Arch); c != 0 {
		return c
	}
	return strings.Compare(a.sum, b.sum)
}

// decodeEntry decodes p into e, with m as e's meta.
func decodeEntry(e *entry, m *meta, p *repo.Package) error {
	if err := m.decode(p.Meta); err != nil {
		return fmt.Errorf("rpm: package %s %s %s: %w", p.Name, p.Version, p.Arch, err)
	}
	return fillEntry(e, m, p)
}

// fillEntry sets e to package p with m, p's decoded meta.
func fillEntry(e *entry, m *meta, p *repo.Package) error {
	sum := p.SHA256
	if sum == "" {
		sum = p.Sums[repo.SHA256]
	}
	if !isSHA256(sum) {
		return fmt.Errorf("rpm: package %s %s %s: sha256 %q is not 64 lower-case hex digits", p.Name, p.Version, p.Arch, sum)
	}
	if p.Size < 0 {
		return fmt.Errorf("rpm: package %s %s %s: negative size", p.Name, p.Version, p.Arch)
	}
	*e = entry{pkg: p, m: m, evr: evr{Epoch: m.Epoch, Version: m.Version, Release: m.Release}, sum: sum, ends: endsBlock(sum)}
	return nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// assignHrefs gives each package its location (see packageHref and
// sourceHref).
func assignHrefs(entries []*entry) {
	for _, e := range entries {
		e.href = packageHref(e.m.Arch, e.m.Name, e.m.Epoch, e.m.Version, e.m.Release)
	}
}

// packageHref is a package's path below its repository's base: for a
// binary package "<arch>/<n>-<v>-<r>.<arch>.rpm", or
// "<arch>/e<epoch>/<n>-<v>-<r>.<arch>.rpm" for a non-zero epoch; for a
// source package (arch "src", below SourceDir) "Packages/<n>-<v>-<r>.src.rpm"
// with the same epoch folder. The file name carries no epoch (rpm's
// convention), so the epoch folder keeps packages that differ only by epoch
// apart: the path is a function of the NEVRA alone, known at upload and
// never moving.
func packageHref(arch, name, epoch, version, release string) string {
	dir := arch + "/"
	if arch == "src" {
		dir = "Packages/"
	}
	if epoch != "" && strings.TrimLeft(epoch, "0") != "" {
		dir += "e" + epoch + "/"
	}
	return dir + rpmFileName(name, version, release, arch)
}

// mdFile is one written repodata file.
type mdFile struct {
	kind     string // "primary", "filelists", "other"
	href     string // "repodata/<sum>-<kind>.xml.gz"
	data     []byte // compressed
	sum      string
	openSum  string
	openSize int64
}

// uploadTime is primary's `time file`: the upload time, so that output
// depends on the catalog only.
func uploadTime(p *repo.Package) uint64 {
	if p.Uploaded.IsZero() || p.Uploaded.Unix() < 0 {
		return 0
	}
	return uint64(p.Uploaded.Unix())
}

// buildRepomd writes repomd.xml for parts with revision and timestamps t.
func buildRepomd(t int64, parts []*mdFile) []byte {
	ts := strconv.FormatInt(max(t, 0), 10)
	b := make([]byte, 0, 2048)
	b = append(b, xmlDecl...)
	b = append(b, `<repomd xmlns="`+nsRepo+`" xmlns:rpm="`+nsRPM+`">`+"\n"...)
	b = append(b, "  <revision>"+ts+"</revision>\n"...)
	for _, p := range slices.SortedFunc(slices.Values(parts), func(a, b *mdFile) int {
		return cmp.Compare(mdOrder(a.kind), mdOrder(b.kind))
	}) {
		b = append(b, `  <data type="`+p.kind+`">`+"\n"...)
		b = append(b, `    <checksum type="sha256">`+p.sum+"</checksum>\n"...)
		b = append(b, `    <open-checksum type="sha256">`+p.openSum+"</open-checksum>\n"...)
		b = append(b, `    <location href="`+p.href+`"/>`+"\n"...)
		b = append(b, "    <timestamp>"+ts+"</timestamp>\n"...)
		b = append(b, "    <size>"+strconv.Itoa(len(p.data))+"</size>\n"...)
		b = append(b, "    <open-size>"+strconv.FormatInt(p.openSize, 10)+"</open-size>\n"...)
		b = append(b, "  </data>\n"...)
	}
	return append(b, "</repomd>\n"...)
}

func mdOrder(kind string) int {
	switch kind {
	case "primary":
		return 0
	case "filelists":
		return 1
	}
	return 2
}
