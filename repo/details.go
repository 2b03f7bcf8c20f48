package repo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// Details is what a format can say about one package beyond its name,
// version and architecture, read from the Meta it recorded at ingest: what
// a package page shows and what search by installed file indexes.
type Details struct {
	// Summary is the one-line description; Description the long one
	// (without the summary line when the format keeps them together).
	Summary     string
	Description string
	Maintainer  string
	Homepage    string
	License     string
	// Source names the source package when the format records it.
	Source string
	// Relations are the package's relations by kind, in the format's
	// words and order ("Depends", "Provides", "Conflicts"; "requires" …),
	// each entry as the format prints it ("libc6 (>= 2.36)").
	Relations []Relation
	// InstalledSize is in bytes (0: unknown).
	InstalledSize int64
	// Files are the absolute paths the package installs ("/usr/bin/hello"),
	// sorted; directories are listed only where the format's file list
	// names them (rpm does, deb's Contents list does not). FilesKnown is false
	// when the format's Meta does not carry them (apk's APKINDEX stanza,
	// deb packages ingested before Pier kept file lists).
	Files      []string
	FilesKnown bool
	// FilesNote says why Files is unknown, for the page.
	FilesNote string
}

// Relation is one kind of relation of a package and its entries.
type Relation struct {
	Kind    string
	Entries []string
}

// Describer is implemented by formats that can describe a package from its
// Meta. Describe reads only p's fields (Meta above all), never the package
// file; an undecodable Meta is an error (a server fault: the format wrote
// it).
type Describer interface {
	Describe(p *Package) (*Details, error)
}

// InstallCommander is implemented by formats that can say how a client
// installs exactly one version of a package ("apt-get install
// hello=1.0-1").
type InstallCommander interface {
	InstallCommand(p *Package) string
}

// Describe returns what t's format says about p, or an error wrapping
// ErrNotFound when the format cannot describe packages.
func (s *Service) Describe(t Target, p *Package) (*Details, error) {
	spec, err := s.d.spec(t.Distro)
	if err != nil {
		return nil, err
	}
	d, ok := spec.Format.(Describer)
	if !ok {
		return nil, fmt.Errorf("%s packages cannot be described: %w", spec.Format.Name(), ErrNotFound)
	}
	out, err := d.Describe(p)
	if err != nil {
		return nil, fmt.Errorf("describe %s %s %s in %s: %w", p.Name, p.Version, p.Arch, t, err)
	}
	return out, nil
}

// InstallCommand returns the command that installs exactly p from t, or
// "" when t's format does not say.
func (s *Service) InstallCommand(t Target, p *Package) string {
	spec, err := s.d.spec(t.Distro)
	if err != nil {
		return ""
	}
	if ic, ok := spec.Format.(InstallCommander); ok {
		return ic.InstallCommand(p)
	}
	return ""
}

// PackagePath returns the path p is published at in t (no leading slash),
// or "" when t's format does not say.
func (s *Service) PackagePath(t Target, p *Package) string {
	spec, err := s.d.spec(t.Distro)
	if err != nil {
		return ""
	}
	if pp, ok := spec.Format.(PackagePather); ok {
		return pp.PackagePath(t, p)
	}
	return ""
}

// Compare orders two versions of t's format the way its clients do; it
// compares bytes when t's distro is not configured.
func (s *Service) Compare(t Target, a, b string) int {
	spec, err := s.d.spec(t.Distro)
	if err != nil {
		return strings.Compare(a, b)
	}
	return spec.Format.Compare(a, b)
}

// PackageKeys lists t's live packages without Meta and Sums (in no
// particular order): cheap enough to list, filter and sort a target of
// 100,000 packages per request.
func (s *Service) PackageKeys(ctx context.Context, t Target) ([]Package, error) {
	ti, err := s.d.findTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	return s.d.cat.PackageKeys(ctx, ti.ID)
}

// FindPackage returns t's live package name=version arch with its Meta, or
// an error wrapping ErrNotFound.
func (s *Service) FindPackage(ctx context.Context, t Target, name, version, arch string) (*Package, error) {
	ti, err := s.d.findTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	return s.d.cat.FindPackage(ctx, ti.ID, name, version, arch)
}

// GenerationDiff is what changed in a target's package set from one
// generation to another.
type GenerationDiff struct {
	From, To         int64
	Added, Removed   []Package
	Unchanged        int
	FromPkgs, ToPkgs int
}

// DiffGenerations compares t's generations from and to (by Seq): the
// packages to has and from lacks (Added), and the reverse (Removed), each
// sorted by name, version and architecture, without Meta. A generation
// forgotten by garbage collection is an error wrapping ErrNotFound.
func (s *Service) DiffGenerations(ctx context.Context, t Target, from, to int64) (*GenerationDiff, error) {
	ti, err := s.d.findTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	a, err := s.d.cat.Generation(ctx, ti.ID, from)
	if err != nil {
		return nil, err
	}
	b, err := s.d.cat.Generation(ctx, ti.ID, to)
	if err != nil {
		return nil, err
	}
	inA := make(map[int64]bool, len(a.PackageIDs))
	for _, id := range a.PackageIDs {
		inA[id] = true
	}
	inB := make(map[int64]bool, len(b.PackageIDs))
	for _, id := range b.PackageIDs {
		inB[id] = true
	}
	var added, removed []int64
	for _, id := range b.PackageIDs {
		if !inA[id] {
			added = append(added, id)
		}
	}
	for _, id := range a.PackageIDs {
		if !inB[id] {
			removed = append(removed, id)
		}
	}
	out := &GenerationDiff{From: from, To: to, FromPkgs: len(a.PackageIDs), ToPkgs: len(b.PackageIDs),
		Unchanged: len(b.PackageIDs) - len(added)}
	for _, l := range []struct {
		ids []int64
		dst *[]Package
	}{{added, &out.Added}, {removed, &out.Removed}} {
		if len(l.ids) == 0 {
			continue
		}
		ps, err := s.d.cat.PackagesByID(ctx, ti.ID, l.ids)
		if err != nil {
			return nil, err
		}
		for i := range ps {
			ps[i].Meta, ps[i].Sums = nil, nil
		}
		slices.SortFunc(ps, func(x, y Package) int {
			if c := strings.Compare(x.Name, y.Name); c != 0 {
				return c
			}
			if c := s.Compare(t, x.Version, y.Version); c != 0 {
				return c
			}
			return strings.Compare(x.Arch, y.Arch)
		})
		*l.dst = ps
	}
	return out, nil
}

// SetupText returns the lines that add t to a client, as GET /setup
// answers them. When info.Components is empty it is filled from t's
// packages, in upload order (["main"] when it has none); a caller that
// holds t's package list passes its components instead. A target whose
// format writes no setup is an error wrapping ErrNotFound.
func (s *Service) SetupText(ctx context.Context, t Target, info SetupInfo) (string, error) {
	spec, err := s.d.spec(t.Distro)
	if err != nil {
		return "", err
	}
	sw, ok := spec.Format.(SetupWriter)
	if !ok {
		return "", fmt.Errorf("no setup instructions for %s targets: %w", spec.Format.Name(), ErrNotFound)
	}
	if len(info.Components) == 0 {
		ps, err := s.PackageKeys(ctx, t)
		if err != nil {
			return "", err
		}
		// In upload order, as /setup lists them (Catalog.Packages' id order).
		slices.SortFunc(ps, func(a, b Package) int { return cmp.Compare(a.ID, b.ID) })
		for _, p := range ps {
			if !slices.Contains(info.Components, p.Component) {
				info.Components = append(info.Components, p.Component)
			}
		}
	}
	if len(info.Components) == 0 {
		info.Components = []string{"main"}
	}
	return sw.Setup(t, info), nil
}
