"""One deployment, two processes, no sticky sessions: every request may land anywhere."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import require
from tests.support import eio
from tests.support.servers import ServerProcess
from tests.support.streams import HttpStream, post

REDIS = "redis://127.0.0.1:6379/0"
MODES = ["eventlet", "gevent", "threading"]


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(params=MODES)
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    require(redis_answers(), "a Redis server on 127.0.0.1:6379 (make prereqs starts one)")
    mode = str(request.param)
    options = {"cluster_url": REDIS, "cluster_channel": f"test-{uuid.uuid4().hex[:8]}"}
    env = {"REALTIME_TEST_MONKEY_PATCH": "1"} if mode == "gevent" else {}
    servers = [
        ServerProcess("tests.support.apps:engine_echo", mode, dict(options), env=env).start()
        for _ in range(2)
    ]
    yield servers[0], servers[1]
    for server in servers:
        server.stop()


def test_polling_requests_may_land_on_either_process(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    sid, _ = eio.handshake(a.url)
    assert eio.post(b.url, sid, "4via b").text == "ok"
    assert eio.poll(a.url, sid).text == "4via b"
    assert eio.post(a.url, sid, "4via a").text == "ok"
    assert eio.poll(b.url, sid).text == "4via a"
    for i in range(10):
        eio.post((a, b)[i % 2].url, sid, f"4m{i}")
        assert eio.poll((b, a)[i % 2].url, sid).text == f"4m{i}"


def test_burst_in_order_through_the_other_process(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    sid, _ = eio.handshake(a.url)
    eio.post(b.url, sid, "4burst:100")
    received: list[str] = []
    while len(received) < 100:
        received += eio.poll(b.url, sid).text.split("\x1e")
    assert received == [f"4b{i}" for i in range(100)]


def test_websocket_upgrade_on_the_other_process(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    sid, _ = eio.handshake(a.url)
    ws = eio.ws_connect(b.ws_url, sid)
    ws.send("2probe")
    assert ws.recv() == "3probe"
    assert eio.poll(a.url, sid).text == "6"
    ws.send("5")
    ws.send("4relayed")
    assert ws.recv() == "4relayed"
    ws.send_binary(b"\x00\x01")
    assert ws.recv() == b"\x00\x01"
    assert eio.poll(a.url, sid).status_code == 400
    assert eio.poll(b.url, sid).status_code == 400
    ws.send("4disconnect-me")
    assert ws.recv() == "1"
    assert eio.ws_closed(ws)
    assert eio.disconnect_reason(a.url, sid) == "server disconnect"


@pytest.mark.parametrize("stream", ["sse", "streaming"])
def test_stream_upgrade_on_the_other_process(
    pair: tuple[ServerProcess, ServerProcess], stream: str
) -> None:
    a, b = pair
    sid, _ = eio.handshake(a.url, ext="ladder")
    downstream = HttpStream(b.url, sid, stream)
    assert post(a.url, sid, stream, "2probe").text == "ok"
    assert downstream.next().encode_text() == "3probe"
    assert eio.poll(b.url, sid).text == "6"
    assert post(b.url, sid, stream, "5").text == "ok"
    post(a.url, sid, stream, "4up via a, down via b")
    assert downstream.next_skipping_pings().encode_text() == "4up via a, down via b"
    downstream.close()
    assert eio.disconnect_reason(a.url, sid) == "transport close"


def test_a_session_no_process_owns_is_refused_at_once(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, _ = pair
    started = time.monotonic()
    response = eio.poll(a.url, "ZZZZZZZZ" + "x" * 16)
    assert response.status_code == 400 and response.json()["code"] == 1
    assert time.monotonic() - started < 2


def test_a_stopped_owner_is_noticed_at_once(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    sid, _ = eio.handshake(a.url)
    a.stop()
    started = time.monotonic()
    assert eio.poll(b.url, sid).status_code == 400
    assert eio.post(b.url, sid, "4anyone?").status_code == 400
    assert time.monotonic() - started < 3


def test_abandoned_forwarded_long_poll_ends_the_session(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    sid, _ = eio.handshake(a.url)
    sock = socket.create_connection(("127.0.0.1", b.port), timeout=10)
    request = f"GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n"
    sock.sendall(request.encode())
    time.sleep(0.5)
    sock.close()
    assert eio.disconnect_reason(a.url, sid) == "transport close"


def test_large_forwarded_post_is_limited_where_it_lands(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    sid, _ = eio.handshake(a.url)
    response = requests.post(eio.url(b.url, sid), data=b"4" + b"x" * 1_100_000, timeout=10)
    assert response.status_code == 413
