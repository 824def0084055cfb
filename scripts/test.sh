#!/usr/bin/env bash
# Runs every test of the workspace: formatting, lints, unit tests, in-process integration tests
# and the end-to-end tests against a real Synapse (installed into a cached venv on first use).
# PostgreSQL halves of the store tests run when INTEROP_BRIDGE_TEST_POSTGRES holds a URL.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "Formatting (cargo fmt --check)"
cargo fmt --all --check

step "Lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Synapse for the end-to-end tests"
scripts/synapse.sh install

if [[ -z "${INTEROP_BRIDGE_TEST_POSTGRES:-}" ]]; then
    echo "note: INTEROP_BRIDGE_TEST_POSTGRES is not set; store tests run on SQLite only"
fi

step "Tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi

step "Benchmark smoke run (dev profile: checks that it runs and reports, not speed)"
cargo build --locked -p interop-bench -p interop-bridge
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
smoke="$("$target_dir/debug/interop-bench" --smoke --bridge-bin "$target_dir/debug/interop-bridge")"
echo "$smoke"
grep -q "floor at 10 ev/txn" <<<"$smoke"
# The comparison of two builds, here the same one twice: it runs, and reports its medians.
compared="$("$target_dir/debug/interop-bench" --smoke --scenario outbound --rounds 1 \
    --bridge-bin "$target_dir/debug/interop-bridge" --against "$target_dir/debug/interop-bridge")"
echo "$compared"
grep -q "this build against the other" <<<"$compared"

step "All checks passed in $((SECONDS - started)) s"
