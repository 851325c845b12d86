#!/usr/bin/env bash
# Interop test: panva's certified openid-client (pinned in package.json) runs the CIBA poll flow
# (ciba.test.mjs: discovery, approve, deny, expiry) and the workforce sign-in (code.test.mjs:
# authorization code with PKCE, userinfo, rotating refresh tokens) against a freshly started
# countersign-provider.
# Usage: run.sh PATH/TO/countersign-provider
set -euo pipefail

BIN=${1:?usage: run.sh PATH/TO/countersign-provider}
[ -x "$BIN" ] || { echo "interop: $BIN is not an executable"; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
HERE=$(cd "$(dirname "$0")" && pwd)

# The npm packages, installed from package-lock.json only when missing or changed.
"$HERE/../../../scripts/setup.sh" npm "$HERE"

# A fresh provider on a free port (BASE), stopped and its data removed on exit.
. "$HERE/../start-provider.sh"
start_provider "$BIN" interop

echo "interop: openid-client $(cd "$HERE" && node -p 'require("openid-client/package.json").version') against $BASE"
status=0
(cd "$HERE" && COUNTERSIGN_ISSUER="$BASE" node --test --test-reporter=spec ciba.test.mjs code.test.mjs) || status=$?
if [ "$status" -ne 0 ]; then
  echo "interop: failed; the provider's log:"
  cat "$LOG"
  exit "$status"
fi
