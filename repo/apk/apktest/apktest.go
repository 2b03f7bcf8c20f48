// Package apktest builds small apk v2 packages for tests, with nfpm
// (github.com/goreleaser/nfpm/v2/apk). It is for tests only: it writes the
// package's files to a temporary directory while it builds.
package apktest

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/goreleaser/nfpm/v2"
	nfpmapk "github.com/goreleaser/nfpm/v2/apk"
	"github.com/goreleaser/nfpm/v2/files"
)

// Options describe a package to build.
type Options struct {
	// Name is the package name (pkgname). Required.
	Name string
	// Version is the full apk version, for example "1.2.3-r0". Required.
	Version string
	// Arch is the apk architecture: "x86_64", "aarch64", "noarch"…
	// Empty means "x86_64".
	Arch string
	// Description, URL, License and Maintainer become pkgdesc, url,
	// license and maintainer.
	Description string
	URL         string
	License     string
	Maintainer  string
	// Depends and Provides are apk dependency strings ("so:libc.musl-x86_64.so.1",
	// "foo>=1.2-r0", "cmd:foo=1.0-r0").
	Depends  []string
	Provides []string
	// Files maps absolute install paths ("/usr/bin/hello") to contents,
	// installed with mode 0644 (0755 under a bin directory).
	Files map[string][]byte
	// Tree, when not nil, adds one nfpm `type: tree` content: these files
	// (paths relative to the tree, "bin/hello") are written to a temporary
	// folder that nfpm walks and installs under TreeDst ("/" when empty).
	// nfpm writes every folder of a tree with Go's os.ModeDir bit in its
	// tar mode unless TreeMode is set, and the root of a `dst: /` tree as
	// an entry with an empty name.
	Tree     map[string][]byte
	TreeDst  string
	TreeMode os.FileMode
	// Dirs and Symlinks add nfpm `type: dir` and `type: symlink` contents
	// (Symlinks maps the link's path to its target).
	Dirs     []string
	Symlinks map[string]string
	// MTime is the time of every file; zero means 2024-01-01T00:00:00Z, so
	// that equal options give equal bytes.
	MTime time.Time
	// SignKey, when set, signs the package (RSA PKCS#1 v1.5 over SHA-1 of
	// the control stream), as .SIGN.RSA.<KeyName>.
	SignKey *rsa.PrivateKey
	// KeyName is the public key file name for the signature; ".rsa.pub" is
	// appended when missing. Default "apktest.rsa.pub".
	KeyName string
}

var releaseRE = regexp.MustCompile(`^(.*)-r([0-9]+)$`)

// Build returns the bytes of the .apk described by opts.
func Build(opts Options) ([]byte, error) {
	if opts.Name == "" || opts.Version == "" {
		return nil, fmt.Errorf("apktest: name and version are required")
	}
	arch := opts.Arch
	if arch == "" {
		arch = "x86_64"
	}
	mtime := opts.MTime
	if mtime.IsZero() {
		mtime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	version, release := opts.Version, ""
	if m := releaseRE.FindStringSubmatch(opts.Version); m != nil {
		version, release = m[1], m[2]
	}
	desc := opts.Description
	if desc == "" {
		desc = opts.Name + " test package"
	}

	dir, err := os.MkdirTemp("", "apktest-")
	if err != nil {
		return nil, fmt.Errorf("apktest: %w", err)
	}
	defer os.RemoveAll(dir)
	contents, err := writeContents(dir, opts.Files, mtime)
	if err != nil {
		return nil, fmt.Errorf("apktest: %w", err)
	}
	prepare := opts.Tree != nil || len(opts.Dirs) > 0 || len(opts.Symlinks) > 0
	if opts.Tree != nil {
		tree, err := writeTree(dir, opts.Tree, mtime)
		if err != nil {
			return nil, fmt.Errorf("apktest: %w", err)
		}
		dst := opts.TreeDst
		if dst == "" {
			dst = "/"
		}
		contents = append(contents, &files.Content{Type: files.TypeTree, Source: tree, Destination: dst,
			FileInfo: &files.ContentFileInfo{Mode: opts.TreeMode, Owner: "root", Group: "root"}})
	}
	for _, d := range opts.Dirs {
		contents = append(contents, &files.Content{Type: files.TypeDir, Destination: d,
			FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: mtime, Owner: "root", Group: "root"}})
	}
	for _, dst := range slices.Sorted(maps.Keys(opts.Symlinks)) {
		contents = append(contents, &files.Content{Type: files.TypeSymlink, Source: opts.Symlinks[dst], Destination: dst,
			FileInfo: &files.ContentFileInfo{MTime: mtime}})
	}
	if prepare {
		// What nfpm's own pipeline does with a config's contents: expand
		// trees, add parent folders, sort.
		if contents, err = files.PrepareForPackager(contents, 0o022, "apk", false, mtime); err != nil {
			return nil, fmt.Errorf("apktest: prepare contents: %w", err)
		}
	}

	info := &nfpm.Info{
		Name:          opts.Name,
		Arch:          arch,
		Platform:      "linux",
		Version:       version,
		VersionSchema: "none",
		Release:       release,
		Maintainer:    opts.Maintainer,
		Description:   desc,
		Homepage:      opts.URL,
		License:       opts.License,
		MTime:         mtime,
		Overridables: nfpm.Overridables{
			Depends:  opts.Depends,
			Provides: opts.Provides,
			Contents: contents,
			Umask:    0o022,
			APK:      nfpm.APK{Arch: arch},
		},
	}
	if opts.SignKey != nil {
		key := opts.SignKey
		info.APK.Signature.KeyName = opts.KeyName
		if info.APK.Signature.KeyName == "" {
			info.APK.Signature.KeyName = "apktest.rsa.pub"
		}
		info.APK.Signature.SignFn = func(r io.Reader) ([]byte, error) {
			digest, err := io.ReadAll(r) // nfpm passes the SHA-1 digest of the control stream
			if err != nil {
				return nil, err
			}
			return rsa.SignPKCS1v15(nil, key, crypto.SHA1, digest)
		}
	}
	var buf bytes.Buffer
	if err := nfpmapk.Default.Package(info, &buf); err != nil {
		return nil, fmt.Errorf("apktest: build %s %s: %w", opts.Name, opts.Version, err)
	}
	return buf.Bytes(), nil
}

// writeTree writes a tree's files under dir/tree, giving every file and
// folder the time mtime so that equal options give equal bytes.
func writeTree(dir string, tree map[string][]byte, mtime time.Time) (string, error) {
	root := filepath.Join(dir, "tree")
	if err := os.Mkdir(root, 0o755); err != nil {
		return "", err
	}
	for _, rel := range slices.Sorted(maps.Keys(tree)) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, tree[rel], 0o644); err != nil {
			return "", err
		}
	}
	err := filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, mtime, mtime)
	})
	return root, err
}

// writeContents writes files into dir, in path order, and describes them
// for nfpm.
func writeContents(dir string, fileMap map[string][]byte, mtime time.Time) (files.Contents, error) {
	dests := make([]string, 0, len(fileMap))
	for dst := range fileMap {
		dests = append(dests, dst)
	}
	slices.Sort(dests)
	var contents files.Contents
	for i, dst := range dests {
		src := filepath.Join(dir, fmt.Sprintf("f%d", i))
		if err := os.WriteFile(src, fileMap[dst], 0o644); err != nil {
			return nil, err
		}
		mode := os.FileMode(0o644)
		if filepath.Base(filepath.Dir(dst)) == "bin" {
			mode = 0o755
		}
		contents = append(contents, &files.Content{
			Source:      src,
			Destination: dst,
			FileInfo:    &files.ContentFileInfo{Mode: mode, MTime: mtime, Owner: "root", Group: "root"},
		})
	}
	return contents, nil
}
