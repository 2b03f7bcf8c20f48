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

// parseStanza parses data as a binary package's control file: one deb822
// stanza, with the rules of dpkg's parser (lib/dpkg/parse.c, parse_stanza,
// as dpkg --install runs it: not lax). Leading newlines and trailing blank
// lines are allowed. A field name runs to the first space or colon, spaces
// may come before the colon, and the name must not be empty or start with
// '-'; a value ends at a newline not followed by a space or tab
// continuation; a continuation line of only whitespace, a duplicate field
// (names compare case-insensitively), a second stanza and a file that ends
// without a final newline are errors. Field names longer than maxName
// bytes are refused (a Pier limit). Beyond dpkg, three things apt's
// reader of Packages files (apt-pkg/tag.cc) would read differently are
// refused, so that the stanza Pier indexes says what dpkg read: a NUL byte,
// a ^Z byte, and a continuation line that starts with a carriage return.
// The returned reason is meant for the uploader.
func parseStanza(data []byte, maxName int) ([]field, string) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, fmt.Sprintf("control file line %d: a NUL byte (dpkg would cut the value there, apt would not)", lineOf(data, i))
	}
	if i := bytes.IndexByte(data, 0x1a); i >= 0 {
		return nil, fmt.Sprintf("control file line %d: a ^Z byte (dpkg ends a line there, apt does not)", lineOf(data, i))
	}
	p := &stanzaParser{data: data, line: 1}
	for p.pos < len(data) && data[p.pos] == '\n' {
		p.pos++
		p.line++
	}
	if p.pos == len(data) {
		return nil, "control file is empty"
	}
	var (
		fields []field
		seen   = make(map[string]bool)
	)
	for {
		f, reason := p.field(maxName)
		if reason != "" {
			return nil, fmt.Sprintf("control file line %d: %s", p.line, reason)
		}
		key := strings.ToLower(f.Name)
		if seen[key] {
			return nil, fmt.Sprintf("control file has duplicate field %q (line %d)", f.Name, p.line)
		}
		seen[key] = true
		fields = append(fields, f)
		if p.pos == len(data) {
			break
		}
		if data[p.pos] == '\n' { // a blank line ends the stanza
			for p.pos < len(data) && data[p.pos] == '\n' {
				p.pos++
				p.line++
			}
			if p.pos < len(data) {
				return nil, fmt.Sprintf("control file line %d: more than one stanza (a blank line ended the first; dpkg: \"several package info entries found\")", p.line)
			}
			break
		}
	}
	return fields, ""
}

// stanzaParser walks a control file; pos is at the start of a line.
type stanzaParser struct {
	data []byte
	pos  int
	line int
}

// field parses one field starting at p.pos and leaves p.pos at the start
// of the next line.
func (p *stanzaParser) field(maxName int) (field, string) {
	d := p.data
	start := p.pos
	for p.pos < len(d) && !isSpace(d[p.pos]) && d[p.pos] != ':' {
		p.pos++
	}
	name := string(d[start:p.pos])
	switch {
	case name == "":
		return field{}, "empty field name (a line that starts with a space, tab or colon, or a whitespace-only line, where a field should start)"
	case name[0] == '-':
		return field{}, fmt.Sprintf("field name %q cannot start with '-'", clip(name))
	case len(name) > maxName:
		return field{}, fmt.Sprintf("field name %q is longer than %d bytes", clip(name), maxName)
	}
	for p.pos < len(d) && d[p.pos] != '\n' && isSpace(d[p.pos]) {
		p.pos++
	}
	switch {
	case p.pos == len(d):
		return field{}, fmt.Sprintf("end of file after field name %q", clip(name))
	case d[p.pos] == '\n':
		return field{}, fmt.Sprintf("newline in field name %q (expected \"Field: value\")", clip(name))
	case d[p.pos] != ':':
		return field{}, fmt.Sprintf("field name %q must be followed by a colon (expected \"Field: value\")", clip(name))
	}
	p.pos++
	for p.pos < len(d) && d[p.pos] != '\n' && isSpace(d[p.pos]) {
		p.pos++
	}
	if p.pos == len(d) || (d[p.pos] == '\n' && p.pos+1 == len(d)) {
		return field{}, fmt.Sprintf("the file ends in the value of field %q (missing final newline; dpkg requires a newline after a value and a value on the last line)", clip(name))
	}
	vstart := p.pos
	for {
		nl := bytes.IndexByte(d[p.pos:], '\n')
		if nl < 0 {
			return field{}, fmt.Sprintf("the file ends in the value of field %q (missing final newline)", clip(name))
		}
		p.pos += nl + 1
		p.line++
		if p.pos == len(d) || d[p.pos] == '\n' || !isSpace(d[p.pos]) {
			break
		}
		// A continuation line.
		if d[p.pos] == '\r' {
			return field{}, fmt.Sprintf("a continuation line of field %q starts with a carriage return (apt reads it as a new field)", clip(name))
		}
		end := p.pos + bytes.IndexByte(d[p.pos:], '\n')
		if end < p.pos {
			end = len(d)
		}
		if len(bytes.TrimLeft(d[p.pos:end], " \t\v\f\r")) == 0 {
			return field{}, fmt.Sprintf("blank line in value of field %q (a line of only whitespace inside a value)", clip(name))
		}
	}
	value := bytes.TrimRight(d[vstart:p.pos], " \t\n\v\f\r")
	return field{Name: name, Value: string(value)}, ""
}

// isSpace is C's isspace in the "C" locale (dpkg's c_isspace).
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// lineOf returns the 1-based line number of offset i in data.
func lineOf(data []byte, i int) int { return 1 + bytes.Count(data[:i], []byte("\n")) }

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
