package deb

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/repo"
	"github.com/pierhq/pier/repo/entrymemo"
)

// dateLayout is the Release date format apt accepts (RFC 1123, zone UTC).
const dateLayout = "Mon, 02 Jan 2006 15:04:05 UTC"

// indexEntry is one package on its way into Packages files.
type indexEntry struct {
	pkg  *repo.Package
	meta metaView
	pool string // pool path relative to the stream's base
	md5  string
	sha1 string
	comp int // index into components
	arch int // index into architectures, -1 for "all"
	size int // length of the rendered stanza
	idx  int // index of pkg in the packages being indexed
}

// packagesFile is one <comp>/binary-<arch>/Packages with its compressed
// variants, as listed in the Release file.
type packagesFile struct {
	dir string // relative to dists/<release>/, e.g. "main/binary-amd64"
	// base is the index's name, "Packages" when empty, "Sources" for a
	// component's source index (in "<comp>/source").
	base string
	data [3][]byte
	sums [3][sha256.Size]byte
}

// packagesNames returns the names of a Packages file's variants, in the
// order of packagesFile.data.
func packagesNames() [3]string { return [3]string{"Packages", "Packages.gz", "Packages.xz"} }

// names returns the names of pf's variants, in the order of data.
func (pf *packagesFile) names() [3]string {
	if pf.base == "" {
		return packagesNames()
	}
	return [3]string{pf.base, pf.base + ".gz", pf.base + ".xz"}
}

// Index writes the APT repository of one target: the pool files (by blob),
// every <comp>/binary-<arch>/Packages and <comp>/source/Sources (plain,
// .gz, .xz; every component has a Sources index, empty when it holds no
// source package, so that deb-src lines always work) and, unless
// Config.Contents (or the target's release rule) turns them off, every
// <comp>/Contents-<arch>.gz, with by-hash copies, and Release, Release.gpg
// and InRelease with the target's Release fields (releaseFields). Paths
// are under the target's archive root deb/<stream>/<distro>/ (see base):
// everything but the pool is under dists/<release>/, so the releases of
// one stream and distro share the pool.
func (f *Format) Index(ctx context.Context, in *repo.IndexInput) ([]repo.File, error) {
	t := in.Target
	fail := func(err error) ([]repo.File, error) {
		return nil, fmt.Errorf("deb: index %s: %w", t, err)
	}
	for _, p := range []struct{ what, v string }{{"stream", t.Stream}, {"distro", t.Distro}, {"release", t.Release}} {
		if reason := pathElemProblem(p.v); reason != "" {
			return fail(fmt.Errorf("%w: %s %s", repo.ErrInvalid, p.what, reason))
		}
	}
	if in.Signer == nil {
		return fail(errors.New("no signer"))
	}
	rf, err := f.releaseFields(t)
	if err != nil {
		return fail(fmt.Errorf("the configuration deb.release: %w", err))
	}
	streamBase := base(t)
	dists := streamBase + "dists/" + t.Release + "/"

	binaries, sourcePkgs := splitSources(in.Packages)
	sources, err := sourceEntries(sourcePkgs)
	if err != nil {
		return fail(err)
	}
	entries, comps, archs, err := f.entries(dists, binaries, sourceComponents(sources)...)
	if err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	files := buildPackages(entries, comps, archs)
	files = append(files, buildSources(sources, comps)...)
	f.seedCache(ctx, in.Previous, dists, files)
	if err := compressAll(ctx, files, f.cache, f.memo); err != nil {
		return fail(err)
	}
	for _, pf := range files {
		f.wrote.Put(hex.EncodeToString(pf.sums[0][:]), true)
	}
	var contents []*contentsFile
	if rf.contents {
		f.seedContents(ctx, in.Previous, dists, comps, archs)
		if contents, err = buildContents(ctx, entries, comps, archs, f.cache); err != nil {
			return fail(err)
		}
		for _, cf := range contents {
			f.wrote.Put(hex.EncodeToString(cf.gzSum[:]), true)
			if f.cache != nil {
				f.memo.putContents(hex.EncodeToString(cf.gzSum[:]), &producedContents{members: cf.members,
					plainSum: hex.EncodeToString(cf.plainSum[:]), plainSize: cf.plainSize})
			}
		}
	}

	out := make([]repo.File, 0, len(entries)+len(files)*6+len(contents)*2+3)
	out = appendPoolFiles(out, streamBase, entries)
	out = appendSourceFiles(out, streamBase, sources)
	for _, pf := range files {
		for v, name := range pf.names() {
			dir := dists + pf.dir + "/"
			out = append(out,
				repo.File{Path: dir + "by-hash/SHA256/" + hex.EncodeToString(pf.sums[v][:]), Kind: repo.KindHashed, Data: pf.data[v]},
				repo.File{Path: dir + name, Kind: repo.KindIndex, Data: pf.data[v]})
		}
	}
	// The Contents files of one component share its by-hash directory:
	// two architectures with the same Contents (only arch-all packages,
	// or none) share one copy.
	byHash := map[string]bool{}
	for _, cf := range contents {
		dir := dists + cf.comp + "/"
		if h := dir + "by-hash/SHA256/" + hex.EncodeToString(cf.gzSum[:]); !byHash[h] {
			byHash[h] = true
			out = append(out, repo.File{Path: h, Kind: repo.KindHashed, Data: cf.gz})
		}
		out = append(out, repo.File{Path: dir + "Contents-" + cf.arch + ".gz", Kind: repo.KindIndex, Data: cf.gz})
	}
	release := f.release(in, rf, comps, archs, files, contents)
	inRelease, err := in.Signer.ClearSign(release)
	if err != nil {
		return fail(fmt.Errorf("clear-sign Release: %w", err))
	}
	if inRelease, err = trimClearSigned(inRelease); err != nil {
		return fail(err)
	}
	sig, err := in.Signer.DetachSign(release)
	if err != nil {
		return fail(fmt.Errorf("sign Release: %w", err))
	}
	if !bytes.HasPrefix(bytes.TrimSpace(sig), []byte("-----BEGIN PGP SIGNATURE-----")) {
		return fail(errors.New("the signer's detached signature is not ASCII-armored (apt rejects binary Release.gpg)"))
	}
	out = append(out,
		repo.File{Path: dists + "InRelease", Kind: repo.KindRoot, Order: 0, Data: inRelease},
		repo.File{Path: dists + "Release", Kind: repo.KindRoot, Order: 1, Data: release},
		repo.File{Path: dists + "Release.gpg", Kind: repo.KindRoot, Order: 2, Data: sig})
	return out, nil
}

// memoValue is what the entry memo keeps of a package (see
// repo/entrymemo): its decoded Meta and its pool path.
type memoValue struct {
	meta metaView
	pool string
}

// entries decodes and checks the packages' metadata and returns them in
// Packages order (name, version, architecture), with the sorted components
// and architectures to publish. key names the target: what the memo holds
// of its last publish is reused (packages decoded then are not decoded
// again, and keep their order) and replaced.
func (f *Format) entries(key string, pkgs []repo.Package, moreComps ...string) ([]indexEntry, []string, []string, error) {
	compSet := make(map[string]int)
	for _, c := range moreComps {
		compSet[c] = 0
	}
	archSet := make(map[string]int)
	for _, a := range f.cfg.Architectures {
		archSet[a] = 0
	}
	match := f.entryMemo.Match(key, pkgs)
	entries := make([]indexEntry, len(pkgs))
	for i := range pkgs {
		p := &pkgs[i]
		e := &entries[i]
		e.pkg, e.idx = p, i
		compSet[p.Component] = 0
		if p.Arch != "all" {
			archSet[p.Arch] = 0
		}
		if v, ok := match.Known(i); ok {
			e.meta, e.pool = v.meta, v.pool
			e.md5 = digest(p.Sums, repo.MD5, v.meta.md5, 32) // cheap: the memo keeps no copy
			e.sha1 = digest(p.Sums, repo.SHA1, v.meta.sha1, 40)
			continue
		}
		if err := checkIndexPackage(p); err != nil {
			return nil, nil, nil, err
		}
		m, err := decodeMeta(p.Meta)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("package %s: %w", pkgID(p), err)
		}
		e.meta = m
		source := string(m.source)
		if source == "" {
			source = p.Name
		} else if reason := nameProblem("source name", source, 1024); reason != "" {
			return nil, nil, nil, fmt.Errorf("package %s: %s", pkgID(p), reason)
		}
		e.pool = poolPath(p, source)
		e.md5 = digest(p.Sums, repo.MD5, m.md5, 32)
		e.sha1 = digest(p.Sums, repo.SHA1, m.sha1, 40)
	}
	if len(compSet) == 0 {
		compSet["main"] = 0
	}
	comps := sortedKeys(compSet)
	archs := sortedKeys(archSet)
	for i := range entries {
		e := &entries[i]
		e.comp = compSet[e.pkg.Component]
		e.arch = -1
		if e.pkg.Arch != "all" {
			e.arch = archSet[e.pkg.Arch]
		}
		e.size = stanzaSize(e)
	}
	entries = entrymemo.Sort(match, entries, func(a, b indexEntry) int { return compareEntries(&a, &b) })
	order := make([]int, len(entries))
	for r := range entries {
		order[r] = entries[r].idx
	}
	f.entryMemo.Remember(key, pkgs, order, func(r int) memoValue { return memoValue{entries[r].meta, entries[r].pool} })
	return entries, comps, archs, nil
}

// compareEntries orders packages as Packages lists them: name, version
// (dpkg order), architecture, then component and sha256.
func compareEntries(a, b *indexEntry) int {
	if c := strings.Compare(a.pkg.Name, b.pkg.Name); c != 0 {
		return c
	}
	if c := compareVersions(a.pkg.Version, b.pkg.Version); c != 0 {
		return c
	}
	if c := strings.Compare(a.pkg.Arch, b.pkg.Arch); c != 0 {
		return c
	}
	// Equal name, version and architecture happen only across
	// components; keep the output deterministic anyway.
	return cmp.Or(strings.Compare(a.pkg.Component, b.pkg.Component), strings.Compare(a.pkg.SHA256, b.pkg.SHA256))
}

// sortedKeys returns the keys of m sorted, and sets each key's value to its
// index.
func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		m[k] = i
	}
	return keys
}

// checkIndexPackage checks the catalog fields of p that end up in paths.
// The reader validated them at ingest; this guards the paths against a
// damaged or foreign catalog row.
func checkIndexPackage(p *repo.Package) error {
	const max = 1024
	reason := ""
	switch {
	case pathElemProblem(p.Component) != "":
		reason = "component " + pathElemProblem(p.Component)
	case packageNameProblem(p.Name, max) != "":
		reason = packageNameProblem(p.Name, max)
	case versionProblem(p.Version, max) != "":
		reason = versionProblem(p.Version, max)
	case archProblem(p.Arch, max) != "":
		reason = archProblem(p.Arch, max)
	case len(p.SHA256) != 64 || !isHex(p.SHA256):
		reason = fmt.Sprintf("sha256 %q is not 64 lower-case hex digits", clip(p.SHA256))
	case p.Size < 0:
		reason = "negative size"
	}
	if reason != "" {
		return fmt.Errorf("package %s: %w: %s", pkgID(p), repo.ErrInvalid, reason)
	}
	return nil
}

func pkgID(p *repo.Package) string {
	return clip(p.Name) + "_" + clip(p.Version) + "_" + clip(p.Arch)
}

// pathElemProblem says why s cannot be one element of a published path, or "".
func pathElemProblem(s string) string {
	switch {
	case s == "":
		return "is empty"
	case s == "." || s == "..":
		return fmt.Sprintf("%q is not a valid name", s)
	case len(s) > 128:
		return fmt.Sprintf("%q is too long", clip(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && !strings.ContainsRune("._+~-", rune(c)) {
			return fmt.Sprintf("%q has the character %q; only letters, digits and ._+~- are allowed", clip(s), c)
		}
	}
	return ""
}

// poolPath returns the package's path relative to the stream's base:
// pool/<component>/<prefix>/<source>/<sha256[:12]>/<name>_<version>_<arch>.deb.
// The sha256 directory makes the path content-addressed: equal file names
// with different bytes (two releases of one stream) never collide, and the
// bytes at a path never change.
func poolPath(p *repo.Package, source string) string {
	prefix := source[:1]
	if strings.HasPrefix(source, "lib") && len(source) > 3 {
		prefix = source[:4]
	}
	version := p.Version
	if i := strings.IndexByte(version, ':'); i >= 0 {
		version = version[i+1:]
	}
	return "pool/" + p.Component + "/" + prefix + "/" + source + "/" + p.SHA256[:12] + "/" +
		p.Name + "_" + version + "_" + p.Arch + ".deb"
}

// digest returns the package's hex digest d of length n from the catalog,
// or else from the meta recorded at ingest, or "".
func digest(sums repo.Sums, d repo.Digest, fromMeta []byte, n int) string {
	if s := sums[d]; len(s) == n && isHex(s) {
		return s
	}
	if len(fromMeta) == n && isHex(string(fromMeta)) {
		return string(fromMeta)
	}
	return ""
}

// appendPoolFiles appends one File per distinct pool path.
func appendPoolFiles(out []repo.File, streamBase string, entries []indexEntry) []repo.File {
	seen := make(map[string]bool, len(entries))
	start := len(out)
	for i := range entries {
		e := &entries[i]
		if seen[e.pool] {
			continue
		}
		seen[e.pool] = true
		out = append(out, repo.File{Path: streamBase + e.pool, SHA256: e.pkg.SHA256, Size: e.pkg.Size, Kind: repo.KindPackage})
	}
	slices.SortFunc(out[start:], func(a, b repo.File) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// Lengths of the fixed parts of a generated block.
const (
	lenFilename = len("Filename: \n")
	lenSize     = len("Size: \n")
	lenMD5      = len("MD5sum: \n") + 32
	lenSHA1     = len("SHA1: \n") + 40
	lenSHA256   = len("SHA256: \n") + 64
)

// stanzaSize returns the length of e's stanza.
func stanzaSize(e *indexEntry) int {
	n := len(e.meta.head) + len(e.meta.tail) + lenFilename + len(e.pool) +
		lenSize + len(strconv.FormatInt(e.pkg.Size, 10)) + lenSHA256
	if e.md5 != "" {
		n += lenMD5
	}
	if e.sha1 != "" {
		n += lenSHA1
	}
	return n
}

// appendStanza appends e's Packages stanza.
func appendStanza(b []byte, e *indexEntry) []byte {
	b = append(b, e.meta.head...)
	b = append(b, "Filename: "...)
	b = append(b, e.pool...)
	b = append(b, "\nSize: "...)
	b = strconv.AppendInt(b, e.pkg.Size, 10)
	b = append(b, '\n')
	if e.md5 != "" {
		b = append(b, "MD5sum: "...)
		b = append(b, e.md5...)
		b = append(b, '\n')
	}
	if e.sha1 != "" {
		b = append(b, "SHA1: "...)
		b = append(b, e.sha1...)
		b = append(b, '\n')
	}
	b = append(b, "SHA256: "...)
	b = append(b, e.pkg.SHA256...)
	b = append(b, '\n')
	return append(b, e.meta.tail...)
}

// buildPackages writes the plain Packages file of every component and
// architecture, in that order. Arch-all packages go into every
// architecture's file. Stanzas are separated by one blank line.
func buildPackages(entries []indexEntry, comps, archs []string) []*packagesFile {
	files := make([]*packagesFile, len(comps)*len(archs))
	sizes := make([]int, len(files))
	add := func(e *indexEntry, fn func(i int)) {
		if e.arch >= 0 {
			fn(e.comp*len(archs) + e.arch)
			return
		}
		for a := range archs {
			fn(e.comp*len(archs) + a)
		}
	}
	for i := range entries {
		e := &entries[i]
		add(e, func(k int) { sizes[k] += e.size + 1 })
	}
	for c, comp := range comps {
		for a, arch := range archs {
			k := c*len(archs) + a
			files[k] = &packagesFile{dir: comp + "/binary-" + arch}
			files[k].data[0] = make([]byte, 0, sizes[k])
		}
	}
	for i := range entries {
		e := &entries[i]
		add(e, func(k int) {
			b := files[k].data[0]
			if len(b) > 0 {
				b = append(b, '\n')
			}
			files[k].data[0] = appendStanza(b, e)
		})
	}
	return files
}

// release renders the Release file.
func (f *Format) release(in *repo.IndexInput, rf releaseFields, comps, archs []string, files []*packagesFile, contents []*contentsFile) []byte {
	var b bytes.Buffer
	field := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteByte('\n')
	}
	now := in.Time.UTC()
	field("Origin", rf.origin)
	field("Label", rf.label)
	field("Suite", rf.suite)
	field("Codename", rf.codename)
	field("Date", now.Format(dateLayout))
	if f.cfg.ValidDays > 0 {
		field("Valid-Until", now.Add(time.Duration(f.cfg.ValidDays)*24*time.Hour).Format(dateLayout))
	}
	if rf.notAutomatic {
		field("NotAutomatic", "yes")
	}
	if rf.butAutomaticUpgrades {
		field("ButAutomaticUpgrades", "yes")
	}
	field("Architectures", strings.Join(archs, " "))
	field("Components", strings.Join(comps, " "))
	field("Description", rf.description)
	field("Acquire-By-Hash", "yes")
	b.WriteString("SHA256:\n")
	type line struct {
		path string
		sum  []byte
		size int64
	}
	lines := make([]line, 0, len(files)*3+len(contents)*2)
	for _, pf := range files {
		for v, name := range pf.names() {
			lines = append(lines, line{pf.dir + "/" + name, pf.sums[v][:], int64(len(pf.data[v]))})
		}
	}
	for _, cf := range contents {
		name := cf.comp + "/Contents-" + cf.arch
		lines = append(lines, line{name, cf.plainSum[:], cf.plainSize}, line{name + ".gz", cf.gzSum[:], int64(len(cf.gz))})
	}
	slices.SortFunc(lines, func(a, b line) int { return strings.Compare(a.path, b.path) })
	for _, l := range lines {
		fmt.Fprintf(&b, " %x %16d %s\n", l.sum, l.size, l.path)
	}
	return b.Bytes()
}

// oneLine replaces line breaks so that s fits in one Release field.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// trimClearSigned checks a clear-signed message and makes it end with
// exactly one "\n" after the signature: apt rejects an InRelease with
// anything after "-----END PGP SIGNATURE-----".
func trimClearSigned(b []byte) ([]byte, error) {
	const (
		begin = "-----BEGIN PGP SIGNED MESSAGE-----"
		end   = "-----END PGP SIGNATURE-----"
	)
	if !bytes.HasPrefix(b, []byte(begin)) {
		return nil, errors.New("the signer's clear-signed Release does not start with " + begin)
	}
	i := bytes.LastIndex(b, []byte(end))
	if i < 0 {
		return nil, errors.New("the signer's clear-signed Release has no " + end)
	}
	i += len(end)
	if len(bytes.TrimSpace(b[i:])) != 0 {
		return nil, errors.New("the signer's clear-signed Release has data after " + end)
	}
	out := make([]byte, i+1)
	copy(out, b[:i])
	out[i] = '\n'
	return out, nil
}
