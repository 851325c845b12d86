#!/usr/bin/env bash
# Interop test of the BFF's `standard` provider profile: panva's oidc-provider (pinned in
# package.json) runs as a standards-compliant CIBA provider (provider.mjs), the BFF is pointed at
# it, and bff.test.mjs signs an agent in and has one verification approved and one denied.
# With `ping`, the client is registered for CIBA ping mode and oidc-provider notifies the BFF's
# /ciba/notify; oidc-provider notifies only https endpoints, so provider.mjs puts a TLS relay
# with a throw-away certificate (made here with openssl) in front of it, as a proxy would be.
# Both servers run on free loopback ports with a throw-away data folder; on failure both logs
# are printed.
# Usage: run.sh PATH/TO/countersign [poll|ping]
set -euo pipefail

BIN=${1:?usage: run.sh PATH/TO/countersign [poll|ping]}
DELIVERY=${2:-poll}
case "$DELIVERY" in poll|ping) ;; *) echo "interop-standard: $DELIVERY is not poll or ping"; exit 2 ;; esac
[ -x "$BIN" ] || { echo "interop-standard: $BIN is not an executable"; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
HERE=$(cd "$(dirname "$0")" && pwd)

# The npm packages, installed from package-lock.json only when missing or changed, and openssl.
"$HERE/../../../scripts/setup.sh" interop-standard

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PROVIDER_PORT=$(free_port)
BFF_PORT=$(free_port)
while [ "$BFF_PORT" = "$PROVIDER_PORT" ]; do BFF_PORT=$(free_port); done
TLS_PORT=$(free_port)
while [ "$TLS_PORT" = "$PROVIDER_PORT" ] || [ "$TLS_PORT" = "$BFF_PORT" ]; do TLS_PORT=$(free_port); done
PROVIDER_URL="http://127.0.0.1:$PROVIDER_PORT"
BFF_URL="http://127.0.0.1:$BFF_PORT"
CLIENT_ID=countersign-bff
CLIENT_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')

DATA=$(mktemp -d "${TMPDIR:-/tmp}/countersign-standard.XXXXXX")
PROVIDER_LOG="$DATA/oidc-provider.log"
BFF_LOG="$DATA/bff.log"
PROVIDER_PID=
BFF_PID=

# Stop both servers and remove the data on exit; "|| true" because errexit also holds in the
# trap.
cleanup() {
  for pid in $BFF_PID $PROVIDER_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$DATA"
}
trap cleanup EXIT

show_logs() {
  echo "interop-standard: oidc-provider's log:"
  cat "$PROVIDER_LOG"
  echo "interop-standard: the BFF's log:"
  cat "$BFF_LOG"
}

# Waits up to 10 s for URL to answer 2xx while process PID runs; on failure prints both logs and
# exits.
wait_for() {
  local url=$1 what=$2 pid=$3
  for _ in $(seq 100); do
    curl -fs "$url" >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  curl -fs "$url" >/dev/null && return 0
  show_logs
  echo "interop-standard: $what did not start"
  exit 1
}

if [ "$DELIVERY" = ping ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$DATA/tls-key.pem" -out "$DATA/tls-cert.pem" 2>/dev/null
fi

(cd "$HERE" && PROVIDER_PORT=$PROVIDER_PORT BFF_URL=$BFF_URL CLIENT_ID=$CLIENT_ID \
  CLIENT_SECRET=$CLIENT_SECRET DELIVERY=$DELIVERY TLS_PORT=$TLS_PORT \
  TLS_KEY="$DATA/tls-key.pem" TLS_CERT="$DATA/tls-cert.pem" exec node provider.mjs) \
  >"$PROVIDER_LOG" 2>&1 &
PROVIDER_PID=$!
wait_for "$PROVIDER_URL/.well-known/openid-configuration" "oidc-provider" "$PROVIDER_PID"

# The BFF's /readyz answers 200 once it has discovered the provider.
COUNTERSIGN_ADDR="127.0.0.1:$BFF_PORT" \
  COUNTERSIGN_METRICS_ADDR=127.0.0.1:0 \
  COUNTERSIGN_PROVIDER_PROFILE=standard \
  COUNTERSIGN_PROVIDER_URL="$PROVIDER_URL" \
  COUNTERSIGN_CLIENT_ID="$CLIENT_ID" \
  COUNTERSIGN_CLIENT_SECRET="$CLIENT_SECRET" \
  COUNTERSIGN_TOKEN_DELIVERY="$DELIVERY" \
  COUNTERSIGN_DATA_DIR="$DATA/bff" \
  RUST_LOG=info \
  "$BIN" >"$BFF_LOG" 2>&1 &
BFF_PID=$!
wait_for "$BFF_URL/readyz" "the BFF" "$BFF_PID"

echo "interop-standard ($DELIVERY mode): the BFF on $BFF_URL, oidc-provider $(cd "$HERE" && node -p 'require("oidc-provider/package.json").version') on $PROVIDER_URL"
status=0
(cd "$HERE" && BFF_URL=$BFF_URL PROVIDER_URL=$PROVIDER_URL CLIENT_SECRET=$CLIENT_SECRET \
  DELIVERY=$DELIVERY node --test --test-reporter=spec bff.test.mjs) || status=$?
if [ "$status" -ne 0 ]; then
  echo "interop-standard: failed"
  show_logs
  exit "$status"
fi
