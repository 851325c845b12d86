# Sourced (not run) by interop/run.sh and seed/replay.sh, which set -euo pipefail themselves.
#
# start_provider BIN NAME: starts the countersign-provider BIN on a free port of 127.0.0.1 with a
# fresh data folder in a temporary one named after NAME, and waits for its /healthz. Sets PORT,
# BASE (its URL), DATA (the temporary folder), LOG (the provider's output, in DATA) and PID, and
# installs an EXIT trap that stops the provider and removes DATA. The tests read links and codes
# from the development outbox, so COUNTERSIGN_DEV_OUTBOX=true serves it. If the provider does not start,
# prints its log and "NAME: the provider did not start" and exits 1.
start_provider() {
  local bin=${1:?usage: start_provider BIN NAME} name=${2:?usage: start_provider BIN NAME}
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  BASE="http://127.0.0.1:$PORT"
  DATA=$(mktemp -d "${TMPDIR:-/tmp}/countersign-$name.XXXXXX")
  LOG="$DATA/provider.log"
  COUNTERSIGN_PROVIDER_ADDR="127.0.0.1:$PORT" COUNTERSIGN_PROVIDER_METRICS_ADDR=127.0.0.1:0 \
    COUNTERSIGN_DATA_DIR="$DATA/data" COUNTERSIGN_DEV_OUTBOX=true \
    RUST_LOG=warn "$bin" >"$LOG" 2>&1 &
  PID=$!
  trap stop_provider EXIT

  for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done
  curl -fs "$BASE/healthz" >/dev/null || { cat "$LOG"; echo "$name: the provider did not start"; exit 1; }
}

# Always stop the provider and remove the data; "|| true" because errexit also holds in the
# trap, and a provider that already exited would otherwise keep the folder from being removed.
stop_provider() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  rm -rf "$DATA"
}
