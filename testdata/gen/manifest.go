package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The targets every corpus file is uploaded to, one per format.
const (
	debTarget = "corpus/debian/bookworm"
	rpmTarget = "corpus/el/9"
	apkTarget = "corpus/alpine/v3.20"
)

// Verdicts of the real tool on a file (the manifest's tool column).
const (
	accepts = "accepts"
	refuses = "refuses"
)

// row is one line of MANIFEST.tsv.
type row struct {
	// File is the path below testdata/.
	File string
	// Format is the format of Target: deb, rpm or apk.
	Format string
	// Target is stream/distro/release.
	Target string
	// Status is the HTTP status Pier must answer an upload of File with.
	Status int
	// Message is a substring of Pier's message (case-insensitive); empty
	// for 201.
	Message string
	// Tool is what the real tool does with File: accepts or refuses,
	// followed by the tool (and, for apk-tools, which cannot run here, the
	// source that decides it).
	Tool string
	// How says how File was made.
	How string
}

// targetOf returns the target of format f.
func targetOf(f string) string {
	switch f {
	case "deb":
		return debTarget
	case "rpm":
		return rpmTarget
	case "apk":
		return apkTarget
	}
	panic("unknown format " + f)
}

// good returns the row of a package the real tool accepts and Pier must
// publish.
func good(file, format, tool, how string) row {
	return row{File: file, Format: format, Target: targetOf(format), Status: 201, Tool: accepts + " (" + tool + ")", How: how}
}

// bad returns the row of a file Pier must refuse with status and a message
// containing msg.
func bad(file, format string, status int, msg, tool, how string) row {
	return row{File: file, Format: format, Target: targetOf(format), Status: status, Message: msg, Tool: tool, How: how}
}

// writeManifest writes rows as MANIFEST.tsv after checking that every
// file exists and that every file of the corpus has a row.
func writeManifest(path string, rows []row) error {
	dir := filepath.Dir(path)
	listed := map[string]bool{}
	var b strings.Builder
	b.WriteString("file\tformat\ttarget\tstatus\tmessage\ttool\thow\n")
	for _, r := range rows {
		if _, err := os.Stat(filepath.Join(dir, r.File)); err != nil {
			return fmt.Errorf("manifest row for a missing file: %w", err)
		}
		for _, f := range []string{r.File, r.Message, r.Tool, r.How} {
			if strings.ContainsAny(f, "\t\n") {
				return fmt.Errorf("%s: a manifest field holds a tab or newline: %q", r.File, f)
			}
		}
		if (r.Status == 201) != (r.Message == "") {
			return fmt.Errorf("%s: status %d with message %q: a refusal needs a message, an acceptance none", r.File, r.Status, r.Message)
		}
		listed[r.File] = true
		fmt.Fprintf(&b, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.File, r.Format, r.Target, r.Status, r.Message, r.Tool, r.How)
	}
	var unlisted []string
	for _, sub := range []string{"deb", "rpm", "apk", "crafted"} {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			if !listed[filepath.ToSlash(rel)] {
				unlisted = append(unlisted, rel)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(unlisted) > 0 {
		sort.Strings(unlisted)
		return fmt.Errorf("files without a manifest row: %s", strings.Join(unlisted, ", "))
	}
	return writeFile(path, []byte(b.String()))
}
