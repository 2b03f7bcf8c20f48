package rpm

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/pierhq/pier/repo"
)

// RepoName gives the targets matching Targets their repository id and
// name in .repo files (the /setup text and the one-file download). The
// first entry whose pattern matches a target wins; a target no entry
// matches, or a field left empty, keeps the default: id
// "pier-{stream}-{distro}-{release}", name "Pier {stream} {distro}
// {release}". ID and Name may hold the placeholders {stream}, {distro} and
// {release}.
type RepoName struct {
	// Targets are stream/distro/release glob patterns (path.Match), e.g.
	// "5.8/el/*".
	Targets []string `yaml:"targets"`
	// ID is the repository id: the .repo section ([ID]), dnf's repo id,
	// zypper's alias, and the file name clients save it under
	// (/etc/yum.repos.d/ID.repo). Letters, digits and -_.: only, the
	// characters dnf accepts in a repo id; a character of a target's name
	// outside that set becomes "_".
	ID string `yaml:"id"`
	// Name is the repository's description, the name= line that dnf and
	// zypper show: one line of text.
	Name string `yaml:"name"`
}

// Placeholders of RepoName.ID and RepoName.Name.
var repoPlaceholders = []string{"{stream}", "{distro}", "{release}"}

// Defaults of RepoName.ID and RepoName.Name.
const (
	defaultRepoID   = "pier-{stream}-{distro}-{release}"
	defaultRepoName = "Pier {stream} {distro} {release}"
)

// validRepoIDChar reports whether dnf accepts c in a repo id: letters,
// digits and "-_.:" (dnf 4 repo.py _REPOID_CHARS, checked through libdnf
// Repo::verifyId; dnf reads a .repo whose id has another character as a
// configuration error, "Bad id for repo", and stops).
func validRepoIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.:", c) >= 0
}

// validateRepoNames reports the first invalid entry of rs.
func validateRepoNames(rs []RepoName) error {
	for i, r := range rs {
		at := fmt.Sprintf("rpm: repos[%d]", i)
		if len(r.Targets) == 0 {
			return fmt.Errorf("%s: targets is empty: name the stream/distro/release patterns it applies to", at)
		}
		for _, p := range r.Targets {
			if _, err := path.Match(p, "s/d/r"); err != nil || strings.Count(p, "/") != 2 {
				return fmt.Errorf("%s: targets %q: want a stream/distro/release glob pattern", at, p)
			}
		}
		if r.ID == "" && r.Name == "" {
			return fmt.Errorf("%s: sets neither id nor name", at)
		}
		if err := checkPlaceholders(r.ID); err != nil {
			return fmt.Errorf("%s: id %q: %w", at, r.ID, err)
		}
		if err := checkPlaceholders(r.Name); err != nil {
			return fmt.Errorf("%s: name %q: %w", at, r.Name, err)
		}
		if r.ID != "" {
			lit := stripPlaceholders(r.ID)
			for j := 0; j < len(lit); j++ {
				if !validRepoIDChar(lit[j]) {
					return fmt.Errorf("%s: id %q: %q is not allowed in a dnf repo id (letters, digits and -_.: only)", at, r.ID, lit[j])
				}
			}
			if strings.HasPrefix(r.ID, ".") {
				return fmt.Errorf("%s: id %q starts with a dot: dnf and zypper skip hidden .repo files", at, r.ID)
			}
		}
		if r.Name != "" {
			if strings.TrimSpace(r.Name) != r.Name {
				return fmt.Errorf("%s: name %q has leading or trailing white space, which dnf and zypper drop", at, r.Name)
			}
			for _, c := range r.Name {
				if c < 0x20 || c == 0x7f {
					return fmt.Errorf("%s: name %q holds a control character: a .repo value is one line", at, r.Name)
				}
			}
		}
	}
	return nil
}

// checkPlaceholders refuses a brace that does not start or end one of the
// placeholders.
func checkPlaceholders(s string) error {
	if strings.ContainsAny(stripPlaceholders(s), "{}") {
		return errors.New("the only placeholders are {stream}, {distro} and {release}")
	}
	return nil
}

func stripPlaceholders(s string) string {
	for _, p := range repoPlaceholders {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

// expand fills in t's names; each value goes through clean first.
func expand(tmpl string, t repo.Target, clean func(string) string) string {
	return strings.NewReplacer("{stream}", clean(t.Stream), "{distro}", clean(t.Distro), "{release}", clean(t.Release)).Replace(tmpl)
}

// idPart maps the characters of a target's name that dnf does not accept in
// a repo id ('+' and '~', which target names allow) to '_'.
func idPart(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && validRepoIDChar(byte(r)) {
			return r
		}
		return '_'
	}, s)
}

// repoNames returns t's repository id and name.
func (f *Format) repoNames(t repo.Target) (id, name string) {
	idT, nameT := defaultRepoID, defaultRepoName
	for _, r := range f.cfg.Repos {
		if matchAny(r.Targets, t) {
			if r.ID != "" {
				idT = r.ID
			}
			if r.Name != "" {
				nameT = r.Name
			}
			break
		}
	}
	return expand(idT, t, idPart), expand(nameT, t, func(s string) string { return s })
}

func matchAny(patterns []string, t repo.Target) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, t.String()); ok {
			return true
		}
	}
	return false
}

// zypperTarget reports whether t's users run zypper (SUSE distros) rather
// than dnf.
func zypperTarget(t repo.Target) bool {
	d := strings.ToLower(t.Distro)
	return strings.Contains(d, "suse") || strings.Contains(d, "sles")
}

// repoBase is the URL of t's repository, ending in "/".
func repoBase(t repo.Target, info repo.SetupInfo) string {
	return info.BaseURL + "/" + rootPath(t)
}

// rootPath is t's root path, rpm/<stream>/<distro>/<release>/.
func rootPath(t repo.Target) string {
	return "rpm/" + t.Stream + "/" + t.Distro + "/" + t.Release + "/"
}

// keyURL is the key a .repo names: the repository's own
// repodata/repomd.xml.key, or for a private target Pier's public
// /keys/pier.asc (the same keys, reachable without a token).
func keyURL(t repo.Target, info repo.SetupInfo) string {
	if info.Private {
		return info.BaseURL + "/keys/pier.asc"
	}
	return repoBase(t, info) + "repodata/repomd.xml.key"
}

// repoSection writes t's .repo sections: the binary repository's, enabled,
// then its source repository's (SourceDir), "[<id>-source]", disabled:
// dnf's `--enablerepo` or `download --source` turns it on (dnf enables
// "<id>-source" for every enabled repository <id> when asked for sources,
// the naming Fedora's and EPEL's own .repo files use), zypper's
// `--plus-content` or `modifyrepo -e`. zypper's keys for SUSE distros,
// dnf's otherwise. The metadata is signed (repo_gpgcheck=1); dnf checks
// package signatures (gpgcheck=1) when Pier signs t's packages. For a
// private target zypper's baseurl names a credentials file; dnf's sections
// get username=pier and password when password is not empty.
func (f *Format) repoSection(b *strings.Builder, t repo.Target, info repo.SetupInfo, password string) {
	id, name := f.repoNames(t)
	base, key := repoBase(t, info), keyURL(t, info)
	// No blank line between the sections: dnf 5's config-manager addrepo
	// reads one inside a section as an item of it (see
	// TestSetupFileDnf5Options).
	f.writeSection(b, t, section{id: id, name: name, base: base, key: key, enabled: 1}, info, password)
	f.writeSection(b, t, section{id: id + "-source", name: name + " - Source", base: base + SourceDir, key: key}, info, password)
}

// section is one repository of a .repo file.
type section struct {
	id, name, base, key string
	enabled             int
}

// writeSection writes one .repo section (see repoSection).
func (f *Format) writeSection(b *strings.Builder, t repo.Target, s section, info repo.SetupInfo, password string) {
	if zypperTarget(t) {
		base := s.base
		if info.Private {
			base += "?credentials=" + strings.TrimSuffix(s.id, "-source")
		}
		fmt.Fprintf(b, "[%s]\nname=%s\nbaseurl=%s\nenabled=%d\nautorefresh=1\ntype=rpm-md\n", s.id, s.name, base, s.enabled)
		fmt.Fprintf(b, "gpgcheck=1\nrepo_gpgcheck=1\ngpgkey=%s\n", s.key)
		return
	}
	fmt.Fprintf(b, "[%s]\nname=%s\nbaseurl=%s\nenabled=%d\n", s.id, s.name, s.base, s.enabled)
	if password != "" {
		fmt.Fprintf(b, "username=pier\npassword=%s\n", password)
	}
	gpgcheck := 0
	if f.signs(t) {
		gpgcheck = 1
	}
	fmt.Fprintf(b, "repo_gpgcheck=1\ngpgcheck=%d\ngpgkey=%s\nmetadata_expire=300\n", gpgcheck, s.key)
}

// SetupFileName is the fixed name of every rpm target's .repo file, beside
// its repodata: /rpm/<stream>/<distro>/<release>/pier.repo.
const SetupFileName = "pier.repo"

// SetupFilePaths returns the paths, relative to Pier's public root, at
// which t's .repo file is served: rpm/<stream>/<distro>/<release>/pier.repo
// and .../<id>.repo. dnf config-manager saves a downloaded .repo under the
// URL's file name (dnf 4 replaces a file of that name, dnf 5 refuses to),
// so a machine that adds several targets uses the id-named URL. Neither
// name can be a repository file: those lie in repodata/ and the arch
// folders.
func (f *Format) SetupFilePaths(t repo.Target) []string {
	id, _ := f.repoNames(t)
	ps := []string{rootPath(t) + SetupFileName}
	if id+".repo" != SetupFileName {
		ps = append(ps, rootPath(t)+id+".repo")
	}
	return ps
}

// SetupFile returns t's .repo file, the section /setup writes, for
// `dnf config-manager --add-repo URL` (dnf 4), `dnf config-manager addrepo
// --from-repofile=URL` (dnf 5) and `zypper addrepo URL`. It carries no
// credentials: for a private target its comments say where the token goes.
// keys is not used (the .repo names its key by URL).
func (f *Format) SetupFile(t repo.Target, info repo.SetupInfo, keys []byte) string {
	var b strings.Builder
	id, _ := f.repoNames(t)
	fmt.Fprintf(&b, "# Pier repository %s (%s).\n", t, keyNames(info))
	if info.Private {
		if zypperTarget(t) {
			fmt.Fprintf(&b, "# Private: zypper sends a token with read on %s from /etc/zypp/credentials.d/%s\n", t, id)
			b.WriteString("# (lines username=pier and password=<token>; mode 0600).\n")
		} else {
			fmt.Fprintf(&b, "# Private: dnf sends a token with read on %s: add the lines username=pier and\n", t)
			b.WriteString("# password=<token> to each section below and make this file mode 0600.\n")
		}
	}
	f.repoSection(&b, t, info, "")
	return b.String()
}

// keyNames names the keys that sign t's metadata: "signing key X" or, during
// a rotation, "signing keys X, Y".
func keyNames(info repo.SetupInfo) string {
	fprs := info.Fingerprints
	if len(fprs) == 0 && info.Fingerprint != "" {
		fprs = []string{info.Fingerprint}
	}
	switch len(fprs) {
	case 0:
		return "signed metadata"
	case 1:
		return "signing key " + fprs[0]
	}
	return "signing keys " + strings.Join(fprs, ", ")
}
