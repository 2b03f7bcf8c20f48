package rpm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/pierhq/pier/repo"
)

// Header tags go-rpmutils has no constants for.
const (
	tagSourcePackage = 1106
	tagLongSigSize   = 270 // signature header: header+payload size, 64-bit
	tagLongArchive   = 271 // signature header: uncompressed payload size, 64-bit
)

// changelogLimit is how many of the newest changelog entries other.xml
// keeps, as createrepo_c does by default.
const changelogLimit = 10

// Sniff reports whether head starts with the rpm lead magic.
func (f *Format) Sniff(head []byte) bool {
	return len(head) >= 4 && [4]byte(head[:4]) == leadMagic
}

// Read parses the rpm in r: it bounds and validates both headers, checks
// the header digest, extracts everything primary, filelists and other need
// and returns it pre-rendered in Meta. It never reads the payload.
func (f *Format) Read(ctx context.Context, r io.ReaderAt, size int64, sums repo.Sums) (*repo.Parsed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := readLayout(r, size, f.cfg.MaxHeaderSize)
	if err != nil {
		return nil, err
	}
	p, err := f.parseHeaders(l, size)
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

// parseHeaders hands the bounded headers to go-rpmutils and extracts the
// package. A panic inside the library on hostile input becomes a bad
// package error.
func (f *Format) parseHeaders(l *layout, size int64) (p *pkgInfo, err error) {
	defer func() {
		if v := recover(); v != nil {
			p, err = nil, repo.BadPackage(fmt.Sprintf("malformed rpm header (%v)", v))
		}
	}()
	h, err := rpmutils.ReadHeader(bytes.NewReader(l.head))
	if err != nil {
		return nil, repo.BadPackage("reading rpm headers: " + err.Error())
	}
	return f.extract(header{h}, l, size)
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

// extract reads the package's fields out of h.
func (f *Format) extract(h header, l *layout, size int64) (*pkgInfo, error) {
	p := &pkgInfo{HeaderStart: l.start, HeaderEnd: l.end}
	if err := h.checkSize(l, size); err != nil {
		return nil, err
	}
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
	src, _, err := h.num(tagSourcePackage)
	if err != nil {
		return nil, err
	}
	if src != 0 || l.source {
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
	if p.ArchiveSize, err = h.firstNum(tagLongArchive, rpmutils.SIG_PAYLOADSIZE, rpmutils.ARCHIVESIZE); err != nil {
		return nil, err
	}
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

// header wraps go-rpmutils' header with accessors that treat a missing tag
// as empty and a wrongly typed one as a bad package.
type header struct{ h *rpmutils.RpmHeader }

func badTag(tag int, err error) error {
	return repo.BadPackage(fmt.Sprintf("header tag %d: %v", tag, err))
}

func missing(err error) bool {
	var nst rpmutils.NoSuchTagError
	return errors.As(err, &nst)
}

// strs returns a string or string-array tag; nil when absent.
func (h header) strs(tag int) ([]string, error) {
	if !h.h.HasTag(tag) {
		return nil, nil
	}
	v, err := h.h.GetStrings(tag)
	if err != nil {
		return nil, badTag(tag, err)
	}
	return v, nil
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
	v, err := h.h.GetUint64s(tag)
	if err != nil {
		if missing(err) {
			return nil, nil
		}
		return nil, badTag(tag, err)
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

// checkSize compares the header+payload size the signature header records
// with the file size, which catches truncated and padded uploads without
// reading the payload.
func (h header) checkSize(l *layout, size int64) error {
	want, err := h.firstNum(tagLongSigSize, rpmutils.SIG_SIZE)
	if err != nil || want == 0 {
		return err
	}
	if got := uint64(size - l.start); got != want {
		return repo.BadPackage(fmt.Sprintf("file is %d bytes but its signature header records %d (truncated or altered upload)", size, uint64(l.start)+want))
	}
	return nil
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
