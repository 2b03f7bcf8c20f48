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
	fragments
}

// encodeMeta renders p and encodes it.
func encodeMeta(p *pkgInfo) []byte {
	m := meta{
		Name: p.Name, Epoch: p.Epoch, Version: p.Version, Release: p.Release, Arch: p.Arch,
		BuildTime: p.BuildTime, Installed: p.InstalledSize, Archive: p.ArchiveSize,
		fragments: render(p),
	}
	return m.encode()
}

func (m *meta) strings() []*string {
	return []*string{&m.Name, &m.Epoch, &m.Version, &m.Release, &m.Arch}
}

func (m *meta) fragmentStrings() []*string {
	return []*string{&m.PrimaryHead, &m.PrimaryMid, &m.PrimaryTail, &m.Ident, &m.Files, &m.Changelog}
}

func (m *meta) numbers() []*uint64 {
	return []*uint64{&m.BuildTime, &m.Installed, &m.Archive}
}

func (m *meta) encode() []byte {
	n := 1 + 3*binary.MaxVarintLen64
	for _, s := range append(m.strings(), m.fragmentStrings()...) {
		n += binary.MaxVarintLen64 + len(*s)
	}
	b := make([]byte, 0, n)
	b = append(b, metaVersion)
	put := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, s := range m.strings() {
		put(*s)
	}
	for _, v := range m.numbers() {
		b = binary.AppendUvarint(b, *v)
	}
	for _, s := range m.fragmentStrings() {
		put(*s)
	}
	return b
}

var errMetaCorrupt = errors.New("rpm: corrupt package metadata")

// decodeMeta decodes a Meta written by encodeMeta.
func decodeMeta(b []byte) (*meta, error) {
	if len(b) == 0 {
		return nil, errMetaCorrupt
	}
	if b[0] != metaVersion {
		return nil, fmt.Errorf("rpm: package metadata version %d is not supported (want %d): re-import the package", b[0], metaVersion)
	}
	b = b[1:]
	m := &meta{}
	uv := func() (uint64, bool) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	str := func(dst *string) bool {
		n, ok := uv()
		if !ok || n > uint64(len(b)) {
			return false
		}
		*dst = string(b[:n])
		b = b[n:]
		return true
	}
	for _, s := range m.strings() {
		if !str(s) {
			return nil, errMetaCorrupt
		}
	}
	for _, v := range m.numbers() {
		var ok bool
		if *v, ok = uv(); !ok {
			return nil, errMetaCorrupt
		}
	}
	for _, s := range m.fragmentStrings() {
		if !str(s) {
			return nil, errMetaCorrupt
		}
	}
	if len(b) != 0 {
		return nil, errMetaCorrupt
	}
	return m, nil
}
