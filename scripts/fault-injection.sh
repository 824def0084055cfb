#!/usr/bin/env bash
# The long fault-injection run (tests/fault_injection.rs, docs/reliability.md): thousands of
# numbered messages both ways through the bridge while it is SIGKILLed and restarted dozens of
# times and the gatekeeper and Synapse are restarted; then every message must have arrived
# exactly once and in order. The short run of the same test is part of the normal suite.
#
# Usage: scripts/fault-injection.sh [messages] [extra nextest arguments]
#   messages   over all chats and both directions (default 3000)
# Environment: INTEROP_FAULT_USERS (default 3), INTEROP_FAULT_KILLS (default messages/100, at
# least 10), INTEROP_FAULT_SECONDS (sending window, default messages/20), INTEROP_FAULT_SEED
# (replays a run's schedule; every run prints its seed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export INTEROP_FAULT_MESSAGES="${1:-3000}"
shift || true

bash scripts/synapse.sh install
exec cargo nextest run --locked --test fault_injection --run-ignored ignored-only \
    --no-capture "$@" many_messages_survive_many_crashes
