package deb

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/pierhq/pier/repo"
)

// checkSourcesIndex parses a Sources index as apt reads it for apt-get
// source (stanzas of deb822 fields; the files of a source package are
// Directory plus the names its Files and Checksums-Sha256 list) and
// checks that every file Checksums-Sha256 lists is in files (under root)
// with that size and sha256, that Files names the same files, and that
// each stanza lists a .dsc.
func checkSourcesIndex(name string, data []byte, root string, files map[string]*repo.File) error {
	stanzas := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n\n")
	for i, st := range stanzas {
		if st == "" {
			if len(stanzas) == 1 {
				return nil
			}
			return fmt.Errorf("%s: stanza %d is empty", name, i+1)
		}
		fields, reason := parseStanza([]byte(st+"\n"), 256)
		if reason != "" {
			return fmt.Errorf("%s: stanza %d: %s", name, i+1, reason)
		}
		if err := checkSourceStanza(fields, root, files); err != nil {
			return fmt.Errorf("%s: stanza %d: %w", name, i+1, err)
		}
	}
	return nil
}

func checkSourceStanza(fields []field, root string, files map[string]*repo.File) error {
	pkg, _ := lookup(fields, "Package")
	dir, _ := lookup(fields, "Directory")
	if pkg == "" || dir == "" {
		return fmt.Errorf("no Package or Directory field")
	}
	if dir != path.Clean(dir) || path.IsAbs(dir) || dir == ".." || strings.HasPrefix(dir, "../") {
		return fmt.Errorf("source %s: Directory %q is not a clean path under the archive root", pkg, clip(dir))
	}
	list := func(field string) (map[string][2]string, error) {
		v, ok := lookup(fields, field)
		if !ok {
			return nil, fmt.Errorf("source %s: no %s field", pkg, field)
		}
		out := map[string][2]string{}
		for _, l := range strings.Split(v, "\n") {
			p := strings.Fields(l)
			if len(p) == 0 {
				continue
			}
			if len(p) != 3 || strings.Contains(p[2], "/") {
				return nil, fmt.Errorf("source %s: bad %s line %q", pkg, field, clip(l))
			}
			out[p[2]] = [2]string{p[0], p[1]}
		}
		return out, nil
	}
	sha, err := list("Checksums-Sha256")
	if err != nil {
		return err
	}
	md5, err := list("Files")
	if err != nil {
		return err
	}
	dsc := false
	for fn, sum := range sha {
		if _, ok := md5[fn]; !ok {
			return fmt.Errorf("source %s: %s is in Checksums-Sha256 but not in Files", pkg, fn)
		}
		dsc = dsc || strings.HasSuffix(fn, ".dsc")
		n, err := strconv.ParseInt(sum[1], 10, 64)
		if err != nil {
			return fmt.Errorf("source %s: bad size %q for %s", pkg, clip(sum[1]), fn)
		}
		p := root + dir + "/" + fn
		fp := files[p]
		switch {
		case fp == nil:
			return fmt.Errorf("source %s: %s is not in the generation", pkg, p)
		case fp.Size != n || fp.SHA256 != sum[0]:
			return fmt.Errorf("source %s: %s has size %d and sha256 %s; the stanza says %d and %s", pkg, p, fp.Size, fp.SHA256, n, sum[0])
		}
	}
	if len(md5) != len(sha) {
		return fmt.Errorf("source %s: Files lists %d files, Checksums-Sha256 %d", pkg, len(md5), len(sha))
	}
	if !dsc {
		return fmt.Errorf("source %s: lists no .dsc", pkg)
	}
	return nil
}
