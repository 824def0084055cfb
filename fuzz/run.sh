#!/usr/bin/env bash
# Runs the fuzz targets of the bridge and of the protocol crate for a set time each.
#   fuzz/run.sh [seconds-per-target] [target ...]   (default 600 s; no names: every target)
#   fuzz/run.sh --list                              (every target, as "fuzz-dir target")
# A target's seed inputs (`<fuzz-dir>/seeds/<target>/`) and dictionary
# (`<fuzz-dir>/dicts/<target>.dict`) are used when they exist; new inputs go to
# `<fuzz-dir>/corpus/<target>/`, crashes to `<fuzz-dir>/artifacts/<target>/`.
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/fuzz"

# "dir target" per line, for both fuzz crates.
ALL=()
for dir in "$ROOT/fuzz" "$ROOT/crates/interop-proto/fuzz"; do
    for target in $(cd "$dir/.." && cargo fuzz list --fuzz-dir "$dir"); do
        ALL+=("$dir $target")
    done
done
if [[ "${1:-}" == "--list" ]]; then
    for entry in "${ALL[@]}"; do echo "${entry#"$ROOT"/}"; done
    exit 0
fi

SECONDS_EACH="${1:-600}"
[[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] || { echo "seconds must be a number, not $SECONDS_EACH" >&2; exit 2; }
shift || true
RUN=()
if (($#)); then
    for wanted in "$@"; do
        match=""
        for entry in "${ALL[@]}"; do [[ "${entry##* }" == "$wanted" ]] && match="$entry"; done
        [[ -n "$match" ]] || { echo "no fuzz target named $wanted (see --list)" >&2; exit 2; }
        RUN+=("$match")
    done
else
    RUN=("${ALL[@]}")
fi

for entry in "${RUN[@]}"; do
    dir="${entry% *}" target="${entry##* }"
    corpus="$dir/corpus/$target"
    mkdir -p "$corpus"
    extra=()
    [[ -d "$dir/seeds/$target" ]] && extra=("$dir/seeds/$target")
    options=(-max_total_time="$SECONDS_EACH")
    [[ -f "$dir/dicts/$target.dict" ]] && options+=(-dict="$dir/dicts/$target.dict")
    echo "==> fuzzing $target for $SECONDS_EACH s"
    (cd "$dir/.." && cargo fuzz run --fuzz-dir "$dir" "$target" "$corpus" "${extra[@]}" \
        -- "${options[@]}")
done
