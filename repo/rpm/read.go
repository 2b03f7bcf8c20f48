package rpm

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/pierhq/pier/repo"
)

// Header tags go-rpmutils has no constants for.
const tagSourcePackage = 1106

// changelogLimit is how many of the newest changelog entries other.xml
// keeps, as createrepo_c does by default.
const changelogLimit = 10

// Sniff reports whether head starts with the rpm lead magic.
func (f *Format) Sniff(head []byte) bool {
	return len(head) >= 4 && [4]byte(head[:4]) == leadMagic
}

// Read parses and verifies the rpm in r the way rpm 4.18 does before it
// installs a package: it bounds and checks the lead and both header
// structures (readLayout), then checks every digest and signature the
// package carries (the header SHA-256 and SHA-1, the payload SHA-256, the
// MD5 of header and payload, the 16-bit prefix of each OpenPGP signature)
// in one read of the payload, and only then extracts everything primary,
// filelists and other need, pre-rendered in Meta. A package rpm would call
// corrupt is a bad package, so it never takes a name-version-arch slot.
func (f *Format) Read(ctx context.Context, r io.ReaderAt, size int64, sums repo.Sums) (*repo.Parsed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := readLayout(r, size, f.cfg.MaxHeaderSize)
	if err != nil {
		return nil, err
	}
	if err := newIntegrity(l).check(ctx, r, size, l); err != nil {
		return nil, err
	}
	return f.parsed(l)
}

// parsed extracts the checked package of l into the record Read returns.
func (f *Format) parsed(l *layout) (*repo.Parsed, error) {
	p, err := f.extract(l)
	if err != nil {
		return nil, err
	}
	return &repo.Parsed{
		Name:    p.Name,
		Version: p.fullVersion(),
		Arch:    p.Arch,
		Meta:    encodeMeta(p),
	}, nil
}

// pkgInfo is everything the indexes need from one rpm.
type pkgInfo struct {
	Name, Arch                 string
	Epoch, Version, Release    string // Epoch is decimal, "0" when absent
	Summary, Description       string
	License, Vendor, Group     string
	URL, Packager, BuildHost   string
	SourceRPM                  string
	BuildTime                  uint64
	InstalledSize, ArchiveSize uint64
	HeaderStart, HeaderEnd     int64
	Deps                       [numDepKinds][]dep
	Files                      []fileEntry
	Changelog                  []changelogEntry // oldest first
}

// fullVersion is "[E:]V-R", the epoch left out when it is 0.
func (p *pkgInfo) fullVersion() string {
	v := p.Version + "-" + p.Release
	if p.Epoch != "0" {
		v = p.Epoch + ":" + v
	}
	return v
}

// fileEntry is one path of the package with its type: "", "dir" or "ghost".
type fileEntry struct {
	Path string
	Type string
}

// changelogEntry is one changelog entry as other.xml writes it.
type changelogEntry struct {
	Author string
	Date   uint64
	Text   string
}

// extract reads the package's fields out of the checked headers of l.
func (f *Format) extract(l *layout) (*pkgInfo, error) {
	h := header{sig: l.sig, main: l.main}
	p := &pkgInfo{HeaderStart: l.start, HeaderEnd: l.end}
	var err error
	for _, s := range []struct {
		tag int
		dst *string
	}{
		{rpmutils.NAME, &p.Name}, {rpmutils.VERSION, &p.Version}, {rpmutils.RELEASE, &p.Release},
		{rpmutils.ARCH, &p.Arch}, {rpmutils.SUMMARY, &p.Summary}, {rpmutils.DESCRIPTION, &p.Description},
		{rpmutils.LICENSE, &p.License}, {rpmutils.VENDOR, &p.Vendor}, {rpmutils.GROUP, &p.Group},
		{rpmutils.URL, &p.URL}, {rpmutils.PACKAGER, &p.Packager}, {rpmutils.BUILDHOST, &p.BuildHost},
		{rpmutils.SOURCERPM, &p.SourceRPM},
	} {
		if *s.dst, err = h.str(s.tag); err != nil {
			return nil, err
		}
	}
	epoch, _, err := h.num(rpmutils.EPOCH)
	if err != nil {
		return nil, err
	}
	p.Epoch = strconv.FormatUint(epoch, 10)
	src, hasSrc, err := h.num(tagSourcePackage)
	if err != nil {
		return nil, err
	}
	// rpm's applyRetrofits, which createrepo_c sees: a package with
	// neither SOURCERPM nor SOURCEPACKAGE is a source package when all its
	// files sit in one directory with an empty name, and otherwise gets
	// SOURCERPM "(none)". rpm ignores the lead's package type.
	if p.SourceRPM == "" && !hasSrc && h.main.find(rpmutils.SOURCERPM) == nil {
		if dirs, err := h.strs(rpmutils.DIRNAMES); err == nil && len(dirs) == 1 && dirs[0] == "" &&
			h.main.find(rpmutils.DIRNAMES).typ == typeStringArr {
			src = 1
		} else {
			p.SourceRPM = "(none)"
		}
	}
	if src != 0 {
		p.Arch = "src"
	}
	if err := checkNEVRA(p); err != nil {
		return nil, err
	}
	if p.BuildTime, _, err = h.num(rpmutils.BUILDTIME); err != nil {
		return nil, err
	}
	if p.InstalledSize, err = h.firstNum(rpmutils.LONGSIZE, rpmutils.SIZE); err != nil {
		return nil, err
	}
	p.ArchiveSize = h.archiveSize()
	if p.Files, err = h.files(f.cfg.MaxFiles); err != nil {
		return nil, err
	}
	if p.Deps, err = h.deps(p.Files); err != nil {
		return nil, err
	}
	if p.Changelog, err = h.changelog(changelogLimit); err != nil {
		return nil, err
	}
	return p, nil
}

// header reads tags of a package's checked headers: a missing tag reads
// as empty, a wrongly typed one is a bad package (only possible in a main
// header without an immutable region, which rpm does not type-check).
type header struct{ sig, main *hdrBlob }

func badTag(tag int, e *hdrEntry, want string) error {
	return repo.BadPackage(fmt.Sprintf("main header: tag %d has type %s, where rpm expects %s", tag, typeName(e.typ), want))
}

// strs returns a string, string-array or i18n-string tag; nil when absent.
func (h header) strs(tag int) ([]string, error) {
	e := h.main.find(uint32(tag))
	if e == nil {
		return nil, nil
	}
	if !isStringType(e.typ) {
		return nil, badTag(tag, e, "a string")
	}
	return e.strings(), nil
}

// str returns the first value of a string tag (the untranslated one for
// i18n strings); "" when absent.
func (h header) str(tag int) (string, error) {
	v, err := h.strs(tag)
	if err != nil || len(v) == 0 {
		return "", err
	}
	return v[0], nil
}

// nums returns an integer tag of any width; nil when absent.
func (h header) nums(tag int) ([]uint64, error) {
	e := h.main.find(uint32(tag))
	if e == nil {
		return nil, nil
	}
	v, ok := e.numbers()
	if !ok {
		return nil, badTag(tag, e, "an integer")
	}
	return v, nil
}

// num returns the first value of an integer tag and whether it is there.
func (h header) num(tag int) (uint64, bool, error) {
	v, err := h.nums(tag)
	if err != nil || len(v) == 0 {
		return 0, false, err
	}
	return v[0], true, nil
}

// firstNum returns the value of the first of tags that is present, or 0.
func (h header) firstNum(tags ...int) (uint64, error) {
	for _, t := range tags {
		v, ok, err := h.num(t)
		if err != nil || ok {
			return v, err
		}
	}
	return 0, nil
}

// archiveSize is the uncompressed payload size as createrepo_c reads it
// from the header rpm assembles (headerMergeLegacySigs): the signature
// header's 64-bit LONGARCHIVESIZE, else the main header's ARCHIVESIZE,
// else the signature header's PAYLOADSIZE. rpm never verifies these
// sizes, so a tag that is not an integer reads as absent instead of
// refusing the package.
func (h header) archiveSize() uint64 {
	for _, src := range []struct {
		hdr *hdrBlob
		tag uint32
	}{{h.sig, sigTagLongArchive}, {h.main, rpmutils.ARCHIVESIZE}, {h.sig, sigTagPayloadSize}} {
		if e := src.hdr.find(src.tag); e != nil {
			if v, ok := e.numbers(); ok {
				return v[0]
			}
		}
	}
	return 0
}

// files returns the package's file list in header order.
func (h header) files(maxFiles int) ([]fileEntry, error) {
	paths, err := h.paths()
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, nil
	}
	if len(paths) > maxFiles {
		return nil, repo.BadPackage(fmt.Sprintf("package lists %d files, more than the limit of %d", len(paths), maxFiles))
	}
	modes, err := h.nums(rpmutils.FILEMODES)
	if err != nil {
		return nil, err
	}
	flags, err := h.nums(rpmutils.FILEFLAGS)
	if err != nil {
		return nil, err
	}
	if len(modes) != len(paths) || len(flags) != len(paths) {
		return nil, repo.BadPackage("file mode and flag tables do not match the file list")
	}
	if err := h.checkFileTables(len(paths)); err != nil {
		return nil, err
	}
	out := make([]fileEntry, len(paths))
	for i, p := range paths {
		out[i].Path = p
		switch {
		case modes[i]&0o170000 == 0o040000:
			out[i].Type = "dir"
		case flags[i]&rpmutils.RPMFILE_GHOST != 0:
			out[i].Type = "ghost"
		}
	}
	return out, nil
}

// fileTables are the per-file tags rpm 4.18 reads when it loads a package
// to install it (rpmfilesPopulate), each of which must then have one entry
// per file; the owner and group tags must be there.
var fileTables = []struct {
	tag      uint32
	name     string
	required bool
}{
	{1028, "FILESIZES", false}, {1029, "FILESTATES", false}, {1030, "FILEMODES", true},
	{1033, "FILERDEVS", false}, {1034, "FILEMTIMES", false}, {1037, "FILEFLAGS", true},
	{1039, "FILEUSERNAME", true}, {1040, "FILEGROUPNAME", true}, {1096, "FILEINODES", false},
	{1140, "FILECOLORS", false}, {5008, "LONGFILESIZES", false}, {5010, "FILECAPS", false},
}

// checkFileTables mirrors rpm's check of those tags: a package whose file
// tables disagree with its file list cannot be installed ("Wrong number of
// entries for tag …", "error reading from file"). Tables rpm does not
// count at install (FILEVERIFYFLAGS, FILELINKTOS, FILELANGS, FILECLASS)
// are left alone, as rpm leaves them.
func (h header) checkFileTables(n int) error {
	for _, t := range fileTables {
		e := h.main.find(t.tag)
		switch {
		case e == nil && t.required:
			return repo.BadPackage(fmt.Sprintf("package has %d files but no %s table (tag %d): rpm cannot install it; the tool that built it left the table out", n, t.name, t.tag))
		case e != nil && int(e.count) != n:
			return repo.BadPackage(fmt.Sprintf("%s (tag %d) has %d entries for %d files: rpm refuses to install the package (\"Wrong number of entries for tag\"); the tool that built it wrote a broken file list", t.name, t.tag, e.count, n))
		}
	}
	return nil
}

// paths joins DIRNAMES[DIRINDEXES[i]] and BASENAMES[i] verbatim, as rpm
// does, or falls back to the pre-4.0 OLDFILENAMES.
func (h header) paths() ([]string, error) {
	base, err := h.strs(rpmutils.BASENAMES)
	if err != nil {
		return nil, err
	}
	if len(base) == 0 {
		return h.strs(rpmutils.OLDFILENAMES)
	}
	dirs, err := h.strs(rpmutils.DIRNAMES)
	if err != nil {
		return nil, err
	}
	idx, err := h.nums(rpmutils.DIRINDEXES)
	if err != nil {
		return nil, err
	}
	if len(idx) != len(base) {
		return nil, repo.BadPackage("directory index table does not match the file list")
	}
	out := make([]string, len(base))
	for i, b := range base {
		if idx[i] >= uint64(len(dirs)) {
			return nil, repo.BadPackage("file directory index out of range")
		}
		out[i] = dirs[idx[i]] + b
	}
	return out, nil
}

// changelog returns the newest limit entries, oldest first, with equal
// timestamps made unique the way createrepo_c does: of entries sharing a
// time, the newer ones (earlier in the header) are moved up by a second
// each.
func (h header) changelog(limit int) ([]changelogEntry, error) {
	times, err := h.nums(rpmutils.CHANGELOGTIME)
	if err != nil {
		return nil, err
	}
	names, err := h.strs(rpmutils.CHANGELOGNAME)
	if err != nil {
		return nil, err
	}
	texts, err := h.strs(rpmutils.CHANGELOGTEXT)
	if err != nil {
		return nil, err
	}
	n := min(len(times), len(names), len(texts), limit)
	out := make([]changelogEntry, n)
	last := uint64(0)
	for k := 0; k < n; k++ {
		// The header lists newest first; fill out from the end.
		at := n - 1 - k
		out[at] = changelogEntry{
			Author: strings.TrimRight(names[k], " "),
			Date:   times[k],
			Text:   texts[k],
		}
		if times[k] != last {
			last = times[k]
			continue
		}
		t := times[k]
		for j := at + 1; j < n && out[j].Date == t; j++ {
			out[j].Date++
			t++
		}
	}
	return out, nil
}

// checkNEVRA makes sure name, version, release and arch are present and
// safe to use in a file path and a URL.
func checkNEVRA(p *pkgInfo) error {
	check := func(what, v, allowed string, maxLen int) error {
		if v == "" {
			return repo.BadPackage("package has no " + what)
		}
		if len(v) > maxLen {
			return repo.BadPackage(fmt.Sprintf("package %s is longer than %d bytes", what, maxLen))
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; !isAlnum(c) && strings.IndexByte(allowed, c) < 0 {
				return repo.BadPackage(fmt.Sprintf("package %s %q contains %q (allowed: letters, digits and %q)", what, v, c, allowed))
			}
		}
		return nil
	}
	if err := check("name", p.Name, "._+-", 200); err != nil {
		return err
	}
	if c := p.Name[0]; !isAlnum(c) && c != '_' {
		return repo.BadPackage(fmt.Sprintf("package name %q must start with a letter, digit or '_'", p.Name))
	}
	if err := check("version", p.Version, "._+~^", 128); err != nil {
		return err
	}
	if err := check("release", p.Release, "._+~^", 128); err != nil {
		return err
	}
	if err := check("architecture", p.Arch, "_", 32); err != nil {
		return err
	}
	if len(rpmFileName(p.Name, p.Version, p.Release, p.Arch)) > 255 {
		return repo.BadPackage("package file name would be longer than 255 bytes")
	}
	return nil
}

// rpmFileName is the conventional file name "name-version-release.arch.rpm".
func rpmFileName(name, version, release, arch string) string {
	return name + "-" + version + "-" + release + "." + arch + ".rpm"
}
