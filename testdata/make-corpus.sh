#!/bin/bash
# make-corpus.sh rebuilds Pier's conformance corpus (testdata/, see
# README.md) from nothing but the committed test-only keys, then checks
# every file against the real tools installed here.
#
#   testdata/make-corpus.sh          rebuild everything, then check
#   testdata/make-corpus.sh check    only check the committed files
#
# Needs: dpkg-deb, dpkg, rpmbuild, rpmsign, rpmkeys, rpm, gpg, go.
# Everything is dated SOURCE_DATE_EPOCH, so a rebuild with the same tool
# versions gives the same bytes (gpg signs with --faked-system-time).
set -euo pipefail

export SOURCE_DATE_EPOCH=1735787045 # 2025-01-02T03:04:05Z
export TZ=UTC LC_ALL=C
umask 022

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
work=$(mktemp -d /tmp/pier-corpus.XXXXXX)
trap 'gpgconf --homedir "$work/gnupg" --kill all >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# The one OpenPGP key the corpus signs rpms with; test only.
gpg_name="corpus-test-only@example.org"
gpg_time="20250102T030405!"

build_debs() {
	# deb/: dpkg-deb with each compressor. Every package ships
	# /usr/share/<name>/payload.txt and a symlink link.txt to it.
	local comp arch name tree
	for spec in gzip:amd64 xz:amd64 zstd:amd64 none:all; do
		comp=${spec%:*} arch=${spec#*:}
		name=corpus-dpkg-$comp
		deb_tree "$name" "$arch" "dpkg-deb -Z$comp" ""
		dpkg-deb --root-owner-group -Z"$comp" --build "$work/$name" "$here/deb/${name}_1.0-1_${arch}.deb" >/dev/null
	done
	# Larger than the 1 MiB max_upload_size the corpus test runs Pier
	# with: a valid package that must get 413.
	name=corpus-dpkg-large
	deb_tree "$name" amd64 "dpkg-deb -Znone, 1.1 MiB" 1153434
	dpkg-deb --root-owner-group -Znone --build "$work/$name" "$here/deb/${name}_1.0-1_amd64.deb" >/dev/null
}

# deb_tree NAME ARCH WHAT ZEROS writes a package tree for dpkg-deb.
deb_tree() {
	local name=$1 arch=$2 what=$3 zeros=$4 d="$work/$1"
	mkdir -p "$d/DEBIAN" "$d/usr/share/$name"
	printf 'payload of %s, a package of the Pier conformance corpus\n' "$name" >"$d/usr/share/$name/payload.txt"
	ln -s payload.txt "$d/usr/share/$name/link.txt"
	if [ -n "$zeros" ]; then
		head -c "$zeros" /dev/zero >"$d/usr/share/$name/zeros"
	fi
	cat >"$d/DEBIAN/control" <<-EOF
		Package: $name
		Version: 1.0-1
		Architecture: $arch
		Maintainer: Pier corpus <corpus-test-only@example.org>
		Installed-Size: $(( (zeros + 1023) / 1024 + 4 ))
		Section: misc
		Priority: optional
		Homepage: https://example.org/pier-corpus
		Description: Pier conformance corpus package $name
		 Built by testdata/make-corpus.sh with $what.
	EOF
	find "$d" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# rpmbuild_one NAME PAYLOAD [ZEROS] builds NAME-1.0-1.x86_64.rpm into $work/rpms.
rpmbuild_one() {
	local name=$1 payload=$2 zeros=${3:-} spec="$work/$1.spec"
	{
		cat <<-EOF
			Name: $name
			Version: 1.0
			Release: 1
			Summary: Pier conformance corpus package $name
			License: MIT
			URL: https://example.org/pier-corpus

			%description
			Built by testdata/make-corpus.sh with rpmbuild, payload $payload.

			%install
			mkdir -p %{buildroot}/usr/share/%{name}
			printf 'payload of %%s, a package of the Pier conformance corpus\\n' %{name} >%{buildroot}/usr/share/%{name}/payload.txt
			ln -s payload.txt %{buildroot}/usr/share/%{name}/link.txt
		EOF
		if [ -n "$zeros" ]; then
			echo "truncate -s $zeros %{buildroot}/usr/share/%{name}/zeros"
		fi
		cat <<-EOF

			%files
			/usr/share/%{name}

			%changelog
			* Thu Jan 02 2025 Pier corpus <corpus-test-only@example.org> - 1.0-1
			- first build
		EOF
	} >"$spec"
	rpmbuild -bb --quiet \
		--define "_topdir $work/rpmbuild" \
		--define "_rpmdir $work/rpms" \
		--define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
		--define "_binary_payload $payload" \
		--define "_buildhost corpus.example.org" \
		--define "use_source_date_epoch_as_buildtime 1" \
		--define "clamp_mtime_to_source_date_epoch 1" \
		--define "debug_package %{nil}" \
		--define "__os_install_post %{nil}" \
		"$spec" >/dev/null
}

# rpmsign_file FILE signs FILE in place with the test-only key.
rpmsign_file() {
	rpmsign --addsign \
		--define "__gpg $(command -v gpg)" \
		--define "_gpg_path $work/gnupg" \
		--define "_gpg_name $gpg_name" \
		--define "_gpg_sign_cmd_extra_args --faked-system-time $gpg_time" \
		"$1" >/dev/null 2>&1
}

build_rpms() {
	mkdir -p "$work/gnupg" "$here/rpm"
	chmod 700 "$work/gnupg"
	gpg --homedir "$work/gnupg" --batch --quiet --import "$here/keys/test-only-rpm-signing.sec.asc"
	local c p
	for c in gzip:w9.gzdio xz:w6.xzdio zstd:w19.zstdio; do
		p=${c#*:} c=${c%:*}
		rpmbuild_one "corpus-rpmbuild-$c" "$p"
		rpmbuild_one "corpus-rpmbuild-$c-signed" "$p"
		cp "$work/rpms/corpus-rpmbuild-$c-1.0-1.x86_64.rpm" "$here/rpm/"
		cp "$work/rpms/corpus-rpmbuild-$c-signed-1.0-1.x86_64.rpm" "$here/rpm/"
		rpmsign_file "$here/rpm/corpus-rpmbuild-$c-signed-1.0-1.x86_64.rpm"
	done
	# The old layout (rpm < 4.14): no payload digest; and a payload digest
	# without its algorithm tag. gen removes the tags from rpmbuild's output
	# and recomputes the signature header's digests.
	rpmbuild_one corpus-rpmbuild-gzip-nopd w9.gzdio
	rpmbuild_one corpus-rpmbuild-gzip-noalgo w9.gzdio
	rpmbuild_one corpus-rpmbuild-xz-nopd-signed w6.xzdio
	gen strip-payload-digest "$work/rpms/corpus-rpmbuild-gzip-nopd-1.0-1.x86_64.rpm" "$here/rpm/corpus-rpmbuild-gzip-nopd-1.0-1.x86_64.rpm"
	gen strip-payload-digest -keep-digest "$work/rpms/corpus-rpmbuild-gzip-noalgo-1.0-1.x86_64.rpm" "$here/rpm/corpus-rpmbuild-gzip-noalgo-1.0-1.x86_64.rpm"
	gen strip-payload-digest "$work/rpms/corpus-rpmbuild-xz-nopd-signed-1.0-1.x86_64.rpm" "$here/rpm/corpus-rpmbuild-xz-nopd-signed-1.0-1.x86_64.rpm"
	rpmsign_file "$here/rpm/corpus-rpmbuild-xz-nopd-signed-1.0-1.x86_64.rpm"
	# A 39 KB payload that expands to a 1 GiB file of zeros.
	rpmbuild_one corpus-rpm-bomb w19.zstdio 1G
	cp "$work/rpms/corpus-rpm-bomb-1.0-1.x86_64.rpm" "$here/rpm/"
}

gen() {
	(cd "$root" && go run ./testdata/gen -dir testdata "$@")
}

# check compares every manifest row's tool column with what the real tool
# does with the file: dpkg (dpkg-deb --info, --fsys-tarfile and an unpack
# into a scratch root) for debs, rpmkeys -Kv against a keyring holding the
# test-only key for rpms. apk-tools cannot run here: apk rows say which
# apk-tools 2.14 source decides them, and are not checked.
check() {
	local keyroot="$work/rpmkeys" bad=0 file format tool verdict
	mkdir -p "$keyroot"
	rpmkeys --root "$keyroot" --import "$here/keys/test-only-rpm-signing.pub.asc"
	# Tabs are IFS white space (runs collapse): read the fields split at \x1f.
	while IFS=$'\x1f' read -r file format target status message tool how; do
		[ "$file" = file ] && continue
		# Only a file of the target's own format is judged by that format's tool.
		case "$format:$file" in
		deb:*.deb) verdict=$(check_deb "$here/$file") ;;
		rpm:*.rpm) verdict=$(check_rpm "$here/$file" "$keyroot") ;;
		*) continue ;;
		esac
		if [ "${tool%% *}" != "$verdict" ]; then
			echo "MISMATCH $file: manifest says '$tool', the tool $verdict" >&2
			bad=1
		fi
	done < <(tr '\t' '\037' <"$here/MANIFEST.tsv")
	return $bad
}

# check_deb FILE prints accepts or refuses: what dpkg does with FILE.
check_deb() {
	local f=$1 r="$work/dpkgroot.$$.$RANDOM"
	if ! dpkg-deb --info "$f" >/dev/null 2>&1; then echo refuses; return; fi
	# The data bomb expands to 16.5 GiB: dpkg-deb streams it (about a
	# minute here) and accepts it; its unpack is left out (16.5 GiB of disk).
	if ! dpkg-deb --fsys-tarfile "$f" >/dev/null 2>&1; then echo refuses; return; fi
	# Unpack into a scratch root three levels down, so that a name that
	# climbs out with .. lands in the scratch area, never on the host.
	# dpkg creates no parent folders a package does not list: give the
	# names below the places they resolve to (/tmp in the root, and the
	# folders one and three levels above it) so that only dpkg's own checks
	# decide.
	mkdir -p "$r/a/b/c/root/var/lib/dpkg/updates" "$r/a/b/c/root/var/lib/dpkg/info" \
		"$r/a/b/c/root/tmp" "$r/a/b/c/tmp" "$r/a/tmp"
	touch "$r/a/b/c/root/var/lib/dpkg/status"
	if [[ "$f" != *bomb-data* ]] && ! dpkg --root="$r/a/b/c/root" --force-not-root --force-bad-path --force-architecture \
		--force-script-chrootless --log=/dev/null --unpack "$f" >/dev/null 2>&1; then
		rm -rf "$r"
		echo refuses
		return
	fi
	rm -rf "$r"
	echo accepts
}

# check_rpm FILE KEYROOT prints accepts or refuses: what rpmkeys -Kv says
# with the test-only key trusted (any BAD or NOKEY line, or a failure, is a
# refusal; rpmkeys reports digests and signatures it can check).
check_rpm() {
	local out
	if ! out=$(rpmkeys --root "$2" -Kv "$1" 2>&1) || grep -qE 'BAD|NOKEY|NOTFOUND|not an rpm|error' <<<"$out"; then
		echo refuses
		return
	fi
	if ! rpm -qp --nosignature --nodigest --qf '%{NAME}' "$1" >/dev/null 2>&1; then
		echo refuses
		return
	fi
	echo accepts
}

if [ "${1:-}" != check ]; then
	rm -rf "$here/deb" "$here/rpm" "$here/apk" "$here/crafted"
	mkdir -p "$here/deb" "$here/rpm"
	build_debs
	build_rpms
	gen packages
	gen derive
	echo "tools: $(dpkg-deb --version | head -1); $(rpm --version); $(gpg --version | head -1); $(cd "$root" && go version)"
fi
check
echo "corpus: $(tail -n +2 "$here/MANIFEST.tsv" | wc -l) rows, $(du -sh --exclude=gen --exclude=keys "$here" | cut -f1)"
