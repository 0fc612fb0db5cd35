"""Health checks and Prometheus metrics, scraped from running servers.

Servers of tests/support/operations_apps.py in child processes; clients are
python-socketio's (one on WebSocket, one on polling); the metrics are read
back with prometheus_client's own parser, and their values checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import socketio
from prometheus_client.parser import text_string_to_metric_families

import realtime
from realtime.engine import DisconnectReason
from realtime.exceptions import ConfigurationError
from tests.conftest import require
from tests.support.embedded import embedded_server
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer, redis_server_path
from tests.support.servers import ROOT, ServerProcess

APPS = {
    "server": "tests.support.operations_apps:sio_ops",
    "flask": "tests.support.operations_apps:flask_ops",
}


_CLIENT_LEFT = ("client disconnect", "transport close")


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``GET /metrics``: (name, sorted labels) -> value."""
    response = requests.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def until(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def client(base: str, transport: str) -> socketio.Client:
    made = socketio.Client(reconnection=False)
    made.on("question", lambda text: f"answer to {text}")
    made.connect(base, transports=[transport], wait_timeout=10)
    return made


@pytest.fixture(params=[("server", "threading"), ("flask", "gevent")], ids="-".join)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    app, mode = request.param
    started = ServerProcess(APPS[app], mode).start()
    yield started
    started.stop()


def test_metrics_follow_clients_connecting_emitting_and_leaving(server: ServerProcess) -> None:
    base = server.url
    ws = client(base, "websocket")
    poll = client(base, "polling")
    try:
        samples = scrape(base)
        assert value(samples, "realtime_connections", transport="websocket") == 1
        assert value(samples, "realtime_connections", transport="polling") == 1
        assert value(samples, "realtime_sockets", namespace="/", transport="websocket") == 1
        assert value(samples, "realtime_sockets", namespace="/", transport="polling") == 1
        assert value(samples, "realtime_connections_opened_total") == 2
        assert value(samples, "realtime_socket_connects_total", namespace="/") == 2
        assert value(samples, "realtime_pending_acks") == 0

        assert ws.call("echo", "x" * 500, timeout=10) == ["x" * 500]
        got: list[str] = []
        poll.on("shouted", got.append)
        ws.emit("shout", "hello")
        until(lambda: got == ["hello"], "the shout")
        assert poll.call("ask", timeout=10) == "answer to how long?"
        samples = scrape(base)
        # echo, shout, ask
        assert value(samples, "realtime_events_received_total", namespace="/") == 3
        # The shout to both clients, and the question.
        assert value(samples, "realtime_events_sent_total", namespace="/") == 3
        assert value(samples, "realtime_received_bytes_total") >= 500
        assert value(samples, "realtime_sent_bytes_total") > 0
        assert value(samples, "realtime_ack_latency_seconds_count") == 1
        assert value(samples, "realtime_ack_latency_seconds_bucket", le="+Inf") == 1
        assert 0 < value(samples, "realtime_ack_latency_seconds_sum") < 10

        ws.disconnect()
        poll.emit("bye")
        until(lambda: not poll.connected, "the server's disconnect")
        # Both sockets gone; the WebSocket connection closed. (After the
        # server's disconnect, python-socketio's client drops its polling
        # connection without telling the server, which holds it until the
        # ping timeout: the polling connection may still be counted.)
        until(
            lambda: (
                not any(key[0] == "realtime_sockets" for key in scrape(base))
                and value(scrape(base), "realtime_connections", transport="websocket") == 0
            ),
            "both sockets gone, and the WebSocket connection closed",
        )
        samples = scrape(base)
        gone = "realtime_socket_disconnects_total"
        assert value(samples, gone, namespace="/", reason="server disconnect") == 1
        # python-socketio's disconnect() sends DISCONNECT, then closes the
        # WebSocket: the server may see either first.
        left = [value(samples, gone, namespace="/", reason=r) for r in _CLIENT_LEFT]
        assert sum(left) == 1, left
        closed = [
            value(samples, "realtime_connections_closed_total", reason=r) for r in _CLIENT_LEFT
        ]
        assert sum(closed) >= 1, closed
        still_open = value(samples, "realtime_connections", transport="polling")
        assert still_open + sum(closed) == 2
    finally:
        ws.disconnect()
        poll.disconnect()


def test_health_checks(server: ServerProcess) -> None:
    base = server.url
    live = requests.get(f"{base}/health/live", timeout=10)
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert live.headers["Cache-Control"] == "no-store"
    for path in ("/health", "/health/ready", "/health/ready/"):
        ready = requests.get(base + path, timeout=10)
        assert (ready.status_code, ready.json()) == (200, {"status": "ok", "broker": "none"})
    assert requests.head(f"{base}/health", timeout=10).status_code == 200
    refused = requests.post(f"{base}/health", timeout=10)
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, HEAD"
    assert requests.get(f"{base}/health/other", timeout=10).status_code == 404


def test_ready_follows_the_broker() -> None:
    require(redis_server_path() is not None, "redis-server (make prereqs installs it)")
    redis = RedisServer().start()
    server = None
    try:
        server = ServerProcess(
            APPS["server"], "threading", {"message_queue": redis.url, "channel": "ops-ready"}
        ).start()
        base = server.url

        def ready() -> tuple[int, Any]:
            answer = requests.get(f"{base}/health/ready", timeout=10)
            return answer.status_code, answer.json()

        until(lambda: ready()[0] == 200, "ready")
        assert ready() == (200, {"status": "ok", "broker": "reachable"})
        redis.stop()
        until(lambda: ready()[0] == 503, "not ready without Redis", timeout=30)
        assert ready() == (503, {"status": "unavailable", "broker": "unreachable"})
        live = requests.get(f"{base}/health/live", timeout=10)
        assert live.status_code == 200
        redis.start()
        until(lambda: ready()[0] == 200, "ready again", timeout=30)
    finally:
        if server is not None:
            server.stop()
        redis.stop()


def test_paths_are_checked() -> None:
    for options, message in [
        ({"health_path": "health"}, "health_path must be a path"),
        ({"metrics_path": "/"}, "metrics_path must be a path"),
        ({"health_path": "/ops", "metrics_path": "/ops/"}, "must differ"),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            realtime.Server(async_mode="threading", **options)


def test_metrics_go_to_a_registry_of_the_application() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    sio = realtime.Server(async_mode="threading")
    try:
        metrics = sio.enable_metrics(registry)
        assert sio.enable_metrics() is metrics
        text = generate_latest(registry).decode()
        assert "realtime_connections_opened_total 0.0" in text
        assert "realtime_pending_acks 0.0" in text
    finally:
        sio.shutdown()


def test_metrics_sum_gunicorn_workers(tmp_path: Any) -> None:
    """gunicorn -w 2 with prometheus_client's multiprocess mode: whichever
    worker answers a scrape, it reports every worker's clients."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "REALTIME_TEST_MODE": "gevent",
        "REALTIME_TEST_APP": "server",
    }
    command = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "2"]
    command += ["-b", f"127.0.0.1:{port}", "tests.support.gunicorn_ops_app:app"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    clients: list[socketio.Client] = []
    try:

        def live() -> bool:
            try:
                return requests.get(f"{base}/health/live", timeout=2).status_code == 200
            except requests.RequestException:
                return process.poll() is not None

        until(live, "gunicorn to answer", timeout=30)
        assert process.poll() is None
        # Clients until both workers serve some (a WebSocket stays on its worker).
        pids: set[int] = set()
        while len(pids) < 2:
            assert len(clients) < 40, "gunicorn gave every connection to one worker"
            clients.append(client(base, "websocket"))
            pids.add(clients[-1].call("pid", timeout=10))
        count = len(clients)
        for each in clients:
            assert each.call("echo", "hi", timeout=10) == ["hi"]
        # Handshakes of Engine.IO 3, refused by whichever worker got them.
        old = f"{base}/socket.io/?EIO=3&transport=polling"
        for _ in range(4):
            assert requests.get(old, timeout=10).status_code == 400
        # echo and pid by each client
        expected = {
            ("realtime_refused_requests_total", (("reason", "UNSUPPORTED_PROTOCOL_VERSION"),)): 4,
            ("realtime_socket_connects_total", (("namespace", "/"),)): count,
            ("realtime_events_received_total", (("namespace", "/"),)): 2 * count,
            ("realtime_connections", (("transport", "websocket"),)): count,
            ("realtime_sockets", (("namespace", "/"), ("transport", "websocket"))): count,
        }

        def totals() -> dict[Any, float]:
            samples = scrape(base)
            return {key: samples.get(key, 0.0) for key in expected}

        until(lambda: totals() == expected, f"the totals of both workers: {expected}")
        # Any worker answers alike (a new connection each time).
        for _ in range(6):
            assert totals() == expected
        for each in clients:
            each.disconnect()

        def after() -> tuple[float, float]:
            samples = scrape(base)
            open_now = value(samples, "realtime_connections", transport="websocket")
            closed = sum(
                value(samples, "realtime_connections_closed_total", reason=r) for r in _CLIENT_LEFT
            )
            return open_now, closed

        until(lambda: after() == (0, count), "no connection left, each closed by its client")
    finally:
        for each in clients:
            each.disconnect()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _polling(base: str, eio_sid: str | None = None) -> str:
    url = f"{base}/socket.io/?EIO=4&transport=polling"
    return url if eio_sid is None else f"{url}&sid={eio_sid}"


def _packets(base: str, eio_sid: str) -> list[str]:
    answer = requests.get(_polling(base, eio_sid), timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.text.split("\x1e")


def _session(base: str, auth: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """A raw polling session joined to "/" (with ``auth``): its id and the
    CONNECT reply's payload."""
    opened = requests.get(_polling(base), timeout=10)
    eio_sid = json.loads(opened.text[1:])["sid"]
    connect = "40" + (json.dumps(auth) if auth else "")
    assert requests.post(_polling(base, eio_sid), data=connect, timeout=10).text == "ok"
    (reply,) = [p for p in _packets(base, eio_sid) if p.startswith("40")]
    return eio_sid, json.loads(reply[2:])


def test_recovery_attempts_are_counted_by_outcome() -> None:
    sio = realtime.Server(
        async_mode="threading", connection_state_recovery=True, metrics_path="/metrics"
    )
    with embedded_server(sio, "threading") as base:
        eio_sid, welcome = _session(base, None)
        sio.emit("tick", 1, to=welcome["sid"])
        (tick,) = _packets(base, eio_sid)
        offset = json.loads(tick[2:])[-1]
        # The connection drops (not closed on purpose: the socket is kept).
        sio.engine.disconnect(eio_sid, reason=DisconnectReason.TRANSPORT_CLOSE)
        resumed = {"pid": welcome["pid"], "offset": offset}
        # (A resume waits for the dropped socket to be let go: one attempt.)
        assert _session(base, resumed)[1]["sid"] == welcome["sid"]
        _session(base, {"pid": "made-up", "offset": offset})
        samples = scrape(base)
        attempts = "realtime_recovery_attempts_total"
        assert value(samples, attempts, namespace="/", outcome="recovered") == 1
        assert value(samples, attempts, namespace="/", outcome="failed") == 1
    sio.shutdown()
