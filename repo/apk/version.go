package apk

import "strings"

// Alpine version strings (FORMATS.md 3.8; apk-tools src/version.c) follow
//
//	digit{.digit}...{letter}{_suffix{N}}...{~hexhash}{-rN}
//
// The tokenizer below walks that grammar one token at a time; comparison
// walks both strings in step.

// tokenKind is the kind of one version token. The order matters: a token may
// only follow tokens of a lower kind (with the exceptions noted in next), and
// when one string runs out first the kinds decide which one is newer.
type tokenKind int

const (
	tokInitialDigit tokenKind = iota // the leading number
	tokDigit                         // ".N"
	tokLetter                        // a single lower-case letter after a number
	tokSuffix                        // "_alpha" … "_p"
	tokSuffixNo                      // the number after a suffix
	tokCommitHash                    // "~hex"
	tokRevision                      // "-rN"
	tokEnd
	tokInvalid
)

// Suffix ranks: pre-release suffixes sort before "no suffix", the others
// after it.
const (
	sufInvalid = iota
	sufAlpha
	sufBeta
	sufPre
	sufRC
	sufNone
	sufCVS
	sufSVN
	sufGit
	sufHg
	sufP
)

// suffixRank returns the rank of a suffix name, or sufInvalid.
func suffixRank(s string) int {
	switch s {
	case "alpha":
		return sufAlpha
	case "beta":
		return sufBeta
	case "pre":
		return sufPre
	case "rc":
		return sufRC
	case "cvs":
		return sufCVS
	case "svn":
		return sufSVN
	case "git":
		return sufGit
	case "hg":
		return sufHg
	case "p":
		return sufP
	}
	return sufInvalid
}

// token is the tokenizer state: the current token and the rest of the input.
type token struct {
	kind   tokenKind
	value  string // the token's text (digits, letter, suffix name or hash)
	suffix int    // rank, for tokSuffix
	rest   string
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isHex(c byte) bool   { return isDigit(c) || (c >= 'a' && c <= 'f') }

func span(s string, ok func(byte) bool) int {
	i := 0
	for i < len(s) && ok(s[i]) {
		i++
	}
	return i
}

// first reads the leading number of v.
func first(v string) token {
	t := token{kind: tokInitialDigit, rest: v}
	t.digits()
	return t
}

// digits consumes a run of digits as the token's value; an empty run makes
// the token invalid.
func (t *token) digits() {
	n := span(t.rest, isDigit)
	t.value, t.rest = t.rest[:n], t.rest[n:]
	if n == 0 {
		t.kind = tokInvalid
	}
}

// next advances to the following token, checking that it may follow the
// current one.
func (t *token) next() {
	if t.rest == "" {
		t.kind = tokEnd
		return
	}
	c := t.rest[0]
	switch {
	case isLower(c):
		if t.kind > tokDigit {
			t.kind = tokInvalid
			return
		}
		t.kind, t.value, t.rest = tokLetter, t.rest[:1], t.rest[1:]
	case c == '.' || isDigit(c):
		if c == '.' {
			if t.kind > tokDigit {
				t.kind = tokInvalid
				return
			}
			t.rest = t.rest[1:]
		}
		switch t.kind {
		case tokInitialDigit, tokDigit:
			t.kind = tokDigit
		case tokSuffix:
			t.kind = tokSuffixNo
		default:
			t.kind = tokInvalid
			return
		}
		t.digits()
	case c == '_':
		if t.kind > tokSuffixNo {
			t.kind = tokInvalid
			return
		}
		n := 1 + span(t.rest[1:], isLower)
		t.value, t.rest = t.rest[1:n], t.rest[n:]
		rank := suffixRank(t.value)
		if rank == sufInvalid {
			t.kind = tokInvalid
			return
		}
		t.kind, t.suffix = tokSuffix, rank
	case c == '~':
		if t.kind >= tokCommitHash {
			t.kind = tokInvalid
			return
		}
		n := 1 + span(t.rest[1:], isHex)
		t.value, t.rest = t.rest[1:n], t.rest[n:]
		if t.value == "" {
			t.kind = tokInvalid
			return
		}
		t.kind = tokCommitHash
	case c == '-':
		if t.kind >= tokRevision || len(t.rest) < 2 || t.rest[1] != 'r' {
			t.kind = tokInvalid
			return
		}
		t.rest = t.rest[2:]
		t.kind = tokRevision
		t.digits()
	default:
		t.kind = tokInvalid
	}
}

// ValidVersion reports whether v is a valid apk version string.
func ValidVersion(v string) bool {
	t := first(v)
	for t.kind < tokEnd {
		t.next()
	}
	return t.kind == tokEnd
}

// cmpNumber compares two runs of decimal digits by value, without
// overflowing on long runs.
func cmpNumber(a, b string) int {
	a, b = trimZeros(a), trimZeros(b)
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return cmpString(a, b)
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpToken compares two tokens of the same kind.
func cmpToken(a, b *token) int {
	switch a.kind {
	case tokDigit:
		// The Gentoo rule: a leading zero on either side makes the
		// numbers compare as strings ("01" < "1").
		if a.value[0] == '0' || b.value[0] == '0' {
			return cmpString(a.value, b.value)
		}
		return cmpNumber(a.value, b.value)
	case tokInitialDigit, tokSuffixNo, tokRevision:
		return cmpNumber(a.value, b.value)
	case tokSuffix:
		return cmpInt(a.suffix, b.suffix)
	default: // letters and commit hashes compare as strings
		return cmpString(a.value, b.value)
	}
}

// CompareVersions orders two apk versions the way apk-tools does: negative
// if a is older than b, zero if they are equal, positive if a is newer.
// Invalid strings are compared as far as they parse.
func CompareVersions(a, b string) int {
	ta, tb := first(a), first(b)
	for ta.kind == tb.kind && ta.kind < tokEnd {
		if r := cmpToken(&ta, &tb); r != 0 {
			return r
		}
		ta.next()
		tb.next()
	}
	if ta.kind == tb.kind {
		return 0
	}
	// Equal so far and one side continues: a pre-release suffix makes the
	// longer one older, otherwise the longer one is newer, judged by the
	// token kind that follows (a lower kind is a more significant part).
	if ta.kind == tokSuffix && ta.suffix < sufNone {
		return -1
	}
	if tb.kind == tokSuffix && tb.suffix < sufNone {
		return 1
	}
	if ta.kind > tb.kind {
		return -1
	}
	return 1
}

// validVersion214 is apk-tools 2.14's apk_version_validate (src/version.c
// of the 2.14-stable branch), which dependency versions must pass: the
// grammar has no ~hash part, and a "." or "-r" may be followed by no
// digits and a "_" by no suffix name ("1.", "1_", "1-r" are valid).
func validVersion214(v string) bool {
	n := span(v, isDigit)
	if n == 0 {
		return false
	}
	kind, rest := tokInitialDigit, v[n:]
	for rest != "" {
		c := rest[0]
		switch {
		case isLower(c):
			if kind > tokDigit {
				return false
			}
			kind, rest = tokLetter, rest[1:]
		case c == '.' || isDigit(c):
			if c == '.' {
				if kind > tokDigit {
					return false
				}
				rest = rest[1:]
			}
			rest = rest[span(rest, isDigit):]
			switch kind {
			case tokSuffix:
				kind = tokSuffixNo
			case tokInitialDigit, tokDigit:
				kind = tokDigit
			default:
				return false
			}
		case c == '_':
			if kind > tokSuffixNo {
				return false
			}
			m := 1 + span(rest[1:], isLower)
			if suf := rest[1:m]; suf != "" && suffixRank(suf) == sufInvalid {
				return false
			}
			kind, rest = tokSuffix, rest[m:]
		case c == '-':
			if kind >= tokRevision || !strings.HasPrefix(rest, "-r") {
				return false
			}
			rest = rest[2:]
			rest = rest[span(rest, isDigit):]
			kind = tokRevision
		default:
			return false
		}
	}
	return true
}
