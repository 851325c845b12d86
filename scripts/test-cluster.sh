#!/usr/bin/env bash
# Runs the cluster tests (server/tests/cluster) against a throwaway PostgreSQL, one test at a
# time (each starts its own three BFFs, two providers and nginx). Expects `cargo leptos build`
# and the provider's binary to be built. Extra arguments go to the test binary (a test's name
# runs only that test).
#
# The tests kill the processes they start when they end or fail. If the test binary itself is
# killed (a timeout, Ctrl-C), its processes would outlive it: everything runs in a process
# group of its own, which is stopped at the end whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
# As the Makefile and cargo-leptos set it: the same build of `countersign` as `make build`'s,
# whose pages load the wasm under the name the site has.
export LEPTOS_OUTPUT_NAME=countersign

setsid scripts/with-postgres.sh \
  cargo test -p server --test cluster -- --ignored --test-threads=1 --nocapture "$@" &
group=$!
trap 'kill -TERM -- "-$group" 2>/dev/null || true' INT TERM
status=0
wait "$group" || status=$?
# A signal interrupts `wait`: wait for the group's leader to finish its clean-up.
while kill -0 "$group" 2>/dev/null; do wait "$group" || status=$?; done
# Whatever is left of the group (a killed test binary's instances and nginx).
kill -KILL -- "-$group" 2>/dev/null || true
exit "$status"
