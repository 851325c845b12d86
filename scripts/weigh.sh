#!/usr/bin/env bash
# First-load weight of the customer's approval page and of the agent console: what a browser
# fetches on a first visit (the HTML, then the CSS, JS and wasm it references, and any JS
# those modules import statically), each as raw, gzip -9 and brotli (quality 11) bytes, and
# as the server actually sends it when the browser accepts `br, gzip`. A wasm chunk that the
# page preloads (Leptos does so for a lazy route's chunks under `--split`) counts; one loaded
# only later does not. The HTML carries a random nonce, so its compressed size varies a little.
#
# Usage: scripts/weigh.sh [URL]
#   URL  a running Countersign, e.g. http://127.0.0.1:3000. Without it, the script starts
#        $COUNTERSIGN_BIN (default target/release/countersign) with the embedded provider on two
#        free loopback ports, site files from $COUNTERSIGN_SITE_ROOT (default $LEPTOS_SITE_ROOT,
#        else target/site) and a throw-away data folder, and stops it at the end. The defaults
#        are in this repository; paths given in those variables are from the current folder.
# `make weigh` builds the release first (wasm-opt included), which is what these numbers mean.
# Needs curl, gzip and the brotli CLI (`scripts/setup.sh weigh` installs Debian's).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

APPROVE_PATH='/approve?auth_req_id=x&binding_message=ABC-DEF'
CONSOLE_PATH='/'

die() { printf 'weigh: %s\n' "$*" >&2; exit 1; }
for tool in curl gzip brotli python3; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh weigh installs brotli)"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/countersign-weigh.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# $1 as an absolute path: relative ones are from the current folder.
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

start_server() {
  local bin site
  bin=$(absolute "${COUNTERSIGN_BIN:-$ROOT/target/release/countersign}")
  site=$(absolute "${COUNTERSIGN_SITE_ROOT:-${LEPTOS_SITE_ROOT:-$ROOT/target/site}}")
  [ -x "$bin" ] || die "$bin is missing: run \`make release\` first (or pass a URL)"
  [ -f "$site/pkg/countersign.wasm" ] || die "$site/pkg/countersign.wasm is missing: run \`make release\`"
  local port provider_port
  port=$(free_port)
  provider_port=$(free_port)
  while [ "$provider_port" = "$port" ]; do provider_port=$(free_port); done
  mkdir -p "$WORK/data"
  COUNTERSIGN_ADDR="127.0.0.1:$port" \
    COUNTERSIGN_METRICS_ADDR=127.0.0.1:0 \
    COUNTERSIGN_PROVIDER_ADDR="127.0.0.1:$provider_port" \
    COUNTERSIGN_DATA_DIR="$WORK/data" \
    COUNTERSIGN_SITE_ROOT="$site" \
    RUST_LOG=${RUST_LOG:-warn} \
    "$bin" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  BASE="http://127.0.0.1:$port"
  local tries=0
  until curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "$bin exited"; }
    tries=$((tries + 1))
    [ "$tries" -lt 600 ] || { cat "$WORK/server.log" >&2; die "$bin did not answer in 60 s"; }
    sleep 0.1
  done
  printf 'weigh: started %s on %s (site %s)\n' "$bin" "$BASE" "$site"
}

if [ $# -gt 0 ]; then
  BASE=${1%/}
else
  start_server
fi

# The /pkg/ URLs an HTML page references: stylesheets, module preloads, wasm preloads, scripts.
html_refs() {
  grep -oE '<(link|script)[^>]*>' "$1" \
    | grep -viE 'rel="(icon|apple-touch-icon|manifest)"' \
    | grep -oE '(href|src)="[^"]+"' \
    | sed -E 's/^(href|src)="([^"]*)"$/\2/' \
    | sed 's/&amp;/\&/g'
}

# The modules a JS file imports statically (`import … from "./x.js"`, `import "./x.js"`),
# resolved against the file's own URL path. Dynamic `import()` is left out: that is what a
# lazily loaded part looks like, fetched only when needed.
js_imports() {
  local file=$1 url_path=$2 dir spec
  dir=${url_path%/*}
  { grep -oE '(^|[^.])\bimport[ ]*(\*[ ]*as[ ]*[A-Za-z0-9_$]+|\{[^}]*\}|[A-Za-z0-9_$]+)?[ ]*(from)?[ ]*["'"'"'][^"'"'"']+["'"'"']' "$file" || true; } \
    | grep -oE '["'"'"'][^"'"'"']+["'"'"']$' | tr -d "\"'" \
    | while read -r spec; do
        case "$spec" in
          /*) echo "$spec" ;;
          ./*) echo "$dir/${spec#./}" ;;
          ../*) echo "${dir%/*}/${spec#../}" ;;
          *) ;; # a bare specifier (e.g. wasm-bindgen's placeholder): nothing to fetch
        esac
      done
}

# Prints one row: label, raw, gzip -9, brotli 11, and what the server sent when offered br,gzip.
# Adds to the totals.
weigh_one() {
  local label=$1 file=$2 wire_bytes=$3 wire_encoding=$4 raw gz br
  raw=$(wc -c <"$file")
  gz=$(gzip -9 -c "$file" | wc -c)
  br=$(brotli -q 11 -c "$file" | wc -c)
  TOTAL_RAW=$((TOTAL_RAW + raw))
  TOTAL_GZ=$((TOTAL_GZ + gz))
  TOTAL_BR=$((TOTAL_BR + br))
  TOTAL_WIRE=$((TOTAL_WIRE + wire_bytes))
  printf '  %-58s %10s %10s %10s %10s %s\n' "$label" "$raw" "$gz" "$br" "$wire_bytes" "$wire_encoding"
}

# Fetches $BASE$2 twice: plainly (saved to $1) and offering br,gzip (for the wire column).
# Echoes "bytes encoding" of the second fetch.
fetch() {
  local out=$1 path=$2 status meta
  status=$(curl -sS -o "$out" -w '%{http_code}' "$BASE$path")
  [ "$status" = 200 ] || die "GET $path answered $status"
  meta=$(curl -sS -o /dev/null -D "$out.headers" -H 'Accept-Encoding: br, gzip' \
    -w '%{size_download}' "$BASE$path")
  local encoding
  encoding=$(grep -i '^content-encoding:' "$out.headers" | tr -d '\r' | awk '{print $2}' || true)
  echo "$meta ${encoding:-identity}"
}

weigh_page() {
  local title=$1 path=$2 n=0 url wire
  TOTAL_RAW=0 TOTAL_GZ=0 TOTAL_BR=0 TOTAL_WIRE=0
  printf '\n%s: %s%s\n' "$title" "$BASE" "$path"
  printf '  %-58s %10s %10s %10s %10s %s\n' "file" "raw" "gzip -9" "brotli 11" "sent" "(Accept-Encoding: br, gzip)"
  local html="$WORK/page.html"
  wire=$(fetch "$html" "$path")
  weigh_one "HTML ${path%%\?*}" "$html" ${wire}

  # Breadth-first over the page's references and the JS modules' static imports.
  local -a queue=() seen=()
  mapfile -t queue < <(html_refs "$html" | grep '^/pkg/' || true)
  [ "${#queue[@]}" -gt 0 ] || die "$path references nothing under /pkg/ (is it hydrated?)"
  while [ "${#queue[@]}" -gt 0 ]; do
    url=${queue[0]}
    queue=("${queue[@]:1}")
    local known=0 s
    for s in "${seen[@]:-}"; do [ "$s" = "$url" ] && known=1; done
    [ "$known" = 0 ] || continue
    seen+=("$url")
    n=$((n + 1))
    local file="$WORK/asset.$n"
    wire=$(fetch "$file" "$url")
    weigh_one "$url" "$file" ${wire}
    case "${url%%\?*}" in
      *.js) mapfile -t -O "${#queue[@]}" queue < <(js_imports "$file" "${url%%\?*}") ;;
    esac
  done
  printf '  %-58s %10s %10s %10s %10s\n' "total" "$TOTAL_RAW" "$TOTAL_GZ" "$TOTAL_BR" "$TOTAL_WIRE"
  printf '  %-58s %10s %10s %10s %10s\n' "total, KB (1000 B)" \
    "$((TOTAL_RAW / 1000))" "$((TOTAL_GZ / 1000))" "$((TOTAL_BR / 1000))" "$((TOTAL_WIRE / 1000))"
}

weigh_page "Approval page (a customer's phone, first visit)" "$APPROVE_PATH"
APPROVE_BR=$TOTAL_BR
weigh_page "Agent console (signed out, first visit)" "$CONSOLE_PATH"
printf '\n"sent" is what the server sent when offered br,gzip (a browser always offers them);\n'
printf 'identity there means the response went uncompressed.\n'
# The approval page's budget: 30 KB (30,000 bytes) compressed for everything it fetches first.
if [ "$APPROVE_BR" -gt 30000 ]; then
  die "the approval page's first load is $APPROVE_BR bytes brotli, over its 30,000-byte budget"
fi
printf 'weigh: the approval page is within its budget (%s of 30,000 bytes brotli)\n' "$APPROVE_BR"
