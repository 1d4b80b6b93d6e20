#!/bin/sh
# install.sh — build reverb from this checkout and put the binary into a
# Laravel project root.
#
#   ./install.sh [LARAVEL_DIR]
#
# LARAVEL_DIR defaults to the current directory when it holds an artisan
# file. Running it again rebuilds and replaces the binary atomically (a
# running server keeps its old inode and is not disturbed). Set GO to use a
# specific toolchain (GO=/usr/local/go/bin/go ./install.sh ...).
set -eu

usage() {
	cat <<'EOF'
Usage: ./install.sh [LARAVEL_DIR]

Builds reverb (a Go drop-in for Laravel Reverb) and installs it as
LARAVEL_DIR/reverb. LARAVEL_DIR must be a Laravel project root (it has an
artisan file); it defaults to the current directory when that has one.

Then, in the project:
  ./reverb install   # REVERB_* lines in .env, config/reverb.php (like reverb:install)
  ./reverb start     # like php artisan reverb:start
EOF
}

case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
esac
if [ $# -gt 1 ]; then
	usage >&2
	exit 2
fi

src=$(cd "$(dirname "$0")" && pwd)
target=${1:-}
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
	echo "install.sh: $target: no such directory" >&2
	exit 1
fi
if [ ! -f "$target/artisan" ]; then
	echo "install.sh: $target is not a Laravel project root: it has no artisan file." >&2
	echo "Pass the folder that holds artisan, .env and config/ (e.g. ./install.sh ~/code/my-app)." >&2
	exit 1
fi
target=$(cd "$target" && pwd)

GO=${GO:-go}
if ! command -v "$GO" >/dev/null 2>&1; then
	cat >&2 <<EOF
install.sh: no Go toolchain found ("$GO" is not on PATH).
reverb is built from source and needs Go $(sed -n 's/^go //p' "$src/go.mod") or newer:
  - download it from https://go.dev/dl/ and add /usr/local/go/bin to PATH, or
  - use your package manager if it ships a recent enough Go (brew install go, ...), or
  - point GO at a toolchain: GO=/path/to/go ./install.sh $target
EOF
	exit 1
fi

# Build next to the destination, then rename: the switch is atomic and a
# server already running from the old file is not disturbed.
tmp=$(mktemp "$target/.reverb.build.XXXXXX")
trap 'rm -f "$tmp"' EXIT INT TERM
echo "Building reverb with $("$GO" env GOVERSION 2>/dev/null || echo "$GO") ..."
(cd "$src" && "$GO" build -trimpath -o "$tmp" ./cmd/reverb)
chmod 0755 "$tmp"
mv -f "$tmp" "$target/reverb"
trap - EXIT INT TERM

echo "Installed $target/reverb"
if [ -d "$target/.git" ] && ! grep -qs '^/\?reverb$' "$target/.gitignore"; then
	echo "(consider adding /reverb to $target/.gitignore: it is a built binary)"
fi
cat <<EOF

Next, in $target:
  ./reverb install   # adds the REVERB_* lines to .env and config/reverb.php (skip if reverb:install ran)
  ./reverb start     # serves like php artisan reverb:start
  ./reverb doctor    # checks limits and config before production
EOF
