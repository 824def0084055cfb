#!/usr/bin/env bash
# The main job, locally: a throwaway Synapse on loopback, the reference gatekeeper, the bridge
# (SQLite) between them, a Matrix user (@alice:localhost) and a native gatekeeper user (Bob,
# played by `gk`). Alice logs in to the gatekeeper through the bridge bot, opens a chat with Bob,
# and the two exchange messages, a reply each way, reactions, typing and a read receipt; the
# conversation is printed as it happens. Everything lives in demo-data/ (recreated at every
# run) and is stopped on exit, unless --keep-running is given (then try it with Element).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/demo-data"
KEEP_RUNNING=false
PROFILE=messenger
BOB_PHONE="+4915112345678"
BOB_NAME="Bob"
BOB_GHOST="@wa_${BOB_PHONE#+}:localhost"
WAIT_S=60

usage() {
    cat <<EOF
Usage: scripts/demo.sh [--keep-running] [--profile messenger|whatsapp]

Starts Synapse, the reference gatekeeper and the bridge in demo-data/, and prints a conversation
between the Matrix user @alice:localhost and Bob ($BOB_PHONE), a native gatekeeper user.
  --keep-running  leave everything up afterwards and print how to use it from Element and gk
  --profile       the gatekeeper's profile: messenger (every capability, the default) or
                  whatsapp (no edits or deletes)
EOF
}

while (($# > 0)); do
    case "$1" in
    --keep-running) KEEP_RUNNING=true ;;
    --profile)
        PROFILE="${2:-}"
        [[ "$PROFILE" == messenger || "$PROFILE" == whatsapp ]] || {
            usage >&2
            exit 2
        }
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
    shift
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# The logs a failure is explained by, last lines of each.
show_logs() {
    local file
    for file in "$DATA/bridge.log" "$DATA/gatekeeper.log" "$DATA/bob/listen.log" "$DATA/bob/events.jsonl"; do
        [[ -s "$file" ]] || continue
        echo "--- last lines of $file ---" >&2
        tail -n 25 "$file" >&2
    done
}

fail() {
    printf '\n\033[1;31mdemo failed:\033[0m %s\n' "$*" >&2
    show_logs
    exit 1
}

# wait_until <what> <pid> <command...>: runs the command every 0.2 s until it succeeds; fails
# naming <what> after $WAIT_S s, or as soon as process <pid> exits.
wait_until() {
    local what="$1" pid="$2"
    shift 2
    local deadline=$((SECONDS + WAIT_S))
    until "$@"; do
        kill -0 "$pid" 2>/dev/null || fail "process $pid exited while waiting for $what"
        ((SECONDS < deadline)) || fail "timed out after $WAIT_S s waiting for $what"
        sleep 0.2
    done
}

# Stops one process we started: the signal, then up to 10 s, then SIGKILL.
stop_pid() {
    local pid="$1" signal="$2"
    [[ -n "$pid" ]] || return 0
    kill "-$signal" "$pid" 2>/dev/null || return 0
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

BRIDGE_PID=""
GATEKEEPER_PID=""
LISTEN_PID=""
cleanup() {
    trap - INT TERM
    stop_pid "$LISTEN_PID" INT # gk listen saves its state on SIGINT
    stop_pid "$BRIDGE_PID" TERM
    stop_pid "$GATEKEEPER_PID" TERM
    "$ROOT/scripts/synapse.sh" stop "$DATA/synapse" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'printf "\n==> Stopping everything\n" >&2; exit 130' INT TERM

step "Building the bridge, the gatekeeper and gk"
cargo build --quiet --manifest-path "$ROOT/Cargo.toml" -p interop-bridge -p reference-gatekeeper --bins
BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
BRIDGE_BIN="$BIN_DIR/interop-bridge"
GATEKEEPER_BIN="$BIN_DIR/gatekeeper"
GK_BIN="$BIN_DIR/gk"

step "Installing Synapse (cached after the first run)"
"$ROOT/scripts/synapse.sh" install

rm -rf "$DATA" && mkdir -p "$DATA"
SYNAPSE_PORT=$(free_port)
BRIDGE_PORT=$(free_port)

step "Configuring the bridge in $DATA"
sed -e "s/example\.org/localhost/g" \
    -e "s#http://127.0.0.1:8008#http://127.0.0.1:$SYNAPSE_PORT#" \
    -e "s/29340/$BRIDGE_PORT/g" \
    "$ROOT/config.example.yaml" >"$DATA/config.yaml"
# The bridge's identity towards the gatekeeper, as its config says.
gatekeeper_key() { awk -v key="$1:" '/^gatekeeper:/ { g = 1; next } /^[^ #]/ { g = 0 } g && $1 == key { print $2; exit }' "$DATA/config.yaml"; }
PARTNER_ID="$(gatekeeper_key partner_id)"
PARTNER_BASE="$(gatekeeper_key partner_base)"
[[ -n "$PARTNER_ID" && -n "$PARTNER_BASE" ]] || fail "no gatekeeper.partner_id/partner_base in $DATA/config.yaml"

step "Starting the reference gatekeeper ($PROFILE profile; log: $DATA/gatekeeper.log)"
cat >"$DATA/gatekeeper.yaml" <<EOF
# Written by scripts/demo.sh; see crates/reference-gatekeeper/gatekeeper.example.yaml.
gatekeeper_id: gatekeeper.example
profile: $PROFILE
listen: 127.0.0.1:0
chat_listen: 127.0.0.1:0
data_dir: gatekeeper-data
push:
  min_interval_secs: 0
partners:
  - id: $PARTNER_ID
    base_url: ${PARTNER_BASE%/}/
EOF
NO_COLOR=1 "$GATEKEEPER_BIN" serve --config "$DATA/gatekeeper.yaml" \
    </dev/null >"$DATA/gatekeeper.out" 2>"$DATA/gatekeeper.log" &
GATEKEEPER_PID=$!
wait_until "the gatekeeper to print its addresses" "$GATEKEEPER_PID" \
    grep -qs '"http"' "$DATA/gatekeeper.out"
GATEKEEPER_HTTP="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["http"])' "$DATA/gatekeeper.out")"
GATEKEEPER_CHAT="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["chat"])' "$DATA/gatekeeper.out")"
echo "    HTTP API $GATEKEEPER_HTTP, chat channel $GATEKEEPER_CHAT"
echo "    trusts partner $PARTNER_ID at ${PARTNER_BASE%/}/"

sed -i "s#address: \"\"#address: \"$GATEKEEPER_HTTP\"#" "$DATA/config.yaml"
"$BRIDGE_BIN" generate-registration --config "$DATA/config.yaml" --registration "$DATA/registration.yaml"
"$BRIDGE_BIN" check-config --config "$DATA/config.yaml"

step "Starting Synapse on 127.0.0.1:$SYNAPSE_PORT"
"$ROOT/scripts/synapse.sh" start "$DATA/synapse" "$SYNAPSE_PORT" \
    --registration "$DATA/registration.yaml" --server-name localhost

step "Starting the bridge on 127.0.0.1:$BRIDGE_PORT (log: $DATA/bridge.log)"
NO_COLOR=1 "$BRIDGE_BIN" run --config "$DATA/config.yaml" </dev/null >"$DATA/bridge.log" 2>&1 &
BRIDGE_PID=$!
wait_until "the bridge to log \"bridge is running\"" "$BRIDGE_PID" \
    grep -qs "bridge is running" "$DATA/bridge.log"
grep -E "appservice ping|bridge is running" "$DATA/bridge.log" | sed 's/^/    /'

step "Registering $BOB_NAME ($BOB_PHONE) on the gatekeeper with gk (home: $DATA/bob)"
BOB_HOME="$DATA/bob"
"$GK_BIN" --home "$BOB_HOME" register "$BOB_PHONE" --name "$BOB_NAME" --server "$GATEKEEPER_HTTP" |
    sed 's/^/    /' || fail "gk register failed"
"$GK_BIN" --home "$BOB_HOME" opt-in --partner "$PARTNER_ID" --inbox separate |
    sed 's/^/    /' || fail "gk opt-in failed"
"$GK_BIN" --home "$BOB_HOME" listen </dev/null >"$BOB_HOME/events.jsonl" 2>"$BOB_HOME/listen.log" &
LISTEN_PID=$!
wait_until "gk listen to connect (offline_complete in $BOB_HOME/events.jsonl)" "$LISTEN_PID" \
    grep -qs '"offline_complete"' "$BOB_HOME/events.jsonl"
echo "    gk listen is running; Bob's events go to $BOB_HOME/events.jsonl"

step "Registering @alice:localhost; alice and $BOB_NAME talk"
ALICE_TOKEN=$("$ROOT/scripts/synapse.sh" register "$DATA/synapse" "$SYNAPSE_PORT" alice alice-password |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
python3 "$ROOT/scripts/demo_client.py" --homeserver "http://127.0.0.1:$SYNAPSE_PORT" \
    --token "$ALICE_TOKEN" --user @alice:localhost --bot @interopbot:localhost \
    --gk "$GK_BIN" --gk-home "$BOB_HOME" --gk-events "$BOB_HOME/events.jsonl" \
    --phone "$BOB_PHONE" --name "$BOB_NAME" --ghost "$BOB_GHOST" --expect-space \
    --save-id "$DATA/alice-gatekeeper-id" ||
    fail "the conversation stopped (see the line above)"
ALICE_REMOTE="$(cat "$DATA/alice-gatekeeper-id")"

if $KEEP_RUNNING; then
    GK_CMD="$(printf '%q --home %q' "$GK_BIN" "$BOB_HOME")"
    step "Everything is still running. Press Ctrl-C to stop it all."
    cat <<EOF
    In Element (or any Matrix client) on this machine:
      homeserver  http://127.0.0.1:$SYNAPSE_PORT
      user        alice
      password    alice-password
    The chat with $BOB_NAME ($BOB_GHOST, "$BOB_NAME (WhatsApp)") is in the room list, inside
    the "WhatsApp" Space; the bot's room is the chat with @interopbot:localhost.

    Be $BOB_NAME from another terminal (alice's gatekeeper id is $ALICE_REMOTE):
      $GK_CMD send $ALICE_REMOTE "Hello from the gatekeeper"
      $GK_CMD typing $ALICE_REMOTE on
      $GK_CMD react $ALICE_REMOTE <msg-id> 👍      # msg-id: an "id" from the events below
    What $BOB_NAME receives (one JSON event a line):
      tail -f $(printf '%q' "$BOB_HOME/events.jsonl")
    Logs: $DATA/bridge.log, $DATA/gatekeeper.log, $DATA/synapse/homeserver.log
EOF
    wait -n "$BRIDGE_PID" "$GATEKEEPER_PID" "$LISTEN_PID" || true
    fail "the bridge, the gatekeeper or gk listen stopped by itself"
else
    step "Done; stopping everything (run with --keep-running to try it in Element)."
fi
