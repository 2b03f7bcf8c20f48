package deb

import (
	"bytes"
	"fmt"
	"strings"
)

// field is one field of a deb822 stanza. Value has the whitespace around it
// removed; continuation lines inside it are kept exactly, each after a "\n".
type field struct {
	Name  string
	Value string
}

// parseStanza parses data as a single deb822 stanza (a binary package's
// control file). Leading and trailing blank lines are allowed; a second
// stanza, a duplicate field (names compare case-insensitively), a
// continuation line before the first field and a line without a colon are
// errors. Field names longer than maxName bytes are rejected. The returned
// reason is meant for the uploader.
func parseStanza(data []byte, maxName int) ([]field, string) {
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, "control file contains a NUL byte"
	}
	var (
		fields []field
		seen   = make(map[string]bool)
		cur    = -1    // index in fields of the field being continued
		value  []byte  // its value so far
		ended  = false // a blank line ended the stanza
	)
	finish := func() {
		if cur >= 0 {
			fields[cur].Value = string(bytes.TrimRight(value, " \t\r\n"))
		}
	}
	for lineNo := 1; len(data) > 0; lineNo++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(bytes.Trim(line, " \t\r")) == 0 {
			// Lines of only spaces and tabs separate stanzas.
			if len(fields) > 0 {
				ended = true
			}
			continue
		}
		if ended {
			return nil, fmt.Sprintf("control file line %d: more than one stanza (a blank line ended the first)", lineNo)
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur < 0 {
				return nil, fmt.Sprintf("control file line %d: continuation line before the first field", lineNo)
			}
			value = append(value, '\n')
			value = append(value, line...)
			continue
		}
		if line[0] == '#' {
			return nil, fmt.Sprintf("control file line %d: comment lines are not allowed in a binary package's control file", lineNo)
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return nil, fmt.Sprintf("control file line %d: expected \"Field: value\", found %q", lineNo, clip(string(line)))
		}
		name := string(line[:colon])
		if reason := fieldNameProblem(name, maxName); reason != "" {
			return nil, fmt.Sprintf("control file line %d: %s", lineNo, reason)
		}
		key := strings.ToLower(name)
		if seen[key] {
			return nil, fmt.Sprintf("control file has duplicate field %q (line %d)", name, lineNo)
		}
		seen[key] = true
		finish()
		fields = append(fields, field{Name: name})
		cur = len(fields) - 1
		value = append(value[:0], bytes.TrimLeft(line[colon+1:], " \t")...)
	}
	finish()
	if len(fields) == 0 {
		return nil, "control file is empty"
	}
	return fields, ""
}

// fieldNameProblem says what is wrong with a deb822 field name, or "".
func fieldNameProblem(name string, maxName int) string {
	switch {
	case name == "":
		return "field with an empty name"
	case len(name) > maxName:
		return fmt.Sprintf("field name %q is longer than %d bytes", clip(name), maxName)
	case name[0] == '#':
		return fmt.Sprintf("field name %q starts with '#'", clip(name))
	case name[0] == '-':
		return fmt.Sprintf("field name %q starts with '-'", clip(name))
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f {
			return fmt.Sprintf("field name %q contains a space or a non-printable character", clip(name))
		}
	}
	return ""
}

// lookup returns the value of the field named name (case-insensitively).
func lookup(fields []field, name string) (string, bool) {
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// appendField appends the rendered "Name: value\n" to b.
func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ':')
	if value != "" && value[0] != '\n' {
		b = append(b, ' ')
	}
	b = append(b, value...)
	return append(b, '\n')
}

// renderStanza renders fields as a control stanza, in their order.
func renderStanza(fields []field) []byte {
	var b []byte
	for _, f := range fields {
		b = appendField(b, f.Name, f.Value)
	}
	return b
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// Field order of a Packages stanza, as apt-ftparchive writes it
// (apt-pkg/tagfile-order.c). Fields before Filename go into a Meta's Head,
// the rest and unknown fields into its Tail.
const (
	rankFilename = 100 // the generated Filename/Size/checksum block
	rankUnknown  = 1000
	rankDrop     = -1
)

// fieldRank returns the position of a control field (given lower-case) in a
// Packages stanza and its canonical spelling. Fields the generator writes
// itself get rankDrop; fields it does not know get rankUnknown.
func fieldRank(lower string) (int, string) {
	switch lower {
	case "package":
		return 1, "Package"
	case "package-type":
		return 2, "Package-Type"
	case "architecture":
		return 3, "Architecture"
	case "version":
		return 4, "Version"
	case "built-using":
		return 5, "Built-Using"
	case "multi-arch":
		return 6, "Multi-Arch"
	case "priority":
		return 7, "Priority"
	case "essential":
		return 8, "Essential"
	case "section":
		return 9, "Section"
	case "source":
		return 10, "Source"
	case "origin":
		return 11, "Origin"
	case "maintainer":
		return 12, "Maintainer"
	case "original-maintainer":
		return 13, "Original-Maintainer"
	case "bugs":
		return 14, "Bugs"
	case "installed-size":
		return 15, "Installed-Size"
	case "provides":
		return 16, "Provides"
	case "pre-depends":
		return 17, "Pre-Depends"
	case "depends":
		return 18, "Depends"
	case "recommends":
		return 19, "Recommends"
	case "suggests":
		return 20, "Suggests"
	case "conflicts":
		return 21, "Conflicts"
	case "breaks":
		return 22, "Breaks"
	case "replaces":
		return 23, "Replaces"
	case "enhances":
		return 24, "Enhances"
	case "status", "filename", "size", "md5sum", "sha1", "sha256", "sha512":
		return rankDrop, ""
	case "homepage":
		return 101, "Homepage"
	case "description":
		return 102, "Description"
	case "description-md5":
		return 103, "Description-md5"
	case "tag":
		return 104, "Tag"
	case "task":
		return 105, "Task"
	}
	return rankUnknown, ""
}
