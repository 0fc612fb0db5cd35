"""A Flask app's managed session comes back with a recovered connection.

The typical Flask-SocketIO app of ``tests.support.flask_apps`` with
connection state recovery on, spoken to in raw Socket.IO over a WebSocket:
the client stores a value in Flask's ``session``, its connection dies
without a close, and a new connection that sends the ``pid`` finds its sid
and the value again.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import websocket

from tests.support import eio
from tests.support.servers import ServerPool

APP = "tests.support.flask_apps:create_app"


def _open(base_ws: str) -> websocket.WebSocket:
    ws = websocket.create_connection(f"{base_ws}/socket.io/?EIO=4&transport=websocket", timeout=10)
    assert str(ws.recv()).startswith("0")
    return ws


def _reply(ws: websocket.WebSocket, prefix: str) -> str:
    """The next Socket.IO packet starting with ``prefix`` (answering pings)."""
    while True:
        frame = eio.ws_recv_skip_pings(ws)
        if isinstance(frame, str) and frame.startswith(prefix):
            return frame[len(prefix) :]


def _connect(ws: websocket.WebSocket, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    ws.send("40" + (json.dumps(payload) if payload else ""))
    reply: dict[str, Any] = json.loads(_reply(ws, "40"))
    return reply


def _call(ws: websocket.WebSocket, ack_id: int, *args: Any) -> list[Any]:
    """Emit with an ack id; the acknowledgement's arguments."""
    ws.send(f"42{ack_id}{json.dumps(list(args))}")
    answer: list[Any] = json.loads(_reply(ws, f"43{ack_id}"))
    return answer


@pytest.mark.parametrize("mode", ["threading", "eventlet"])
def test_the_managed_session_comes_back(server_pool: ServerPool, mode: str) -> None:
    server = server_pool.get(APP, mode, connection_state_recovery=True)
    ws = _open(server.ws_url)
    first = _connect(ws)
    assert set(first) == {"sid", "pid"}
    _call(ws, 1, "remember", "kept across the drop")
    assert _call(ws, 2, "recall")[0]["value"] == "kept across the drop"
    ws.sock.close()  # no close frame, no DISCONNECT: the network went away

    again = _open(server.ws_url)
    try:
        back = _connect(again, {"pid": first["pid"]})
        assert back["sid"] == first["sid"]
        assert _call(again, 1, "recall")[0]["value"] == "kept across the drop"
    finally:
        again.close()


def test_a_fresh_connection_gets_a_fresh_session(server_pool: ServerPool) -> None:
    server = server_pool.get(APP, "threading", connection_state_recovery=True)
    ws = _open(server.ws_url)
    _connect(ws)
    _call(ws, 1, "remember", "mine")
    ws.close()
    other = _open(server.ws_url)
    try:
        _connect(other)
        assert _call(other, 1, "recall")[0]["value"] is None
    finally:
        other.close()
