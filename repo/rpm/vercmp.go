package rpm

import "strings"

// evr is an rpm version split into epoch, version and release.
type evr struct {
	Epoch   string // decimal digits; "" means 0
	Version string
	Release string // "" when absent
}

// parseEVR splits "[E:]V[-R]" the way rpm does: the epoch is a run of
// leading digits ended by ':', and the release follows the last '-'.
func parseEVR(s string) evr {
	var e evr
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i < len(s) && s[i] == ':' {
		e.Epoch = s[:i]
		s = s[i+1:]
	}
	if j := strings.LastIndexByte(s, '-'); j >= 0 {
		e.Version, e.Release = s[:j], s[j+1:]
	} else {
		e.Version = s
	}
	return e
}

// compareEVR orders two parsed versions the way rpm orders package
// versions: epoch numerically, then version, then release with rpmvercmp.
func compareEVR(a, b evr) int {
	if c := compareEpoch(a.Epoch, b.Epoch); c != 0 {
		return c
	}
	if c := rpmvercmp(a.Version, b.Version); c != 0 {
		return c
	}
	return rpmvercmp(a.Release, b.Release)
}

// compareEpoch compares two decimal epochs of any length; "" counts as 0.
func compareEpoch(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// rpmvercmp compares two version (or release) strings with rpm's
// algorithm: alternating runs of digits and letters are compared in turn,
// anything else separates runs, '~' sorts before everything (even the end of
// the string) and '^' sorts after the end of the string but before any
// further run. It returns -1, 0 or 1.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		ca, cb := byte(0), byte(0)
		if i < len(a) {
			ca = a[i]
		}
		if j < len(b) {
			cb = b[j]
		}
		// '~' loses against everything, including the end of the string.
		if ca == '~' || cb == '~' {
			if ca != '~' {
				return 1
			}
			if cb != '~' {
				return -1
			}
			i++
			j++
			continue
		}
		// '^' wins against the end of the string and loses against the rest.
		if ca == '^' || cb == '^' {
			switch {
			case ca == 0:
				return -1
			case cb == 0:
				return 1
			case ca != '^':
				return 1
			case cb != '^':
				return -1
			}
			i++
			j++
			continue
		}
		if ca == 0 || cb == 0 {
			break
		}
		var c int
		c, i, j = compareRun(a, b, i, j)
		if c != 0 {
			return c
		}
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	default:
		return 1
	}
}

// compareRun compares the run of digits or letters starting at a[i] with
// the run of the same kind at b[j] and returns the result and the indexes
// after both runs. A number beats letters; numbers compare by value
// (leading zeros ignored, then length, then digits), letters by bytes.
func compareRun(a, b string, i, j int) (int, int, int) {
	numeric := isDigit(a[i])
	class := isAlpha
	if numeric {
		class = isDigit
	}
	si, sj := i, j
	for i < len(a) && class(a[i]) {
		i++
	}
	for j < len(b) && class(b[j]) {
		j++
	}
	sa, sb := a[si:i], b[sj:j]
	if sb == "" {
		// b's run is of the other kind.
		if numeric {
			return 1, i, j
		}
		return -1, i, j
	}
	if numeric {
		sa, sb = strings.TrimLeft(sa, "0"), strings.TrimLeft(sb, "0")
		if len(sa) != len(sb) {
			if len(sa) < len(sb) {
				return -1, i, j
			}
			return 1, i, j
		}
	}
	return strings.Compare(sa, sb), i, j
}
