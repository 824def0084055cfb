#!/usr/bin/env bash
# Installs the two benchmark peers (see bench/peers/README.md) under
# ${INTEROP_BRIDGE_CACHE:-<repo>/.cache}/bench-peers:
#   venv/  a Python venv with bench/peers/mautrix/requirements.txt
#   node/  node_modules for bench/peers/appservice-bridge (npm ci from the committed lock)
# Each part is skipped when its stamp matches the hash of its inputs, so a second run is fast.
# Prints the two start-command prefixes at the end.
set -euo pipefail

PEERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly PEERS_DIR
REPO_ROOT="$(cd "$PEERS_DIR/../.." && pwd)"
readonly REPO_ROOT
readonly CACHE_DIR="${INTEROP_BRIDGE_CACHE:-$REPO_ROOT/.cache}/bench-peers"
readonly VENV="$CACHE_DIR/venv"
readonly NODE_DIR="$CACHE_DIR/node"
readonly PYTHON="${PYTHON:-python3}"

die() {
    echo "install.sh: $*" >&2
    exit 1
}

# sha256 over the given files' contents and names, plus extra strings (tool versions).
inputs_hash() {
    {
        for f in "$@"; do
            if [[ -f "$f" ]]; then
                printf '%s\n' "${f#"$PEERS_DIR"/}"
                cat "$f"
            else
                printf '%s\n' "$f"
            fi
        done
    } | sha256sum | cut -d' ' -f1
}

install_mautrix() {
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found"
    local req="$PEERS_DIR/mautrix/requirements.txt"
    local pyver
    pyver="$("$PYTHON" -c 'import sys; print(sys.version)')"
    local want
    want="$(inputs_hash "$req" "python $pyver")"
    if [[ -x "$VENV/bin/python" && "$(cat "$VENV/.installed" 2>/dev/null)" == "$want" ]]; then
        echo "mautrix peer: up to date ($VENV)"
        return
    fi
    echo "mautrix peer: installing into $VENV"
    rm -rf "$VENV"
    mkdir -p "$CACHE_DIR"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        -r "$req"
    "$VENV/bin/python" -m pip check --disable-pip-version-check >/dev/null \
        || die "pip check failed in $VENV"
    "$VENV/bin/python" -c 'import mautrix.appservice, ruamel.yaml' \
        || die "mautrix does not import in $VENV"
    # Written only after everything succeeded, so an interrupted install is redone.
    printf '%s\n' "$want" >"$VENV/.installed"
}

install_appservice_bridge() {
    command -v node >/dev/null || die "node not found"
    command -v npm >/dev/null || die "npm not found"
    local src="$PEERS_DIR/appservice-bridge"
    local files=(
        "$src/package.json" "$src/package-lock.json" "$src/.npmrc"
        "$src/crypto-stub/package.json" "$src/crypto-stub/index.js"
    )
    local want
    want="$(inputs_hash "${files[@]}" "node $(node --version)" "npm $(npm --version)")"
    if [[ -d "$NODE_DIR/node_modules" && "$(cat "$NODE_DIR/.installed" 2>/dev/null)" == "$want" ]]; then
        echo "matrix-appservice-bridge peer: up to date ($NODE_DIR)"
        return
    fi
    echo "matrix-appservice-bridge peer: installing into $NODE_DIR"
    rm -rf "$NODE_DIR"
    mkdir -p "$NODE_DIR"
    cp "$src/package.json" "$src/package-lock.json" "$src/.npmrc" "$NODE_DIR/"
    cp -r "$src/crypto-stub" "$NODE_DIR/crypto-stub"
    # --ignore-scripts: no install script is needed (the one native module, the crypto
    # library, is replaced by crypto-stub; see README.md).
    (cd "$NODE_DIR" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts --loglevel=error)
    (cd "$NODE_DIR" && node -e 'require("matrix-appservice-bridge")') \
        || die "matrix-appservice-bridge does not load from $NODE_DIR"
    printf '%s\n' "$want" >"$NODE_DIR/.installed"
}

install_mautrix
install_appservice_bridge

cat <<MSG
Start the peers with:
  $VENV/bin/python $PEERS_DIR/mautrix/forward.py ARGS
  NODE_PATH=$NODE_DIR/node_modules node $PEERS_DIR/appservice-bridge/forward.js ARGS
MSG
