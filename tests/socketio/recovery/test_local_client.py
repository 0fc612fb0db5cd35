"""The in-process test client with connection state recovery on the server."""

from __future__ import annotations

from typing import Any

import realtime
from realtime.socketio.testing import LocalClient


def test_the_test_client_hides_offsets_as_realtime_js_does() -> None:
    sio = realtime.Server(async_mode="threading", connection_state_recovery=True)

    @sio.event
    def hello(sid: str, value: Any) -> str:
        sio.emit("back", (value, "two"), to=sid)
        return "acked"

    client = LocalClient(sio)
    assert client.emit("hello", 1, callback=True) == "acked"
    assert client.get_received() == [{"name": "back", "args": [1, "two"], "namespace": "/"}]


def test_without_recovery_nothing_is_taken_off() -> None:
    sio = realtime.Server(async_mode="threading")

    @sio.event
    def hello(sid: str, *values: Any) -> None:
        sio.emit("back", values, to=sid)

    client = LocalClient(sio)
    client.emit("hello", 1, "2")
    assert client.get_received() == [{"name": "back", "args": [1, "2"], "namespace": "/"}]
