package rpm

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"sort"

	rpmutils "github.com/sassoftware/go-rpmutils"
)

// This file builds rpm files byte by byte for tests that need exact control
// over the headers (dependency rules, hostile size claims, odd strings).

// tv is one header entry: a tag and a value of type string (STRING),
// []string (STRING_ARRAY), i18n (I18NSTRING), []uint32 (INT32), []uint16
// (INT16), []uint64 (INT64) or []byte (BIN).
type tv struct {
	tag int
	val any
}

// i18n marks a string written as I18NSTRING.
type i18n string

// encodeRegion writes a header structure holding entries, sorted by tag,
// with a region covering all of it when region is not 0 (62 for a
// signature header, 63 for a main header), laid out as rpm writes one: the
// region entry first, its trailer at the end of the data.
func encodeRegion(entries []tv, region int) []byte {
	entries = append([]tv(nil), entries...)
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].tag < entries[j].tag })
	var index, data []byte
	align := func(n int) {
		for len(data)%n != 0 {
			data = append(data, 0)
		}
	}
	for _, e := range entries {
		var typ, count int
		switch e.val.(type) {
		case []uint16:
			align(2)
		case []uint32:
			align(4)
		case []uint64:
			align(8)
		}
		start := len(data)
		switch v := e.val.(type) {
		case string:
			typ, count = typeString, 1
			data = append(append(data, v...), 0)
		case i18n:
			typ, count = typeI18N, 1
			data = append(append(data, v...), 0)
		case []string:
			typ, count = typeStringArr, len(v)
			for _, s := range v {
				data = append(append(data, s...), 0)
			}
		case []uint16:
			typ, count = typeInt16, len(v)
			for _, x := range v {
				data = binary.BigEndian.AppendUint16(data, x)
			}
		case []uint32:
			typ, count = typeInt32, len(v)
			for _, x := range v {
				data = binary.BigEndian.AppendUint32(data, x)
			}
		case []uint64:
			typ, count = typeInt64, len(v)
			for _, x := range v {
				data = binary.BigEndian.AppendUint64(data, x)
			}
		case []byte:
			typ, count = typeBin, len(v)
			data = append(data, v...)
		default:
			panic("encodeHeader: unsupported value type")
		}
		index = appendEntry(index, e.tag, typ, start, count)
	}
	n := len(entries)
	if region != 0 {
		n++
		index = append(appendEntry(nil, region, typeBin, len(data), indexEntry), index...)
		data = appendEntry(data, region, typeBin, -indexEntry*n, indexEntry)
	}
	out := binary.BigEndian.AppendUint32(nil, headerMagic)
	out = binary.BigEndian.AppendUint32(out, 0)
	out = binary.BigEndian.AppendUint32(out, uint32(n))
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	out = append(out, index...)
	return append(out, data...)
}

// appendEntry appends one 16-byte index entry (or region trailer).
func appendEntry(b []byte, tag, typ, offset, count int) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(tag))
	b = binary.BigEndian.AppendUint32(b, uint32(typ))
	b = binary.BigEndian.AppendUint32(b, uint32(int32(offset)))
	return binary.BigEndian.AppendUint32(b, uint32(count))
}

// rpmSpec describes a synthetic rpm. By default it is one rpm 4.18 reads
// and verifies: both headers have their regions, the signature header a
// SHA-256 of the main header and the main header a SHA-256 of the payload.
type rpmSpec struct {
	source   bool   // lead type 1
	main     []tv   // main header entries
	sig      []tv   // extra signature header entries
	payload  []byte // stands in for the compressed payload
	noSHA    bool   // leave out the SHA256 header digest
	noDigest bool   // leave out the payload digest
	sha1     bool   // add a SHA1 header digest
	md5      bool   // add an MD5 of header and payload
	noRegion bool   // write the main header without a region, as rpm 3 did
	noOwners bool   // leave out FILEUSERNAME and FILEGROUPNAME
}

// build returns the rpm file.
func (s rpmSpec) build() []byte {
	main := append([]tv(nil), s.main...)
	// Every file has an owner and a group, which rpm requires.
	files := 0
	for _, e := range main {
		if e.tag == rpmutils.BASENAMES || e.tag == rpmutils.OLDFILENAMES {
			files = len(e.val.([]string))
		}
	}
	if files > 0 && !s.noOwners {
		owners := slices.Repeat([]string{"root"}, files)
		main = append(main, tv{rpmutils.FILEUSERNAME, owners}, tv{rpmutils.FILEGROUPNAME, owners})
	}
	if !s.noDigest {
		sum := sha256.Sum256(s.payload)
		main = append(main, tv{tagPayloadDigest, []string{hex.EncodeToString(sum[:])}}, tv{tagPayloadDigestAlgo, []uint32{8}})
	}
	region := regionImmutable
	if s.noRegion {
		region = 0
	}
	mainHdr := encodeRegion(main, region)
	sig := append([]tv(nil), s.sig...)
	if !s.noSHA {
		sum := sha256.Sum256(mainHdr)
		sig = append(sig, tv{sigTagSHA256, hex.EncodeToString(sum[:])})
	}
	if s.sha1 {
		sum := sha1.Sum(mainHdr)
		sig = append(sig, tv{sigTagSHA1, hex.EncodeToString(sum[:])})
	}
	if s.md5 {
		sum := md5.Sum(append(bytes.Clone(mainHdr), s.payload...))
		sig = append(sig, tv{sigTagMD5, sum[:]})
	}
	sig = append(sig, tv{sigTagSize, []uint32{uint32(len(mainHdr) + len(s.payload))}})
	sigHdr := encodeRegion(sig, regionSignatures)
	lead := make([]byte, leadSize)
	copy(lead, leadMagic[:])
	lead[4], lead[5] = 3, 0
	if s.source {
		lead[7] = 1
	}
	copy(lead[10:], "synthetic")
	lead[79] = 5 // signature type: header-style
	out := append(lead, sigHdr...)
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	out = append(out, mainHdr...)
	return append(out, s.payload...)
}

// basicMain returns the main header entries of a minimal valid package;
// extra entries replace defaults with the same tag.
func basicMain(name, version, release, arch string, extra ...tv) []tv {
	defaults := []tv{
		{rpmutils.NAME, name},
		{rpmutils.VERSION, version},
		{rpmutils.RELEASE, release},
		{rpmutils.ARCH, arch},
		{rpmutils.SUMMARY, i18n("A synthetic package")},
		{rpmutils.DESCRIPTION, i18n("Made byte by byte.")},
		{rpmutils.LICENSE, "MIT"},
		{rpmutils.BUILDTIME, []uint32{1700000000}},
		{rpmutils.SIZE, []uint32{1234}},
	}
	out := extra
	for _, d := range defaults {
		replaced := false
		for _, e := range extra {
			replaced = replaced || e.tag == d.tag
		}
		if !replaced {
			out = append(out, d)
		}
	}
	return out
}
