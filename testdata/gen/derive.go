package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Tool descriptions for the manifest's tool column.
const (
	dpkg     = "dpkg 1.21.23: dpkg-deb --info, --fsys-tarfile, dpkg --unpack"
	rpmkeys  = "rpm 4.18.0: rpmkeys -Kv with the test-only key trusted"
	apkTools = "apk-tools 2.14"
	// pierRefusesTraversal ends the tool column of the debs dpkg unpacks
	// outside its --root.
	pierRefusesTraversal = "Pier refuses it on purpose: a path traversal that dpkg would write outside --root"
)

// derive writes crafted/ (files derived from the tool-made packages) and
// returns every manifest row: the tool-made packages, the hand-made ones,
// and the derived ones.
func derive(dir string) ([]row, error) {
	d := &deriver{dir: dir}
	rows := toolRows()
	rows = append(rows, craftedRows()...)
	for _, c := range debCases() {
		rows = append(rows, c.row())
	}
	for _, c := range apkCases() {
		rows = append(rows, c.row())
	}
	for _, step := range []func() ([]row, error){d.debs, d.rpms, d.apks, d.others} {
		r, err := step()
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

// toolRows are the packages the real tools (or gen in their layouts) made.
func toolRows() []row {
	var rows []row
	for _, c := range []struct{ comp, arch string }{{"gzip", "amd64"}, {"xz", "amd64"}, {"zstd", "amd64"}, {"none", "all"}} {
		rows = append(rows, good(fmt.Sprintf("deb/corpus-dpkg-%s_1.0-1_%s.deb", c.comp, c.arch), "deb", dpkg,
			"dpkg-deb 1.21.23 --root-owner-group -Z"+c.comp+" --build (make-corpus.sh)"))
	}
	rows = append(rows,
		row{File: "deb/corpus-dpkg-large_1.0-1_amd64.deb", Format: "deb", Target: debTarget, Status: 413, Message: "limit",
			Tool: accepts + " (" + dpkg + ")",
			How:  "dpkg-deb -Znone --build of a 1.1 MiB file (make-corpus.sh): valid, but over the max_upload_size of 1 MiB the corpus test runs Pier with"},
		good("deb/corpus-nfpm-deb_1.0-1_amd64.deb", "deb", dpkg, "nfpm v2.45.2 deb, default gzip (gen packages)"),
		good("deb/corpus-nfpm-deb-xz_1.0-1_arm64.deb", "deb", dpkg, "nfpm v2.45.2 deb, compression xz, arm64 (gen packages)"),
	)
	for _, c := range []struct{ comp, payload string }{{"gzip", "w9.gzdio"}, {"xz", "w6.xzdio"}, {"zstd", "w19.zstdio"}} {
		rows = append(rows,
			good("rpm/corpus-rpmbuild-"+c.comp+"-1.0-1.x86_64.rpm", "rpm", rpmkeys,
				"rpmbuild 4.18.0 -bb, _binary_payload "+c.payload+", unsigned (make-corpus.sh)"),
			good("rpm/corpus-rpmbuild-"+c.comp+"-signed-1.0-1.x86_64.rpm", "rpm", rpmkeys,
				"rpmbuild 4.18.0 -bb, _binary_payload "+c.payload+", then rpmsign --addsign with keys/test-only-rpm-signing (make-corpus.sh)"))
	}
	rows = append(rows,
		good("rpm/corpus-rpmbuild-gzip-nopd-1.0-1.x86_64.rpm", "rpm", rpmkeys,
			"rpmbuild 4.18.0 w9.gzdio, then gen strip-payload-digest: no PAYLOADDIGEST/PAYLOADDIGESTALGO, signature header digests recomputed (the rpm < 4.14 layout: MD5 over header+payload)"),
		good("rpm/corpus-rpmbuild-gzip-noalgo-1.0-1.x86_64.rpm", "rpm", rpmkeys,
			"rpmbuild 4.18.0 w9.gzdio, then gen strip-payload-digest -keep-digest: PAYLOADDIGEST without PAYLOADDIGESTALGO (rpm then assumes SHA-256)"),
		good("rpm/corpus-rpmbuild-xz-nopd-signed-1.0-1.x86_64.rpm", "rpm", rpmkeys,
			"rpmbuild 4.18.0 w6.xzdio, gen strip-payload-digest, then rpmsign --addsign (which adds a header+payload signature to a package without payload digest)"),
		good("rpm/corpus-rpm-bomb-1.0-1.x86_64.rpm", "rpm", rpmkeys,
			"rpmbuild 4.18.0 w19.zstdio of a 1 GiB file of zeros: a 39 KB package; rpm checks the compressed payload's digest and Pier need not expand it"),
		good("rpm/corpus-nfpm-rpm-1.0-1.noarch.rpm", "rpm", rpmkeys, "nfpm v2.45.2 rpm, arch all (gen packages)"),
		good("apk/corpus-abuild-1.0-r0.apk", "apk", apkTools+" source: package.c, io_archive.c, database.c apk_db_install_archive_entry",
			"gen packages, abuild's layout: signature, control (.PKGINFO in abuild's field order, datahash), data with pax APK-TOOLS.checksum.SHA1 and legacy APK2 checksums, gzip -n -9, GNU tar records"),
		good("apk/corpus-melange-1.0-r0.apk", "apk", apkTools+" source: package.c, io_archive.c, database.c apk_db_install_archive_entry",
			"gen packages, melange's layout: .PKGINFO from melange's template (empty commit), Go archive/tar streams with pax checksums"),
		good("apk/corpus-nfpm-apk-1.0-r0.apk", "apk", apkTools+" (CLIENTS.md: nfpm file/dir/symlink contents install)",
			"nfpm v2.45.2 apk of file, dir and symlink contents, signed with keys/test-only-apk-packager (gen packages)"),
		bad("apk/corpus-nfpm-tree-1.0-r0.apk", "apk", 422, "tree",
			refuses+" ("+apkTools+": \"package file format error\", CLIENTS.md)",
			"nfpm v2.45.2 apk with a `type: tree` content: folders carry Go's os.ModeDir bit (mode 0o20000000755)"),
		bad("apk/corpus-nfpm-tree-root-1.0-r0.apk", "apk", 422, "tree",
			refuses+" ("+apkTools+": \"package file format error\", CLIENTS.md)",
			"nfpm v2.45.2 apk with a `type: tree` content at dst /: the root folder is an entry with an empty name"),
	)
	return rows
}

// craftedRows are the files gen packages made by hand.
func craftedRows() []row {
	return []row{
		// dpkg installs these two, outside --root: Pier refuses them on
		// purpose (docs/acceptance/deb.md, the one place it is stricter
		// than dpkg for safety).
		bad("crafted/deb/data-traversal.deb", "deb", 422, `".." component`,
			accepts+" ("+dpkg+": dpkg --unpack --root R writes R/usr/share/NAME/../../../../tmp/pier-corpus-evil, outside R; dpkg does not check .. in data.tar names); "+pierRefusesTraversal,
			"gen packages: data.tar.gz entry ./usr/share/NAME/../../../../tmp/pier-corpus-evil"),
		bad("crafted/deb/data-leading-dotdot.deb", "deb", 422, `".." component`,
			accepts+" ("+dpkg+": dpkg --unpack --root R writes R/../../../tmp/pier-corpus-evil); "+pierRefusesTraversal,
			"gen packages: data.tar.gz entry ../../../tmp/pier-corpus-evil"),
		good("crafted/deb/data-absolute-name.deb", "deb", dpkg+": an absolute name is installed below --root, like ./tmp/pier-corpus-evil",
			"gen packages: data.tar.gz entry /tmp/pier-corpus-evil"),
		bad("crafted/deb/control-traversal.deb", "deb", 422, "traversal", refuses+" ("+dpkg+")",
			"gen packages: control.tar.gz entry ./../pier-corpus-evil"),
		bad("crafted/deb/bomb-control.deb", "deb", 422, "expand", accepts+" ("+dpkg+")",
			"gen packages: a control.tar.gz of 32 KB that expands to 32 MiB; refused by Pier's deb.limits.control_tar (16 MiB), not by dpkg"),
		bad("crafted/deb/bomb-data-zstd.deb", "deb", 422, "expand", accepts+" ("+dpkg+"; --fsys-tarfile and the unpack left out: 16.5 GiB)",
			"gen packages: a 560 KB data.tar.zst (raw and RLE blocks, declared content size) that expands to 16.5 GiB; refused by Pier's deb.limits.data_tar (16 GiB), not by dpkg"),
		bad("crafted/apk/melange-bad-provides.apk", "apk", 422, "provides",
			refuses+" ("+apkTools+": \"package file format error\", CLIENTS.md; package.c apk_blob_pull_dep)",
			"gen packages, melange layout: provides = so:libcorpus.so.0unstable=0unstable (not an apk version), as a real melange build wrote"),
		bad("crafted/apk/data-absolute-name.apk", "apk", 422, "absolute",
			refuses+" ("+apkTools+": database.c apk_db_install_archive_entry, \"ignoring malicious file\", broken_files fails the install)",
			"gen packages, abuild layout: data entry /tmp/pier-corpus-evil"),
		bad("crafted/apk/data-traversal.apk", "apk", 422, "traversal",
			refuses+" ("+apkTools+": database.c apk_db_install_archive_entry, a /../ element is \"malicious\", broken_files fails the install)",
			"gen packages, abuild layout: data entry usr/share/NAME/../../../../tmp/pier-corpus-evil"),
		good("crafted/apk/data-leading-dotdot.apk", "apk",
			apkTools+": database.c apk_db_install_archive_entry skips every data entry whose name starts with '.', so ../ names are never written",
			"gen packages, abuild layout: data entry ../../../tmp/pier-corpus-evil"),
		bad("crafted/apk/bomb-control.apk", "apk", 422, "expand",
			accepts+" ("+apkTools+": scripts are read whole, no size limit)",
			"gen packages, abuild layout: a 32 MiB .pre-install in a 33 KB control stream; refused by Pier's apk.max_control_size (16 MiB), not by apk-tools"),
	}
}

// errNoMember is returned when a package lacks a member the derivations
// need.
var errNoMember = errors.New("member not found")

// deriver writes the derived files below dir.
type deriver struct{ dir string }

func (d *deriver) read(file string) ([]byte, error) {
	return os.ReadFile(filepath.Join(d.dir, file))
}

// put writes data as file and returns its row.
func (d *deriver) put(r row, data []byte) (row, error) {
	return r, writeFile(filepath.Join(d.dir, r.File), data)
}

// flip returns b with the byte at i changed (XOR 1).
func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

// arMembers returns name → [header offset, data offset, size] of the ar
// archive b.
func arMembers(b []byte) (map[string][3]int, error) {
	if !bytes.HasPrefix(b, []byte("!<arch>\n")) {
		return nil, fmt.Errorf("not an ar archive")
	}
	out := map[string][3]int{}
	for off := 8; off+60 <= len(b); {
		name := strings.TrimRight(string(b[off:off+16]), " /")
		size, err := strconv.Atoi(strings.TrimSpace(string(b[off+48 : off+58])))
		if err != nil {
			return nil, fmt.Errorf("ar member at %d: %w", off, err)
		}
		out[name] = [3]int{off, off + 60, size}
		off += 60 + size + size%2
	}
	return out, nil
}

// member returns the ar member of b whose name starts with prefix.
func member(ms map[string][3]int, prefix string) ([3]int, error) {
	for n, m := range ms {
		if strings.HasPrefix(n, prefix) {
			return m, nil
		}
	}
	return [3]int{}, fmt.Errorf("%s: %w", prefix, errNoMember)
}

// debs derives the broken debs.
func (d *deriver) debs() ([]row, error) {
	var rows []row
	add := func(file string, data []byte, msg, how string) error {
		r, err := d.put(bad("crafted/deb/"+file, "deb", 422, msg, refuses+" ("+dpkg+")", how), data)
		rows = append(rows, r)
		return err
	}
	xzFile := "deb/corpus-dpkg-xz_1.0-1_amd64.deb"
	b, err := d.read(xzFile)
	if err != nil {
		return nil, err
	}
	ms, err := arMembers(b)
	if err != nil {
		return nil, err
	}
	ctl, err := member(ms, "control.tar")
	if err != nil {
		return nil, err
	}
	data, err := member(ms, "data.tar")
	if err != nil {
		return nil, err
	}
	db := ms["debian-binary"]
	// The message names the member at fault: the one cut short, or the
	// one missing.
	cuts := []struct {
		file string
		at   int
		msg  string
		what string
	}{
		{"trunc-after-magic.deb", 8, "deb", "the ar magic only"},
		{"trunc-after-debian-binary-header.deb", db[1], "debian-binary", "cut after the debian-binary member header"},
		{"trunc-after-debian-binary.deb", ctl[0], "control.tar", "cut after the debian-binary member"},
		{"trunc-after-control-header.deb", ctl[1], "control.tar.xz", "cut after the control.tar.xz member header"},
		{"trunc-after-control.deb", data[0], "data.tar", "cut after the control.tar.xz member"},
		{"trunc-after-data-header.deb", data[1], "data.tar.xz", "cut after the data.tar.xz member header"},
		{"trunc-in-data-xz.deb", data[1] + data[2] - 1, "data.tar.xz", "the last byte of data.tar.xz missing"},
	}
	for _, c := range cuts {
		if err := add(c.file, b[:c.at], c.msg, xzFile+" "+c.what+fmt.Sprintf(" (%d of %d bytes)", c.at, len(b))); err != nil {
			return nil, err
		}
	}
	if err := add("flip-ar-magic.deb", flip(b, 0), "deb", xzFile+" with byte 0 of the ar magic XOR 1"); err != nil {
		return nil, err
	}
	if err := add("flip-debian-binary.deb", flip(b, db[1]), "debian-binary", xzFile+" with debian-binary \"2.0\" made \"3.0\""); err != nil {
		return nil, err
	}
	for _, comp := range []string{"gzip", "xz", "zstd"} {
		file := "deb/corpus-dpkg-" + comp + "_1.0-1_amd64.deb"
		ext := map[string]string{"gzip": ".gz", "xz": ".xz", "zstd": ".zst"}[comp]
		b, err := d.read(file)
		if err != nil {
			return nil, err
		}
		ms, err := arMembers(b)
		if err != nil {
			return nil, err
		}
		ctl, err := member(ms, "control.tar")
		if err != nil {
			return nil, err
		}
		data, err := member(ms, "data.tar")
		if err != nil {
			return nil, err
		}
		if comp != "xz" {
			if err := add("trunc-in-data-"+comp+".deb", b[:data[1]+data[2]-1], "data.tar"+ext, file+" with the last byte of its data member missing"); err != nil {
				return nil, err
			}
		}
		for _, f := range []struct {
			what string
			m    [3]int
		}{{"control", ctl}, {"data", data}} {
			at := f.m[1] + f.m[2]/2
			if err := add("flip-"+f.what+"-"+comp+".deb", flip(b, at), f.what+".tar"+ext,
				fmt.Sprintf("%s with byte %d (the middle of its %s member) XOR 1", file, at, f.what)); err != nil {
				return nil, err
			}
		}
	}
	return rows, nil
}

// rpms derives the broken rpms.
func (d *deriver) rpms() ([]row, error) {
	var rows []row
	add := func(file string, data []byte, msg, how string) error {
		r, err := d.put(bad("crafted/rpm/"+file, "rpm", 422, msg, refuses+" ("+rpmkeys+")", how), data)
		rows = append(rows, r)
		return err
	}
	base := "rpm/corpus-rpmbuild-xz-1.0-1.x86_64.rpm"
	b, err := d.read(base)
	if err != nil {
		return nil, err
	}
	f, err := parseRPM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", base, err)
	}
	for _, c := range []struct {
		file string
		at   int
		msg  string
		what string
	}{
		{"trunc-after-lead.rpm", 96, "short", "the 96-byte lead only"},
		{"trunc-after-signature-intro.rpm", 96 + 16, "truncated", "cut after the signature header's 16-byte intro"},
		{"trunc-after-signature.rpm", f.mainStart, "truncated", "cut after the signature header and its padding"},
		{"trunc-after-header-intro.rpm", f.mainStart + 16, "truncated", "cut after the main header's 16-byte intro"},
		{"trunc-after-header.rpm", f.payloadStart, "truncated", "cut after the main header: no payload"},
		{"trunc-in-payload.rpm", len(b) - 1, "truncated", "the last byte of the payload missing"},
	} {
		if err := add(c.file, b[:c.at], c.msg, base+" "+c.what+fmt.Sprintf(" (%d of %d bytes)", c.at, len(b))); err != nil {
			return nil, err
		}
	}
	// The lead and the header intros (rpm: lib/rpmlead.c rpmLeadRead,
	// lib/header.c hdrblobRead).
	leadVersion := bytes.Clone(b)
	leadVersion[4] = 2
	leadSigType := bytes.Clone(b)
	binary.BigEndian.PutUint16(leadSigType[78:80], 0)
	sigEntries := bytes.Clone(b)
	binary.BigEndian.PutUint32(sigEntries[f.sigStart+8:], 33)
	for _, c := range []struct {
		file string
		data []byte
		msg  string
		how  string
	}{
		{"lead-version-2.rpm", leadVersion, "format version", base + " with the lead's major version 3 made 2 (rpmLeadRead: \"unsupported RPM package version\")"},
		{"lead-signature-type.rpm", leadSigType, "signature type", base + " with the lead's signature type 5 made 0 (rpmLeadRead: \"illegal signature type\")"},
		{"main-header-magic.rpm", flip(b, f.mainStart), "bad magic", base + " with the first byte of the main header's magic XOR 1 (hdrblobRead: \"hdr magic: BAD\")"},
		{"signature-header-33-entries.rpm", sigEntries, "more than the 32", base + " with the signature header's entry count made 33 (hdrblobRead: \"signature hdr tags: BAD, no. of tags(33) out of range\")"},
	} {
		if err := add(c.file, c.data, c.msg, c.how); err != nil {
			return nil, err
		}
	}
	sha := f.sig.entry(tagSigSHA256)
	summary := f.main.entry(tagSummary)
	if sha == nil || summary == nil {
		return nil, fmt.Errorf("%s: no SHA256 signature tag or no summary: %w", base, errNoMember)
	}
	shaAt := f.sigStart + 16 + 16*len(f.sig.entries) + int(sha.offset)
	hexFlip := bytes.Clone(b)
	if hexFlip[shaAt] == '0' {
		hexFlip[shaAt] = '1'
	} else {
		hexFlip[shaAt] = '0'
	}
	sumAt := f.mainStart + 16 + 16*len(f.main.entries) + int(summary.offset)
	payAt := f.payloadStart + len(f.payload)/2
	for _, c := range []struct {
		file string
		data []byte
		msg  string
		how  string
	}{
		{"flip-lead.rpm", flip(b, 0), "rpm", base + " with byte 0 of the lead magic XOR 1"},
		{"flip-signature-header.rpm", hexFlip, "sha-256", base + " with the first hex digit of the signature header's SHA256 header digest changed"},
		{"flip-main-header.rpm", flip(b, sumAt), "sha-256", base + " with the first byte of the Summary in the main header XOR 1"},
		{"flip-payload.rpm", flip(b, payAt), "payload", fmt.Sprintf("%s with payload byte %d (the middle) XOR 1", base, payAt)},
	} {
		if err := add(c.file, c.data, c.msg, c.how); err != nil {
			return nil, err
		}
	}
	// A valid payload, but another package's: the payload digest differs.
	other := "rpm/corpus-rpmbuild-xz-signed-1.0-1.x86_64.rpm"
	ob, err := d.read(other)
	if err != nil {
		return nil, err
	}
	of, err := parseRPM(ob)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", other, err)
	}
	swapped := append(bytes.Clone(b[:f.payloadStart]), of.payload...)
	if err := add("payload-swapped.rpm", swapped, "payload", base+" with the (valid, xz) payload of "+other); err != nil {
		return nil, err
	}
	// The signed one: a malformed signature packet.
	rsaHdr := of.sig.entry(tagRSAHeader)
	if rsaHdr == nil {
		return nil, fmt.Errorf("%s: no RSA header signature: %w", other, errNoMember)
	}
	pktAt := of.sigStart + 16 + 16*len(of.sig.entries) + int(rsaHdr.offset)
	if err := add("flip-signature-packet.rpm", flip(ob, pktAt), "signature",
		other+" with the first byte (the packet tag) of its OpenPGP header signature XOR 1"); err != nil {
		return nil, err
	}
	// Packages without a payload digest (MD5 over header+payload) and with
	// a digest but no algorithm (SHA-256 assumed), each with a flipped
	// payload byte.
	for _, c := range []struct{ file, base, msg, what string }{
		{"flip-payload-nopd.rpm", "rpm/corpus-rpmbuild-gzip-nopd-1.0-1.x86_64.rpm", "md5", "no payload digest: the legacy MD5 must catch it"},
		{"flip-payload-noalgo.rpm", "rpm/corpus-rpmbuild-gzip-noalgo-1.0-1.x86_64.rpm", "payload", "a payload digest without its algorithm tag: SHA-256 must catch it"},
	} {
		nb, err := d.read(c.base)
		if err != nil {
			return nil, err
		}
		nf, err := parseRPM(nb)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.base, err)
		}
		at := nf.payloadStart + len(nf.payload)/2
		if err := add(c.file, flip(nb, at), c.msg, fmt.Sprintf("%s with payload byte %d XOR 1; %s", c.base, at, c.what)); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// gzipMembers returns the end offsets of the gzip members of b.
func gzipMembers(b []byte) ([]int, error) {
	var ends []int
	for off := 0; off < len(b); {
		br := bytes.NewReader(b[off:])
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip member at %d: %w", off, err)
		}
		zr.Multistream(false)
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return nil, fmt.Errorf("gzip member at %d: %w", off, err)
		}
		off = len(b) - br.Len()
		ends = append(ends, off)
	}
	return ends, nil
}

// apks derives the broken apks.
func (d *deriver) apks() ([]row, error) {
	var rows []row
	add := func(file string, data []byte, msg, tool, how string) error {
		r, err := d.put(bad("crafted/apk/"+file, "apk", 422, msg, refuses+" ("+apkTools+": "+tool+")", how), data)
		rows = append(rows, r)
		return err
	}
	base := "apk/corpus-abuild-1.0-r0.apk"
	b, err := d.read(base)
	if err != nil {
		return nil, err
	}
	ends, err := gzipMembers(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", base, err)
	}
	if len(ends) != 3 {
		return nil, fmt.Errorf("%s: %d gzip members, want 3", base, len(ends))
	}
	sigEnd, ctlEnd := ends[0], ends[1]
	for _, c := range []struct {
		file string
		at   int
		msg  string
		tool string
		what string
	}{
		{"trunc-after-signature.apk", sigEnd, "only signature entries", "package.c apk_sign_ctx_mpart_cb: the file ends while still in the signature part → EKEYREJECTED, \"BAD signature\"", "the signature member only"},
		{"trunc-after-control.apk", ctlEnd, "data stream", "package.c apk_sign_ctx_status: the data part is never verified → EBADMSG, \"BAD archive\"", "signature and control members, no data member"},
		{"trunc-in-data.apk", len(b) - 1, "truncated", "io_gunzip.c: the gzip stream ends early", "the last byte (of the data member's gzip trailer) missing"},
	} {
		if err := add(c.file, b[:c.at], c.msg, c.tool, fmt.Sprintf("%s %s (%d of %d bytes)", base, c.what, c.at, len(b))); err != nil {
			return nil, err
		}
	}
	starts := []int{0, sigEnd, ctlEnd}
	for i, name := range []string{"signature", "control", "data"} {
		at := (starts[i] + ends[i]) / 2
		if err := add("flip-"+name+"-member.apk", flip(b, at), "corrupt", "io_gunzip.c: inflate or the gzip CRC-32 fails",
			fmt.Sprintf("%s with byte %d (the middle of its %s gzip member) XOR 1", base, at, name)); err != nil {
			return nil, err
		}
	}
	// A valid data member with other content: datahash no longer matches.
	spec := apkSpec{name: "corpus-abuild", layout: "abuild", payload: []byte("a payload swapped in after signing, same length!!!!!!!!!!!!!!!!!!!!!\n")}
	swapped := append(bytes.Clone(b[:ctlEnd]), spec.abuildData()...)
	if err := add("datahash-mismatch.apk", swapped, "datahash", "package.c apk_sign_ctx_mpart_cb: the data's sha256 differs from datahash → EKEYREJECTED, \"BAD signature\"",
		base+" with its data member rebuilt around another payload.txt (pax checksum updated): a valid stream whose SHA-256 is not .PKGINFO's datahash"); err != nil {
		return nil, err
	}
	return rows, nil
}

// others writes the empty file and the non-package, and uploads each
// format's package to the other formats' targets.
func (d *deriver) others() ([]row, error) {
	var rows []row
	if err := writeFile(filepath.Join(d.dir, "crafted/any/empty"), nil); err != nil {
		return nil, err
	}
	text := []byte("This is not a package: a text file of the Pier conformance corpus, uploaded to every target.\n")
	if err := writeFile(filepath.Join(d.dir, "crafted/any/not-a-package.txt"), text); err != nil {
		return nil, err
	}
	samples := map[string]string{
		"deb": "deb/corpus-dpkg-gzip_1.0-1_amd64.deb",
		"rpm": "rpm/corpus-rpmbuild-gzip-1.0-1.x86_64.rpm",
		"apk": "apk/corpus-abuild-1.0-r0.apk",
	}
	for _, f := range []string{"deb", "rpm", "apk"} {
		rows = append(rows,
			// An upload without a body is a bad request (400), not a bad
			// package; pier import names the empty file.
			bad("crafted/any/empty", f, 400, "empty", refuses+" (every tool)", "an empty file (gen derive)"),
			bad("crafted/any/not-a-package.txt", f, 422, "not a", refuses+" (every tool)", "a text file (gen derive)"))
		for _, o := range []string{"deb", "rpm", "apk"} {
			if o != f {
				rows = append(rows, bad(samples[o], f, 422, o, refuses+" (a "+o+" is not a "+f+")", "a valid "+o+" uploaded to a "+f+" target"))
			}
		}
	}
	return rows, nil
}
