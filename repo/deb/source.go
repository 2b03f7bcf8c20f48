package deb

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/pierhq/pier/repo"
)

// SourceArch is the architecture under which the catalog records a source
// package (dpkg never gives it to a binary package).
const SourceArch = "source"

// sniffDSC reports whether head looks like a .dsc: a control stanza
// (clear-signed or not) with a Source field and none of the fields only a
// .changes has (Date, Distribution, Changes).
func sniffDSC(head []byte) bool {
	names := headFields(head)
	return names["source"] && !names["date"] && !names["distribution"] && !names["changes"]
}

// sniffChanges reports whether head looks like a .changes: a control
// stanza with Source and Date, Distribution or Changes fields.
func sniffChanges(head []byte) bool {
	names := headFields(head)
	return names["source"] && (names["date"] || names["distribution"] || names["changes"])
}

// headFields returns the lower-cased names of the fields that start a line
// in head, after an optional OpenPGP armor header, up to the first line
// that is neither a field nor a continuation; nil when head does not start
// like a control file.
func headFields(head []byte) map[string]bool {
	lines := strings.Split(string(head), "\n")
	i := 0
	for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	if i < len(lines) && reArmorSignedMsg.MatchString(lines[i]) {
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
		}
	}
	names := map[string]bool{}
	first := true
	for ; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], " \t\r")
		if l == "" && !first {
			break
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, _, ok := splitField(l)
		if !ok {
			if first {
				return nil
			}
			if !reContinuation.MatchString(l) {
				break // Read reports the line
			}
			continue
		}
		first = false
		names[strings.ToLower(name)] = true
	}
	return names
}

// readSource reads the .dsc in r: the source package with the files it
// lists as Needs, and its Meta (the Sources stanza, pre-rendered).
func (f *Format) readSource(ctx context.Context, r io.ReaderAt, size int64, sums repo.Sums) (*repo.Parsed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size > maxDSCSize {
		return nil, badf("the .dsc is %d bytes, more than the limit of %d", size, maxDSCSize)
	}
	data := make([]byte, size)
	if err := readAt(r, data, 0); err != nil {
		return nil, readError(".dsc", 0, err)
	}
	d, err := parseDSC(data, f.cfg.Limits)
	if err != nil {
		return nil, err
	}
	m := sourceMeta(d, sums)
	meta, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	own := dscName(&repo.Package{Name: d.source, Version: d.version})
	needs := make([]repo.NeededFile, len(d.files))
	for i, df := range d.files {
		if df.name == own {
			return nil, badf(".dsc: it lists %s, the name of the .dsc itself", own)
		}
		needs[i] = repo.NeededFile{Name: df.name, Size: df.size, Sums: df.sums}
	}
	return &repo.Parsed{Name: d.source, Version: d.version, Arch: SourceArch, Meta: meta, Needs: needs}, nil
}

// SourceMeta is the Meta of a source package (encoding "dsc1"): its
// Sources stanza without Directory and the file lists, and the files the
// .dsc lists. A stanza is Head, "Directory: …", Mid, then Files,
// Checksums-Sha1 (when the .dsc has it) and Checksums-Sha256, each
// listing the .dsc first, then Tail. Sha256 sums come from the package's
// Extra blobs (the core verified each one), so a .dsc without
// Checksums-Sha256 still gets one in Sources, as apt-ftparchive adds it.
//
// Encoding: one header line
//
//	dsc1 <length of Head> <length of Mid> <length of Tail> <1 if Checksums-Sha1, else 0>\n
//
// then Head, Mid, Tail and one line per file: "<name> <size> <md5 or
// -> <sha1 or ->\n".
type SourceMeta struct {
	Head, Mid, Tail string
	Sha1            bool
	Files           []SourceFile
}

// SourceFile is one file a .dsc lists.
type SourceFile struct {
	Name      string
	Size      int64
	MD5, SHA1 string
}

const sourceMagic = "dsc1"

// sourceMeta renders d's Sources stanza around the generated fields, in
// apt-ftparchive's order (apt-pkg/tagfile-order.c, TFRewriteSourceOrder):
// Source is renamed Package; Priority (set from overrides, which Pier
// has not), Status and the checksum fields are dropped (the checksum
// fields are written again with the .dsc added); unknown fields follow in
// the .dsc's order.
func sourceMeta(d *dsc, sums repo.Sums) *SourceMeta {
	type ranked struct {
		rank int
		f    field
	}
	var rs []ranked
	for _, fd := range d.fields {
		rank, name := sourceFieldRank(strings.ToLower(fd.Name))
		if rank == rankDrop {
			continue
		}
		if name != "" {
			fd.Name = name
		}
		if strings.EqualFold(fd.Name, "Source") {
			fd.Name = "Package"
		}
		rs = append(rs, ranked{rank, fd})
	}
	slices.SortStableFunc(rs, func(a, b ranked) int { return a.rank - b.rank })
	var head, mid, tail []byte
	for _, r := range rs {
		switch {
		case r.rank < rankDirectory:
			head = appendSourceField(head, r.f)
		case r.rank < rankUnknown:
			mid = appendSourceField(mid, r.f)
		default:
			tail = appendSourceField(tail, r.f)
		}
	}
	m := &SourceMeta{Head: string(head), Mid: string(mid), Tail: string(tail)}
	_, m.Sha1 = lookup(d.fields, "Checksums-Sha1")
	for _, df := range d.files {
		m.Files = append(m.Files, SourceFile{Name: df.name, Size: df.size, MD5: df.sums[repo.MD5], SHA1: df.sums[repo.SHA1]})
	}
	return m
}

// appendSourceField renders one field; an empty continuation line (a "."
// line in the .dsc) is written " ." again.
func appendSourceField(b []byte, f field) []byte {
	v := f.Value
	if strings.Contains(v, "\n") {
		lines := strings.Split(v, "\n")
		for i := 1; i < len(lines); i++ {
			if lines[i] == "" || reDots.MatchString(lines[i]) {
				lines[i] = "." + lines[i]
			}
		}
		v = strings.Join(lines, "\n ")
	}
	b = append(b, f.Name...)
	b = append(b, ':')
	if v != "" && v[0] != '\n' {
		b = append(b, ' ')
	}
	b = append(b, v...)
	return append(b, '\n')
}

// rankDirectory is Directory's place in TFRewriteSourceOrder; fields
// before it go into Head, Package-List into Mid.
const rankDirectory = 50

// sourceFieldRank returns a .dsc field's (given lower-case) place in a
// Sources stanza and its canonical spelling.
func sourceFieldRank(lower string) (int, string) {
	order := []string{"Package", "Source", "Format", "Binary", "Architecture", "Version", "Priority", "Class", "Section",
		"Origin", "Maintainer", "Original-Maintainer", "Uploaders", "Dm-Upload-Allowed", "Standards-Version",
		"Build-Depends", "Build-Depends-Arch", "Build-Depends-Indep", "Build-Conflicts", "Build-Conflicts-Arch",
		"Build-Conflicts-Indep", "Testsuite", "Testsuite-Triggers", "Homepage", "Vcs-Browser", "Vcs-Browse", "Vcs-Arch",
		"Vcs-Bzr", "Vcs-Cvs", "Vcs-Darcs", "Vcs-Git", "Vcs-Hg", "Vcs-Mtn", "Vcs-Svn"}
	switch lower {
	case "priority", "class", "status", "files", "checksums-md5", "checksums-sha1", "checksums-sha256", "checksums-sha512",
		"directory", "package":
		// Generated (Directory, the file lists), from overrides
		// (Priority) or not a source field (Status; Package, which the
		// renamed Source becomes).
		return rankDrop, ""
	case "package-list":
		return rankDirectory + 1, "Package-List"
	}
	for i, name := range order {
		if strings.ToLower(name) == lower {
			return i + 1, name
		}
	}
	return rankUnknown, ""
}

// MarshalBinary encodes m.
func (m *SourceMeta) MarshalBinary() ([]byte, error) {
	var b []byte
	b = append(b, sourceMagic...)
	for _, n := range []int{len(m.Head), len(m.Mid), len(m.Tail)} {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(n), 10)
	}
	if m.Sha1 {
		b = append(b, " 1\n"...)
	} else {
		b = append(b, " 0\n"...)
	}
	b = append(b, m.Head...)
	b = append(b, m.Mid...)
	b = append(b, m.Tail...)
	for _, f := range m.Files {
		if !reDSCFileName.MatchString(f.Name) || f.Size < 0 {
			return nil, fmt.Errorf("deb: encode source meta: bad file %q", clip(f.Name))
		}
		b = append(b, f.Name...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, f.Size, 10)
		for _, s := range []string{f.MD5, f.SHA1} {
			if s == "" {
				s = "-"
			}
			b = append(b, ' ')
			b = append(b, s...)
		}
		b = append(b, '\n')
	}
	return b, nil
}

// UnmarshalBinary decodes data written by MarshalBinary.
func (m *SourceMeta) UnmarshalBinary(data []byte) error {
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return errSourceMeta
	}
	parts := strings.Split(string(data[:nl]), " ")
	if len(parts) != 5 || parts[0] != sourceMagic {
		return errSourceMeta
	}
	var n [3]int
	body := data[nl+1:]
	total := 0
	for i := range n {
		v, ok := atoi([]byte(parts[i+1]))
		if !ok {
			return errSourceMeta
		}
		n[i] = v
		total += v
	}
	if total > len(body) || (parts[4] != "0" && parts[4] != "1") {
		return errSourceMeta
	}
	*m = SourceMeta{Head: string(body[:n[0]]), Mid: string(body[n[0] : n[0]+n[1]]), Tail: string(body[n[0]+n[1] : total]),
		Sha1: parts[4] == "1"}
	for _, s := range []string{m.Head, m.Mid, m.Tail} {
		if !validFragment([]byte(s)) {
			return fmt.Errorf("%w: a stanza fragment is not a run of whole field lines", errSourceMeta)
		}
	}
	rest := string(body[total:])
	if rest != "" && !strings.HasSuffix(rest, "\n") {
		return errSourceMeta
	}
	for _, l := range strings.Split(strings.TrimSuffix(rest, "\n"), "\n") {
		if l == "" {
			continue
		}
		p := strings.Split(l, " ")
		if len(p) != 4 || !reDSCFileName.MatchString(p[0]) {
			return errSourceMeta
		}
		size, err := strconv.ParseInt(p[1], 10, 64)
		if err != nil || size < 0 {
			return errSourceMeta
		}
		sf := SourceFile{Name: p[0], Size: size}
		if p[2] != "-" {
			sf.MD5 = p[2]
		}
		if p[3] != "-" {
			sf.SHA1 = p[3]
		}
		if (sf.MD5 != "" && !isLowerHex(sf.MD5, 32)) || (sf.SHA1 != "" && !isLowerHex(sf.SHA1, 40)) {
			return errSourceMeta
		}
		m.Files = append(m.Files, sf)
	}
	return nil
}

var errSourceMeta = fmt.Errorf("deb: malformed source package meta")

// isSourceMeta reports whether meta is a source package's.
func isSourceMeta(meta []byte) bool { return bytes.HasPrefix(meta, []byte(sourceMagic+" ")) }

// dscName is the pool name of a source package's .dsc, as dpkg-source
// names it: <source>_<version without epoch>.dsc.
func dscName(p *repo.Package) string {
	v := p.Version
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	return p.Name + "_" + v + ".dsc"
}

// sourceDir is a source package's pool directory relative to the archive
// root: pool/<component>/<prefix>/<source>/<sha256 of the .dsc, 12 digits>,
// dak's layout plus the content directory binary packages get too, so that
// a path never names two contents (two releases may hold different
// hello_1.0.orig.tar.gz). The .dsc names every file by its checksums, so
// the directory holds one source package's files for ever.
func sourceDir(p *repo.Package) string {
	prefix := p.Name[:1]
	if strings.HasPrefix(p.Name, "lib") && len(p.Name) > 3 {
		prefix = p.Name[:4]
	}
	return "pool/" + p.Component + "/" + prefix + "/" + p.Name + "/" + p.SHA256[:12]
}
