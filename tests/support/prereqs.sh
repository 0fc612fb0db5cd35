#!/usr/bin/env bash
# Installs what the tests need beyond the Python packages of .[test]:
# things that cannot live in the virtualenv's site-packages.
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
CACHE=.cache
mkdir -p "$CACHE"

# gunicorn 26 dropped the eventlet worker; the tests show it working on the
# last release that had it, installed beside (not over) the current one.
if [ ! -f "$CACHE/gunicorn-legacy/gunicorn/__init__.py" ]; then
    "$PY" -m pip install --quiet --no-deps --target "$CACHE/gunicorn-legacy" 'gunicorn<26'
fi

# --- Browser tests (tests/browser) --------------------------------------------
# Headless Chromium from Debian's package, driven by Playwright's Python
# package with executable_path (Playwright's own browser download is not
# used). Installing needs root and the Debian mirrors; without them the
# browser tests skip, or fail under CI.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null 2>&1 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } ||
            echo "prereqs: could not install chromium" >&2
    fi
fi

# --- Proxy tests (tests/proxy) ---------------------------------------------------
# A real nginx, started by the tests on loopback ports with their own config.
# Debian's package starts a default instance on port 80; it is stopped, the
# tests never use it.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null 2>&1 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null 2>&1; } ||
            echo "prereqs: could not install nginx" >&2
        command -v service >/dev/null 2>&1 && service nginx stop >/dev/null 2>&1 || true
    fi
fi

# --- Redis (tests/socketio/managers, multi-process tests) -------------------------------
# The tests use the Redis on 127.0.0.1:6379 and start private redis-servers
# of their own. Start one on the standard port if none answers.
if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null 2>&1 ||
            echo "prereqs: could not install redis-server" >&2
    fi
fi
if command -v redis-server >/dev/null 2>&1; then
    if ! (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null; then
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
            --dir /tmp >/dev/null 2>&1 || echo "prereqs: could not start redis-server" >&2
    fi
fi

# --- JavaScript client tests (tests/node) ------------------------------------
# The Node suite of realtime/static/realtime.js runs against a stock socket.io
# server from npm, pinned by tests/node/package-lock.json. `npm ci` runs only
# when node_modules is missing or older than the lock file. Without npm this
# is skipped; tests/client/test_node_client.py then skips, or fails under CI.
if command -v npm >/dev/null 2>&1; then
    if [ ! -f tests/node/node_modules/.package-lock.json ] ||
        [ tests/node/package-lock.json -nt tests/node/node_modules/.package-lock.json ]; then
        npm ci --prefix tests/node --no-audit --no-fund --loglevel=error >/dev/null
    fi
fi

# --- Web Push tests (tests/push) ------------------------------------------------
# The push service emulator, npm's web-push-testing, pinned by
# tests/push/package-lock.json; installed the same way as above. Without npm
# the push tests skip, or fail under CI.
if command -v npm >/dev/null 2>&1; then
    if [ ! -f tests/push/node_modules/.package-lock.json ] ||
        [ tests/push/package-lock.json -nt tests/push/node_modules/.package-lock.json ]; then
        npm ci --prefix tests/push --no-audit --no-fund --loglevel=error >/dev/null
    fi
fi

# --- The Socket.IO Admin UI (tests/browser/test_admin_ui_in_chromium.py) ---------
# npm's @socket.io/admin-ui, whose built page (ui/dist) the test serves on
# loopback, pinned by tests/admin_ui/package-lock.json; installed the same way
# as above. Without npm the test skips, or fails under CI.
if command -v npm >/dev/null 2>&1; then
    if [ ! -f tests/admin_ui/node_modules/.package-lock.json ] ||
        [ tests/admin_ui/package-lock.json -nt tests/admin_ui/node_modules/.package-lock.json ]; then
        npm ci --prefix tests/admin_ui --no-audit --no-fund --loglevel=error >/dev/null
    fi
fi

# --- The JavaScript client's build (realtime/static/build) -----------------------
# tests/node/loading.test.mjs runs the build scripts to check that the files
# generated from realtime/static/realtime.js are fresh: they need terser (and
# measure-size.js the official client), pinned by their own package-lock.json.
# Installed the same way as above; without npm the test skips, or fails under CI.
if command -v npm >/dev/null 2>&1; then
    if [ ! -f realtime/static/build/node_modules/.package-lock.json ] ||
        [ realtime/static/build/package-lock.json -nt realtime/static/build/node_modules/.package-lock.json ]; then
        npm ci --prefix realtime/static/build --no-audit --no-fund --loglevel=error >/dev/null
    fi
fi

# --- RabbitMQ (tests/socketio/managers/test_kombu_broker.py) ------------------------------
# The kombu broker's tests use a RabbitMQ on 127.0.0.1:5672 and boot private
# nodes of their own from the same package. Start one on the standard port if
# none answers; a node takes a few seconds to boot.
amqp_answers() {
    (exec 3<>/dev/tcp/127.0.0.1/5672 && printf 'AMQP\x00\x00\x09\x01' >&3 &&
        head -c 1 <&3 | od -An -tx1 | grep -q 01) 2>/dev/null
}
if ! command -v rabbitmq-server >/dev/null 2>&1 && [ ! -x /usr/sbin/rabbitmq-server ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q rabbitmq-server >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null 2>&1 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -q rabbitmq-server >/dev/null 2>&1; } ||
            echo "prereqs: could not install rabbitmq-server" >&2
    fi
fi
if ! amqp_answers && { command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ]; }; then
    PATH="$PATH:/usr/sbin" rabbitmq-server -detached >/dev/null 2>&1 ||
        echo "prereqs: could not start rabbitmq-server" >&2
    for _ in $(seq 60); do
        amqp_answers && break
        sleep 1
    done
    amqp_answers || echo "prereqs: rabbitmq-server did not answer on 5672 within 60 s" >&2
fi
