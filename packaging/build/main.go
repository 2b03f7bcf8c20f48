// Command build makes Pier's own packages with nfpm: a .deb, an .rpm and
// an .apk per architecture, each holding the binary, /etc/pier/pier.yaml
// (a conffile / %config(noreplace)), the systemd units, sysusers.d and
// tmpfiles.d files, the environment file, the OpenRC script (apk) and the
// documented example config, and creating the pier system user.
//
//	go run ./packaging/build -version 1.2.3 -bin dist -out dist
//
// It expects dist/pier-linux-amd64 and dist/pier-linux-arm64 (make packages
// builds them) and writes pier_VERSION_ARCH.deb, pier-VERSION.ARCH.rpm and
// ARCH/pier-VERSION.apk (apk names carry no architecture).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	nfpmapk "github.com/goreleaser/nfpm/v2/apk"
	nfpmdeb "github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	nfpmrpm "github.com/goreleaser/nfpm/v2/rpm"
)

func main() {
	version := flag.String("version", "0.0.0", "package version")
	bin := flag.String("bin", "dist", "directory holding pier-linux-<goarch>")
	out := flag.String("out", "dist", "output directory")
	src := flag.String("src", "packaging", "directory of the service files")
	flag.Parse()
	if err := run(*version, *bin, *out, *src); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
}

func run(version, bin, out, src string) error {
	scripts := filepath.Join(out, "scripts")
	if err := os.MkdirAll(scripts, 0o755); err != nil {
		return err
	}
	postinst := filepath.Join(scripts, "postinstall.sh")
	if err := os.WriteFile(postinst, []byte(postinstall), 0o755); err != nil {
		return err
	}
	for _, goarch := range []string{"amd64", "arm64"} {
		for _, f := range []struct {
			name string
			pkg  nfpm.Packager
			file func(arch string) string
		}{
			{"deb", nfpmdeb.Default, func(string) string { return fmt.Sprintf("pier_%s_%s.deb", version, goarch) }},
			{"rpm", nfpmrpm.DefaultRPM, func(a string) string { return fmt.Sprintf("pier-%s.%s.rpm", version, a) }},
			{"apk", nfpmapk.Default, func(a string) string { return filepath.Join(a, fmt.Sprintf("pier-%s.apk", version)) }},
		} {
			info := packageInfo(f.name, goarch, version, filepath.Join(bin, "pier-linux-"+goarch), src, postinst)
			if err := nfpm.PrepareForPackager(info, f.name); err != nil {
				return fmt.Errorf("%s %s: %w", f.name, goarch, err)
			}
			arch := info.Arch
			if f.name == "rpm" {
				arch = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[goarch]
			}
			if f.name == "apk" {
				arch = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[goarch]
			}
			path := filepath.Join(out, f.file(arch))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			w, err := os.Create(path)
			if err != nil {
				return err
			}
			if err := f.pkg.Package(info, w); err != nil {
				w.Close()
				return fmt.Errorf("%s %s: %w", f.name, goarch, err)
			}
			if err := w.Close(); err != nil {
				return err
			}
			fmt.Println(path)
		}
	}
	return nil
}

// packageInfo describes the package of format for goarch.
func packageInfo(format, goarch, version, binary, src, postinst string) *nfpm.Info {
	unitDir := "/lib/systemd/system"
	envFile := "/etc/default/pier"
	if format == "rpm" {
		unitDir, envFile = "/usr/lib/systemd/system", "/etc/sysconfig/pier"
	}
	if format == "apk" {
		envFile = "/etc/conf.d/pier"
	}
	contents := files.Contents{
		{Source: binary, Destination: "/usr/bin/pier", FileInfo: &files.ContentFileInfo{Mode: 0o755}},
		{Source: filepath.Join(src, "pier.yaml"), Destination: "/etc/pier/pier.yaml", Type: files.TypeConfigNoReplace,
			FileInfo: &files.ContentFileInfo{Mode: 0o644}},
		{Source: filepath.Join(src, "pier.env"), Destination: envFile, Type: files.TypeConfigNoReplace},
		{Source: filepath.Join(src, "pier.service"), Destination: unitDir + "/pier.service"},
		{Source: filepath.Join(src, "pier@.service"), Destination: unitDir + "/pier@.service"},
		{Source: filepath.Join(src, "pier.sysusers"), Destination: "/usr/lib/sysusers.d/pier.conf"},
		{Source: filepath.Join(src, "pier.tmpfiles"), Destination: "/usr/lib/tmpfiles.d/pier.conf"},
		{Source: filepath.Join(src, "..", "config.example.yaml"), Destination: "/usr/share/doc/pier/config.example.yaml"},
	}
	if format == "apk" {
		contents = append(contents, &files.Content{Source: filepath.Join(src, "pier.openrc"), Destination: "/etc/init.d/pier",
			FileInfo: &files.ContentFileInfo{Mode: 0o755}})
	}
	return nfpm.WithDefaults(&nfpm.Info{
		Name: "pier", Arch: goarch, Platform: "linux", Version: version, Release: "1", VersionSchema: "none", Section: "net",
		Maintainer: "Pier developers <pier@example.org>", Homepage: "https://github.com/pierhq/pier", License: "Apache-2.0",
		Description: "Publishes and mirrors signed apt, rpm and apk repositories",
		Overridables: nfpm.Overridables{
			Contents: contents,
			Scripts:  nfpm.Scripts{PostInstall: postinst},
			APK:      nfpm.APK{},
		},
	})
}

// postinstall creates the pier user (sysusers.d where systemd is, the
// distribution's tools otherwise) and the data directory, and tells systemd
// about the units. It never starts the service.
const postinstall = `#!/bin/sh
set -e
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers /usr/lib/sysusers.d/pier.conf || true
elif ! getent passwd pier >/dev/null 2>&1; then
	if command -v useradd >/dev/null 2>&1; then
		useradd --system --home-dir /var/lib/pier --shell /usr/sbin/nologin pier || true
	elif command -v adduser >/dev/null 2>&1; then
		addgroup -S pier 2>/dev/null || true
		adduser -S -D -H -h /var/lib/pier -s /sbin/nologin -G pier pier 2>/dev/null || true
	fi
fi
if command -v systemd-tmpfiles >/dev/null 2>&1; then
	systemd-tmpfiles --create /usr/lib/tmpfiles.d/pier.conf || true
else
	mkdir -p /var/lib/pier && chown pier:pier /var/lib/pier 2>/dev/null || true
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
fi
`
