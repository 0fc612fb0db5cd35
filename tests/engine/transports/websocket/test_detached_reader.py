"""WebSockets served with no task of their own, on realtime's embedded servers.

Once a WebSocket is open, realtime's embedded servers serve it with no green
thread or thread of its own (``HandedOverSocket.detach``): eventlet's hub,
gevent's io watchers, or in threading mode one watcher thread and a pool of
reading threads report it readable. These tests check, in each mode, that
idle connections hold no task, that everything a connection does still
works (both ways, text and binary, large messages, many connections at
once), that a client that vanishes is a DEBUG line that disturbs no one,
and that stopping the server still ends the connections.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from realtime.engine import Server
from tests.engine.conftest import ECHO
from tests.support import eio
from tests.support.embedded import embedded_server
from tests.support.raw_websocket import open_raw
from tests.support.servers import ServerProcess
from tests.support.vanishing import GONE, ServerLog, logged_server

pytestmark = pytest.mark.usefixtures("async_mode")


def tasks(ws: websocket.WebSocket, mode: str) -> int:
    """Green threads alive (green modes), or threads (threading), in the server."""
    ws.send("4threads" if mode == "threading" else "4greenlets")
    return int(str(eio.ws_recv_skip_pings(ws))[1:])


def test_idle_websockets_hold_no_task(echo: ServerProcess, async_mode: str) -> None:
    probe, _ = eio.ws_open(echo.ws_url)
    tasks(probe, async_mode)  # let the workers the first message needs exist
    before = tasks(probe, async_mode)
    idle = [eio.ws_open(echo.ws_url)[0] for _ in range(40)]
    for ws in idle:  # each has read and answered a message since it opened
        ws.send("4hi")
        assert eio.ws_recv_skip_pings(ws) == "4hi"
    after = tasks(probe, async_mode)
    # 40 connections once needed 40 tasks; a few workers may be added.
    assert after - before < 10, (before, after)
    for ws in idle:
        ws.send("4still here")
        assert eio.ws_recv_skip_pings(ws) == "4still here"
        ws.close()
    probe.close()


def test_text_binary_and_large_messages_both_ways(echo: ServerProcess) -> None:
    ws, _ = eio.ws_open(echo.ws_url)
    ws.send("4héllo")
    assert eio.ws_recv_skip_pings(ws) == "4héllo"
    ws.send_binary(b"\x00\x01\xff")
    assert eio.ws_recv_skip_pings(ws) == b"\x00\x01\xff"
    large = bytes(range(256)) * 3500  # 896 KB (the limit is 1 MB), read in many pieces
    ws.send_binary(large)
    assert eio.ws_recv_skip_pings(ws) == large
    large_text = "4" + "x" * 700_000
    ws.send(large_text)
    assert eio.ws_recv_skip_pings(ws) == large_text
    ws.send("4binary:3000000")  # 3 MB from the server, past the kernel's buffers
    got = eio.ws_recv_skip_pings(ws)
    assert isinstance(got, bytes)
    assert len(got) == 3_000_000 // 256 * 256 + 1
    ws.close()


def test_many_connections_at_once(echo: ServerProcess) -> None:
    clients = [eio.ws_open(echo.ws_url)[0] for _ in range(100)]
    barrier = threading.Barrier(len(clients))
    results: dict[int, list[Any]] = {}

    def talk(index: int, ws: websocket.WebSocket) -> None:
        barrier.wait()
        for i in range(5):
            ws.send(f"4c{index}m{i}")
        results[index] = [eio.ws_recv_skip_pings(ws) for _ in range(5)]

    threads = [threading.Thread(target=talk, args=item) for item in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {n: [f"4c{n}m{i}" for i in range(5)] for n in range(len(clients))}
    for ws in clients:
        ws.close()


def test_detached_connection_sees_the_peer_vanish(echo: ServerProcess) -> None:
    ws, data = eio.ws_open(echo.ws_url)
    ws.send("4x")
    assert ws.recv() == "4x"
    ws.sock.shutdown(socket.SHUT_RDWR)
    ws.sock.close()
    assert eio.disconnect_reason(echo.url, data["sid"]) == "transport close"


@pytest.fixture
def logged(async_mode: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerLog]]:
    process = logged_server(ECHO, async_mode, tmp_path / "server.log")
    log = ServerLog(tmp_path / "server.log")
    log.mark()
    yield process, log
    process.stop()


def test_an_idle_client_reset_is_a_debug_line(logged: tuple[ServerProcess, ServerLog]) -> None:
    process, log = logged
    other, _ = eio.ws_open(process.ws_url)
    gone = []
    for _ in range(5):
        ws = open_raw(process.port, "EIO=4&transport=websocket", want_after=10)
        gone.append(json.loads(ws.after[ws.after.index(b"{") :])["sid"])
        ws.send_text("4x")
        time.sleep(0.05)  # read and answered: the connection is idle again
        ws.reset()
    assert log.wait_for(GONE), log.since_mark()
    for sid in gone:
        assert eio.disconnect_reason(process.url, sid) == "transport close"
    other.send("4still served")
    assert eio.ws_recv_skip_pings(other) == "4still served"
    other.close()
    assert log.crash_like() == []


def test_detached_connection_reads_while_its_handler_waits(echo: ServerProcess) -> None:
    # The handler's burst outlasts the read that started it; messages sent
    # meanwhile are read and answered in order after it.
    ws, _ = eio.ws_open(echo.ws_url)
    ws.send("4burst:3000")
    for i in range(20):
        ws.send(f"4m{i}")
    got = [eio.ws_recv_skip_pings(ws) for _ in range(3020)]
    assert got == [f"4b{i}" for i in range(3000)] + [f"4m{i}" for i in range(20)]
    ws.close()


def test_stopping_the_server_ends_detached_connections(async_mode: str) -> None:
    engine = Server(async_mode=async_mode)
    reasons: list[str] = []
    engine.on("message", engine.send)
    engine.on("disconnect", lambda sid, reason: reasons.append(str(reason)))
    clients: list[Any] = []
    with embedded_server(engine, async_mode) as url:
        for _ in range(3):
            ws, _data = eio.ws_open(url.replace("http://", "ws://"))
            ws.send("4ping me")
            assert ws.recv() == "4ping me"
            clients.append(ws)
    for ws in clients:
        assert eio.ws_closed(ws)
    deadline = time.monotonic() + 5
    while len(reasons) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reasons == ["transport close"] * 3


def test_a_detached_connection_after_an_upgrade(echo: ServerProcess) -> None:
    sid, _ = eio.handshake(echo.url)
    ws = eio.ws_connect(echo.ws_url, sid)
    ws.send("2probe")
    assert ws.recv() == "3probe"
    assert eio.poll(echo.url, sid).text == "6"
    # The upgrade packet and a message in one write: the message was parsed
    # along with the upgrade, before the connection was detached.
    ws.sock.sendall(
        websocket.ABNF.create_frame("5", websocket.ABNF.OPCODE_TEXT).format()
        + websocket.ABNF.create_frame("4after", websocket.ABNF.OPCODE_TEXT).format()
    )
    assert eio.ws_recv_skip_pings(ws) == "4after"
    ws.close()
