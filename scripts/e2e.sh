#!/usr/bin/env bash
# Runs the Playwright suite against a Countersign that Playwright starts itself (see
# end2end/playwright.config.ts), on two free loopback ports, with a throw-away data folder.
# Expects `cargo leptos build` to have run. Extra arguments go to `playwright test`.
set -euo pipefail
cd "$(dirname "$0")/../end2end"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

E2E_PORT=$(free_port)
E2E_PROVIDER_PORT=$(free_port)
while [ "$E2E_PROVIDER_PORT" = "$E2E_PORT" ]; do E2E_PROVIDER_PORT=$(free_port); done
E2E_DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/countersign-e2e.XXXXXX")
trap 'rm -rf "$E2E_DATA_DIR"' EXIT
export E2E_PORT E2E_PROVIDER_PORT E2E_DATA_DIR
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

echo "e2e: Countersign on 127.0.0.1:$E2E_PORT, provider on 127.0.0.1:$E2E_PROVIDER_PORT"
npx --no-install playwright test "$@"
