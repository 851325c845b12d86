#!/usr/bin/env bash
# Installs what Countersign's build and tests need, each piece only when it is missing or at the
# wrong version, so a second run does nothing.
# Usage: scripts/setup.sh rust|rust-tests|fuzz|chromium|e2e|binaryen|weigh|postgres|cluster|bench|interop-standard
#
# Nothing here downloads from outside the package registries: Rust tools come from crates.io,
# Chromium, the SMTP test server (python3-aiosmtpd) and brotli from Debian, Playwright and
# binaryen (wasm-opt) from npm, with browser downloads off, PostgreSQL, nginx and wrk from
# Debian.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLCHAIN=$(sed -n 's/^channel = "\(.*\)"$/\1/p' rust-toolchain.toml)
# 0.3.11 needs a newer rustc than the pinned toolchain; 0.3.10 builds with --locked.
CARGO_LEPTOS_VERSION=0.3.10
# The CLI must match the wasm-bindgen crate exactly; the crate's pin in Cargo.toml is the source.
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = { version = "=\([^"]*\)" }$/\1/p' Cargo.toml)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

rust() {
  command -v rustup >/dev/null || die "rustup is needed (https://rustup.rs), then run this again"
  if ! rustup toolchain list | grep -q "^$TOOLCHAIN"; then
    say "installing Rust $TOOLCHAIN"
    rustup toolchain install "$TOOLCHAIN" --profile minimal --component rustfmt,clippy
  fi
  local have
  have=$(rustup component list --installed --toolchain "$TOOLCHAIN")
  for component in rustfmt clippy; do
    grep -q "^$component" <<<"$have" || rustup component add --toolchain "$TOOLCHAIN" "$component"
  done
  rustup target list --installed --toolchain "$TOOLCHAIN" | grep -qx wasm32-unknown-unknown \
    || { say "adding the wasm32-unknown-unknown target"; rustup target add --toolchain "$TOOLCHAIN" wasm32-unknown-unknown; }

  if [ "$(cargo leptos --version 2>/dev/null)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
    say "building cargo-leptos $CARGO_LEPTOS_VERSION (about 25 minutes on 2 cores, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    say "building wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 6 minutes, once)"
    # Not --locked: its lockfile pins a webpki-roots release that the registry no longer has.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
}

# cargo fuzz (libFuzzer), for scripts/fuzz.sh. It runs on stable Rust with `--sanitizer none`.
CARGO_FUZZ_VERSION=0.13.2
fuzz() {
  rust
  if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    say "building cargo-fuzz $CARGO_FUZZ_VERSION (a few minutes, once)"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
  fi
}

# The provider's SMTP sender tests (provider/tests/it/senders.rs) run Python's aiosmtpd; they try
# the python3 on PATH, then Debian's /usr/bin/python3, which is the one the package equips.
smtp_test_server() {
  local python
  for python in python3 /usr/bin/python3; do
    "$python" -c 'import aiosmtpd' 2>/dev/null && return 0
  done
  say "installing Debian's python3-aiosmtpd (an SMTP server for the provider's tests)"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends python3-aiosmtpd
}

node() {
  command -v npm >/dev/null || die "Node.js 20 with npm is needed (Debian: apt-get install nodejs npm)"
}

chromium() {
  if [ ! -x "$CHROMIUM" ]; then
    say "installing Debian's chromium"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium
  fi
}

# The brotli CLI, with which scripts/weigh.sh measures compressed sizes.
brotli_cli() {
  if ! command -v brotli >/dev/null; then
    say "installing Debian's brotli (for scripts/weigh.sh)"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends brotli
  fi
}

# Debian's PostgreSQL server, for scripts/with-postgres.sh, which runs its own throwaway server.
# The package creates and starts a system cluster on port 5432 that we never use: stop it, and
# mark it manual so it does not come back at boot.
postgres() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && return 0
  say "installing Debian's postgresql (for scripts/with-postgres.sh)"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends postgresql
  local version cluster
  pg_lsclusters -h 2>/dev/null | while read -r version cluster _; do
    $SUDO pg_ctlcluster "$version" "$cluster" stop 2>/dev/null || true
    echo manual | $SUDO tee "/etc/postgresql/$version/$cluster/start.conf" >/dev/null || true
  done || true
  $SUDO service postgresql stop >/dev/null 2>&1 || true
}

# Debian's nginx, the load balancer of `make test-cluster` (which runs its own, on free loopback
# ports). The package starts a system server on port 80 that we never use: stop it and keep it
# from starting at boot.
nginx_server() {
  [ -x /usr/sbin/nginx ] && return 0
  say "installing Debian's nginx (for make test-cluster)"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends nginx
  $SUDO service nginx stop >/dev/null 2>&1 || true
  $SUDO systemctl disable nginx >/dev/null 2>&1 || true
}

# wrk, the load generator of `make bench`.
wrk_tool() {
  command -v wrk >/dev/null && return 0
  say "installing Debian's wrk (for make bench)"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends wrk
}

# Debian's openssl, which makes the throw-away TLS certificate of `make interop-standard`'s ping
# run (oidc-provider notifies only https endpoints).
openssl_cli() {
  command -v openssl >/dev/null && return 0
  say "installing Debian's openssl (for make interop-standard)"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends openssl
}

# `npm ci` in $1 when its node_modules is missing, or package.json or package-lock.json changed
# since the last install (a stamp inside node_modules holds their hash).
npm_ci() {
  node
  local stamp="$1/node_modules/.countersign-npm-ci.sha256" want
  want=$(cat "$1/package.json" "$1/package-lock.json" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "npm ci in $1"
    (cd "$1" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}

case "${1:-}" in
  rust) rust ;;
  rust-tests) rust; smtp_test_server ;;
  fuzz) fuzz ;;
  chromium) chromium ;;
  e2e) chromium; npm_ci end2end ;;
  binaryen) npm_ci . ;;
  weigh) brotli_cli ;;
  postgres) postgres ;;
  cluster) rust; postgres; nginx_server; chromium; npm_ci end2end ;;
  bench) rust; wrk_tool; npm_ci server/tests/standard ;;
  interop-standard) openssl_cli; npm_ci server/tests/standard ;;
  npm) [ -d "${2:-}" ] || die "usage: $0 npm DIR"; npm_ci "$2" ;;
  *) die "usage: $0 rust|rust-tests|fuzz|chromium|e2e|binaryen|weigh|postgres|cluster|bench|interop-standard|npm DIR" ;;
esac
