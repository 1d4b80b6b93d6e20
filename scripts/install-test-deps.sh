#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine:
# PHP (the oracle for .env, serialize() and cache-store bytes), Laravel's own
# cache classes and predis (Sentinel), redis-server and redis-tools (redis-cli
# builds the test clusters), memcached, the npm clients from the committed
# lockfile, Go modules and staticcheck; for the companion Laravel package,
# PHPUnit, Composer and the PHP extensions the real Laravel test app needs
# (curl, mbstring, xml, sqlite3, zip); podman for the container image test; chromium (headless, over
# the DevTools protocol) for the browser case of the user features.
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_pkgs=(php-cli php-vlucas-phpdotenv php-laravel-framework php-sqlite3 php-redis php-predis php-mysql php-pgsql
  php-memcached redis-server redis-tools memcached sqlite3 mariadb-server postgresql openssl make podman runc shellcheck curl
  php-curl php-mbstring php-xml php-zip phpunit composer chromium)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian packages start these services; the tests start their own on
# private ports, so the system copies are not needed.
(cd tests && npm ci --no-audit --no-fund --loglevel=error)
go mod download
if ! command -v staticcheck >/dev/null 2>&1 && [ ! -x "$(go env GOPATH)/bin/staticcheck" ]; then
  go install honnef.co/go/tools/cmd/staticcheck@latest || echo "staticcheck could not be installed; lint will skip it" >&2
fi
