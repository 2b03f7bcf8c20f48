#!/bin/sh
# Rebuilds the source package fixture src/ with dpkg-source (see README.md).
set -eu
cd "$(dirname "$0")"
export SOURCE_DATE_EPOCH=1700000000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/pier-src-1.0/debian/source"
echo "upstream source of pier-src" >"$tmp/pier-src-1.0/README"
(cd "$tmp" && tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner -czf pier-src_1.0.orig.tar.gz pier-src-1.0)
cat >"$tmp/pier-src-1.0/debian/control" <<'CTL'
Source: pier-src
Section: misc
Priority: optional
Maintainer: Pier Test <test@example.org>
Build-Depends: pier-builddep (>= 1.0)
Standards-Version: 4.6.2
Homepage: https://example.org/pier
Vcs-Git: https://example.org/pier.git

Package: pier-src
Architecture: all
Description: Pier source package fixture
 A tiny source package built by dpkg-source for Pier's tests.
CTL
cat >"$tmp/pier-src-1.0/debian/changelog" <<'CL'
pier-src (1.0-1) unstable; urgency=medium

  * Fixture.

 -- Pier Test <test@example.org>  Tue, 14 Nov 2023 22:13:20 +0000
CL
printf '#!/usr/bin/make -f\n%%:\n\tdh $@\n' >"$tmp/pier-src-1.0/debian/rules"
chmod +x "$tmp/pier-src-1.0/debian/rules"
echo "3.0 (quilt)" >"$tmp/pier-src-1.0/debian/source/format"
(cd "$tmp" && dpkg-source -b pier-src-1.0 >/dev/null)
rm -rf src && mkdir src
cp "$tmp"/pier-src_1.0-1.dsc "$tmp"/pier-src_1.0.orig.tar.gz "$tmp"/pier-src_1.0-1.debian.tar.xz src/
