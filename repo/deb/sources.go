package deb

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pierhq/pier/repo"
)

// sourceEntry is one source package on its way into a Sources file.
type sourceEntry struct {
	pkg  *repo.Package
	meta SourceMeta
	dir  string // pool directory relative to the archive root
}

// splitSources separates source packages (Meta "dsc1") from binary ones.
func splitSources(pkgs []repo.Package) (binaries, sources []repo.Package) {
	for i := range pkgs {
		if isSourceMeta(pkgs[i].Meta) {
			sources = append(sources, pkgs[i])
		} else {
			binaries = append(binaries, pkgs[i])
		}
	}
	if len(sources) == 0 {
		return pkgs, nil
	}
	return binaries, sources
}

// sourceEntries decodes and checks the source packages and returns them in
// Sources order (name, version, component).
func sourceEntries(pkgs []repo.Package) ([]sourceEntry, error) {
	out := make([]sourceEntry, len(pkgs))
	for i := range pkgs {
		p := &pkgs[i]
		e := &out[i]
		e.pkg = p
		if err := checkSourcePackage(p); err != nil {
			return nil, err
		}
		if err := e.meta.UnmarshalBinary(p.Meta); err != nil {
			return nil, fmt.Errorf("source package %s: %w", pkgID(p), err)
		}
		if len(e.meta.Files) != len(p.Extra) {
			return nil, fmt.Errorf("source package %s: %w: its .dsc lists %d files, the catalog holds %d", pkgID(p), repo.ErrInvalid,
				len(e.meta.Files), len(p.Extra))
		}
		for _, b := range p.Extra {
			if len(b.SHA256) != 64 || !isHex(b.SHA256) || b.Size < 0 {
				return nil, fmt.Errorf("source package %s: %w: bad file blob %q", pkgID(p), repo.ErrInvalid, clip(b.SHA256))
			}
		}
		e.dir = sourceDir(p)
	}
	slices.SortFunc(out, func(a, b sourceEntry) int {
		if c := strings.Compare(a.pkg.Name, b.pkg.Name); c != 0 {
			return c
		}
		if c := compareVersions(a.pkg.Version, b.pkg.Version); c != 0 {
			return c
		}
		if c := strings.Compare(a.pkg.Component, b.pkg.Component); c != 0 {
			return c
		}
		return strings.Compare(a.pkg.SHA256, b.pkg.SHA256)
	})
	return out, nil
}

// checkSourcePackage checks the catalog fields of a source package that
// end up in paths (the reader checked them at ingest).
func checkSourcePackage(p *repo.Package) error {
	reason := ""
	switch {
	case pathElemProblem(p.Component) != "":
		reason = "component " + pathElemProblem(p.Component)
	case !reDakSource.MatchString(p.Name):
		reason = fmt.Sprintf("source name %q is not valid", clip(p.Name))
	case versionProblem(p.Version, 1024) != "":
		reason = versionProblem(p.Version, 1024)
	case p.Arch != SourceArch:
		reason = fmt.Sprintf("a source package recorded with architecture %q", clip(p.Arch))
	case len(p.SHA256) != 64 || !isHex(p.SHA256):
		reason = fmt.Sprintf("sha256 %q is not 64 lower-case hex digits", clip(p.SHA256))
	case p.Size < 0:
		reason = "negative size"
	}
	if reason != "" {
		return fmt.Errorf("source package %s: %w: %s", pkgID(p), repo.ErrInvalid, reason)
	}
	return nil
}

// sourceComponents returns the components the source packages are in.
func sourceComponents(sources []sourceEntry) []string {
	var out []string
	for _, e := range sources {
		out = append(out, e.pkg.Component)
	}
	return out
}

// buildSources writes the plain Sources file of every component (empty
// for a component without source packages).
func buildSources(sources []sourceEntry, comps []string) []*packagesFile {
	files := make([]*packagesFile, len(comps))
	idx := map[string]int{}
	for i, c := range comps {
		files[i] = &packagesFile{dir: c + "/source", base: "Sources", data: [3][]byte{{}}}
		idx[c] = i
	}
	for i := range sources {
		e := &sources[i]
		pf := files[idx[e.pkg.Component]]
		if len(pf.data[0]) > 0 {
			pf.data[0] = append(pf.data[0], '\n')
		}
		pf.data[0] = appendSourceStanza(pf.data[0], e)
	}
	return files
}

// appendSourceStanza appends e's Sources stanza: Head, Directory, Mid,
// the file lists with the .dsc first (as apt-ftparchive adds it), Tail.
func appendSourceStanza(b []byte, e *sourceEntry) []byte {
	p := e.pkg
	b = append(b, e.meta.Head...)
	b = append(b, "Directory: "...)
	b = append(b, e.dir...)
	b = append(b, '\n')
	b = append(b, e.meta.Mid...)
	dsc := dscName(p)
	line := func(b []byte, sum string, size int64, name string) []byte {
		b = append(b, ' ')
		b = append(b, sum...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, size, 10)
		b = append(b, ' ')
		b = append(b, name...)
		return append(b, '\n')
	}
	lists := []struct {
		field string
		dsc   string
		file  func(i int) string
		on    bool
	}{
		{"Files", p.Sums[repo.MD5], func(i int) string { return e.meta.Files[i].MD5 }, true},
		{"Checksums-Sha1", p.Sums[repo.SHA1], func(i int) string { return e.meta.Files[i].SHA1 }, e.meta.Sha1},
		{"Checksums-Sha256", p.SHA256, func(i int) string { return p.Extra[i].SHA256 }, true},
	}
	for _, l := range lists {
		if !l.on {
			continue
		}
		b = append(b, l.field...)
		b = append(b, ":\n"...)
		if l.dsc != "" {
			b = line(b, l.dsc, p.Size, dsc)
		}
		for i, f := range e.meta.Files {
			if s := l.file(i); s != "" {
				b = line(b, s, f.Size, f.Name)
			}
		}
	}
	return append(b, e.meta.Tail...)
}

// appendSourceFiles appends the pool files of the source packages: the
// .dsc and every file it lists, in its directory.
func appendSourceFiles(out []repo.File, streamBase string, sources []sourceEntry) []repo.File {
	seen := map[string]bool{}
	for i := range sources {
		e := &sources[i]
		dir := streamBase + e.dir + "/"
		if seen[dir] {
			continue
		}
		seen[dir] = true
		out = append(out, repo.File{Path: dir + dscName(e.pkg), SHA256: e.pkg.SHA256, Size: e.pkg.Size, Kind: repo.KindPackage})
		for k, f := range e.meta.Files {
			out = append(out, repo.File{Path: dir + f.Name, SHA256: e.pkg.Extra[k].SHA256, Size: e.pkg.Extra[k].Size, Kind: repo.KindPackage})
		}
	}
	return out
}

var _ repo.Outdater = (*Format)(nil)

// Outdated implements repo.Outdater: a generation with a Release but no
// Sources index (written before Pier published source packages) is
// outdated, since the setup snippets' deb-src lines make apt fetch one.
func (f *Format) Outdated(t repo.Target, files []repo.File) bool {
	dists := base(t) + "dists/" + t.Release + "/"
	release, sources := false, false
	for _, file := range files {
		rest, ok := strings.CutPrefix(file.Path, dists)
		if !ok {
			continue
		}
		release = release || rest == "Release"
		sources = sources || strings.HasSuffix(rest, "/source/Sources")
	}
	return release && !sources
}
