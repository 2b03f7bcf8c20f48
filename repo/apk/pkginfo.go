package apk

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// pkgInfo is what Pier keeps of a .PKGINFO (FORMATS.md 3.3).
type pkgInfo struct {
	name, version, arch          string
	desc, url, license           string
	origin, maintainer, commit   string
	installedSize                uint64
	buildDate, providerPriority  uint64
	depends, provides, installIf []string
	dataHash                     string // lower-case hex, empty when absent
}

const noarch = "noarch"

// parsePkgInfo parses .PKGINFO the way apk-tools does: one "key = value"
// per line, "#" comments, other lines ignored, list keys repeated. It is
// stricter than apk where a value would end up in the index: every field
// that reaches APKINDEX is checked so that one package cannot break the
// index for every client.
func parsePkgInfo(data []byte, maxName int) (*pkgInfo, error) {
	info := &pkgInfo{}
	seen := map[string]bool{}
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(string(line), " = ")
		if !ok || !knownKey(k) {
			// apk ignores such lines: unknown keys, and the continuation
			// lines of a multi-line pkgdesc.
			continue
		}
		if err := checkValue(k, v); err != nil {
			return nil, err
		}
		switch k {
		case "pkgname", "pkgver", "arch", "datahash":
			if seen[k] {
				return nil, fmt.Errorf(".PKGINFO has more than one %s", k)
			}
			seen[k] = true
		}
		if err := info.set(k, v); err != nil {
			return nil, err
		}
	}
	if err := info.check(maxName); err != nil {
		return nil, err
	}
	return info, nil
}

// set records one .PKGINFO key; unknown keys are ignored, as apk does.
func (p *pkgInfo) set(k, v string) error {
	var err error
	switch k {
	case "pkgname":
		p.name = v
	case "pkgver":
		p.version = v
	case "arch":
		p.arch = v
	case "pkgdesc":
		p.desc = v
	case "url":
		p.url = v
	case "license":
		p.license = v
	case "origin":
		p.origin = v
	case "maintainer":
		p.maintainer = v
	case "commit":
		p.commit = v
	case "size":
		p.installedSize, err = parseUint(k, v)
	case "builddate":
		p.buildDate, err = parseUint(k, v)
	case "provider_priority":
		p.providerPriority, err = parseUint(k, v)
	case "depend":
		p.depends, err = appendDeps(p.depends, k, v, false)
	case "provides":
		p.provides, err = appendDeps(p.provides, k, v, true)
	case "install_if":
		p.installIf, err = appendDeps(p.installIf, k, v, false)
	case "datahash":
		p.dataHash = strings.ToLower(v)
		if len(v) != 64 || !isHexString(p.dataHash) {
			err = fmt.Errorf(".PKGINFO datahash %q is not a sha256 hex digest", v)
		}
	}
	return err
}

// check requires the identity fields and validates them.
func (p *pkgInfo) check(maxName int) error {
	switch {
	case p.name == "":
		return fmt.Errorf(".PKGINFO has no pkgname")
	case p.version == "":
		return fmt.Errorf(".PKGINFO has no pkgver")
	case p.arch == "":
		return fmt.Errorf(".PKGINFO has no arch")
	}
	if err := validName(p.name, maxName); err != nil {
		return err
	}
	if !ValidVersion(p.version) {
		return fmt.Errorf("pkgver %q is not a valid apk version (digit{.digit}...{letter}{_suffix{N}}...{~hash}{-rN}, e.g. 1.2.3-r0)", p.version)
	}
	return validArch(p.arch)
}

// knownKey reports the .PKGINFO keys Pier reads.
func knownKey(k string) bool {
	switch k {
	case "pkgname", "pkgver", "arch", "pkgdesc", "url", "license", "origin", "maintainer", "commit",
		"size", "builddate", "provider_priority", "depend", "provides", "install_if", "datahash":
		return true
	}
	return false
}

// checkValue rejects control characters: a value is one APKINDEX line.
func checkValue(k, v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf(".PKGINFO %s has a control character (0x%02x)", k, c)
		}
	}
	return nil
}

func parseUint(k, v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf(".PKGINFO %s %q is not a non-negative integer", k, v)
	}
	return n, nil
}

func isHexString(s string) bool {
	return span(s, isHex) == len(s)
}

// isPkgNameChar reports the characters apk allows in a package name
// (apk-tools src/ctype.c PKGNAME).
func isPkgNameChar(c byte) bool {
	return isDigit(c) || isLower(c) || (c >= 'A' && c <= 'Z') || c == '+' || c == '-' || c == '.' || c == '_'
}

// isDepNameChar adds the characters of virtual names such as
// "so:libc.musl-x86_64.so.1" or "/bin/sh" (ctype.c DEPNAME).
func isDepNameChar(c byte) bool {
	return isPkgNameChar(c) || c == ':' || c == '/' || c == ',' || c == '[' || c == ']'
}

// validName checks a package name. It becomes part of a file name, so it
// must start with a letter or digit.
func validName(name string, maxLen int) error {
	if len(name) > maxLen {
		return fmt.Errorf("pkgname is %d bytes long, more than the limit of %d", len(name), maxLen)
	}
	if span(name, isPkgNameChar) != len(name) {
		return fmt.Errorf("pkgname %q has characters outside A-Z a-z 0-9 + - . _", name)
	}
	if c := name[0]; !isDigit(c) && !isLower(c) && !(c >= 'A' && c <= 'Z') {
		return fmt.Errorf("pkgname %q must start with a letter or digit", name)
	}
	return nil
}

// validArch checks an architecture name: it becomes a directory name.
func validArch(arch string) error {
	if arch == "" || len(arch) > 32 {
		return fmt.Errorf("arch %q is not 1 to 32 characters long", arch)
	}
	if span(arch, func(c byte) bool { return isLower(c) || isDigit(c) || c == '_' }) != len(arch) {
		return fmt.Errorf("arch %q has characters outside a-z 0-9 _", arch)
	}
	return nil
}

// appendDeps splits a dependency list value (apk accepts several,
// whitespace separated, per line) and checks every entry against apk's
// dependency grammar: an index with one unparsable dependency fails to load
// in apk-tools.
func appendDeps(list []string, k, v string, provides bool) ([]string, error) {
	for _, d := range strings.Fields(v) {
		if err := validDep(d, provides); err != nil {
			return nil, fmt.Errorf(".PKGINFO %s %q: %w", k, d, err)
		}
		list = append(list, d)
	}
	return list, nil
}

// validDep checks "[!]name[op version]"; provides take only "=".
func validDep(d string, provides bool) error {
	s := d
	if !provides && strings.HasPrefix(s, "!") {
		s = s[1:]
	}
	n := span(s, isDepNameChar)
	if n == 0 {
		return fmt.Errorf("no name")
	}
	rest := s[n:]
	if rest == "" {
		return nil
	}
	op := rest[:span(rest, func(c byte) bool { return c == '<' || c == '>' || c == '=' || c == '~' })]
	ver := rest[len(op):]
	switch {
	case op == "":
		return fmt.Errorf("unexpected %q after the name", rest)
	case provides && op != "=":
		return fmt.Errorf("a provide takes only \"=\" before its version")
	case op == "><":
		if !validChecksum(ver) {
			return fmt.Errorf("%q is not a package checksum", ver)
		}
		return nil
	}
	switch op {
	case "<", "<=", ">", ">=", "=", "~", "=~", "<~", ">~":
	default:
		return fmt.Errorf("unknown version operator %q", op)
	}
	if !ValidVersion(ver) {
		return fmt.Errorf("%q is not a valid apk version", ver)
	}
	return nil
}

// validChecksum accepts the Q1 form apk writes for "><" dependencies.
func validChecksum(s string) bool {
	if !strings.HasPrefix(s, "Q1") {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(s[2:])
	return err == nil && len(b) == 20
}

// stanza renders the package's APKINDEX stanza (FORMATS.md 3.6) in apk's
// writer order C P V A S I T U L o m t c k D p i, each line ending in "\n",
// without the blank line that ends the stanza in an index.
func (p *pkgInfo) stanza(checksum string, size int64) []byte {
	var b bytes.Buffer
	line := func(k byte, v string) {
		b.WriteByte(k)
		b.WriteByte(':')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	list := func(k byte, v []string) {
		if len(v) > 0 {
			line(k, strings.Join(v, " "))
		}
	}
	opt := func(k byte, v string) {
		if v != "" {
			line(k, v)
		}
	}
	optUint := func(k byte, v uint64) {
		if v != 0 {
			line(k, strconv.FormatUint(v, 10))
		}
	}
	line('C', checksum)
	line('P', p.name)
	line('V', p.version)
	line('A', p.arch)
	line('S', strconv.FormatInt(size, 10))
	line('I', strconv.FormatUint(p.installedSize, 10))
	line('T', p.desc)
	line('U', p.url)
	line('L', p.license)
	opt('o', p.origin)
	opt('m', p.maintainer)
	optUint('t', p.buildDate)
	opt('c', p.commit)
	optUint('k', p.providerPriority)
	list('D', p.depends)
	list('p', p.provides)
	list('i', p.installIf)
	return b.Bytes()
}
