package rpm

import (
	"strconv"
	"unicode/utf8"
)

// XML namespaces of the repodata files, written as literal attributes:
// libsolv matches the "rpm:" element prefix literally.
const (
	nsCommon    = "http://linux.duke.edu/metadata/common"
	nsRPM       = "http://linux.duke.edu/metadata/rpm"
	nsFilelists = "http://linux.duke.edu/metadata/filelists"
	nsOther     = "http://linux.duke.edu/metadata/other"
	nsRepo      = "http://linux.duke.edu/metadata/repo"
	xmlDecl     = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
)

// xmlChar reports whether r may appear in an XML 1.0 document.
func xmlChar(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20:
		return false
	case r <= 0xd7ff:
		return true
	case r >= 0xe000 && r <= 0xfffd:
		return true
	case r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}

// latin1 converts s, which is not valid UTF-8, as ISO-8859-1, dropping the
// C1 control range (most often cp1252 bytes that have no Latin-1 meaning).
func latin1(s string) string {
	b := make([]byte, 0, len(s)+len(s)/2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x80:
			b = append(b, c)
		case c >= 0xa0:
			b = utf8.AppendRune(b, rune(c))
		}
	}
	return string(b)
}

// appendEscaped appends s to b escaped for XML text (attr false) or a
// double-quoted attribute value (attr true). Strings that are not UTF-8
// are read as Latin-1; characters XML 1.0 forbids are dropped.
func appendEscaped(b []byte, s string, attr bool) []byte {
	if !utf8.ValidString(s) {
		s = latin1(s)
	}
	for _, r := range s {
		switch r {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '"':
			if attr {
				b = append(b, "&quot;"...)
			} else {
				b = append(b, '"')
			}
		case '\r':
			b = append(b, "&#13;"...)
		case '\n':
			if attr {
				b = append(b, "&#10;"...)
			} else {
				b = append(b, '\n')
			}
		case '\t':
			if attr {
				b = append(b, "&#9;"...)
			} else {
				b = append(b, '\t')
			}
		default:
			if xmlChar(r) {
				b = utf8.AppendRune(b, r)
			}
		}
	}
	return b
}

// appendElem appends `<name>text</name>` (or `<name/>` for empty text)
// followed by a newline, after indent.
func appendElem(b []byte, indent, name, text string) []byte {
	b = append(b, indent...)
	b = append(b, '<')
	b = append(b, name...)
	if text == "" {
		return append(b, "/>\n"...)
	}
	b = append(b, '>')
	b = appendEscaped(b, text, false)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, ">\n"...)
}

// appendAttr appends ` name="value"`.
func appendAttr(b []byte, name, value string) []byte {
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, `="`...)
	b = appendEscaped(b, value, true)
	return append(b, '"')
}

// appendUintAttr appends ` name="n"`.
func appendUintAttr(b []byte, name string, n uint64) []byte {
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, `="`...)
	b = strconv.AppendUint(b, n, 10)
	return append(b, '"')
}

// appendVersion appends the package `<version …/>` line.
func appendVersion(b []byte, p *pkgInfo) []byte {
	b = append(b, "  <version"...)
	b = appendAttr(b, "epoch", p.Epoch)
	b = appendAttr(b, "ver", p.Version)
	b = appendAttr(b, "rel", p.Release)
	return append(b, "/>\n"...)
}

// appendFile appends one `<file>` line.
func appendFile(b []byte, indent string, f fileEntry) []byte {
	b = append(b, indent...)
	b = append(b, "<file"...)
	if f.Type != "" {
		b = appendAttr(b, "type", f.Type)
	}
	b = append(b, '>')
	b = appendEscaped(b, f.Path, false)
	return append(b, "</file>\n"...)
}

// fragments are one package's pre-rendered pieces of primary, filelists
// and other, with gaps for what is only known at publish time: the
// package's checksum (pkgid), its location, its file size and time.
//
// primary   = PrimaryHead + pkgid + PrimaryMid + <time/><size/><location/> + PrimaryTail
// filelists = `<package pkgid="` + pkgid + `"` + Ident + Files + `</package>` "\n"
// other     = `<package pkgid="` + pkgid + `"` + Ident + Changelog + `</package>` "\n"
type fragments struct {
	PrimaryHead string
	PrimaryMid  string
	PrimaryTail string
	Ident       string
	Files       string
	Changelog   string
}

// render produces p's fragments.
func render(p *pkgInfo) fragments {
	var fr fragments
	b := make([]byte, 0, 1024)

	b = append(b, "<package type=\"rpm\">\n"...)
	b = appendElem(b, "  ", "name", p.Name)
	b = appendElem(b, "  ", "arch", p.Arch)
	b = appendVersion(b, p)
	b = append(b, `  <checksum type="sha256" pkgid="YES">`...)
	fr.PrimaryHead = string(b)

	b = append(b[:0], "</checksum>\n"...)
	b = appendElem(b, "  ", "summary", p.Summary)
	b = appendElem(b, "  ", "description", p.Description)
	b = appendElem(b, "  ", "packager", p.Packager)
	b = appendElem(b, "  ", "url", p.URL)
	fr.PrimaryMid = string(b)

	b = append(b[:0], "  <format>\n"...)
	b = appendElem(b, "    ", "rpm:license", p.License)
	b = appendElem(b, "    ", "rpm:vendor", p.Vendor)
	b = appendElem(b, "    ", "rpm:group", p.Group)
	b = appendElem(b, "    ", "rpm:buildhost", p.BuildHost)
	b = appendElem(b, "    ", "rpm:sourcerpm", p.SourceRPM)
	b = append(b, "    <rpm:header-range"...)
	b = appendUintAttr(b, "start", uint64(p.HeaderStart))
	b = appendUintAttr(b, "end", uint64(p.HeaderEnd))
	b = append(b, "/>\n"...)
	for kind := depProvides; kind < numDepKinds; kind++ {
		b = appendDeps(b, depTags[kind].elem, p.Deps[kind], kind == depRequires)
	}
	for _, f := range p.Files {
		if isPrimaryFile(f.Path) {
			b = appendFile(b, "    ", f)
		}
	}
	b = append(b, "  </format>\n</package>\n"...)
	fr.PrimaryTail = string(b)

	b = appendAttr(b[:0], "name", p.Name)
	b = appendAttr(b, "arch", p.Arch)
	b = append(b, ">\n"...)
	b = appendVersion(b, p)
	fr.Ident = string(b)

	b = b[:0]
	for _, f := range p.Files {
		b = appendFile(b, "  ", f)
	}
	fr.Files = string(b)

	b = b[:0]
	for _, c := range p.Changelog {
		b = append(b, "  <changelog"...)
		b = appendAttr(b, "author", c.Author)
		b = appendUintAttr(b, "date", c.Date)
		b = append(b, '>')
		b = appendEscaped(b, c.Text, false)
		b = append(b, "</changelog>\n"...)
	}
	fr.Changelog = string(b)
	return fr
}

// appendDeps appends one dependency list; empty lists and entries without
// a name are left out.
func appendDeps(b []byte, elem string, deps []dep, requires bool) []byte {
	opened := false
	for _, d := range deps {
		if d.Name == "" {
			continue
		}
		if !opened {
			b = append(b, "    <"...)
			b = append(b, elem...)
			b = append(b, ">\n"...)
			opened = true
		}
		b = append(b, "      <rpm:entry"...)
		b = appendAttr(b, "name", d.Name)
		if d.Flags != "" {
			b = appendAttr(b, "flags", d.Flags)
			if d.Epoch != "" {
				b = appendAttr(b, "epoch", d.Epoch)
			}
			if d.Ver != "" {
				b = appendAttr(b, "ver", d.Ver)
			}
			if d.Rel != "" {
				b = appendAttr(b, "rel", d.Rel)
			}
		}
		if requires && d.Pre {
			b = append(b, ` pre="1"`...)
		}
		b = append(b, "/>\n"...)
	}
	if opened {
		b = append(b, "    </"...)
		b = append(b, elem...)
		b = append(b, ">\n"...)
	}
	return b
}
