package rpm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// metaVersion is the first byte of every Meta this package writes. A
// future layout gets a new number; Index rejects numbers it does not know.
const metaVersion = 1

// meta is the decoded form of a package's catalog Meta: identity, the
// numbers primary.xml prints, and the pre-rendered XML fragments.
//
// Encoding (version 1): the byte 1, then name, epoch, version, release and
// arch as strings, then build time, installed size and archive size as
// uvarints, then the six fragments as strings. A string is a uvarint
// length followed by its bytes. Nothing is escaped, so decoding is slicing.
type meta struct {
	Name, Epoch, Version, Release, Arch string
	BuildTime, Installed, Archive       uint64
	// Frag holds the fragments in the order of fragments' fields
	// (PrimaryHead … Changelog). They are slices of the decoded Meta, not
	// copies: a publish of 10,000 packages would otherwise copy (and
	// collect) some 65 MB of XML before writing it once.
	Frag [numFragments][]byte
}

// Indexes into meta.Frag.
const (
	fragPrimaryHead = iota
	fragPrimaryMid
	fragPrimaryTail
	fragIdent
	fragFiles
	fragChangelog
	numFragments
)

// encodeMeta renders p and encodes it.
func encodeMeta(p *pkgInfo) []byte {
	fr := render(p)
	ids := []string{p.Name, p.Epoch, p.Version, p.Release, p.Arch}
	nums := []uint64{p.BuildTime, p.InstalledSize, p.ArchiveSize}
	frags := fr.list()
	n := 1 + len(nums)*binary.MaxVarintLen64
	for _, s := range append(ids, frags[:]...) {
		n += binary.MaxVarintLen64 + len(s)
	}
	b := make([]byte, 0, n)
	b = append(b, metaVersion)
	put := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, s := range ids {
		put(s)
	}
	for _, v := range nums {
		b = binary.AppendUvarint(b, v)
	}
	for _, s := range frags {
		put(s)
	}
	return b
}

// list returns the fragments in meta.Frag order.
func (fr *fragments) list() [numFragments]string {
	return [numFragments]string{fr.PrimaryHead, fr.PrimaryMid, fr.PrimaryTail, fr.Ident, fr.Files, fr.Changelog}
}

var errMetaCorrupt = errors.New("rpm: corrupt package metadata")

// decodeMeta decodes a Meta written by encodeMeta. The fragments of the
// result share b's memory.
func decodeMeta(b []byte) (*meta, error) {
	m := &meta{}
	if err := m.decode(b); err != nil {
		return nil, err
	}
	return m, nil
}

// decode sets m from b, a Meta written by encodeMeta.
func (m *meta) decode(b []byte) error {
	if len(b) == 0 {
		return errMetaCorrupt
	}
	if b[0] != metaVersion {
		return fmt.Errorf("rpm: package metadata version %d is not supported (want %d): re-import the package", b[0], metaVersion)
	}
	b = b[1:]
	uv := func() (uint64, bool) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	slice := func() ([]byte, bool) {
		n, ok := uv()
		if !ok || n > uint64(len(b)) {
			return nil, false
		}
		s := b[:n:n]
		b = b[n:]
		return s, true
	}
	for _, dst := range []*string{&m.Name, &m.Epoch, &m.Version, &m.Release, &m.Arch} {
		s, ok := slice()
		if !ok {
			return errMetaCorrupt
		}
		*dst = string(s)
	}
	for _, dst := range []*uint64{&m.BuildTime, &m.Installed, &m.Archive} {
		var ok bool
		if *dst, ok = uv(); !ok {
			return errMetaCorrupt
		}
	}
	for i := range m.Frag {
		var ok bool
		if m.Frag[i], ok = slice(); !ok {
			return errMetaCorrupt
		}
	}
	if len(b) != 0 {
		return errMetaCorrupt
	}
	return nil
}
