package main

import (
	"bytes"
	"fmt"
	"strings"
)

// This file holds the hand-made debs of crafted/deb/ that cover the
// refusals of docs/acceptance/deb.md that are cheap to make: one file per
// rule, each a small valid package but for the one thing at fault.
// make-corpus.sh checks every one against the real dpkg (the tool column
// says refuses, so dpkg-deb --info, --fsys-tarfile or dpkg --unpack must
// fail on it).

// debCase is one hand-made deb and its manifest row.
type debCase struct {
	deb  craftedDeb
	msg  string // a substring of Pier's message (the status is 422)
	tool string // the dpkg function that refuses it, and its message
}

// row returns the manifest row of c.
func (c debCase) row() row {
	return bad(c.deb.file, "deb", 422, c.msg, refuses+" ("+dpkg+"; "+c.tool+")", "gen packages: "+c.deb.what)
}

// withField returns an edit of a control file that adds line before the
// Description field.
func withField(line string) func(string) []byte {
	return func(text string) []byte {
		return []byte(strings.Replace(text, "Description:", line+"\nDescription:", 1))
	}
}

// replaceField returns an edit of a control file that replaces old by
// new.
func replaceField(old, new string) func(string) []byte {
	return func(text string) []byte {
		if !strings.Contains(text, old) {
			panic("control file without " + old)
		}
		return []byte(strings.Replace(text, old, new, 1))
	}
}

// debCases are the hand-made debs, one per rule.
func debCases() []debCase {
	deb := func(name, what string) craftedDeb {
		return craftedDeb{file: "crafted/deb/" + name + ".deb", name: "corpus-deb-" + name, what: what}
	}
	c := func(d craftedDeb, msg, tool string, edit func(*craftedDeb)) debCase {
		edit(&d)
		return debCase{deb: d, msg: msg, tool: tool}
	}
	tree := func(name string, extra ...rawEntry) []byte {
		return writeTar(append(debTree(name), extra...), magicGNU, false, 10240)
	}
	return []debCase{
		// The ar archive (dpkg: src/deb/extract.c extracthalf, lib/dpkg/ar.c).
		c(deb("ar-first-member", "control.tar.gz as the first ar member, debian-binary second"), "not a deb package",
			`extract.c extracthalf: "is not a Debian binary archive (try dpkg-split?)"`, func(d *craftedDeb) {
				d.members = func(ms []arMember) []arMember { return []arMember{ms[1], ms[0], ms[2]} }
			}),
		c(deb("ar-premature-member", "an ar member named extra between debian-binary and control.tar.gz"), "premature member",
			`extract.c extracthalf: "has premature member"`, func(d *craftedDeb) {
				d.members = func(ms []arMember) []arMember {
					return []arMember{ms[0], {name: "extra", data: []byte("not a member dpkg knows\n")}, ms[1], ms[2]}
				}
			}),
		c(deb("ar-two-control-members", "control.tar.gz twice before data.tar.gz"), "second control member",
			`extract.c extracthalf: "contains two control members"`, func(d *craftedDeb) {
				d.members = func(ms []arMember) []arMember { return []arMember{ms[0], ms[1], ms[1], ms[2]} }
			}),
		c(deb("ar-control-bz2", "the gzip control member named control.tar.bz2"), "cannot read there",
			`extract.c extracthalf: "uses unknown compression for member 'control.tar.bz2'"`, func(d *craftedDeb) {
				d.members = func(ms []arMember) []arMember {
					ms[1].name = "control.tar.bz2"
					return ms
				}
			}),
		c(deb("ar-bad-size", `the size field of the control.tar.gz ar header with its second digit made "x"`), "bad size",
			`ar.c dpkg_ar_member_get_size: "invalid character 'x' in archive … member 'control.tar.gz' size"`, func(d *craftedDeb) {
				d.patch = func(b []byte) {
					at := bytes.Index(b, []byte("control.tar.gz  ")) + 48 + 1 // the size field's second byte
					b[at] = 'x'
				}
			}),
		c(deb("debian-binary-no-newline", `debian-binary holding "2.0" without a newline`), "has no newline",
			`extract.c extracthalf: "archive has no newlines in header"`, func(d *craftedDeb) {
				d.members = func(ms []arMember) []arMember {
					ms[0].data = []byte("2.0")
					return ms
				}
			}),

		// The data member's tar (dpkg: lib/dpkg/tarfn.c, src/main/archives.c).
		c(deb("data-partial-header", "a data.tar (no end-of-archive blocks) ending with the first 100 bytes of another header"),
			"ends inside a header block", `tarfn.c tar_extractor: "corrupted filesystem tarfile in package archive: partially read tar header"`, func(d *craftedDeb) {
				more := rawEntry{name: "./usr/share/" + d.name + "/more.txt", typeflag: '0', mode: 0o644}.header(magicGNU)
				d.dataTar = append(writeTar(debTree(d.name), magicGNU, true, 0), more[:100]...)
			}),
		c(deb("data-bad-checksum", "a data.tar whose payload.txt header has a wrong checksum (the first digit changed)"),
			"invalid tar header checksum", `tarfn.c tar_header_decode: "corrupted filesystem tarfile in package archive: invalid tar header checksum"`, func(d *craftedDeb) {
				es := debTree(d.name)
				es[len(es)-1].patch = func(h []byte) { h[148] ^= 1 }
				d.dataTar = writeTar(es, magicGNU, false, 10240)
			}),
		c(deb("data-pax-header", "a data.tar with a pax extended header (typeflag x, an mtime record) before payload.txt, as Go's archive/tar or bsdtar write"),
			"unsupported PAX tar header type", `tarfn.c tar_extractor: "corrupted filesystem tarfile in package archive: unsupported PAX tar header type 'x'"`, func(d *craftedDeb) {
				es := debTree(d.name)
				pax := rawEntry{name: "./usr/share/" + d.name + "/PaxHeaders/payload.txt", typeflag: 'x', mode: 0o644,
					data: paxRecord("mtime", fmt.Sprint(epoch.Unix())+".5")}
				es = append(es[:len(es)-1:len(es)-1], pax, es[len(es)-1])
				d.dataTar = writeTar(es, magicGNU, false, 10240)
			}),
		c(deb("data-newline-name", `a data.tar entry named ./usr/share/NAME/evil\nname`), "newline in an entry name",
			`archives.c tarobject: "newline not allowed in archive object name"`, func(d *craftedDeb) {
				d.dataTar = tree(d.name, rawEntry{name: "./usr/share/" + d.name + "/evil\nname", typeflag: '0', mode: 0o644, data: []byte("x\n")})
			}),
		c(deb("data-truncated-file", "a data.tar ending inside a file: its header says 1000 bytes, 512 follow (a valid gzip stream)"),
			"ends inside the contents", `archives.c tarobject_extract: "cannot copy extracted data for … cut.bin …: unexpected end of file or stream"`, func(d *craftedDeb) {
				cut := rawEntry{name: "./usr/share/" + d.name + "/cut.bin", typeflag: '0', mode: 0o644, patch: func(h []byte) {
					octal(h[124:136], 1000)
					fixChecksum(h)
				}}.header(magicGNU)
				d.dataTar = append(append(writeTar(debTree(d.name), magicGNU, true, 0), cut...), bytes.Repeat([]byte("cut "), 128)...)
			}),

		// The control member (GNU tar through dpkg-deb --control; src/main/unpack.c).
		c(deb("control-subdir", "a control.tar with a folder ./scripts/ holding ./scripts/helper"), "directory inside the control area",
			`dpkg --unpack: "unable to open file '…/tmp.ci//scripts': Is a directory" (src/main/unpack.c reads every control.tar entry as a control file)`, func(d *craftedDeb) {
				d.control = []rawEntry{{name: "./scripts/", typeflag: '5', mode: 0o755},
					{name: "./scripts/helper", typeflag: '0', mode: 0o755, data: []byte("#!/bin/sh\nexit 0\n")}}
			}),
		c(deb("control-no-control-file", "a control.tar with a postinst script and no control file"), "has no control file",
			`dpkg-deb --info only warns "no 'control' file in control archive!", dpkg --unpack fails: "failed to open package info file '…/control' for reading"`, func(d *craftedDeb) {
				d.controlFile = func(string) []byte { return nil }
				d.control = []rawEntry{{name: "./postinst", typeflag: '0', mode: 0o755, data: []byte("#!/bin/sh\nexit 0\n")}}
			}),

		// The control file (dpkg: lib/dpkg/parse.c, fields.c, parsehelp.c).
		c(deb("control-no-package", "a control file without a Package field"), "no Package field",
			`parse.c pkg_parse_verify: "missing 'Package' field"`, func(d *craftedDeb) {
				d.controlFile = replaceField("Package: "+d.name+"\n", "")
			}),
		c(deb("control-bad-version", "a control file with Version: v1.0-1 (a git tag)"), "must start with a digit",
			`parsehelp.c parseversion: "'Version' field value 'v1.0-1': version number does not start with digit"`, func(d *craftedDeb) {
				d.controlFile = replaceField("Version: 1.0-1", "Version: v1.0-1")
			}),
		c(deb("control-duplicate-field", "a control file with Section twice"), "duplicate field",
			`parse.c pkg_parse_field: "duplicate value for 'Section' field"`, func(d *craftedDeb) {
				d.controlFile = withField("Section: utils")
			}),
		c(deb("control-no-final-newline", "a control file whose last line has no newline"), "missing final newline",
			`parse.c parse_stanza: "end of file during value of field 'Description' (missing final newline)"`, func(d *craftedDeb) {
				d.controlFile = func(text string) []byte { return []byte(strings.TrimSuffix(text, "\n")) }
			}),
		c(deb("control-bad-depends", `a control file with "Depends: libc6," (a trailing comma)`), "missing package name",
			`fields.c f_dependency: "'Depends' field, missing package name, or garbage where package name expected"`, func(d *craftedDeb) {
				d.controlFile = withField("Depends: libc6,")
			}),
		c(deb("control-status-field", "a control file with Status: install ok installed (copied from dpkg's status database)"),
			"not allowed in a package's control file", `fields.c f_status: "value for 'Status' field not allowed in this context"`, func(d *craftedDeb) {
				d.controlFile = withField("Status: install ok installed")
			}),
	}
}
