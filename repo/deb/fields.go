package deb

import (
	"fmt"
	"strings"
)

// The per-field rules dpkg applies when it reads a binary package's
// control file at install time (lib/dpkg/parse.c, fieldinfos and
// pkg_parse_verify; lib/dpkg/fields.c; parsedb flags pdb_parse_binary:
// pdb_recordavailable, pdb_rejectstatus, pdb_single_stanza, and neither
// lax parser flag). dpkg's warnings are not refusals; its errors are.

// depKind is how a relationship field is parsed.
type depKind int

const (
	depNormal    depKind = iota // Depends, Pre-Depends, Recommends, Suggests, Enhances
	depNoAltsAny                // Conflicts, Breaks, Replaces: no '|'
	depProvides                 // Provides: no '|'
)

// knownField is what dpkg does with a field it knows.
type knownField int

const (
	fieldChar      knownField = iota // free text: Installed-Size, Origin, Maintainer, Bugs, Source, Description, Section
	fieldName                        // Package
	fieldBool                        // Essential, Protected
	fieldStatus                      // Status, Config-Version, Triggers-*: refused in a .deb
	fieldPriority                    // Priority, Class
	fieldArch                        // Architecture
	fieldMultiArch                   // Multi-Arch
	fieldVersion                     // Version
	fieldRevision                    // Revision, Package-Revision, Package_Revision (obsolete, only warned about)
	fieldDep                         // relationship fields
	fieldConffiles                   // Conffiles
	fieldArchives                    // Filename, Size, MD5sum, MSDOS-Filename
)

// dpkgField returns how dpkg handles the field named lower (lower-case),
// and for relationship fields their kind; ok is false for a user-defined
// field.
func dpkgField(lower string) (knownField, depKind, bool) {
	switch lower {
	case "package":
		return fieldName, 0, true
	case "essential", "protected":
		return fieldBool, 0, true
	case "status", "config-version", "triggers-pending", "triggers-awaited":
		return fieldStatus, 0, true
	case "priority", "class":
		return fieldPriority, 0, true
	case "installed-size", "origin", "maintainer", "bugs", "source", "description", "section":
		return fieldChar, 0, true
	case "architecture":
		return fieldArch, 0, true
	case "multi-arch":
		return fieldMultiArch, 0, true
	case "version":
		return fieldVersion, 0, true
	case "revision", "package-revision", "package_revision":
		return fieldRevision, 0, true
	case "depends", "pre-depends", "recommends", "suggests", "enhances", "recommended", "optional":
		return fieldDep, depNormal, true
	case "conflicts", "breaks", "replaces":
		return fieldDep, depNoAltsAny, true
	case "provides":
		return fieldDep, depProvides, true
	case "conffiles":
		return fieldConffiles, 0, true
	case "filename", "size", "md5sum", "msdos-filename":
		return fieldArchives, 0, true
	}
	return 0, 0, false
}

// fieldsProblem applies dpkg's per-field rules to a parsed control file
// and says what is wrong, or "". Package, Version and Architecture are
// checked by the caller (with Pier's length limits).
func fieldsProblem(fields []field) string {
	archives := -1 // number of values of the first archive details field
	for _, f := range fields {
		kind, dk, ok := dpkgField(strings.ToLower(f.Name))
		if !ok {
			if len(f.Name) < 2 {
				return fmt.Sprintf("user-defined field name %q is too short (dpkg requires at least 2 characters)", f.Name)
			}
			continue
		}
		var reason string
		switch kind {
		case fieldBool:
			reason = nameValueProblem(f.Value, []string{"no", "yes"}, false, "a boolean (yes/no)")
		case fieldStatus:
			reason = "is not allowed in a package's control file (dpkg: \"value for '" + f.Name + "' field not allowed in this context\"; usual cause: a control file copied from dpkg's status database)"
		case fieldPriority:
			reason = nameValueProblem(f.Value, []string{"required", "important", "standard", "optional", "extra", "unknown"}, true, "a priority")
		case fieldMultiArch:
			reason = nameValueProblem(f.Value, []string{"no", "same", "allowed", "foreign"}, false, "one of no, same, allowed, foreign")
		case fieldDep:
			reason = dependencyProblem(f.Value, dk)
		case fieldConffiles:
			reason = conffilesProblem(f.Value)
		case fieldArchives:
			n := len(strings.Fields(f.Value))
			switch {
			case n == 0:
				reason = "is empty (dpkg: \"empty archive details field\")"
			case archives < 0:
				archives = n
			case n != archives:
				reason = fmt.Sprintf("has %d values, but an earlier archive details field (Filename, Size, MD5sum, MSDOS-Filename) has %d", n, archives)
			}
		}
		if reason != "" {
			return fmt.Sprintf("control field %s %s", f.Name, reason)
		}
	}
	ma, _ := lookup(fields, "Multi-Arch")
	if arch, _ := lookup(fields, "Architecture"); arch == "all" && strings.EqualFold(ma, "same") {
		return "control fields: a package with Architecture: all cannot be Multi-Arch: same (dpkg refuses it)"
	}
	return ""
}

// nameValueProblem checks a value against dpkg's parse_nv: an empty value
// is fine; a value that starts with one of names (case-insensitively)
// must be exactly that name; other values are errors, unless fallback
// (Priority accepts any other word).
func nameValueProblem(v string, names []string, fallback bool, what string) string {
	if v == "" {
		return ""
	}
	for _, n := range names {
		if len(v) >= len(n) && strings.EqualFold(v[:len(n)], n) {
			if strings.TrimLeft(v[len(n):], " \t\n\v\f\r") != "" {
				return fmt.Sprintf("has trailing junk after %q (%s)", n, what)
			}
			return ""
		}
	}
	if fallback {
		return ""
	}
	return fmt.Sprintf("has the invalid value %q (%s)", clip(v), what)
}

// dependencyProblem checks a relationship field's syntax the way dpkg's
// f_dependency does, or returns "".
func dependencyProblem(v string, kind depKind) string {
	if v == "" {
		return ""
	}
	d := &depScan{v: v}
	for {
		for {
			name, problem := d.nameArch()
			if problem != "" {
				return problem
			}
			d.skipSpace()
			if d.at() == '(' {
				if problem := d.relation(name); problem != "" {
					return problem
				}
			}
			if d.p == len(v) || v[d.p] == ',' {
				break
			}
			if v[d.p] != '|' {
				return fmt.Sprintf("has a syntax error after the reference to %q", clip(name))
			}
			if kind != depNormal {
				return "has alternatives ('|'), which are not allowed in this field"
			}
			d.p++
			d.skipSpace()
		}
		if d.p == len(v) {
			return ""
		}
		d.p++
		d.skipSpace()
	}
}

// depScan reads a relationship field from position p on, as dpkg's
// parsedb relation parser does.
type depScan struct {
	v string
	p int
}

// at is the byte at p, or 0 at the end.
func (d *depScan) at() byte {
	if d.p < len(d.v) {
		return d.v[d.p]
	}
	return 0
}

func (d *depScan) skipSpace() {
	for d.p < len(d.v) && isSpace(d.v[d.p]) {
		d.p++
	}
}

// nameArch reads a package name and its optional ":arch", returning the
// name or what is wrong with them.
func (d *depScan) nameArch() (name, problem string) {
	v := d.v
	start := d.p
	for d.p < len(v) && !isSpace(v[d.p]) && v[d.p] != ':' && v[d.p] != '(' && v[d.p] != ',' && v[d.p] != '|' {
		d.p++
	}
	name = v[start:d.p]
	if name == "" {
		return "", "has a missing package name, or garbage where a package name is expected (a trailing or doubled comma?)"
	}
	if reason := dpkgNameProblem(name); reason != "" {
		return "", fmt.Sprintf("has an invalid package name %q: %s", clip(name), reason)
	}
	if d.at() != ':' {
		return name, ""
	}
	d.p++
	astart := d.p
	for d.p < len(v) && !isSpace(v[d.p]) && v[d.p] != '(' && v[d.p] != ',' && v[d.p] != '|' {
		d.p++
	}
	arch := v[astart:d.p]
	if arch == "" {
		return "", fmt.Sprintf("has a missing architecture name after %q", clip(name+":"))
	}
	if reason := dpkgArchNameProblem(arch); reason != "" {
		return "", fmt.Sprintf("refers to %q with an invalid architecture name %q: %s", clip(name), clip(arch), reason)
	}
	return name, ""
}

// relation reads "(op version)" at p for the reference to name, returning
// what is wrong with it.
func (d *depScan) relation(name string) string {
	v := d.v
	d.p++
	d.skipSpace()
	switch c1 := d.at(); c1 {
	case '<', '>':
		d.p++
		switch c2 := d.at(); {
		case c2 == '=' || c2 == c1:
			d.p++
		case c2 == '<' || c2 == '>':
			return fmt.Sprintf("refers to %q with the bad version relation %c%c", clip(name), c1, c2)
		}
	case '=':
		d.p++
	}
	d.skipSpace()
	vstart := d.p
	for d.p < len(v) && v[d.p] != ')' && v[d.p] != '(' && !isSpace(v[d.p]) {
		d.p++
	}
	version := v[vstart:d.p]
	d.skipSpace()
	switch {
	case d.p == len(v):
		return fmt.Sprintf("refers to %q with an unterminated version (no ')')", clip(name))
	case v[d.p] != ')':
		return fmt.Sprintf("refers to %q with a version followed by %q instead of ')'", clip(name), v[d.p])
	}
	if reason := versionSyntaxProblem(version); reason != "" {
		return fmt.Sprintf("refers to %q with the version %q: %s", clip(name), clip(version), reason)
	}
	d.p++
	d.skipSpace()
	return ""
}

// conffilesProblem checks a Conffiles field the way dpkg's f_conffiles
// does: each line " <path> <hash> [obsolete|remove-on-upgrade…]".
func conffilesProblem(v string) string {
	for v != "" {
		c := v[0]
		v = v[1:]
		if c == '\n' {
			continue
		}
		if c != ' ' {
			return fmt.Sprintf("has a line that starts with %q instead of a space", c)
		}
		line, rest, _ := strings.Cut(v, "\n")
		v = rest
		end, word, ok := lastWord(line, len(line))
		if ok && word == "remove-on-upgrade" {
			end, word, ok = lastWord(line, end)
		}
		if ok && word == "obsolete" {
			end, _, ok = lastWord(line, end)
		}
		if !ok {
			return fmt.Sprintf("has the malformed line %q", clip(line))
		}
		if skipDotSlash(line[:end]) == "" {
			return "lists the root or an empty directory as a conffile"
		}
	}
	return ""
}

// lastWord returns the last space-separated word of line[:from] and where
// it starts (its space), with dpkg's conffvalue_lastword checks.
func lastWord(line string, from int) (int, string, bool) {
	if from <= 1 {
		return 0, "", false
	}
	sp := strings.LastIndexByte(line[:from], ' ')
	if sp <= 1 || sp >= len(line)-1 {
		return 0, "", false
	}
	return sp, line[sp+1 : from], true
}

// skipDotSlash removes leading "/" and "./" like dpkg's
// path_skip_slash_dotslash.
func skipDotSlash(p string) string {
	for {
		switch {
		case strings.HasPrefix(p, "/"):
			p = p[1:]
		case strings.HasPrefix(p, "./"):
			p = p[2:]
		default:
			return p
		}
	}
}

// dpkgNameProblem checks a package name as dpkg's pkg_name_is_illegal
// does: an ASCII letter or digit, then letters, digits and "-+._". dpkg
// and apt read the name in lower case.
func dpkgNameProblem(name string) string {
	switch {
	case name == "":
		return "it is empty"
	case !isAlnum(name[0]):
		return "it must start with a letter or digit"
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && !strings.ContainsRune("-+._", rune(c)) {
			return fmt.Sprintf("the character %q is not allowed (only letters, digits and '-+._')", c)
		}
	}
	return ""
}

// dpkgArchNameProblem checks an architecture name as dpkg's
// dpkg_arch_name_is_illegal does.
func dpkgArchNameProblem(arch string) string {
	switch {
	case arch == "":
		return "it is empty"
	case !isAlnum(arch[0]):
		return "it must start with a letter or digit"
	}
	for i := 1; i < len(arch); i++ {
		if c := arch[i]; !isAlnum(c) && c != '-' {
			return fmt.Sprintf("the character %q is not allowed (only letters, digits and '-')", c)
		}
	}
	return ""
}
