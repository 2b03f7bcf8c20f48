package deb

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pierhq/pier/repo"
)

var (
	_ repo.Describer        = (*Format)(nil)
	_ repo.InstallCommander = (*Format)(nil)
)

// relationFields are the binary relationship fields dpkg knows (deb-control(5),
// "Package interrelationship fields"), in the order a package page lists them.
var relationFields = []string{"Pre-Depends", "Depends", "Recommends", "Suggests", "Enhances", "Breaks", "Conflicts",
	"Provides", "Replaces", "Built-Using"}

// Describe implements repo.Describer from the Packages stanza and the file
// list recorded at ingest (Meta). deb has no license field in its control
// file (the license is in /usr/share/doc/<package>/copyright), so License
// stays empty; Installed-Size is KiB in the control file (deb-control(5))
// and bytes in Details.
func (f *Format) Describe(p *repo.Package) (*repo.Details, error) {
	var m Meta
	if err := m.UnmarshalBinary(p.Meta); err != nil {
		return nil, fmt.Errorf("deb: decode meta: %w", err)
	}
	fields, problem := parseStanza([]byte(m.Head+m.Tail), 1<<10)
	if problem != "" {
		return nil, fmt.Errorf("deb: recorded stanza: %s", problem)
	}
	d := &repo.Details{Source: m.Source}
	d.Maintainer, _ = lookup(fields, "Maintainer")
	d.Homepage, _ = lookup(fields, "Homepage")
	if v, ok := lookup(fields, "Installed-Size"); ok {
		if kib, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && kib > 0 {
			d.InstalledSize = kib * 1024
		}
	}
	if v, ok := lookup(fields, "Description"); ok {
		d.Summary, d.Description = splitDescription(v)
	}
	for _, kind := range relationFields {
		if v, ok := lookup(fields, kind); ok && strings.TrimSpace(v) != "" {
			d.Relations = append(d.Relations, repo.Relation{Kind: kind, Entries: splitRelations(v)})
		}
	}
	if m.Legacy {
		d.FilesNote = "this package was uploaded before Pier recorded file lists; upload it again to list its files"
	} else {
		// Recorded relative to the root, as Contents lists them.
		d.Files, d.FilesKnown = make([]string, len(m.Files)), true
		for i, f := range m.Files {
			d.Files[i] = "/" + f
		}
	}
	return d, nil
}

// splitDescription splits a Description field into its synopsis (the first
// line) and extended description, undoing deb822's folding as
// deb-control(5) describes it: each continuation line starts with a space,
// and a line of a single "." is an empty line.
func splitDescription(v string) (string, string) {
	synopsis, rest, _ := strings.Cut(v, "\n")
	if rest == "" {
		return strings.TrimSpace(synopsis), ""
	}
	lines := strings.Split(rest, "\n")
	for i, l := range lines {
		l = strings.TrimPrefix(l, " ")
		if l == "." {
			l = ""
		}
		lines[i] = l
	}
	return strings.TrimSpace(synopsis), strings.Join(lines, "\n")
}

// splitRelations splits a relationship field at its commas (alternatives
// joined by "|" stay one entry), folding continuation lines.
func splitRelations(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		e = strings.Join(strings.Fields(e), " ")
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// InstallCommand implements repo.InstallCommander: apt-get's
// package=version form installs exactly that version (apt-get(8)).
func (f *Format) InstallCommand(p *repo.Package) string {
	return "sudo apt-get install " + p.Name + "=" + p.Version
}
