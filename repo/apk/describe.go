package apk

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	"github.com/pierhq/pier/repo"
)

var (
	_ repo.Describer        = (*Format)(nil)
	_ repo.InstallCommander = (*Format)(nil)
)

// Describe implements repo.Describer from the APKINDEX stanza recorded at
// ingest (Meta), read as apk-tools reads an index (one "X:value" line per
// field): T description, U url, L license, m maintainer, o origin, I
// installed size in bytes, D dependencies (a "!" entry is a conflict, as
// apk_dep_parse reads it), p provides, i install_if. An index stanza holds
// no file list, so Files stays unknown.
func (f *Format) Describe(p *repo.Package) (*repo.Details, error) {
	if len(p.Meta) == 0 || p.Meta[0] != 'C' {
		return nil, errors.New("apk: recorded stanza does not start with a C field")
	}
	d := &repo.Details{FilesNote: "an apk index records no file list (apk info -L lists it on an installed system)"}
	var deps, conflicts []string
	for line := range bytes.SplitSeq(p.Meta, []byte("\n")) {
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		v := string(line[2:])
		switch line[0] {
		case 'T':
			d.Summary = v
		case 'U':
			d.Homepage = v
		case 'L':
			d.License = v
		case 'm':
			d.Maintainer = v
		case 'o':
			d.Source = v
		case 'I':
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				d.InstalledSize = n
			}
		case 'D':
			for _, e := range strings.Fields(v) {
				if c, ok := strings.CutPrefix(e, "!"); ok {
					conflicts = append(conflicts, c)
				} else {
					deps = append(deps, e)
				}
			}
		case 'p':
			d.Relations = append(d.Relations, repo.Relation{Kind: "provides", Entries: strings.Fields(v)})
		case 'i':
			d.Relations = append(d.Relations, repo.Relation{Kind: "install_if", Entries: strings.Fields(v)})
		}
	}
	if len(conflicts) > 0 {
		d.Relations = append([]repo.Relation{{Kind: "conflicts", Entries: conflicts}}, d.Relations...)
	}
	if len(deps) > 0 {
		d.Relations = append([]repo.Relation{{Kind: "depends", Entries: deps}}, d.Relations...)
	}
	return d, nil
}

// InstallCommand implements repo.InstallCommander: apk's name=version
// constraint selects exactly that version (apk-world(5)).
func (f *Format) InstallCommand(p *repo.Package) string {
	return "apk add " + p.Name + "=" + p.Version
}
