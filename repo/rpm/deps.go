package rpm

import (
	"strings"

	rpmutils "github.com/sassoftware/go-rpmutils"
)

// depKind is one dependency list of primary.xml, in the order primary.xml
// writes them.
type depKind int

const (
	depProvides depKind = iota
	depRequires
	depConflicts
	depObsoletes
	depSuggests
	depEnhances
	depRecommends
	depSupplements
	numDepKinds
)

// depTags names each dependency kind's element and its NAME, FLAGS and
// VERSION header tags.
var depTags = [numDepKinds]struct {
	elem                 string
	name, flags, version int
}{
	depProvides:    {"rpm:provides", rpmutils.PROVIDENAME, rpmutils.PROVIDEFLAGS, rpmutils.PROVIDEVERSION},
	depRequires:    {"rpm:requires", rpmutils.REQUIRENAME, rpmutils.REQUIREFLAGS, rpmutils.REQUIREVERSION},
	depConflicts:   {"rpm:conflicts", rpmutils.CONFLICTNAME, rpmutils.CONFLICTFLAGS, rpmutils.CONFLICTVERSION},
	depObsoletes:   {"rpm:obsoletes", rpmutils.OBSOLETENAME, rpmutils.OBSOLETEFLAGS, rpmutils.OBSOLETEVERSION},
	depSuggests:    {"rpm:suggests", 5049, 5051, 5050},
	depEnhances:    {"rpm:enhances", 5055, 5057, 5056},
	depRecommends:  {"rpm:recommends", 5046, 5048, 5047},
	depSupplements: {"rpm:supplements", 5052, 5054, 5053},
}

// RPMSENSE bits that make a require a "pre" one: PREREQ, SCRIPT_PRE,
// SCRIPT_POST, PRETRANS and POSTTRANS.
const preFlags = 1<<6 | 1<<9 | 1<<10 | 1<<7 | 1<<5

// dep is one dependency entry as primary.xml writes it.
type dep struct {
	Name  string
	Flags string // "", "LT", "GT", "EQ", "LE" or "GE"
	Epoch string // set only when the dependency has a version
	Ver   string
	Rel   string
	Pre   bool
}

// senseFlags maps the comparison bits of RPMSENSE to primary.xml's flags.
func senseFlags(f uint64) string {
	switch f & 0xf {
	case 2:
		return "LT"
	case 4:
		return "GT"
	case 8:
		return "EQ"
	case 10:
		return "LE"
	case 12:
		return "GE"
	}
	return ""
}

// splitDepEVR splits a dependency version "[E:]V[-R]" at the first ':' and
// the first '-' after it. The epoch defaults to "0"; ok is false for a
// non-numeric epoch, which drops the dependency.
func splitDepEVR(s string) (e, v, r string, ok bool) {
	if s == "" {
		return "", "", "", true
	}
	e = "0"
	if i := strings.IndexByte(s, ':'); i >= 0 {
		for k := 0; k < i; k++ {
			if !isDigit(s[k]) {
				return "", "", "", false
			}
		}
		if i > 0 {
			e = s[:i]
		}
		s = s[i+1:]
	}
	v = s
	if i := strings.IndexByte(s, '-'); i >= 0 {
		v, r = s[:i], s[i+1:]
	}
	return e, v, r, true
}

// depTable reads one dependency kind's NAME, FLAGS and VERSION tags the
// way createrepo_c does: a kind that lacks any of the three tags has no
// entries, and tables of different lengths are read up to the shortest.
// (rpm installs such packages; only createrepo_c's reading of them decides
// what dnf sees.)
func (h header) depTable(kind depKind) (names []string, flags []uint64, versions []string, err error) {
	t := depTags[kind]
	if names, err = h.strs(t.name); err != nil || len(names) == 0 {
		return nil, nil, nil, err
	}
	if flags, err = h.nums(t.flags); err != nil {
		return nil, nil, nil, err
	}
	if versions, err = h.strs(t.version); err != nil {
		return nil, nil, nil, err
	}
	if flags == nil || versions == nil {
		return nil, nil, nil, nil
	}
	n := min(len(names), len(flags), len(versions))
	return names[:n], flags[:n], versions[:n], nil
}

// reqFilter applies createrepo_c's rules for requires, in order: drop
// rpmlib() ones, file requires the package satisfies itself with a primary
// file, requires identical to one of its provides, and a repeat of the
// previous kept require of the same name with the same flags, version and
// pre.
type reqFilter struct {
	own      map[string]bool // the package's paths
	provided map[string]bool // depKey of every provide
	last     map[string]reqSeen
}

type reqSeen struct {
	flags, version string
	pre            bool
}

func depKey(name, flags, version string) string { return name + "\x00" + flags + "\x00" + version }

// keep reports whether a require survives; d.Pre is set.
func (r *reqFilter) keep(d *dep, rawFlags uint64, version string) bool {
	switch {
	case strings.HasPrefix(d.Name, "rpmlib("):
		return false
	case strings.HasPrefix(d.Name, "/") && r.own[d.Name] && isPrimaryFile(d.Name):
		return false
	case r.provided[depKey(d.Name, d.Flags, version)]:
		return false
	}
	d.Pre = rawFlags&preFlags != 0
	s, ok := r.last[d.Name]
	return !ok || s != (reqSeen{d.Flags, version, d.Pre})
}

// deps reads every dependency list. Requires go through reqFilter, and of
// all libc.so.6 requires only the one with the highest symbol version
// stays, written last. A dependency with a non-numeric epoch is dropped.
func (h header) deps(files []fileEntry) ([numDepKinds][]dep, error) {
	var out [numDepKinds][]dep
	rf := &reqFilter{own: make(map[string]bool, len(files)), provided: map[string]bool{}, last: map[string]reqSeen{}}
	for _, f := range files {
		rf.own[f.Path] = true
	}
	for kind := depProvides; kind < numDepKinds; kind++ {
		names, flags, versions, err := h.depTable(kind)
		if err != nil {
			return out, err
		}
		var libc *dep
		for i, name := range names {
			d := dep{Name: name, Flags: senseFlags(flags[i])}
			if kind == depRequires && !rf.keep(&d, flags[i], versions[i]) {
				continue
			}
			var ok bool
			if d.Epoch, d.Ver, d.Rel, ok = splitDepEVR(versions[i]); !ok {
				continue
			}
			switch {
			case kind == depProvides:
				rf.provided[depKey(name, d.Flags, versions[i])] = true
			case kind == depRequires && strings.HasPrefix(name, "libc.so.6"):
				if libc == nil || libcNewer(libc.Name, name) {
					libc = &d
				}
				continue
			case kind == depRequires:
				rf.last[name] = reqSeen{d.Flags, versions[i], d.Pre}
			}
			out[kind] = append(out[kind], d)
		}
		if libc != nil {
			out[kind] = append(out[kind], *libc)
		}
	}
	return out, nil
}

// isPrimaryFile reports whether a path goes into primary.xml as well as
// filelists.xml: anything under /etc/, /usr/lib/sendmail, and any path
// containing "bin/".
func isPrimaryFile(p string) bool {
	return strings.HasPrefix(p, "/etc/") || p == "/usr/lib/sendmail" || strings.Contains(p, "bin/")
}

// libcNewer reports whether the libc.so.6 require b names a higher symbol
// version than a, comparing the first version number found inside the
// first parentheses ("libc.so.6(GLIBC_2.34)(64bit)" → "2.34"). A name
// without parentheses, or with empty ones, ranks lowest.
func libcNewer(a, b string) bool {
	va, ra := libcRank(a)
	vb, rb := libcRank(b)
	if ra != rb {
		return rb > ra
	}
	if ra < libcRankVersion {
		return false
	}
	return rpmvercmp(va, vb) < 0
}

// Ranks of a libc.so.6 require name, lowest first.
const (
	libcRankBare    = iota // no parentheses
	libcRankBroken         // '(' without ')'
	libcRankEmpty          // "()"
	libcRankNoDigit        // no digit inside the parentheses
	libcRankVersion        // a version inside the parentheses
)

// libcRank extracts the symbol version of a libc.so.6 require name.
func libcRank(name string) (string, int) {
	open := strings.IndexByte(name, '(')
	if open < 0 {
		return "", libcRankBare
	}
	rest := name[open+1:]
	end := strings.IndexByte(rest, ')')
	switch {
	case end < 0:
		return "", libcRankBroken
	case end == 0:
		return "", libcRankEmpty
	}
	inner := rest[:end]
	for i := 0; i < len(inner); i++ {
		if isDigit(inner[i]) {
			return inner[i:], libcRankVersion
		}
	}
	return "", libcRankNoDigit
}
