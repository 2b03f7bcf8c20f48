package deb

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/pierhq/pier/repo"
)

// A Debian source package control file (.dsc), read as dpkg-source -x
// reads it (dpkg 1.21: Dpkg::Control::HashCore's parser with OpenPGP
// allowed, Dpkg::Source::Package::initialize, Dpkg::Checksums), with the
// checks dak applies to the Source field. docs/acceptance/deb.md lists
// the rules.

// dscFile is one file a .dsc lists, with every checksum it states.
type dscFile struct {
	name string
	size int64
	sums repo.Sums
}

// dsc is a parsed .dsc.
type dsc struct {
	fields  []field // in file order, Files and Checksums-* included
	source  string
	version string
	format  string
	files   []dscFile // in the order dpkg-source lists them
	signed  bool
}

// maxDSCSize bounds a .dsc (a Pier limit: real ones are a few KiB).
const maxDSCSize = 1 << 20

// dscLine is one line of a .dsc as Dpkg::Control::HashCore reads it: the
// line without its "\n" (armor) and with trailing whitespace removed.
type dscLine struct{ raw, text string }

var reTrailingSpace = regexp.MustCompile(`\s+$`)

// splitDSC splits data into lines the way Perl's <$fh> and chomp do.
func splitDSC(data []byte) []dscLine {
	var out []dscLine
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var l []byte
		if i < 0 {
			l, data = data, nil
		} else {
			l, data = data[:i], data[i+1:]
		}
		raw := string(l)
		out = append(out, dscLine{raw: raw, text: reTrailingSpace.ReplaceAllString(raw, "")})
	}
	return out
}

var (
	reArmorSignedMsg = regexp.MustCompile(`^-----BEGIN PGP SIGNED MESSAGE-----[\r\t ]*$`)
	reArmorSig       = regexp.MustCompile(`^-----BEGIN PGP SIGNATURE-----[\r\t ]*$`)
	reArmorEnd       = regexp.MustCompile(`^-----END PGP SIGNATURE-----[\r\t ]*$`)
	reFieldSplit     = regexp.MustCompile(`\s*:\s*`)
	reContinuation   = regexp.MustCompile(`^\s(\s*\S.*)$`)
	reDots           = regexp.MustCompile(`^\.+$`)
)

// parseControl parses the first stanza of a .dsc or .changes as
// Dpkg::Control::HashCore::parse does with OpenPGP allowed: leading
// blank lines and '#' comment lines are skipped; a clear-signed message's
// armor header lines up to the first blank line are skipped and the
// signature must follow the stanza and end; field names are compared
// case-insensitively and may not repeat or start with '-'; a continuation
// line of "." runs becomes one dot shorter. The stanza ends at the first
// blank line; for an unsigned file what follows is not read. Signed
// reports whether a signature armor was found (not whether it verifies).
// One refusal goes beyond dpkg: a line without a colon, which dpkg would
// take as a field without a value, is refused, since apt reads no such
// field from the Sources stanza written from it.
func parseControl(data []byte, what string) (fields []field, signed bool, reason string) {
	lines := splitDSC(data)
	seen := map[string]bool{}
	paraborder, parabody, expectSig := true, false, false
	cur := -1
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l.text == "" && paraborder {
			continue
		}
		if strings.HasPrefix(l.text, "#") {
			continue
		}
		paraborder = false
		if name, value, ok := splitField(l.text); ok {
			parabody = true
			if strings.HasPrefix(name, "-") {
				return nil, false, fmt.Sprintf("%s line %d: field name %q cannot start with a hyphen", what, i+1, clip(name))
			}
			key := strings.ToLower(name)
			if seen[key] {
				return nil, false, fmt.Sprintf("%s line %d: duplicate field %s (dpkg: \"duplicate field found\")", what, i+1, clip(name))
			}
			seen[key] = true
			fields = append(fields, field{Name: name, Value: value})
			cur = len(fields) - 1
			continue
		}
		if m := reContinuation.FindStringSubmatch(l.text); m != nil {
			if cur < 0 {
				return nil, false, fmt.Sprintf("%s line %d: continued value line not in a field", what, i+1)
			}
			line := m[1]
			if reDots.MatchString(line) {
				line = line[1:]
			}
			fields[cur].Value += "\n" + line
			continue
		}
		if l.text == "" || (expectSig && reArmorSig.MatchString(l.raw)) {
			if expectSig {
				j := i
				if l.text == "" {
					j++
					for j < len(lines) && strings.TrimSpace(lines[j].raw) == "" {
						j++
					}
					if j == len(lines) {
						return nil, false, fmt.Sprintf("%s: expected an OpenPGP signature, found the end of the file after a blank line", what)
					}
					if !reArmorSig.MatchString(strings.TrimSuffix(lines[j].raw, "\r")) && !reArmorSig.MatchString(lines[j].raw) {
						return nil, false, fmt.Sprintf("%s line %d: expected an OpenPGP signature, found %q", what, j+1, clip(lines[j].raw))
					}
				}
				end := false
				for j++; j < len(lines); j++ {
					if reArmorEnd.MatchString(lines[j].raw) {
						end = true
						break
					}
				}
				if !end {
					return nil, false, fmt.Sprintf("%s: unfinished OpenPGP signature", what)
				}
				signed = true
			}
			break
		}
		if reArmorSignedMsg.MatchString(l.raw) {
			if parabody {
				return nil, false, fmt.Sprintf("%s line %d: OpenPGP signature not allowed here", what, i+1)
			}
			expectSig = true
			// Skip the armor headers (Hash: …) up to the first blank line.
			for i++; i < len(lines) && strings.TrimSpace(lines[i].raw) != ""; i++ {
			}
			continue
		}
		return nil, false, fmt.Sprintf("%s line %d: line with unknown format (not field-colon-value): %q", what, i+1, clip(l.raw))
	}
	if expectSig && !signed {
		return nil, false, fmt.Sprintf("%s: unfinished OpenPGP signature", what)
	}
	if len(fields) == 0 {
		return nil, false, what + " holds no fields"
	}
	return fields, signed, ""
}

// splitField splits "Name: value" as Perl's split /\s*:\s*/, $_, 2 with
// the name required to be one run of non-space characters; ok is false for
// a line that is not a field.
func splitField(s string) (name, value string, ok bool) {
	loc := reFieldSplit.FindStringIndex(s)
	if loc == nil {
		return "", "", false
	}
	name, value = s[:loc[0]], s[loc[1]:]
	if name == "" || strings.ContainsAny(name, " \t\v\f\r\n") {
		return "", "", false
	}
	return name, value, true
}

// Checksum fields of a .dsc, in the order dpkg-source reads them
// (checksums_get_list: md5 through Files, sha1, sha256). dpkg ignores
// others (Checksums-Sha512, Checksums-Md5), and so does Pier: the Sources
// stanza lists only these.
var dscChecksumFields = []struct {
	field  string
	digest repo.Digest
	hexLen int
}{
	{"Files", repo.MD5, 32},
	{"Checksums-Sha1", repo.SHA1, 40},
	{"Checksums-Sha256", repo.SHA256, 64},
}

// reDSCFileName is dpkg's file name rule for checksum lines
// (Dpkg::Checksums::add_from_string).
var reDSCFileName = regexp.MustCompile(`^[0-9a-zA-Z][-+:.,=0-9a-zA-Z_~]+$`)

// reDakSource is dak's rule for the Source field (daklib/regexes.py,
// re_field_source): a lower-case package name.
var reDakSource = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]+$`)

// reSourceFormat is Dpkg::Source::Format::set's rule.
var reSourceFormat = regexp.MustCompile(`^(\d+)(?:\.(\d+))?(?:\s+\(([a-z0-9]+)\))?$`)

// parseDSC parses a .dsc with dpkg-source's rules (see parseControl and
// dscProblem).
func parseDSC(data []byte, lim Limits) (*dsc, error) {
	if len(data) > maxDSCSize {
		return nil, badf("the .dsc is %d bytes, more than the limit of %d", len(data), maxDSCSize)
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, badf(".dsc: a NUL byte (not a text file)")
	}
	fields, signed, reason := parseControl(data, ".dsc")
	if reason != "" {
		return nil, repo.BadPackage(reason)
	}
	d := &dsc{fields: fields, signed: signed}
	for _, f := range []string{"Source", "Version", "Files"} {
		if _, ok := lookup(fields, f); !ok {
			return nil, badf(".dsc: missing critical source control field %s (dpkg-source -x refuses it)", f)
		}
	}
	d.source, _ = lookup(fields, "Source")
	d.version, _ = lookup(fields, "Version")
	if !reDakSource.MatchString(d.source) || len(d.source) > lim.Name {
		return nil, badf(".dsc: Source %q is not a source package name (lower-case letters, digits and +.- , at least two, starting with a letter or digit; dak refuses others)", clip(d.source))
	}
	if reason := versionProblem(d.version, lim.Version); reason != "" {
		return nil, badf(".dsc: %s", reason)
	}
	d.format = "1.0"
	if v, ok := lookup(fields, "Format"); ok {
		d.format = v
	}
	if reason := formatProblem(d.format); reason != "" {
		return nil, badf(".dsc: %s", reason)
	}
	files, reason := dscFiles(fields)
	if reason != "" {
		return nil, badf(".dsc: %s", reason)
	}
	if len(files) == 0 {
		return nil, badf(".dsc: the Files field lists no file (a source package has at least one tarball)")
	}
	d.files = files
	for _, f := range fields {
		if strings.ContainsAny(f.Value, "\r") {
			return nil, badf(".dsc: field %s holds a carriage return (apt would read the Sources stanza differently)", clip(f.Name))
		}
		if strings.ContainsRune(f.Name+f.Value, 0x1a) {
			return nil, badf(".dsc: field %s holds a ^Z byte (dpkg's parser ends a line there, apt's does not, so the Sources stanza would read two ways)", clip(f.Name))
		}
	}
	return d, nil
}

// formatProblem checks a Format value as dpkg-source does: the syntax of
// Dpkg::Source::Format, then a format it has a module for.
func formatProblem(v string) string {
	m := reSourceFormat.FindStringSubmatch(v)
	if m == nil {
		return fmt.Sprintf("source package format %q is invalid", clip(v))
	}
	major, variant := m[1], m[3]
	ok := false
	switch major {
	case "1", "2":
		ok = variant == ""
	case "3":
		switch variant {
		case "native", "quilt", "custom", "git", "bzr":
			ok = true
		}
	}
	if !ok {
		return fmt.Sprintf("source package format %q is not supported by dpkg-source", clip(v))
	}
	return ""
}

// dscFiles reads Files and the Checksums-* fields as Dpkg::Checksums
// does: lines "<hex> <size> <name>" (leading spaces of a line ignored,
// lower-case hex of the algorithm's length, the name by dpkg's rule), the
// same size wherever a file appears, one checksum per file and algorithm.
// A file listed only in a Checksums-* field counts as listed, as in
// dpkg.
func dscFiles(fields []field) ([]dscFile, string) {
	var files []dscFile
	index := map[string]int{}
	for _, cf := range dscChecksumFields {
		v, ok := lookup(fields, cf.field)
		if !ok {
			continue
		}
		for _, line := range strings.Split(v, "\n") {
			line = strings.TrimLeft(line, " ")
			if line == "" {
				continue
			}
			parts := strings.Fields(line)
			if len(parts) != 3 || !isLowerHex(parts[0], cf.hexLen) || !isDigits(parts[1]) || !reDSCFileName.MatchString(parts[2]) ||
				strings.TrimRight(line, " \t") != line {
				return nil, fmt.Sprintf("invalid line in %s: %q (want \"<%s> <size> <file name>\")", cf.field, clip(line), cf.digest)
			}
			size, err := strconv.ParseInt(parts[1], 10, 64)
			if err != nil {
				return nil, fmt.Sprintf("invalid size in %s: %q", cf.field, clip(parts[1]))
			}
			name := parts[2]
			i, seen := index[name]
			if !seen {
				i = len(files)
				index[name] = i
				files = append(files, dscFile{name: name, size: size, sums: repo.Sums{}})
			}
			f := &files[i]
			if old, ok := f.sums[cf.digest]; ok && old != parts[0] {
				return nil, fmt.Sprintf("conflicting checksums %s and %s for file %s", old, parts[0], name)
			}
			if f.size != size {
				return nil, fmt.Sprintf("conflicting file sizes %d and %d for file %s", f.size, size, name)
			}
			f.sums[cf.digest] = parts[0]
		}
	}
	return files, ""
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
