package deb

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pierhq/pier/repo"
)

// FuzzDSC feeds arbitrary bytes to the .dsc reader: it must never panic,
// fail only with bad-package errors, and whatever it accepts must list
// files with names dpkg allows, carry a Meta that decodes and encodes back
// to the same bytes, and render a Sources stanza that parses as one stanza
// naming the package.
func FuzzDSC(f *testing.F) {
	for _, c := range dscCases(f) {
		f.Add([]byte(c.dsc))
	}
	format := New(Config{})
	f.Fuzz(func(t *testing.T, data []byte) {
		format.Sniff(data)
		sums := sumsOf(data)
		parsed, err := format.readSource(context.Background(), bytes.NewReader(data), int64(len(data)), sums)
		if err != nil {
			if !errors.Is(err, repo.ErrBadPackage) {
				t.Fatalf("error not wrapping ErrBadPackage: %v", err)
			}
			return
		}
		if parsed.Arch != SourceArch || len(parsed.Needs) == 0 {
			t.Fatalf("accepted %s %s %s with %d files", parsed.Name, parsed.Version, parsed.Arch, len(parsed.Needs))
		}
		var m SourceMeta
		if err := m.UnmarshalBinary(parsed.Meta); err != nil {
			t.Fatalf("meta does not decode: %v\n%q", err, parsed.Meta)
		}
		again, err := m.MarshalBinary()
		if err != nil || !bytes.Equal(again, parsed.Meta) {
			t.Fatalf("meta does not round-trip: %v", err)
		}
		names, err := ListedFiles(data, false)
		if err != nil || len(names) != len(parsed.Needs) {
			t.Fatalf("ListedFiles of an accepted .dsc: %v, %v", names, err)
		}
		for i, need := range parsed.Needs {
			if names[i] != need.Name {
				t.Fatalf("ListedFiles names %q where the upload reads %q", names[i], need.Name)
			}
		}
		p := repo.Package{Component: "main", Name: parsed.Name, Version: parsed.Version, Arch: parsed.Arch, Size: int64(len(data)),
			Sums: sums, SHA256: sums[repo.SHA256], Meta: parsed.Meta}
		for _, need := range parsed.Needs {
			if !reDSCFileName.MatchString(need.Name) {
				t.Fatalf("file name %q", need.Name)
			}
			p.Extra = append(p.Extra, repo.Blob{SHA256: strings.Repeat("a", 64), Size: need.Size})
		}
		es, err := sourceEntries([]repo.Package{p})
		if err != nil {
			t.Fatalf("an accepted package does not index: %v", err)
		}
		stanza := appendSourceStanza(nil, &es[0])
		// dpkg's parser wants a value on the last line; apt reads an
		// empty last value, so a sentinel field ends the stanza.
		fields, reason := parseStanza(append(stanza, "Zz-End: 1\n"...), 1<<20)
		if reason != "" {
			t.Fatalf("Sources stanza does not parse: %s\n%s", reason, stanza)
		}
		if v, _ := lookup(fields, "Package"); v != parsed.Name {
			t.Fatalf("Sources stanza names %q, want %q\n%s", v, parsed.Name, stanza)
		}
		if err := checkSourceStanza(fields, "", map[string]*repo.File{}); err == nil {
			t.Fatal("checkSourceStanza accepts a stanza whose files are missing")
		}
	})
}

// FuzzChanges feeds arbitrary bytes to the .changes reader: it must never
// panic, fail only with bad-package errors, and whatever it accepts lists
// files with names dpkg allows, each with a size and a sha256.
func FuzzChanges(f *testing.F) {
	f.Add([]byte(changesFor(f)))
	for _, c := range dscCases(f) {
		f.Add([]byte(c.dsc))
	}
	format := New(Config{})
	f.Fuzz(func(t *testing.T, data []byte) {
		format.SniffUploadList("x", data)
		l, err := format.ReadUploadList(context.Background(), bytes.NewReader(data), int64(len(data)), nil)
		if err != nil {
			if !errors.Is(err, repo.ErrBadPackage) {
				t.Fatalf("error not wrapping ErrBadPackage: %v", err)
			}
			return
		}
		if len(l.Files) == 0 {
			t.Fatal("accepted a .changes without files")
		}
		for _, nf := range l.Files {
			if !reDSCFileName.MatchString(nf.Name) || nf.Size < 0 || len(nf.Sums[repo.SHA256]) != 64 {
				t.Fatalf("listed file %+v", nf)
			}
		}
		names, err := ListedFiles(data, true)
		if err != nil || len(names) != len(l.Files) {
			t.Fatalf("ListedFiles of an accepted .changes: %v, %v", names, err)
		}
		for i, nf := range l.Files {
			if names[i] != nf.Name {
				t.Fatalf("ListedFiles names %q where the upload reads %q", names[i], nf.Name)
			}
		}
	})
}
