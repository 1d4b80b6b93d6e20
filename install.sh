#!/bin/sh
# install.sh — put the reverb binary into a Laravel project root, either
# downloaded from a GitHub release (checked against its SHA256SUMS) or built
# from this checkout.
#
#   ./install.sh [--download [--version vX.Y.Z] | --source] [LARAVEL_DIR]
#   curl -fsSL https://raw.githubusercontent.com/reverb-go/reverb/main/install.sh | sh -s -- ~/code/my-app
#
# Run from a checkout it builds (needs Go); run on its own (piped, or copied
# out of a checkout) it downloads. LARAVEL_DIR defaults to the current
# directory when it holds an artisan file. Running it again replaces the
# binary atomically (a running server keeps its old inode and is not
# disturbed).
#
# Environment: GO picks the toolchain for --source (GO=/usr/local/go/bin/go);
# REVERB_DOWNLOAD_URL replaces https://github.com/reverb-go/reverb/releases
# (a mirror, or a file:// folder laid out like it).
#
# Portable on purpose: POSIX sh as macOS's bash 3.2, dash and BusyBox run
# it, with only the flags BSD and GNU tools share.
set -eu

usage() {
	cat <<'USAGE'
Usage: ./install.sh [--download [--version vX.Y.Z] | --source] [LARAVEL_DIR]

Installs reverb (a Go drop-in for Laravel Reverb) as LARAVEL_DIR/reverb.
LARAVEL_DIR must be a Laravel project root (it has an artisan file); it
defaults to the current directory when that has one.

  --download          download the release archive for this OS and CPU
                      from GitHub and check it against SHA256SUMS
                      (the default when not run from a reverb checkout)
  --version vX.Y.Z    the release to download (default: the latest)
  --source            build from this checkout with Go (the default in a
                      checkout)

Then, in the project:
  ./reverb install   # REVERB_* lines in .env, config/reverb.php (like reverb:install)
  ./reverb start     # like php artisan reverb:start
USAGE
}

die() {
	echo "install.sh: $*" >&2
	exit 1
}

mode=
version=
target=
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--download) mode=download ;;
	--source) mode=source ;;
	--version)
		if [ $# -lt 2 ]; then
			echo "install.sh: --version needs a value (e.g. --version v1.2.3)" >&2
			exit 2
		fi
		version=$2
		shift
		;;
	--version=*) version=${1#--version=} ;;
	-*)
		echo "install.sh: unknown option $1" >&2
		usage >&2
		exit 2
		;;
	*)
		if [ -n "$target" ]; then
			usage >&2
			exit 2
		fi
		target=$1
		;;
	esac
	shift
done

src=$(cd "$(dirname "$0")" && pwd)
in_checkout=false
if [ -f "$src/go.mod" ] && [ -d "$src/cmd/reverb" ]; then
	in_checkout=true
fi
if [ -n "$version" ]; then
	if [ "$mode" = source ]; then
		echo "install.sh: --version picks a release to download; it cannot be combined with --source" >&2
		exit 2
	fi
	mode=download
fi
if [ -z "$mode" ]; then
	if $in_checkout; then mode=source; else mode=download; fi
fi
if [ "$mode" = source ] && ! $in_checkout; then
	die "--source needs the script inside a reverb checkout (git clone https://github.com/reverb-go/reverb); use --download otherwise"
fi

if [ -z "$target" ]; then
	if [ -f ./artisan ]; then
		target=.
	else
		echo "install.sh: the current directory is not a Laravel project root (no artisan file)." >&2
		echo >&2
		usage >&2
		exit 2
	fi
fi
if [ ! -d "$target" ]; then
	die "$target: no such directory"
fi
if [ ! -f "$target/artisan" ]; then
	echo "install.sh: $target is not a Laravel project root: it has no artisan file." >&2
	echo "Pass the folder that holds artisan, .env and config/ (e.g. ./install.sh ~/code/my-app)." >&2
	exit 1
fi
target=$(cd "$target" && pwd)

# Everything is prepared next to the destination and renamed over it at the
# end: the switch is atomic and a server already running from the old file
# is not disturbed.
tmp=
work=
cleanup() {
	[ -z "$tmp" ] || rm -f "$tmp"
	[ -z "$work" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tmp=$(mktemp "$target/.reverb.build.XXXXXX")

# --- build from source -------------------------------------------------------
build_from_source() {
	GO=${GO:-go}
	if ! command -v "$GO" >/dev/null 2>&1; then
		cat >&2 <<MSG
install.sh: no Go toolchain found ("$GO" is not on PATH).
Either download a release instead (no Go needed):
  ./install.sh --download $target
or build it with Go $(sed -n 's/^go //p' "$src/go.mod") or newer:
  - download it from https://go.dev/dl/ and add /usr/local/go/bin to PATH, or
  - use your package manager if it ships a recent enough Go (brew install go, ...), or
  - point GO at a toolchain: GO=/path/to/go ./install.sh $target
MSG
		exit 1
	fi
	echo "Building reverb with $("$GO" env GOVERSION 2>/dev/null || echo "$GO") ..."
	(cd "$src" && CGO_ENABLED=0 "$GO" build -trimpath -o "$tmp" ./cmd/reverb)
}

# --- download a release ------------------------------------------------------
detect_platform() {
	case $(uname -s) in
	Linux) os=linux ;;
	Darwin) os=darwin ;;
	MINGW* | MSYS* | CYGWIN* | Windows_NT)
		die "on Windows, download reverb_<version>_windows_amd64.zip from https://github.com/reverb-go/reverb/releases and unpack it with PowerShell's Expand-Archive (see the README)"
		;;
	*) die "no release for $(uname -s): build from source instead (git clone https://github.com/reverb-go/reverb && cd reverb && ./install.sh --source $target)" ;;
	esac
	case $(uname -m) in
	x86_64 | amd64) arch=amd64 ;;
	arm64 | aarch64 | armv8*) arch=arm64 ;;
	*) die "no release for the $(uname -m) CPU: build from source instead (./install.sh --source)" ;;
	esac
	# A shell running under Rosetta on Apple silicon reports x86_64: the
	# native binary is the better choice.
	if [ "$os" = darwin ] && [ "$arch" = amd64 ] &&
		[ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
		arch=arm64
	fi
}

fetch() { # fetch URL FILE
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 3 -o "$2" "$1" || die "could not download $1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1" || die "could not download $1"
	else
		die "neither curl nor wget is installed: install one of them, or download $1 by hand"
	fi
}

sha256_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | awk '{print $1}'
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | awk '{print $1}'
	elif command -v openssl >/dev/null 2>&1; then
		openssl dgst -sha256 "$1" | awk '{print $NF}'
	else
		die "no sha256sum, shasum or openssl to check the download with"
	fi
}

download_release() {
	detect_platform
	base=${REVERB_DOWNLOAD_URL:-https://github.com/reverb-go/reverb/releases}
	base=${base%/}
	work=$(mktemp -d "${TMPDIR:-/tmp}/reverb-install.XXXXXX")
	if [ -z "$version" ]; then
		sums_url="$base/latest/download/SHA256SUMS"
	else
		case $version in
		v*) ;;
		*) version=v$version ;;
		esac
		if ! printf '%s\n' "$version" | grep -Eq '^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'; then
			echo "install.sh: --version $version is not a release version (vX.Y.Z or vX.Y.Z-pre)" >&2
			exit 2
		fi
		sums_url="$base/download/$version/SHA256SUMS"
	fi
	echo "Downloading $sums_url ..."
	fetch "$sums_url" "$work/SHA256SUMS"
	# The archive's name carries the version: reverb_1.2.3_darwin_arm64.tar.gz.
	line=$(grep -E "^[0-9a-f]{64}  reverb_[0-9A-Za-z.-]+_${os}_${arch}\.tar\.gz\$" "$work/SHA256SUMS" | head -n 1 || true)
	[ -n "$line" ] || die "$sums_url lists no archive for $os/$arch"
	want=${line%% *}
	file=${line##* }
	if [ -z "$version" ]; then
		version=${file#reverb_}
		version=v${version%%_*}
	fi
	echo "Downloading $base/download/$version/$file ..."
	fetch "$base/download/$version/$file" "$work/$file"
	got=$(sha256_of "$work/$file")
	if [ "$got" != "$want" ]; then
		die "checksum mismatch for $file: SHA256SUMS says $want, the download is $got; nothing was installed"
	fi
	echo "Checksum OK ($want)"
	mkdir "$work/x"
	tar -xzf "$work/$file" -C "$work/x" reverb || die "could not unpack $file"
	cat "$work/x/reverb" >"$tmp"
}

if [ "$mode" = download ]; then
	download_release
else
	build_from_source
fi
chmod 0755 "$tmp"
mv -f "$tmp" "$target/reverb"
tmp=

installed=$("$target/reverb" --version 2>/dev/null | head -n 1 || true)
echo "Installed $target/reverb (${installed:-version unknown})"
if [ -d "$target/.git" ] && ! grep -Eqs '^/?reverb$' "$target/.gitignore"; then
	echo "(consider adding /reverb to $target/.gitignore: it is a built binary)"
fi
cat <<EOF

Next, in $target:
  ./reverb install   # adds the REVERB_* lines to .env and config/reverb.php (skip if reverb:install ran)
  ./reverb start     # serves like php artisan reverb:start
  ./reverb doctor    # checks limits and config before production
EOF
