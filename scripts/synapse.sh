#!/usr/bin/env bash
# Runs a throwaway Synapse homeserver on loopback for the end-to-end tests and the demo.
#
# Synapse comes from the Python package index into a cached venv, so a fresh clone on a fresh
# machine needs nothing but this script (see DESIGN.md §6).
set -euo pipefail

readonly SYNAPSE_VERSION="1.163.2"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly CACHE_DIR="${INTEROP_BRIDGE_CACHE:-$REPO_ROOT/.cache}/synapse-$SYNAPSE_VERSION"
readonly VENV="$CACHE_DIR/venv"
# Written only after pip succeeded, so an interrupted install is redone from scratch.
readonly INSTALLED_MARKER="$CACHE_DIR/installed"
readonly START_TIMEOUT_S=60
readonly STOP_TIMEOUT_S=15

usage() {
    cat <<EOF
Usage: $(basename "$0") <command> [arguments]

Runs a throwaway Synapse $SYNAPSE_VERSION on 127.0.0.1 for tests and the demo.

Commands:
  install
      Install Synapse into a cached venv at $VENV
      (set INTEROP_BRIDGE_CACHE to move the cache). Does nothing when already installed.

  start <data-dir> <port> [--registration <file>]... [--server-name <name>] [--watch-pid <pid>]
      Write <data-dir>/homeserver.yaml (SQLite, no federation, relaxed rate limits), start
      Synapse in the background and wait until its client API answers.
      --registration  an appservice registration file (repeatable)
      --server-name   the server name (default: localhost)
      --watch-pid     stop Synapse when this process exits (for test harnesses)
      Files in <data-dir>: synapse.pid, synapse.out, homeserver.log, shared_secret (0600).

  stop <data-dir>
      Stop the Synapse started in <data-dir> (SIGTERM, then SIGKILL after ${STOP_TIMEOUT_S}s).

  register <data-dir> <port> <localpart> <password> [--admin]
      Register a user with the shared secret; prints the response (with its access token).
EOF
}

die() {
    echo "synapse.sh: $*" >&2
    exit 1
}

# Seconds since `$1` (an $EPOCHREALTIME value), with millisecond precision.
elapsed_since() {
    awk -v start="$1" -v now="$EPOCHREALTIME" 'BEGIN { printf "%.1f", now - start }'
}

# Installs the Debian packages that provide a missing Python piece; runs apt-get only when
# something is missing, so a prepared machine is left alone.
ensure_python() {
    local missing=()
    command -v python3 >/dev/null || missing+=(python3)
    # Debian splits venv/ensurepip off into python3-venv.
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then missing+=(python3-venv); fi
    if ! python3 -c 'import sqlite3' >/dev/null 2>&1; then missing+=(libpython3-stdlib); fi
    [[ -e /etc/ssl/certs/ca-certificates.crt ]] || missing+=(ca-certificates)
    ((${#missing[@]} == 0)) && return
    echo "synapse.sh: installing Debian packages: ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

cmd_install() {
    mkdir -p "$CACHE_DIR"
    # Parallel test processes may all ask for an install; the first does it, the rest wait.
    exec 9>"$CACHE_DIR/install.lock"
    flock 9
    if [[ -f "$INSTALLED_MARKER" ]]; then
        exec 9>&-
        return
    fi
    local started="$EPOCHREALTIME"
    ensure_python
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION"
    touch "$INSTALLED_MARKER"
    exec 9>&-
    echo "synapse.sh: installed Synapse $SYNAPSE_VERSION in $(elapsed_since "$started")s" >&2
}

# Creates `$1` with mode 0600 holding a fresh random secret, unless it exists already (restart).
write_secret_file() {
    [[ -s "$1" ]] && return
    (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$1")
}

write_log_config() {
    local data_dir="$1"
    cat >"$data_dir/log.config" <<EOF
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: $data_dir/homeserver.log
    encoding: utf8
root:
  level: INFO
  handlers: [file]
disable_existing_loggers: false
EOF
}

# Every rate limit a test could hit, set so high that it never triggers.
rate_limits() {
    local fast="{per_second: 10000, burst_count: 100000}"
    cat <<EOF
rc_message: $fast
rc_registration: $fast
rc_registration_token_validity: $fast
rc_login:
  address: $fast
  account: $fast
  failed_attempts: $fast
rc_admin_redaction: $fast
rc_joins:
  local: $fast
  remote: $fast
rc_joins_per_room: $fast
rc_3pid_validation: $fast
rc_invites:
  per_room: $fast
  per_user: $fast
  per_issuer: $fast
rc_third_party_invite: $fast
rc_room_creation: $fast
rc_presence:
  per_user: $fast
rc_media_create: $fast
rc_delayed_event_mgmt: $fast
rc_reports: $fast
rc_key_requests: $fast
rc_profile: $fast
rc_user_directory: $fast
rc_federation:
  window_size: 1000
  sleep_limit: 10000
  sleep_delay: 0
  reject_limit: 100000
  concurrent: 1000
EOF
}

write_homeserver_config() {
    local data_dir="$1" port="$2" server_name="$3"
    shift 3
    local registrations=("$@")
    {
        cat <<EOF
# Written by scripts/synapse.sh for a throwaway test server; rewritten at every start.
server_name: "$server_name"
public_baseurl: "http://127.0.0.1:$port/"
listeners:
  - port: $port
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "$data_dir/homeserver.db"
log_config: "$data_dir/log.config"
media_store_path: "$data_dir/media_store"
signing_key_path: "$data_dir/signing.key"
registration_shared_secret_path: "$data_dir/shared_secret"
macaroon_secret_key_path: "$data_dir/macaroon_secret"
form_secret_path: "$data_dir/form_secret"
enable_registration: false
report_stats: false
suppress_key_server_warning: true
trusted_key_servers: []
url_preview_enabled: false
presence:
  enabled: true
EOF
        if ((${#registrations[@]} == 0)); then
            echo "app_service_config_files: []"
        else
            echo "app_service_config_files:"
            local file
            for file in "${registrations[@]}"; do echo "  - \"$file\""; done
        fi
        rate_limits
    } >"$data_dir/homeserver.yaml"
    chmod 600 "$data_dir/homeserver.yaml"
}

# True when `$1` is a live process (a zombie left by a parent that does not reap counts as dead).
is_running() {
    local pid="$1" state
    kill -0 "$pid" 2>/dev/null || return 1
    state="$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ "$state" != "Z" ]]
}

# Polls the client API until it answers, Synapse dies, or the timeout passes. The answer
# counts only once this Synapse holds the port: another process may have taken the port
# between the caller's probe and Synapse's bind, and would answer in its place.
wait_until_ready() {
    local port="$1" pid="$2"
    "$VENV/bin/python" - "$port" "$pid" "$START_TIMEOUT_S" <<'EOF'
import os, sys, time, urllib.request

port, pid, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
url = f"http://127.0.0.1:{port}/_matrix/client/versions"

def holds_port():
    sockets = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                sockets.add(target[len("socket:["):-1])
        with open("/proc/net/tcp") as table:
            for line in table.readlines()[1:]:
                fields = line.split()
                listening = fields[3] == "0A"
                if listening and int(fields[1].split(":")[1], 16) == int(port) and fields[9] in sockets:
                    return True
    except OSError:
        pass
    return False

deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200 and holds_port():
                sys.exit(0)
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(2)
    time.sleep(0.1)
sys.exit(1)
EOF
}

cmd_start() {
    (($# >= 2)) || die "start needs <data-dir> <port> (see --help)"
    local data_dir="$1" port="$2"
    shift 2
    local server_name="localhost" watch_pid="" registrations=()
    while (($# > 0)); do
        case "$1" in
        --registration) registrations+=("$(realpath "${2:?--registration needs a file}")") ;;
        --server-name) server_name="${2:?--server-name needs a name}" ;;
        --watch-pid) watch_pid="${2:?--watch-pid needs a pid}" ;;
        *) die "start: unknown option $1" ;;
        esac
        shift 2
    done
    [[ "$port" =~ ^[0-9]+$ ]] || die "start: port must be a number, got '$port'"

    cmd_install
    mkdir -p "$data_dir"
    data_dir="$(realpath "$data_dir")"
    if [[ -f "$data_dir/synapse.pid" ]] && is_running "$(cat "$data_dir/synapse.pid")"; then
        die "Synapse is already running for $data_dir (pid $(cat "$data_dir/synapse.pid"))"
    fi

    local started="$EPOCHREALTIME"
    # Secrets and the signing key survive a restart, so tokens and signatures stay valid.
    write_secret_file "$data_dir/shared_secret"
    write_secret_file "$data_dir/macaroon_secret"
    write_secret_file "$data_dir/form_secret"
    if [[ ! -s "$data_dir/signing.key" ]]; then
        (umask 077 && "$VENV/bin/generate_signing_key" -o "$data_dir/signing.key")
    fi
    write_log_config "$data_dir"
    write_homeserver_config "$data_dir" "$port" "$server_name" ${registrations[@]+"${registrations[@]}"}

    # All file descriptors are redirected so a caller reading our output is not held open.
    "$VENV/bin/python" -m synapse.app.homeserver --config-path "$data_dir/homeserver.yaml" \
        </dev/null >"$data_dir/synapse.out" 2>&1 &
    local pid=$!
    echo "$pid" >"$data_dir/synapse.pid"

    if [[ -n "$watch_pid" ]]; then
        # Stops Synapse when the harness dies without running its clean-up (e.g. SIGKILL).
        (
            while kill -0 "$watch_pid" 2>/dev/null && is_running "$pid"; do sleep 1; done
            kill -TERM "$pid" 2>/dev/null || true
        ) </dev/null >/dev/null 2>&1 &
    fi

    local status=0
    wait_until_ready "$port" "$pid" || status=$?
    if ((status != 0)); then
        if ((status == 2)); then
            echo "synapse.sh: Synapse exited during start-up" >&2
        else
            echo "synapse.sh: Synapse did not answer on port $port within ${START_TIMEOUT_S}s" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "--- tail of $data_dir/synapse.out ---" >&2
        tail -n 20 "$data_dir/synapse.out" >&2 || true
        echo "--- tail of $data_dir/homeserver.log ---" >&2
        tail -n 40 "$data_dir/homeserver.log" >&2 || true
        exit 1
    fi
    echo "synapse.sh: Synapse $SYNAPSE_VERSION ($server_name) ready on http://127.0.0.1:$port" \
        "in $(elapsed_since "$started")s (pid $pid)" >&2
}

cmd_stop() {
    (($# == 1)) || die "stop needs <data-dir>"
    local pid_file="$1/synapse.pid"
    [[ -f "$pid_file" ]] || return 0
    local pid
    pid="$(cat "$pid_file")"
    if is_running "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + STOP_TIMEOUT_S))
        while is_running "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
        if is_running "$pid"; then
            echo "synapse.sh: Synapse (pid $pid) ignored SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            while is_running "$pid"; do sleep 0.1; done
        fi
    fi
    rm -f "$pid_file"
}

cmd_register() {
    (($# >= 4)) || die "register needs <data-dir> <port> <localpart> <password> [--admin]"
    local data_dir="$1" port="$2" localpart="$3" password="$4" admin="false"
    if (($# >= 5)); then
        [[ "$5" == "--admin" ]] || die "register: unknown option $5"
        admin="true"
    fi
    [[ -x "$VENV/bin/python" ]] || die "Synapse is not installed; run '$0 install'"
    "$VENV/bin/python" - "$port" "$data_dir/shared_secret" "$localpart" "$password" "$admin" <<'EOF'
import hashlib, hmac, json, sys, urllib.error, urllib.request

port, secret_file, user, password, admin = sys.argv[1:]
secret = open(secret_file).read().strip().encode()
url = f"http://127.0.0.1:{port}/_synapse/admin/v1/register"
with urllib.request.urlopen(url) as response:
    nonce = json.load(response)["nonce"]
mac = hmac.new(secret, digestmod=hashlib.sha1)
admin_flag = b"admin" if admin == "true" else b"notadmin"
mac.update(b"\0".join([nonce.encode(), user.encode(), password.encode(), admin_flag]))
body = {"nonce": nonce, "username": user, "password": password,
        "admin": admin == "true", "mac": mac.hexdigest()}
request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(request) as response:
        print(json.dumps(json.load(response), indent=2))
except urllib.error.HTTPError as error:
    sys.exit(f"registration failed: {error.code} {error.read().decode()}")
EOF
}

main() {
    local command="${1:-}"
    (($# > 0)) && shift
    case "$command" in
    install) cmd_install "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    register) cmd_register "$@" ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
