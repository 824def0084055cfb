#!/usr/bin/env bash
# The main job, locally: a throwaway Synapse on loopback, the bridge with SQLite, and a freshly
# registered Matrix user talking to the bridge bot. Everything lives in demo-data/ and is
# stopped on exit, unless --keep-running is given (then try it by hand with Element).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/demo-data"
KEEP_RUNNING=false
[[ "${1:-}" == "--keep-running" ]] && KEEP_RUNNING=true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

BRIDGE_PID=""
cleanup() {
    [[ -n "$BRIDGE_PID" ]] && kill "$BRIDGE_PID" 2>/dev/null && wait "$BRIDGE_PID" 2>/dev/null || true
    "$ROOT/scripts/synapse.sh" stop "$DATA/synapse" >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "Building the bridge"
cargo build --quiet --manifest-path "$ROOT/Cargo.toml" --bin interop-bridge
BRIDGE_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/interop-bridge"

step "Installing Synapse (cached after the first run)"
"$ROOT/scripts/synapse.sh" install

rm -rf "$DATA" && mkdir -p "$DATA"
SYNAPSE_PORT=$(free_port)
BRIDGE_PORT=$(free_port)

step "Configuring the bridge in $DATA"
sed -e "s/example\.org/localhost/g" \
    -e "s#http://127.0.0.1:8008#http://127.0.0.1:$SYNAPSE_PORT#" \
    -e "s/29340/$BRIDGE_PORT/g" \
    "$ROOT/config.example.yaml" > "$DATA/config.yaml"
"$BRIDGE_BIN" check-config --config "$DATA/config.yaml"
"$BRIDGE_BIN" generate-registration --config "$DATA/config.yaml" --registration "$DATA/registration.yaml"

step "Starting Synapse on 127.0.0.1:$SYNAPSE_PORT"
"$ROOT/scripts/synapse.sh" start "$DATA/synapse" "$SYNAPSE_PORT" \
    --registration "$DATA/registration.yaml" --server-name localhost

step "Starting the bridge on 127.0.0.1:$BRIDGE_PORT (log: $DATA/bridge.log)"
"$BRIDGE_BIN" run --config "$DATA/config.yaml" > "$DATA/bridge.log" 2>&1 &
BRIDGE_PID=$!
for _ in $(seq 1 100); do
    grep -q "bridge is running" "$DATA/bridge.log" && break
    kill -0 "$BRIDGE_PID" 2>/dev/null || { cat "$DATA/bridge.log"; echo "the bridge exited"; exit 1; }
    sleep 0.2
done
grep -E "appservice ping|bridge is running" "$DATA/bridge.log" | sed 's/^/    /'

step "Registering @alice:localhost and talking to the bot"
ALICE_TOKEN=$("$ROOT/scripts/synapse.sh" register "$DATA/synapse" "$SYNAPSE_PORT" alice alice-password \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
python3 "$ROOT/scripts/demo_client.py" --homeserver "http://127.0.0.1:$SYNAPSE_PORT" \
    --token "$ALICE_TOKEN" --user @alice:localhost --bot @interopbot:localhost

if $KEEP_RUNNING; then
    step "Still running. In Element (or any client), use homeserver http://127.0.0.1:$SYNAPSE_PORT,"
    echo "    user alice, password alice-password. Press Ctrl-C to stop everything."
    wait "$BRIDGE_PID"
else
    step "Done; stopping Synapse and the bridge (run with --keep-running to try it in Element)."
fi
