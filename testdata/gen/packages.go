package main

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	nfpmapk "github.com/goreleaser/nfpm/v2/apk"
	nfpmdeb "github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	nfpmrpm "github.com/goreleaser/nfpm/v2/rpm"
)

// apkKeyName is the public key file name of the test-only packager key,
// the name in every corpus apk's .SIGN.RSA.<name> entry.
const apkKeyName = "test-only-apk-packager.rsa.pub"

// packages writes the packages gen makes itself: with nfpm (deb, rpm, apk
// plain and tree), apks in the abuild and melange layouts, and the
// hand-made debs and apks with hostile names and bombs.
func packages(dir string) error {
	key, err := loadAPKKey(filepath.Join(dir, "keys", "test-only-apk-packager.rsa"))
	if err != nil {
		return err
	}
	steps := []func(string, *rsa.PrivateKey) error{nfpmPackages, apkLayouts, apkCrafted, craftedDebs}
	for _, step := range steps {
		if err := step(dir, key); err != nil {
			return err
		}
	}
	return nil
}

// loadAPKKey reads the PEM (PKCS#8 or PKCS#1) RSA private key at path.
func loadAPKKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read apk signing key: %w", err)
	}
	blk, _ := pem.Decode(data)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an RSA key", path)
	}
	return rk, nil
}

// payloadOf is the content of every package's payload.txt.
func payloadOf(name string) []byte {
	return []byte("payload of " + name + ", a package of the Pier conformance corpus\n")
}

// nfpmInfo describes package name for nfpm: a folder /usr/share/<name>
// holding payload.txt and a symlink link.txt to it, or, with tree set,
// the same files as one `type: tree` content installed at treeDst.
func nfpmInfo(name, arch, release string, tree bool, treeDst string) (*nfpm.Info, func(), error) {
	src, err := os.MkdirTemp("", "corpus-nfpm-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(src) }
	share := filepath.Join(src, "usr", "share", name)
	if err := os.MkdirAll(share, 0o755); err != nil {
		cleanup()
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(share, "payload.txt"), payloadOf(name), 0o644); err != nil {
		cleanup()
		return nil, nil, err
	}
	var contents files.Contents
	if tree {
		if err := os.Symlink("payload.txt", filepath.Join(share, "link.txt")); err != nil {
			cleanup()
			return nil, nil, err
		}
		// nfpm takes a tree's folder modes and times from the disk.
		for _, p := range []string{src, filepath.Join(src, "usr"), filepath.Join(src, "usr", "share"), share, filepath.Join(share, "payload.txt")} {
			if err := os.Chtimes(p, epoch, epoch); err != nil {
				cleanup()
				return nil, nil, err
			}
		}
		root := src
		if treeDst != "/" {
			root = share
		}
		contents = files.Contents{{Source: root, Destination: treeDst, Type: files.TypeTree,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root"}}}
	} else {
		info := func(mode os.FileMode) *files.ContentFileInfo {
			return &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: epoch}
		}
		contents = files.Contents{
			{Destination: "/usr/share/" + name, Type: files.TypeDir, FileInfo: info(0o755)},
			{Source: filepath.Join(share, "payload.txt"), Destination: "/usr/share/" + name + "/payload.txt", FileInfo: info(0o644)},
			{Source: "payload.txt", Destination: "/usr/share/" + name + "/link.txt", Type: files.TypeSymlink, FileInfo: info(0o777)},
		}
	}
	info := &nfpm.Info{
		Name:          name,
		Arch:          arch,
		Platform:      "linux",
		Version:       "1.0",
		VersionSchema: "none",
		Release:       release,
		Maintainer:    "Pier corpus <corpus-test-only@example.org>",
		Description:   "Pier conformance corpus package " + name + "\nbuilt with nfpm v2.45.2 by testdata/gen",
		Homepage:      "https://example.org/pier-corpus",
		License:       "MIT",
		MTime:         epoch,
		Overridables: nfpm.Overridables{
			Contents: contents,
			Umask:    0o022,
			RPM:      nfpm.RPM{Summary: "Pier conformance corpus package " + name},
		},
	}
	return info, cleanup, nil
}

// nfpmPackages builds the corpus packages made by nfpm.
func nfpmPackages(dir string, key *rsa.PrivateKey) error {
	sign := func(r io.Reader) ([]byte, error) {
		digest, err := io.ReadAll(r) // nfpm passes the SHA-1 of the control stream
		if err != nil {
			return nil, err
		}
		return rsa.SignPKCS1v15(nil, key, crypto.SHA1, digest)
	}
	builds := []struct {
		file, name, arch, release string
		packager                  nfpm.Packager
		format                    string
		tweak                     func(*nfpm.Info)
		tree                      bool
		treeDst                   string
	}{
		{file: "deb/corpus-nfpm-deb_1.0-1_amd64.deb", name: "corpus-nfpm-deb", arch: "amd64", release: "1",
			packager: nfpmdeb.Default, format: "deb"},
		{file: "deb/corpus-nfpm-deb-xz_1.0-1_arm64.deb", name: "corpus-nfpm-deb-xz", arch: "arm64", release: "1",
			packager: nfpmdeb.Default, format: "deb", tweak: func(i *nfpm.Info) { i.Deb.Compression = "xz" }},
		{file: "rpm/corpus-nfpm-rpm-1.0-1.noarch.rpm", name: "corpus-nfpm-rpm", arch: "all", release: "1",
			packager: nfpmrpm.DefaultRPM, format: "rpm"},
		{file: "apk/corpus-nfpm-apk-1.0-r0.apk", name: "corpus-nfpm-apk", arch: "x86_64", release: "0",
			packager: nfpmapk.Default, format: "apk"},
		{file: "apk/corpus-nfpm-tree-1.0-r0.apk", name: "corpus-nfpm-tree", arch: "x86_64", release: "0",
			packager: nfpmapk.Default, format: "apk", tree: true, treeDst: "/usr/share/corpus-nfpm-tree"},
		{file: "apk/corpus-nfpm-tree-root-1.0-r0.apk", name: "corpus-nfpm-tree-root", arch: "x86_64", release: "0",
			packager: nfpmapk.Default, format: "apk", tree: true, treeDst: "/"},
	}
	for _, b := range builds {
		info, cleanup, err := nfpmInfo(b.name, b.arch, b.release, b.tree, b.treeDst)
		if err != nil {
			return err
		}
		if b.format == "apk" {
			info.APK.Signature.KeyName = apkKeyName
			info.APK.Signature.SignFn = sign
		}
		if b.tweak != nil {
			b.tweak(info)
		}
		var buf bytes.Buffer
		err = b.packager.Package(nfpm.WithDefaults(info), &buf)
		cleanup()
		if err != nil {
			return fmt.Errorf("nfpm %s: %w", b.file, err)
		}
		if err := writeFile(filepath.Join(dir, b.file), buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}
