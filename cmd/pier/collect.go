package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// packageExts are the file name endings that directory walks pick up.
// Files named explicitly are taken whatever their name.
var packageExts = []string{".deb", ".rpm", ".apk"}

// packageExt returns the package ending of p ("" for none).
func packageExt(p string) string {
	for _, e := range packageExts {
		if strings.HasSuffix(p, e) {
			return e
		}
	}
	return ""
}

// collected is what a walk of the command line's files and directories
// found.
type collected struct {
	// files are the package files to take, in path order (byte order),
	// each real file once.
	files []string
	// want is the ending of the target's format (".deb"); empty takes
	// every package ending.
	want string
	// skipped counts the walked files of another format, by ending.
	skipped map[string]int
	// broken are walked package files that cannot be read (a link that
	// leads nowhere).
	broken []brokenFile
}

type brokenFile struct {
	path string
	err  error
}

// summary is the one line about skipped files ("" when none were).
func (c collected) summary() string {
	if len(c.skipped) == 0 {
		return ""
	}
	n := 0
	var parts []string
	for _, e := range packageExts {
		if k := c.skipped[e]; k > 0 {
			n += k
			parts = append(parts, fmt.Sprintf("%d %s", k, e))
		}
	}
	return fmt.Sprintf("skipped %d file(s) of another format (%s)", n, strings.Join(parts, ", "))
}

// fileID identifies a file or directory on its filesystem.
type fileID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), st.Ino}, true
}

// collect expands the arguments into package files: a file is taken as it
// is named; a directory is walked, following symbolic links to files and
// to directories (each directory once, so a link loop ends), for files
// with a package ending (want's taken, the others counted as skipped). A
// real file reached by several paths is taken once, by the first path.
func collect(args []string, want string) (collected, error) {
	c := collected{want: want, skipped: map[string]int{}}
	var out []string
	seenDirs := map[fileID]bool{}
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return c, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		if err := c.walk(a, st, seenDirs, &out); err != nil {
			return c, err
		}
	}
	slices.Sort(out)
	seen := map[fileID]bool{}
	for _, p := range out {
		if fi, err := os.Stat(p); err == nil {
			if id, ok := idOf(fi); ok {
				if seen[id] {
					continue
				}
				seen[id] = true
			}
		}
		c.files = append(c.files, p)
	}
	slices.SortFunc(c.broken, func(a, b brokenFile) int { return strings.Compare(a.path, b.path) })
	return c, nil
}

// walk adds the package files under dir (st is dir's, links followed).
func (c *collected) walk(dir string, st fs.FileInfo, seenDirs map[fileID]bool, out *[]string) error {
	if id, ok := idOf(st); ok {
		if seenDirs[id] {
			return nil
		}
		seenDirs[id] = true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("walk %s: %w", dir, err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p) // follows links
		if err != nil {
			if e.Type()&fs.ModeSymlink != 0 && errors.Is(err, fs.ErrNotExist) {
				if packageExt(p) != "" {
					c.broken = append(c.broken, brokenFile{p, fmt.Errorf("a symbolic link to nothing (%w)", err)})
				}
				continue
			}
			return fmt.Errorf("walk %s: %w", dir, err)
		}
		switch {
		case fi.IsDir():
			if err := c.walk(p, fi, seenDirs, out); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			switch ext := packageExt(p); {
			case ext == "":
			case c.want == "" || ext == c.want:
				*out = append(*out, p)
			default:
				c.skipped[ext]++
			}
		}
	}
	return nil
}
