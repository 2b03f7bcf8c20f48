#!/bin/sh
# Rebuilds the .deb fixtures of this directory with dpkg-deb (see README.md).
set -eu
cd "$(dirname "$0")"
export SOURCE_DATE_EPOCH=1700000000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build() { # name arch compression output
	mkdir -p "$tmp/$1/DEBIAN" "$tmp/$1/usr/share/doc/$1"
	cat >"$tmp/$1/DEBIAN/control" <<CTL
Package: $1
Version: 1.0-1
Architecture: $2
Maintainer: Pier Test <test@example.org>
Section: misc
Priority: optional
Homepage: https://example.org/pier
Description: Pier test fixture
 A tiny package built by dpkg-deb for Pier's tests.
 .
 It holds one documentation file.
CTL
	echo "fixture $1" >"$tmp/$1/usr/share/doc/$1/README"
	dpkg-deb --root-owner-group -Z"$3" --build "$tmp/$1" "$4" >/dev/null
}
build pier-hello all xz hello_1.0-1_all.deb
build pier-hello-gz amd64 gzip hello-gz_1.0-1_amd64.deb
build pier-hello-zst arm64 zstd hello-zst_1.0-1_arm64.deb
# dpkg-deb no longer writes bzip2 or lzma data members, but dpkg still
# unpacks them: build uncompressed, recompress data.tar, and reassemble the
# ar archive in dpkg's member order with GNU ar (deterministic mode).
recompress() { # name arch tool ext output
	build "$1" "$2" none "$tmp/$1.deb"
	mkdir -p "$tmp/$1.ar"
	(cd "$tmp/$1.ar" && ar x "$tmp/$1.deb" && "$3" -9 data.tar && ar qcD "$tmp/$1.out" debian-binary control.tar "data.tar.$4")
	cp "$tmp/$1.out" "$5"
}
recompress pier-hello-bz2 amd64 bzip2 bz2 hello-bz2_1.0-1_amd64.deb
recompress pier-hello-lzma amd64 lzma lzma hello-lzma_1.0-1_amd64.deb
