# Countersign. `make run` and `make test` do all set-up themselves (scripts/setup.sh installs
# only what is missing). `make help` lists every target.
SHELL := /usr/bin/env
.SHELLFLAGS := bash -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

export PATH := $(HOME)/.cargo/bin:$(PATH)
# leptos reads LEPTOS_OUTPUT_NAME at compile time, and cargo-leptos sets it. Setting it for every
# cargo command here keeps one build cache for `cargo leptos build`, `cargo test` and clippy.
export LEPTOS_OUTPUT_NAME := countersign
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

# The wasm build lives in its own target folder, as cargo-leptos keeps it.
WASM := --target wasm32-unknown-unknown --target-dir target/front

.PHONY: help run build release weigh bench test test-cluster lint fmt-check clippy unit fuzz replay interop interop-standard e2e screenshots setup clean-data

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## Install everything the build and the tests need (only what is missing)
	@scripts/setup.sh rust-tests
	@scripts/setup.sh postgres
	@scripts/setup.sh e2e
	@scripts/setup.sh cluster

# The demo reads its links and codes in the development outbox (http://127.0.0.1:3001/dev/outbox),
# which only COUNTERSIGN_DEV_OUTBOX=true serves: never set it where real customers are messaged.
run: build ## Build and start Countersign on :3000 with the embedded provider on :3001
	COUNTERSIGN_DEV_OUTBOX=true ./target/debug/countersign

# `--split` always: the console is a lazy route (app/src/console.rs), and its code goes into a
# wasm chunk of its own that only the console fetches, keeping the approval page's download
# small. The pages expect that chunk, so every build splits, the tests' too.
build: ## Build the server and the wasm bundle (debug)
	@scripts/setup.sh rust
	cargo leptos build --split

# `--precompress` writes .br and .gz beside the CSS, JS and wasm; the server sends them to
# browsers that accept them.
release: ## Build optimised, with wasm-opt from npm's binaryen
	@scripts/setup.sh rust
	@scripts/setup.sh binaryen
	cargo leptos build --release --split --precompress

weigh: release ## First-load bytes of the approval page and the console (release build)
	@scripts/setup.sh weigh
	scripts/weigh.sh

# Release builds, servers started fresh one after another; writes docs/bench.md. A benchmark,
# not a test: `make test` does not run it.
bench: ## Countersign's provider beside node-oidc-provider and a bare axum handler (wrk), docs/bench.md
	scripts/bench.sh

test: lint unit fuzz replay interop interop-standard e2e test-cluster ## Everything CI runs: format, clippy, Rust tests, a bounded fuzz run, the guide's curls, openid-client and oidc-provider interop, browser tests, the cluster
	@echo "make test: all passed"

lint: fmt-check clippy ## Format check and clippy with warnings as errors

fmt-check:
	@scripts/setup.sh rust
	cargo fmt --all --check

clippy:
	@scripts/setup.sh rust
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p app -p frontend --lib $(WASM) -- -D warnings

# The store contract and the PostgreSQL tests need a database: a throwaway PostgreSQL server
# (Debian's, installed when missing) runs for the length of the tests.
unit: ## Rust unit and integration tests, on SQLite and on a throwaway PostgreSQL
	@scripts/setup.sh rust-tests
	scripts/with-postgres.sh bash -c 'cargo test --workspace && COUNTERSIGN_TEST_PROVIDER_STORE=postgres cargo test -p provider --test it'

# FUZZ_SECONDS per target; `make fuzz FUZZ_SECONDS=600` for a longer hunt.
FUZZ_SECONDS ?= 20
fuzz: ## Bounded cargo fuzz run of the provider's parsers of outside input (fuzz/)
	@scripts/setup.sh fuzz
	scripts/fuzz.sh $(FUZZ_SECONDS)

replay: ## Replay the Mosaic guide's curl requests against a fresh countersign-provider
	@scripts/setup.sh rust
	cargo build -p provider --bin countersign-provider
	provider/tests/seed/replay.sh target/debug/countersign-provider

interop: ## panva's openid-client (npm) runs the CIBA flow against a fresh countersign-provider
	@scripts/setup.sh rust
	cargo build -p provider --bin countersign-provider
	provider/tests/interop/run.sh target/debug/countersign-provider

interop-standard: ## The BFF in standard mode against panva's oidc-provider (npm), in poll and in ping mode: agent sign-in, a verification approved, one denied
	@scripts/setup.sh rust
	cargo build -p server --bin countersign
	server/tests/standard/run.sh target/debug/countersign poll
	server/tests/standard/run.sh target/debug/countersign ping

e2e: build ## Playwright tests in Debian's Chromium against a server on free ports
	@scripts/setup.sh e2e
	@scripts/setup.sh cluster
	scripts/e2e.sh

# Three BFFs and two providers as processes on a throwaway PostgreSQL, Debian's nginx in front
# (server/tests/cluster): instances killed mid-flow, PostgreSQL restarted, 1,000 flows, and the
# two-device browser test through the balancer. One test at a time: each runs its own cluster.
test-cluster: build ## Kill instances and restart PostgreSQL under a 3 + 2 process cluster behind nginx
	@scripts/setup.sh cluster
	cargo build -p provider --bin countersign-provider
	scripts/test-cluster.sh

screenshots: build ## Refresh the README's screenshots (docs/screenshots) with the browser tests
	@scripts/setup.sh e2e
	@scripts/setup.sh cluster
	E2E_SCREENSHOTS=1 scripts/e2e.sh --project=verify tests/verify/approve.spec.ts

clean-data: ## Delete ./data (the demo's SQLite files); the next start creates it again
	rm -rf data
