// Package debtest builds .deb files in memory for tests and benchmarks:
// valid ones with chosen control fields and contents, and hostile ones
// (path traversal entries, decompression bombs, raw control text, missing
// members) to check that readers reject them. Equal options give equal
// bytes.
package debtest

import (
	"archive/tar"
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Field is one extra control field.
type Field struct {
	Name  string
	Value string
}

// Entry is an extra entry of control.tar, written as given (names are not
// cleaned, so "../../evil" stays what it is).
type Entry struct {
	Name string
	Data []byte
	// Type is a tar type flag; zero means a regular file.
	Type byte
	// Linkname is the target of a symlink or hard link entry.
	Linkname string
	// PAXRecords, when set, are written as a PAX extended header (the
	// format must allow it).
	PAXRecords map[string]string
}

// Options describe a .deb to build. Package, Version and Arch are required
// unless Control replaces the control file.
type Options struct {
	Package string
	Version string
	Arch    string
	// Description is written after "Description: "; continuation lines
	// (after "\n") must start with a space. Default "test package".
	Description string
	Depends     string
	// Maintainer defaults to "Pier Test <test@example.org>".
	Maintainer string
	// Fields are extra control fields, written in order after the others.
	Fields []Field
	// Files are the contents of data.tar, by path ("usr/bin/hello").
	Files map[string][]byte

	// Control, when set, is the control file's exact text, replacing the
	// one built from the fields above.
	Control string
	// NoControlFile leaves the control file out of control.tar.
	NoControlFile bool
	// ControlEntries are added to control.tar after the control file.
	ControlEntries []Entry
	// ControlCompression is "gz" (the default), "xz", "zst", "lzma" or
	// "none".
	ControlCompression string
	// Padding adds a "./padding" entry of that many zero bytes to
	// control.tar: a few KiB compressed, a decompression bomb when large.
	Padding int64
	// DebianBinary replaces the debian-binary member's "2.0\n".
	DebianBinary string
	// NoData leaves out the data.tar member.
	NoData bool

	// DataCompression is "gz" (the default), "xz", "zst", "lzma" or "none".
	DataCompression string
	// DataFormat is the tar format of data.tar: "gnu" (the default, as
	// dpkg-deb writes it), "ustar" or "pax".
	DataFormat string
	// DataEntries are added to data.tar after Files, written as given.
	DataEntries []Entry
	// Data, when set, is the data member's exact bytes (already
	// compressed as its name says).
	Data []byte
	// ControlName and DataName replace the member names that the
	// compressions imply ("control.tar.gz", "data.tar.gz").
	ControlName, DataName string
	// Members are extra ar members, each placed before the member its
	// Before names: "control" or "data"; "" puts it after data.
	Members []Member
}

// Member is an extra ar member.
type Member struct {
	Name   string
	Data   []byte
	Before string
}

// mtime is the timestamp of every member and entry, for reproducible bytes.
const mtime = 1700000000

// Build returns the bytes of the .deb described by opts.
func Build(opts Options) ([]byte, error) {
	control := opts.Control
	if control == "" {
		if opts.Package == "" || opts.Version == "" || opts.Arch == "" {
			return nil, errors.New("debtest: Package, Version and Arch are required without Control")
		}
		control = controlText(opts)
	}
	ctl, err := controlTar(opts, control)
	if err != nil {
		return nil, err
	}
	ctlName := "control.tar"
	if ext := compressionExt(opts.ControlCompression); ext != "" {
		ctlName += "." + ext
	}
	if ctl, err = compress(opts.ControlCompression, ctl); err != nil {
		return nil, err
	}
	debianBinary := opts.DebianBinary
	if debianBinary == "" {
		debianBinary = "2.0\n"
	}

	if opts.ControlName != "" {
		ctlName = opts.ControlName
	}
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	arMember(&b, "debian-binary", []byte(debianBinary))
	extra := func(before string) {
		for _, m := range opts.Members {
			if m.Before == before {
				arMember(&b, m.Name, m.Data)
			}
		}
	}
	extra("control")
	arMember(&b, ctlName, ctl)
	extra("data")
	if !opts.NoData {
		name, data, err := dataMember(opts)
		if err != nil {
			return nil, err
		}
		arMember(&b, name, data)
	}
	extra("")
	return b.Bytes(), nil
}

// dataMember returns the data member's name and bytes.
func dataMember(opts Options) (string, []byte, error) {
	name := "data.tar"
	if ext := compressionExt(opts.DataCompression); ext != "" {
		name += "." + ext
	}
	if opts.DataName != "" {
		name = opts.DataName
	}
	if opts.Data != nil {
		return name, opts.Data, nil
	}
	data, err := dataTar(opts)
	if err != nil {
		return "", nil, err
	}
	if data, err = compress(opts.DataCompression, data); err != nil {
		return "", nil, err
	}
	return name, data, nil
}

// DataTar returns the uncompressed data.tar that Build writes for opts.
func DataTar(opts Options) ([]byte, error) { return dataTar(opts) }

// Compress compresses data as Build does: c is "gz" (or ""), "xz",
// "zst", "lzma" or "none".
func Compress(c string, data []byte) ([]byte, error) { return compress(c, data) }

// controlText builds a control file from opts.
func controlText(opts Options) string {
	var installed int64
	for _, data := range opts.Files {
		installed += int64(len(data))
	}
	maintainer := opts.Maintainer
	if maintainer == "" {
		maintainer = "Pier Test <test@example.org>"
	}
	description := opts.Description
	if description == "" {
		description = "test package"
	}
	var c strings.Builder
	fmt.Fprintf(&c, "Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: %s\nInstalled-Size: %d\n",
		opts.Package, opts.Version, opts.Arch, maintainer, (installed+1023)/1024)
	if opts.Depends != "" {
		fmt.Fprintf(&c, "Depends: %s\n", opts.Depends)
	}
	c.WriteString("Priority: optional\n")
	for _, f := range opts.Fields {
		fmt.Fprintf(&c, "%s: %s\n", f.Name, f.Value)
	}
	fmt.Fprintf(&c, "Description: %s\n", description)
	return c.String()
}

// controlTar builds the uncompressed control.tar.
func controlTar(opts Options, control string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := writeEntry(tw, Entry{Name: "./", Type: tar.TypeDir}); err != nil {
		return nil, err
	}
	if !opts.NoControlFile {
		if err := writeEntry(tw, Entry{Name: "./control", Data: []byte(control)}); err != nil {
			return nil, err
		}
	}
	if len(opts.Files) > 0 {
		var sums strings.Builder
		for _, name := range sortedNames(opts.Files) {
			fmt.Fprintf(&sums, "%x  %s\n", md5.Sum(opts.Files[name]), cleanPath(name))
		}
		if err := writeEntry(tw, Entry{Name: "./md5sums", Data: []byte(sums.String())}); err != nil {
			return nil, err
		}
	}
	for _, e := range opts.ControlEntries {
		if err := writeEntry(tw, e); err != nil {
			return nil, err
		}
	}
	if opts.Padding > 0 {
		hdr := header(Entry{Name: "./padding"})
		hdr.Size = opts.Padding
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("debtest: control.tar: %w", err)
		}
		if _, err := io.CopyN(tw, zeros{}, opts.Padding); err != nil {
			return nil, fmt.Errorf("debtest: control.tar: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("debtest: control.tar: %w", err)
	}
	return buf.Bytes(), nil
}

// dataTar builds the uncompressed data.tar with files and their parent
// directories, then the extra entries.
func dataTar(opts Options) ([]byte, error) {
	var format tar.Format
	switch opts.DataFormat {
	case "", "gnu":
		format = tar.FormatGNU
	case "ustar":
		format = tar.FormatUSTAR
	case "pax":
		format = tar.FormatPAX
	default:
		return nil, fmt.Errorf("debtest: unknown tar format %q", opts.DataFormat)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	write := func(e Entry) error { return writeEntryFormat(tw, e, format) }
	dirs := map[string]bool{".": true}
	if err := write(Entry{Name: "./", Type: tar.TypeDir}); err != nil {
		return nil, err
	}
	for _, name := range sortedNames(opts.Files) {
		p := cleanPath(name)
		var parents []string
		for d := path.Dir(p); !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			parents = append(parents, d)
		}
		slices.Reverse(parents)
		for _, d := range parents {
			if err := write(Entry{Name: "./" + d + "/", Type: tar.TypeDir}); err != nil {
				return nil, err
			}
		}
		if err := write(Entry{Name: "./" + p, Data: opts.Files[name]}); err != nil {
			return nil, err
		}
	}
	for _, e := range opts.DataEntries {
		if err := write(e); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("debtest: data.tar: %w", err)
	}
	return buf.Bytes(), nil
}

func cleanPath(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func sortedNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func header(e Entry) *tar.Header { return headerFormat(e, tar.FormatGNU) }

func headerFormat(e Entry, format tar.Format) *tar.Header {
	typ := e.Type
	if typ == 0 {
		typ = tar.TypeReg
	}
	mode := int64(0o644)
	if typ == tar.TypeDir {
		mode = 0o755
	}
	return &tar.Header{
		Typeflag:   typ,
		Name:       e.Name,
		Linkname:   e.Linkname,
		Size:       int64(len(e.Data)),
		Mode:       mode,
		ModTime:    time.Unix(mtime, 0),
		Uname:      "root",
		Gname:      "root",
		Format:     format,
		PAXRecords: e.PAXRecords,
	}
}

func writeEntry(tw *tar.Writer, e Entry) error { return writeEntryFormat(tw, e, tar.FormatGNU) }

func writeEntryFormat(tw *tar.Writer, e Entry, format tar.Format) error {
	hdr := headerFormat(e, format)
	if hdr.Typeflag != tar.TypeReg {
		hdr.Size = 0
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("debtest: tar entry %q: %w", e.Name, err)
	}
	if hdr.Size > 0 {
		if _, err := tw.Write(e.Data); err != nil {
			return fmt.Errorf("debtest: tar entry %q: %w", e.Name, err)
		}
	}
	return nil
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func compressionExt(c string) string {
	switch c {
	case "", "gz":
		return "gz"
	case "none":
		return ""
	}
	return c
}

// compress compresses data with c: "gz" (or ""), "xz", "zst", "lzma" or
// "none".
func compress(c string, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch c {
	case "", "gz":
		w, err = gzip.NewWriterLevel(&buf, gzip.BestCompression)
	case "xz":
		w, err = xz.NewWriter(&buf)
	case "zst":
		w, err = zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	case "lzma":
		w, err = lzma.NewWriter(&buf)
	case "none":
		return data, nil
	default:
		err = fmt.Errorf("unknown compression %q", c)
	}
	if err != nil {
		return nil, fmt.Errorf("debtest: compress: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("debtest: compress: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("debtest: compress: %w", err)
	}
	return buf.Bytes(), nil
}

// arMember appends an ar member (header, data, padding to even length).
func arMember(b *bytes.Buffer, name string, data []byte) {
	fmt.Fprintf(b, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", name, mtime, 0, 0, 0o100644, len(data))
	b.Write(data)
	if len(data)%2 == 1 {
		b.WriteByte('\n')
	}
}
