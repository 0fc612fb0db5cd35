"""Raw Engine.IO v4 helpers for tests that check bytes on the wire."""

from __future__ import annotations

import json
import time
from typing import Any

import requests
import websocket

PATH = "/engine.io/"


def url(base: str, sid: str | None = None, transport: str = "polling", **extra: str) -> str:
    query = {"EIO": "4", "transport": transport, **extra}
    if sid is not None:
        query["sid"] = sid
    return base + PATH + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def handshake(base: str, **extra: str) -> tuple[str, dict[str, Any]]:
    """Open a polling session; returns (sid, open packet data)."""
    response = requests.get(url(base, **extra), timeout=10)
    assert response.status_code == 200, response.text
    assert response.text.startswith("0")
    data = json.loads(response.text[1:])
    return data["sid"], data


def poll(base: str, sid: str, timeout: float = 10) -> requests.Response:
    return requests.get(url(base, sid), timeout=timeout)


def poll_url(base: str, sid: str, **query: str) -> requests.Response:
    """A polling GET with extra query parameters (``wait="0"`` for short polling)."""
    return requests.get(url(base, sid, **query), timeout=10)


def post(base: str, sid: str, body: str | bytes, **headers: str) -> requests.Response:
    return requests.post(url(base, sid), data=body, headers=headers, timeout=10)


def ws_connect(base_ws: str, sid: str | None = None, **options: Any) -> websocket.WebSocket:
    return websocket.create_connection(url(base_ws, sid, "websocket"), timeout=10, **options)


def ws_open(base_ws: str) -> tuple[websocket.WebSocket, dict[str, Any]]:
    """A WebSocket-only session; returns the socket and the open packet data."""
    ws = ws_connect(base_ws)
    first = ws.recv()
    assert isinstance(first, str) and first.startswith("0")
    return ws, json.loads(first[1:])


def ws_recv_skip_pings(ws: websocket.WebSocket) -> str | bytes:
    """The next frame that is not a server ping (answering the ping)."""
    while True:
        frame = ws.recv()
        if frame == "2":
            ws.send("3")
            continue
        return frame


def ws_closed(ws: websocket.WebSocket, timeout: float = 5) -> bool:
    """True if the server closes the WebSocket within ``timeout`` seconds."""
    ws.settimeout(timeout)
    try:
        while True:
            opcode, _ = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return True
    except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
        return True
    except websocket.WebSocketTimeoutException:
        return False


def disconnect_state(base: str, sid: str) -> dict[str, Any]:
    """What the test app knows of ``sid``: its disconnect reason, if any, and
    whether it is connected."""
    return requests.get(f"{base}/_test/disconnects?sid={sid}", timeout=10).json()  # type: ignore[no-any-return]


def disconnect_reason(base: str, sid: str, timeout: float = 5) -> str | None:
    """The reason the disconnect handler got for ``sid``, waiting for it to run
    (it runs on a worker task, after the close)."""
    deadline = time.monotonic() + timeout
    while True:
        reason = disconnect_state(base, sid)["reason"]
        if reason is not None or time.monotonic() > deadline:
            return reason  # type: ignore[no-any-return]
        time.sleep(0.05)
