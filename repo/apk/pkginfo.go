package apk

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// pkgInfo is what Pier keeps of a .PKGINFO (FORMATS.md 3.3), as
// apk-tools 2.14 reads it (src/package.c read_info_line, apk_pkg_add_info).
type pkgInfo struct {
	name, version, arch          string
	desc, url, license           string
	origin, maintainer, commit   string
	installedSize                uint64
	buildDate, providerPriority  uint64
	depends, provides, installIf []string
	// hasDataHash is set by a datahash line (apk_sign_ctx_parse_pkginfo_line);
	// dataHash is what apk-tools decoded from it, and badDataHash marks a
	// value apk decodes from bytes past the line (shorter than 64 digits),
	// which can never match.
	hasDataHash bool
	badDataHash bool
	dataHash    [32]byte
	dataHashRaw string
}

const noarch = "noarch"

// add parses one .PKGINFO the way apk-tools 2.14 does: one "key = value"
// per line (split at the first " = "), "#" comments and other lines
// ignored, unknown keys ignored, a repeated key overriding the previous
// value (list keys append). A dependency list apk cannot parse refuses the
// package, as apk_pkg_add_info does ("package file format error").
func (p *pkgInfo) add(data []byte) error {
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(string(line), " = ")
		if !ok {
			continue
		}
		if err := p.set(k, v); err != nil {
			return err
		}
	}
	return nil
}

// set records one .PKGINFO key as apk_pkg_add_info does.
func (p *pkgInfo) set(k, v string) error {
	var err error
	switch k {
	case "pkgname":
		p.name = v
	case "pkgver":
		p.version = v
	case "arch":
		p.arch = v
	case "pkgdesc": // apk_blob_cstr: a C string
		p.desc = cString([]byte(v))
	case "url":
		p.url = cString([]byte(v))
	case "commit":
		p.commit = cString([]byte(v))
	case "license":
		p.license = v
	case "origin":
		p.origin = v
	case "maintainer":
		p.maintainer = v
	case "size":
		p.installedSize, _ = pullUint([]byte(v), 10, 64)
	case "builddate":
		p.buildDate, _ = pullUint([]byte(v), 10, 64)
	case "provider_priority":
		p.providerPriority, _ = pullUint([]byte(v), 10, 64)
	case "depend":
		p.depends, err = pullDeps(p.depends, k, v)
	case "provides":
		p.provides, err = pullDeps(p.provides, k, v)
	case "install_if":
		p.installIf, err = pullDeps(p.installIf, k, v)
	case "datahash":
		p.setDataHash(v)
	}
	return err
}

// setDataHash mirrors apk_sign_ctx_parse_pkginfo_line and
// apk_blob_pull_hexdump: any datahash line makes apk check the data
// stream's sha256; the expected digest is decoded from the first 64 bytes
// of the value (upper or lower case hex; trailing bytes ignored). A value
// of 16 to 63 bytes is decoded from bytes past its end, one shorter keeps
// the previous digest: neither can match, and the package is refused when
// the data stream is checked ("BAD signature").
func (p *pkgInfo) setDataHash(v string) {
	p.hasDataHash = true
	p.dataHashRaw = v
	switch {
	case len(v) >= 64:
		for i := range p.dataHash {
			p.dataHash[i] = byte(digitValue(v[2*i])<<4 + digitValue(v[2*i+1]))
		}
		p.badDataHash = false
	case len(v) >= 16:
		p.badDataHash = true
	}
}

// check requires the fields Pier needs to publish the package and
// validates them.
func (p *pkgInfo) check(maxName int) error {
	switch {
	case p.name == "":
		return fmt.Errorf(".PKGINFO has no pkgname (apk-tools refuses a package without one: ENOTSUP)")
	case p.version == "":
		return fmt.Errorf(".PKGINFO has no pkgver")
	case p.arch == "":
		return fmt.Errorf(".PKGINFO has no arch: Pier publishes a package in its architecture's directory (abuild and nfpm always write arch; use noarch for an architecture-independent package)")
	}
	if err := validName(p.name, maxName); err != nil {
		return err
	}
	if !validPkgver(p.version) {
		return fmt.Errorf("pkgver %q is not a valid apk version (digit{.digit}...{letter}{_suffix{N}}...{~hash}{-rN}, e.g. 1.2.3-r0)", p.version)
	}
	return validArch(p.arch)
}

// validPkgver accepts a version that apk-tools 2.14 or 3 accepts
// (src/version.c apk_version_validate of either): apk 2.14 does not check
// pkgver at all, apk 3 refuses an invalid one; Pier needs one of the two
// grammars because the version is part of the published file name.
func validPkgver(v string) bool {
	return ValidVersion(v) || validVersion214(v)
}

// isPkgNameChar reports the characters apk allows in a package name
// (apk-tools src/ctype.c PKGNAME).
func isPkgNameChar(c byte) bool {
	return isDigit(c) || isLower(c) || (c >= 'A' && c <= 'Z') || c == '+' || c == '-' || c == '.' || c == '_'
}

// validName checks a package name as apk-tools 3 does (src/apk_adb.c
// name_fromstring: a letter or digit, then PKGNAME characters). apk 2.14
// does not check it, but it fetches <name>-<version>.apk from the
// repository URL without escaping, so a name outside these characters
// could not be fetched or would name another path.
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

// validArch checks an architecture name: it becomes a directory name,
// which apk-tools fetches as <repository>/<arch>/ with its own arch (every
// arch apk-tools knows is lower case letters, digits and _, src/apk_arch.h).
func validArch(arch string) error {
	if arch == "" || len(arch) > 32 {
		return fmt.Errorf("arch %q is not 1 to 32 characters long", arch)
	}
	if span(arch, func(c byte) bool { return isLower(c) || isDigit(c) || c == '_' }) != len(arch) {
		return fmt.Errorf("arch %q has characters outside a-z 0-9 _", arch)
	}
	return nil
}

// pullDeps splits a dependency list value the way apk_blob_pull_deps does
// (tokens separated by spaces; a value that starts with a space gives one
// empty token first) and checks each with apk_blob_pull_dep's rules. The
// tokens are kept as written, so the index line reads back exactly as apk
// read the .PKGINFO.
func pullDeps(list []string, k, v string) ([]string, error) {
	for len(v) > 0 {
		tok := v
		if i := strings.IndexAny(v, " \n"); i >= 0 {
			tok, v = v[:i], strings.TrimLeft(v[i:], " \n")
		} else {
			v = ""
		}
		if err := checkDep(tok); err != nil {
			return nil, fmt.Errorf(".PKGINFO %s %q: %w; apk-tools 2.14 refuses the package (\"package file format error\")", k, tok, err)
		}
		list = append(list, tok)
	}
	return list, nil
}

// checkDep mirrors apk_blob_pull_dep (apk-tools 2.14 src/package.c):
// "[!]name[op version]", where op is any run of < > = ~ and the version
// must be non-empty and valid (apk_version_validate) unless op holds both
// < and > (a checksum match, "><Q1...", whose version is not checked).
// The name may hold any other byte.
func checkDep(d string) error {
	s := strings.TrimPrefix(d, "!")
	i := strings.IndexAny(s, "<>=~")
	if i < 0 {
		return nil
	}
	rest := s[i:]
	n := span(rest, func(c byte) bool { return c == '<' || c == '>' || c == '=' || c == '~' })
	op, ver := rest[:n], rest[n:]
	if ver == "" {
		return fmt.Errorf("the operator %q has no version after it", op)
	}
	if strings.Contains(op, "<") && strings.Contains(op, ">") {
		return nil
	}
	if !validVersion214(ver) {
		return fmt.Errorf("%q is not a valid apk version (apk-tools 2.14 src/version.c apk_version_validate: digit{.digit}...{letter}{_suffix{N}}...{-rN})", ver)
	}
	return nil
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
