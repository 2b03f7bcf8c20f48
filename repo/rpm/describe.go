package rpm

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"slices"

	"github.com/pierhq/pier/repo"
)

var (
	_ repo.Describer        = (*Format)(nil)
	_ repo.InstallCommander = (*Format)(nil)
)

// describedPrimary is the part of one primary.xml <package> a package page
// shows. encoding/xml matches the "rpm:" elements by their local name.
type describedPrimary struct {
	Summary     string `xml:"summary"`
	Description string `xml:"description"`
	Packager    string `xml:"packager"`
	URL         string `xml:"url"`
	Format      struct {
		License     string         `xml:"license"`
		SourceRPM   string         `xml:"sourcerpm"`
		Provides    []describedDep `xml:"provides>entry"`
		Requires    []describedDep `xml:"requires>entry"`
		Conflicts   []describedDep `xml:"conflicts>entry"`
		Obsoletes   []describedDep `xml:"obsoletes>entry"`
		Recommends  []describedDep `xml:"recommends>entry"`
		Suggests    []describedDep `xml:"suggests>entry"`
		Supplements []describedDep `xml:"supplements>entry"`
		Enhances    []describedDep `xml:"enhances>entry"`
	} `xml:"format"`
}

// describedDep is one <rpm:entry> of a dependency list.
type describedDep struct {
	Name  string `xml:"name,attr"`
	Flags string `xml:"flags,attr"`
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
	Pre   string `xml:"pre,attr"`
}

// depOps are the comparison of each flags value createrepo_c writes, as
// rpm prints a dependency (rpm -qR).
var depOps = map[string]string{"EQ": "=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}

// String renders d as rpm -qR prints it: "name >= epoch:ver-rel".
func (d describedDep) String() string {
	op, ok := depOps[d.Flags]
	if !ok || d.Ver == "" {
		return d.Name
	}
	evr := d.Ver
	if d.Epoch != "" && d.Epoch != "0" {
		evr = d.Epoch + ":" + evr
	}
	if d.Rel != "" {
		evr += "-" + d.Rel
	}
	return d.Name + " " + op + " " + evr
}

// Describe implements repo.Describer from the primary and filelists
// fragments recorded at ingest (Meta): the same XML dnf reads, decoded
// again. Installed size is rpm's SIZE tag (bytes).
func (f *Format) Describe(p *repo.Package) (*repo.Details, error) {
	m, err := decodeMeta(p.Meta)
	if err != nil {
		return nil, err
	}
	var prim bytes.Buffer
	prim.Write(m.Frag[fragPrimaryHead])
	prim.WriteString(p.SHA256)
	prim.Write(m.Frag[fragPrimaryMid])
	prim.Write(m.Frag[fragPrimaryTail])
	var dp describedPrimary
	if err := xml.Unmarshal(prim.Bytes(), &dp); err != nil {
		return nil, fmt.Errorf("rpm: decode recorded primary: %w", err)
	}
	d := &repo.Details{Summary: dp.Summary, Description: dp.Description, Maintainer: dp.Packager, Homepage: dp.URL,
		License: dp.Format.License, Source: dp.Format.SourceRPM, InstalledSize: int64(m.Installed), FilesKnown: true}
	for _, r := range []struct {
		kind string
		deps []describedDep
	}{{"Requires", dp.Format.Requires}, {"Provides", dp.Format.Provides}, {"Conflicts", dp.Format.Conflicts},
		{"Obsoletes", dp.Format.Obsoletes}, {"Recommends", dp.Format.Recommends}, {"Suggests", dp.Format.Suggests},
		{"Supplements", dp.Format.Supplements}, {"Enhances", dp.Format.Enhances}} {
		if len(r.deps) == 0 {
			continue
		}
		rel := repo.Relation{Kind: r.kind}
		for _, dep := range r.deps {
			rel.Entries = append(rel.Entries, dep.String())
		}
		d.Relations = append(d.Relations, rel)
	}
	var files struct {
		Files []string `xml:"file"`
	}
	var fl bytes.Buffer
	fl.WriteString("<files>")
	fl.Write(m.Frag[fragFiles])
	fl.WriteString("</files>")
	if err := xml.Unmarshal(fl.Bytes(), &files); err != nil {
		return nil, fmt.Errorf("rpm: decode recorded file list: %w", err)
	}
	slices.Sort(files.Files)
	d.Files = slices.Compact(files.Files)
	return d, nil
}

// InstallCommand implements repo.InstallCommander: dnf takes a package
// spec of the form name-[epoch:]version-release (dnf(8), "Package
// specification").
func (f *Format) InstallCommand(p *repo.Package) string {
	return "sudo dnf install " + p.Name + "-" + p.Version
}
