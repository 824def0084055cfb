#!/usr/bin/env bash
# Runs every fuzz target of the bridge and of the protocol crate for a set time each.
#   fuzz/run.sh [seconds-per-target]   (default 600)
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_EACH="${1:-600}"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/fuzz"
for dir in "$ROOT/fuzz" "$ROOT/crates/interop-proto/fuzz"; do
    (cd "$dir/.." && for target in $(cargo fuzz list --fuzz-dir "$dir"); do
        echo "==> fuzzing $target for $SECONDS_EACH s"
        cargo fuzz run --fuzz-dir "$dir" "$target" -- -max_total_time="$SECONDS_EACH"
    done)
done
