#!/usr/bin/env bash
# `make bench`: Countersign's provider side by side with panva's node-oidc-provider (npm, the
# version server/tests/standard pins) and a bare axum handler, in one sitting, each server
# started fresh, with the same wrk scripts (scripts/bench/). Prints one table and writes it to
# docs/bench.md with the machine, the date and the command. A benchmark, never a test: the
# figures are what this machine gave in this run; compare ratios within one run.
#
#   P1  the token endpoint answering pending CIBA polls (200 requests polled in turn, far faster
#       than their interval: every answer is `slow_down`): req/s, p50, p99, RSS after the run;
#   P2  backchannel requests (each stored and its message put in the outbox), the limits set
#       wide for the run: req/s, p50, p99, RSS after the run;
#   P3  from the customer's Approve to the agent's stream showing `approved` and `verified`,
#       20 approvals in poll mode and 20 in ping mode, taking turns
#       (server/benches/approve.rs, in process, release);
#   P4  1,000 and 10,000 event streams open on a release `countersign`, each a supervisor's
#       (every one sees every event): RSS per stream, and the time from starting one
#       verification to each stream's frame, p50 and p99 (server/benches/streams.rs);
#   P6  start to ready and idle RSS of the release `countersign` (BFF and embedded provider,
#       ready when /readyz answers 200) and `countersign-provider`.
#
# Environment: BENCH_SECONDS (10) per wrk run, BENCH_CONNECTIONS (16).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
IDS=200
CLIENT_ID=agent-console
CLIENT_SECRET=demo-console-secret
BASIC=$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)

scripts/setup.sh bench
# Two builds: the example brings the dev-dependencies, whose features must not reach the binary.
cargo build --release -p provider --bin countersign-provider
cargo build --release -p provider --example bare-token
cargo build --release -p server --bin countersign
PROVIDER_BIN=target/release/countersign-provider
BFF_BIN=target/release/countersign
BARE_BIN=target/release/examples/bare-token
NODE_DIR=server/tests/standard

work=$(mktemp -d "${TMPDIR:-/tmp}/countersign-bench.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until $1 answers (any status; 2xx only with a third argument `ok`) and prints the
# milliseconds since $2 (ms since the epoch).
wait_ready() {
  local url=$1 since=$2 flags=-s
  [ "${3:-}" = ok ] && flags=-fs
  for _ in $(seq 1 600); do
    if curl "$flags" -o /dev/null "$url"; then
      echo $(($(date +%s%3N) - since))
      return 0
    fi
    sleep 0.01
  done
  echo "bench: $url did not answer" >&2
  return 1
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Starts a server: "$@" is the command; sets STARTED_PID. Its output goes to $work/NAME.log.
start() {
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  STARTED_PID=$!
  pids+=("$STARTED_PID")
}

stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Runs wrk against $1 with script $2: prints "req/s p50 p99 non-2xx" (latencies in ms).
run_wrk() {
  local url=$1 script=$2 out
  out=$(wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$script" "$url")
  echo "$out" >>"$work/wrk.log"
  local rps p50 p99 other
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  other=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${other:-0}"
}

# wrk's latency ("812.00us", "3.21ms", "1.02s") in milliseconds.
to_ms() {
  python3 -c '
import sys
v = sys.argv[1]
for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
    if v.endswith(unit):
        print(f"{float(v[: -len(unit)]) * f:.2f}")
        break
' "$1"
}

# --- Countersign's provider -------------------------------------------------------------------
countersign_provider() {
  local port=$1 data=$2
  start countersign env \
    COUNTERSIGN_PROVIDER_ADDR="127.0.0.1:$port" \
    COUNTERSIGN_PROVIDER_METRICS_ADDR=127.0.0.1:0 \
    COUNTERSIGN_DATA_DIR="$data" \
    COUNTERSIGN_PROVIDER_LIMIT_BACKCHANNEL_PER_CLIENT=1000000000/1m \
    COUNTERSIGN_PROVIDER_LIMIT_BACKCHANNEL_PER_CUSTOMER=1000000000/10m \
    COUNTERSIGN_PROVIDER_LIMIT_SMS_PER_NUMBER=1000000000/1d \
    RUST_LOG=warn \
    "$PROVIDER_BIN"
}

# Starts $IDS pending requests at the Countersign provider on $1 (link channel: no message);
# writes their ids to $2.
countersign_ids() {
  local port=$1 file=$2
  : >"$file"
  for _ in $(seq 1 "$IDS"); do
    curl -s -u "$CLIENT_ID:$CLIENT_SECRET" "http://127.0.0.1:$port/cis/oidc/backchannel" \
      -d scope=openid -d login_hint=+15555550101 -d binding_message=BENCH \
      --data-urlencode 'request_context={"channel": "link"}' |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["auth_req_id"])' >>"$file"
  done
}

# --- node-oidc-provider -------------------------------------------------------------------------
node_provider() {
  local port=$1
  start node env PROVIDER_PORT="$port" DELIVERY=poll BFF_URL=http://127.0.0.1:9 CLIENT_ID="$CLIENT_ID" \
    CLIENT_SECRET="$CLIENT_SECRET" node "$NODE_DIR/provider.mjs"
}

node_ids() {
  local port=$1 file=$2
  : >"$file"
  for _ in $(seq 1 "$IDS"); do
    curl -s -u "$CLIENT_ID:$CLIENT_SECRET" "http://127.0.0.1:$port/backchannel" \
      -d scope=openid -d login_hint=customer-alice -d binding_message=BENCH |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["auth_req_id"])' >>"$file"
  done
}

export BENCH_BASIC=$BASIC
rows=()
row() { rows+=("$(printf '| %s | %s | %s | %s | %s | %s |' "$@")"); }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

echo "bench: P1, token polls ($CONNECTIONS connections, ${SECONDS_PER_RUN} s each)"
port=$(free_port)
countersign_provider "$port" "$work/p1"
pid=$STARTED_PID
wait_ready "http://127.0.0.1:$port/healthz" "$(date +%s%3N)" >/dev/null
countersign_ids "$port" "$work/ids-countersign"
read -r cs_rps cs_p50 cs_p99 cs_other < <(BENCH_IDS="$work/ids-countersign" BENCH_PATH=/oidc/token \
  run_wrk "http://127.0.0.1:$port" scripts/bench/poll.lua)
row "P1 token polls: Countersign provider" "$cs_rps" "$cs_p50" "$cs_p99" "$cs_other" "$(mib "$(rss_kib "$pid")")"
stop "$pid"

port=$(free_port)
node_provider "$port"
pid=$STARTED_PID
wait_ready "http://127.0.0.1:$port/.well-known/openid-configuration" "$(date +%s%3N)" >/dev/null
node_ids "$port" "$work/ids-node"
read -r node_rps node_p50 node_p99 node_other < <(BENCH_IDS="$work/ids-node" BENCH_PATH=/token \
  run_wrk "http://127.0.0.1:$port" scripts/bench/poll.lua)
row "P1 token polls: node-oidc-provider" "$node_rps" "$node_p50" "$node_p99" "$node_other" "$(mib "$(rss_kib "$pid")")"
stop "$pid"

port=$(free_port)
start bare "$BARE_BIN" "127.0.0.1:$port"
pid=$STARTED_PID
wait_ready "http://127.0.0.1:$port/oidc/token" "$(date +%s%3N)" >/dev/null
read -r bare_rps bare_p50 bare_p99 bare_other < <(BENCH_IDS="$work/ids-countersign" BENCH_PATH=/oidc/token \
  run_wrk "http://127.0.0.1:$port" scripts/bench/poll.lua)
row "P1 token polls: bare axum handler" "$bare_rps" "$bare_p50" "$bare_p99" "$bare_other" "$(mib "$(rss_kib "$pid")")"
stop "$pid"

echo "bench: P2, backchannel requests"
hints=$work/hints
# Mosaic's shape: a phone number is an SMS (an email address needs a request_context).
printf '%s\n' +15555550101 +15555550102 >"$hints"
port=$(free_port)
countersign_provider "$port" "$work/p2"
pid=$STARTED_PID
wait_ready "http://127.0.0.1:$port/healthz" "$(date +%s%3N)" >/dev/null
read -r cs2_rps cs2_p50 cs2_p99 cs2_other < <(BENCH_HINTS="$hints" BENCH_PATH=/cis/oidc/backchannel \
  run_wrk "http://127.0.0.1:$port" scripts/bench/backchannel.lua)
row "P2 backchannel: Countersign provider" "$cs2_rps" "$cs2_p50" "$cs2_p99" "$cs2_other" "$(mib "$(rss_kib "$pid")")"
stop "$pid"

printf '%s\n' +15555550101 +15555550102 >"$hints"
port=$(free_port)
node_provider "$port"
pid=$STARTED_PID
wait_ready "http://127.0.0.1:$port/.well-known/openid-configuration" "$(date +%s%3N)" >/dev/null
read -r node2_rps node2_p50 node2_p99 node2_other < <(BENCH_HINTS="$hints" BENCH_PATH=/backchannel \
  run_wrk "http://127.0.0.1:$port" scripts/bench/backchannel.lua)
row "P2 backchannel: node-oidc-provider" "$node2_rps" "$node2_p50" "$node2_p99" "$node2_other" "$(mib "$(rss_kib "$pid")")"
stop "$pid"

echo "bench: P3, approve to approved and verified on the agent's stream"
while read -r _ p3_mode p3_n _ p3_a50 p3_a99 _ p3_v50 p3_v99; do
  row "P3 $p3_mode mode: Approve → \`approved\` on the stream ($p3_n approvals)" "—" "$p3_a50" "$p3_a99" "—" "—"
  row "P3 $p3_mode mode: Approve → \`verified\` on the stream" "—" "$p3_v50" "$p3_v99" "—" "—"
  if [ "$p3_mode" = ping ]; then p3_ping_v50=$p3_v50 p3_ping_v99=$p3_v99; fi
  if [ "$p3_mode" = poll ]; then p3_poll_v50=$p3_v50 p3_poll_v99=$p3_v99; fi
done < <(cargo bench -q -p server --bench approve 2>"$work/p3.log" | awk '$1 == "P3"')

echo "bench: P4, event streams and one event fanned out to all"
while read -r _ p4_n p4_kib p4_p50 p4_p99 p4_got; do
  row "P4 $p4_n streams (a supervisor each): one event to all, $p4_got received" "—" "$p4_p50" "$p4_p99" "—" "$p4_kib KiB a stream"
  p4_last="$p4_n streams: $p4_kib KiB each, fan-out p99 $p4_p99 ms"
done < <(BENCH_BFF_BIN="$PWD/$BFF_BIN" cargo bench -q -p server --bench streams 2>"$work/p4.log" | awk '$1 == "P4"')

# The BFF with its embedded provider, as `make run` starts it (the site is not needed to be ready).
countersign_bff() {
  local port=$1 data=$2 provider_port
  provider_port=$(free_port)
  start bff env \
    COUNTERSIGN_ADDR="127.0.0.1:$port" \
    COUNTERSIGN_PROVIDER_ADDR="127.0.0.1:$provider_port" \
    COUNTERSIGN_METRICS_ADDR=off \
    COUNTERSIGN_DATA_DIR="$data" \
    RUST_LOG=warn \
    "$BFF_BIN"
}

echo "bench: P6, start to ready (a first start seeds the data folder; then 5 restarts each, the median)"
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# Starts server kind $1 five times (after one untimed first start) and sets READY and IDLE to
# the medians: ms from the start to the first answer, and RSS (KiB) one second later.
restarts() {
  local kind=$1 data=$work/p6-$1 times=() rss=() port began
  for n in 0 1 2 3 4 5; do
    port=$(free_port)
    began=$(date +%s%3N)
    local ok=
    if [ "$kind" = countersign ]; then
      countersign_provider "$port" "$data"
      local url="http://127.0.0.1:$port/healthz"
    elif [ "$kind" = bff ]; then
      countersign_bff "$port" "$data"
      local url="http://127.0.0.1:$port/readyz"
      ok=ok
    else
      node_provider "$port"
      local url="http://127.0.0.1:$port/.well-known/openid-configuration"
    fi
    local ms
    ms=$(wait_ready "$url" "$began" $ok)
    sleep 1
    if [ "$n" -gt 0 ]; then
      times+=("$ms")
      rss+=("$(rss_kib "$STARTED_PID")")
    fi
    stop "$STARTED_PID"
  done
  READY=$(median "${times[@]}")
  IDLE=$(median "${rss[@]}")
}
restarts bff
bff_ready=$READY bff_idle=$IDLE
row "P6 start to ready, then idle: \`countersign\` (BFF + embedded provider)" "—" "$READY ms to ready" "—" "—" "$(mib "$IDLE") idle"
restarts countersign
row "P6 start to ready, then idle: Countersign provider" "—" "$READY ms to ready" "—" "—" "$(mib "$IDLE") idle"
restarts node
row "P6 start to ready, then idle: node-oidc-provider" "—" "$READY ms to ready" "—" "—" "$(mib "$IDLE") idle"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f×", a / b; else print "—" }'; }
percent() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f %%", 100 * a / b; else print "—" }'; }

table=$(
  echo "| measure | req/s | p50 ms | p99 ms | answers not 2xx | RSS after |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "| ratio (this run) | figure | target |"
  echo "|---|---|---|"
  echo "| P1 Countersign ÷ node-oidc-provider | $(ratio "$cs_rps" "$node_rps") | ≥ 15× |"
  echo "| P1 Countersign ÷ bare axum | $(percent "$cs_rps" "$bare_rps") | ≥ 50 % |"
  echo "| P2 Countersign ÷ node-oidc-provider | $(ratio "$cs2_rps" "$node2_rps") | ≥ 10× |"
  echo "| P3 Approve → \`verified\`, ping mode, p50 / p99 | ${p3_ping_v50:-?} / ${p3_ping_v99:-?} ms (poll mode: ${p3_poll_v50:-?} / ${p3_poll_v99:-?} ms) | p99 ≤ 100 ms |"
  echo "| P4 the largest run | ${p4_last:-not measured} | 10,000 streams ≤ 10 KiB each, fan-out p99 ≤ 250 ms |"
  echo "| P6 \`countersign\` ready, idle RSS | $bff_ready ms, $(mib "$bff_idle") | ≤ 300 ms, ≤ 30 MiB |"
)
node_version=$(node -p "require('./$NODE_DIR/node_modules/oidc-provider/package.json').version")
{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d): $(nproc) cores,"
  echo "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); wrk 1 thread,"
  echo "$CONNECTIONS connections, ${SECONDS_PER_RUN} s a run; release builds; node-oidc-provider $node_version on"
  echo "Node $(node --version). One run of each, side by side: this machine is noisy, so the ratios"
  echo "within the run are the figures that count."
  echo
  echo "$table"
} >docs/bench.md
echo
echo "$table"
echo
echo "bench: written to docs/bench.md"
