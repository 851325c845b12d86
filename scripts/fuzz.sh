#!/usr/bin/env bash
# Coverage-guided fuzzing of the provider's parsers of outside input (fuzz/fuzz_targets): the
# form reader, whole backchannel requests (hints, binding_message, requested_expiry,
# request_context, custom_message), login hints and the note to the customer.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default: 20 s each, every target)
#
# Stable Rust has no sanitizers, so libFuzzer runs with `--sanitizer none`: it still finds
# panics, failed assertions of each target's invariants, and inputs slower than 5 s (no
# quadratic time). The corpus grows in a throw-away folder from the seeds in fuzz/seeds; a
# failing input is written to fuzz/artifacts/TARGET/ and makes this script fail.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECONDS_PER_TARGET=${1:-20}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(form backchannel_request login_hint note)
# The provider reads at most 16 KiB of a form; the note and hints are far shorter.
declare -A MAX_LEN=([form]=16384 [backchannel_request]=16384 [login_hint]=1024 [note]=1024)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/countersign-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --dev: an unoptimised build is quicker to make, and fast enough for a bounded run.
cargo fuzz build --sanitizer none --dev
for target in "${TARGETS[@]}"; do
  mkdir -p "$WORK/$target"
  echo "fuzz: $target for ${SECONDS_PER_TARGET} s"
  if cargo fuzz run --sanitizer none --dev "$target" "$WORK/$target" "seeds/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len="${MAX_LEN[$target]:-4096}" \
    -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 >"$WORK/$target.log" 2>&1; then
    grep -E '^(#[0-9]+ +DONE|stat::(number_of_executed_units|peak_rss_mb|new_units_added))' "$WORK/$target.log" || true
  else
    tail -n 40 "$WORK/$target.log" >&2
    echo "fuzz: $target failed (the input is in fuzz/artifacts/$target/)" >&2
    exit 1
  fi
done
echo "fuzz: every target ran ${SECONDS_PER_TARGET} s without a finding"
