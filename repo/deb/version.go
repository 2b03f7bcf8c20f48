package deb

import (
	"fmt"
	"strings"
)

// Compare orders two Debian versions the way dpkg does
// (lib/dpkg/version.c): epochs as numbers, then the upstream versions, then
// the revisions, each compared with dpkg's verrevcmp, in which '~' sorts
// before everything, even the end of the string. It returns -1, 0 or +1.
// It never fails: malformed versions are compared as well as they can be.
func (f *Format) Compare(a, b string) int {
	return compareVersions(a, b)
}

// compareVersions is Compare without a receiver.
func compareVersions(a, b string) int {
	ae, au, ar := splitVersion(a)
	be, bu, br := splitVersion(b)
	if c := compareNumbers(ae, be); c != 0 {
		return c
	}
	if c := verrevcmp(au, bu); c != 0 {
		return c
	}
	return verrevcmp(ar, br)
}

// splitVersion splits [epoch:]upstream[-revision]. The epoch is "" when
// there is none (or when what precedes the first colon is not a valid
// epoch, in which case the colon is part of upstream); an epoch may carry
// a '+' sign, as strtol reads it. The revision is what follows the last
// hyphen.
func splitVersion(v string) (epoch, upstream, revision string) {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, ':'); i >= 0 {
		e := v[:i]
		negative := strings.HasPrefix(e, "-")
		if e != "" && (e[0] == '+' || e[0] == '-') {
			e = e[1:]
		}
		if allDigits(e) && (!negative || strings.Trim(e, "0") == "") {
			epoch, v = e, v[i+1:] // "" and "-0" are epoch 0
		}
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

// compareNumbers compares two strings of decimal digits as numbers of any
// size ("" is zero).
func compareNumbers(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return sign(len(a) - len(b))
	}
	return strings.Compare(a, b)
}

// order is the weight of a character in a non-digit run of verrevcmp.
func order(c byte) int {
	switch {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	default:
		return int(c) + 256
	}
}

// verrevcmp is dpkg's comparison of an upstream version or a revision.
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		// Non-digit run: compare weights, the end of a string weighs 0.
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := 0, 0
			if i < len(a) {
				ac = order(a[i])
			}
			if j < len(b) {
				bc = order(b[j])
			}
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		// Digit run: compare as numbers, leading zeros ignored.
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && isDigit(a[i]) && j < len(b) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return sign(firstDiff)
		}
	}
	return 0
}

// versionProblem says what is wrong with a binary package version, or "":
// dpkg's rules (versionSyntaxProblem) and Pier's length limit.
func versionProblem(v string, maxLen int) string {
	if len(v) > maxLen {
		return fmt.Sprintf("version %q is longer than %d bytes", clip(v), maxLen)
	}
	return versionSyntaxProblem(v)
}

// versionSyntaxProblem says what is wrong with a version per dpkg's
// parseversion (lib/dpkg/parsehelp.c) as dpkg --install applies it: what
// parseversion only warns about (an upstream version that does not start
// with a digit, a character outside the allowed sets) is an error there,
// because the lax version parser is off unless --force-bad-version.
func versionSyntaxProblem(v string) string {
	v = strings.Trim(v, " \t")
	switch {
	case v == "":
		return "version is empty"
	case strings.ContainsAny(v, " \t"):
		return fmt.Sprintf("version %q contains spaces", clip(v))
	}
	rest := v
	if i := strings.IndexByte(v, ':'); i >= 0 {
		digits, negative, ok := epochNumber(v[:i])
		switch {
		case digits == "" && ok:
			return fmt.Sprintf("version %q has an empty epoch before ':'", clip(v))
		case !ok:
			return fmt.Sprintf("version %q: the epoch before ':' must be a number", clip(v))
		case negative && strings.Trim(digits, "0") != "":
			return fmt.Sprintf("version %q: the epoch is negative", clip(v))
		case compareNumbers(digits, "2147483647") > 0:
			return fmt.Sprintf("version %q: the epoch is too big", clip(v))
		}
		if rest = v[i+1:]; rest == "" {
			return fmt.Sprintf("version %q has nothing after the colon", clip(v))
		}
	}
	upstream, revision, hasRevision := rest, "", false
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		upstream, revision, hasRevision = rest[:i], rest[i+1:], true
	}
	switch {
	case hasRevision && revision == "":
		return fmt.Sprintf("version %q has an empty revision after '-'", clip(v))
	case upstream == "":
		return fmt.Sprintf("version %q has an empty upstream version", clip(v))
	case !isDigit(upstream[0]):
		return fmt.Sprintf("version %q: the upstream version must start with a digit (dpkg: \"version number does not start with digit\")", clip(v))
	}
	for k := 0; k < len(upstream); k++ {
		if c := upstream[k]; !isAlnum(c) && !strings.ContainsRune(".+~-:", rune(c)) {
			return fmt.Sprintf("version %q contains the character %q, not allowed in an upstream version (letters, digits and .+~-: only)", clip(v), c)
		}
	}
	for k := 0; k < len(revision); k++ {
		if c := revision[k]; !isAlnum(c) && !strings.ContainsRune(".+~", rune(c)) {
			return fmt.Sprintf("version %q contains the character %q, not allowed in a revision (letters, digits and .+~ only)", clip(v), c)
		}
	}
	return ""
}

// epochNumber reads an epoch the way strtol does in dpkg's parseversion:
// an optional sign, then decimal digits, and nothing else. It returns the
// digits (empty when there are none), whether the sign was '-', and
// whether the epoch has nothing but those.
func epochNumber(e string) (digits string, negative, ok bool) {
	if e != "" && (e[0] == '+' || e[0] == '-') {
		negative = e[0] == '-'
		e = e[1:]
	}
	if e == "" {
		return "", negative, true
	}
	if !allDigits(e) {
		// strtol stops at the first non-digit: with no digits before it
		// the epoch is "empty", otherwise it "is not number".
		if !isDigit(e[0]) {
			return "", negative, true
		}
		return "", negative, false
	}
	return e, negative, true
}

// nameProblem says what is wrong with a source package name per Debian
// policy 5.6.1 (what dpkg-source enforces), or "". what is "source name".
// Pier names a package's pool directory after its source when the Source
// field holds such a name.
func nameProblem(what, name string, maxLen int) string {
	switch {
	case name == "":
		return what + " is empty"
	case len(name) > maxLen:
		return fmt.Sprintf("%s %q is too long: %d characters, at most %d are allowed", what, clip(name), len(name), maxLen)
	case len(name) < 2:
		return fmt.Sprintf("%s %q is too short: at least 2 characters are required", what, name)
	}
	if strings.ToLower(name) != name {
		return fmt.Sprintf("%s %q has upper-case letters; Debian package names are lower-case", what, clip(name))
	}
	if !isDigit(name[0]) && !isLower(name[0]) {
		return fmt.Sprintf("%s %q must start with a lower-case letter or a digit", what, clip(name))
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !isDigit(c) && !isLower(c) && c != '+' && c != '-' && c != '.' {
			return fmt.Sprintf("%s %q contains the character %q; only a-z, 0-9, '+', '-' and '.' are allowed", what, clip(name), c)
		}
	}
	return ""
}

// packageNameProblem says what is wrong with a binary package name, or
// "": dpkg's rule (dpkgNameProblem: it accepts upper case, '_' and one
// character) and Pier's length limit.
func packageNameProblem(name string, maxLen int) string {
	if len(name) > maxLen {
		return fmt.Sprintf("package name %q is too long: %d characters, at most %d are allowed", clip(name), len(name), maxLen)
	}
	if reason := dpkgNameProblem(name); reason != "" {
		return fmt.Sprintf("package name %q is not valid: %s", clip(name), reason)
	}
	return ""
}

// archProblem says what is wrong with a binary package architecture, or "".
// dpkg allows letters, digits and '-', starting with a letter or digit; we
// also require lower case, as every Debian architecture is.
func archProblem(arch string, maxLen int) string {
	switch {
	case arch == "":
		return "architecture is empty"
	case len(arch) > maxLen:
		return fmt.Sprintf("architecture %q is longer than %d bytes", clip(arch), maxLen)
	case arch == "any" || arch == "source":
		return fmt.Sprintf("architecture %q is not valid for a binary package", arch)
	case !isDigit(arch[0]) && !isLower(arch[0]):
		return fmt.Sprintf("architecture %q must start with a lower-case letter or a digit", clip(arch))
	}
	for i := 0; i < len(arch); i++ {
		if c := arch[i]; !isDigit(c) && !isLower(c) && c != '-' {
			return fmt.Sprintf("architecture %q contains the character %q; only a-z, 0-9 and '-' are allowed", clip(arch), c)
		}
	}
	return ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool { return isLower(c) || (c >= 'A' && c <= 'Z') }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
