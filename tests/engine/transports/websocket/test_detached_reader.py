"""WebSockets served from the hub on realtime's embedded eventlet server.

Once a WebSocket is open, the embedded eventlet server serves it with no green
thread of its own (``HandedOverSocket.detach``): these tests check that idle
connections hold none, that everything a connection does still works from
the hub, and that stopping the server still ends the connections.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import websocket

from realtime.engine import Server
from tests.support import eio
from tests.support.embedded import eventlet_server
from tests.support.servers import ServerPool, ServerProcess

ECHO = "tests.support.apps:engine_echo"


def greenlets(ws: websocket.WebSocket) -> int:
    ws.send("4greenlets")
    return int(str(eio.ws_recv_skip_pings(ws))[1:])


def test_idle_websockets_hold_no_green_thread(server_pool: ServerPool) -> None:
    echo = server_pool.get(ECHO, "eventlet")
    probe, _ = eio.ws_open(echo.ws_url)
    greenlets(probe)  # let the workers the first message needs exist
    before = greenlets(probe)
    idle = [eio.ws_open(echo.ws_url)[0] for _ in range(40)]
    for ws in idle:  # each has read and answered a message since it opened
        ws.send("4hi")
        assert eio.ws_recv_skip_pings(ws) == "4hi"
    after = greenlets(probe)
    # 40 connections once needed 40 green threads; a few workers may be added.
    assert after - before < 10, (before, after)
    for ws in idle:
        ws.send("4still here")
        assert eio.ws_recv_skip_pings(ws) == "4still here"
        ws.close()
    probe.close()


def test_detached_connection_sees_the_peer_vanish(server_pool: ServerPool) -> None:
    echo = server_pool.get(ECHO, "eventlet")
    ws, data = eio.ws_open(echo.ws_url)
    ws.send("4x")
    assert ws.recv() == "4x"
    ws.sock.shutdown(socket.SHUT_RDWR)
    ws.sock.close()
    assert eio.disconnect_reason(echo.url, data["sid"]) == "transport close"


def test_detached_connection_reads_while_its_handler_waits(server_pool: ServerPool) -> None:
    # The handler's burst outlasts the read that started it; messages sent
    # meanwhile are read and answered in order after it.
    echo = server_pool.get(ECHO, "eventlet")
    ws, _ = eio.ws_open(echo.ws_url)
    ws.send("4burst:3000")
    for i in range(20):
        ws.send(f"4m{i}")
    got = [eio.ws_recv_skip_pings(ws) for _ in range(3020)]
    assert got == [f"4b{i}" for i in range(3000)] + [f"4m{i}" for i in range(20)]
    ws.close()


def test_stopping_the_server_ends_detached_connections() -> None:
    engine = Server(async_mode="eventlet")
    reasons: list[str] = []
    engine.on("message", engine.send)
    engine.on("disconnect", lambda sid, reason: reasons.append(str(reason)))
    clients: list[Any] = []
    with eventlet_server(engine) as url:
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


def test_a_detached_connection_after_an_upgrade(server_pool: ServerPool) -> None:
    echo: ServerProcess = server_pool.get(ECHO, "eventlet")
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
