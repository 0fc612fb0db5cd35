"""The bare engine holds back a client that sends faster than its handler runs.

With ``async_handlers`` (the default) a client's messages wait on its
session's executor; past 256 of them the engine stops reading that client
until half were handled, as the Socket.IO layer does (see
``tests/socketio/test_flood.py``). A WebSocket client sends 2,000 messages of
32 KiB (64 MiB) at a handler that takes 2 ms, in each async mode: every one
is handled, in order, and the server's peak RSS grows by much less than
the flood (read whole, by all of it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests
from websockets.sync.client import connect

from tests.support.servers import ServerProcess


@pytest.fixture
def server(async_mode: str) -> Iterator[ServerProcess]:
    started = ServerProcess("tests.support.apps:engine_slow", async_mode).start()
    yield started
    started.stop()


def _stats(server: ServerProcess, sid: str) -> dict[str, object]:
    answer = requests.get(f"{server.url}/_test/slow", params={"sid": sid}, timeout=10)
    got: dict[str, object] = answer.json()
    return got


def test_a_websocket_flood_is_held_back(server: ServerProcess) -> None:
    url = f"{server.ws_url}/engine.io/?EIO=4&transport=websocket"
    with connect(url, open_timeout=10, max_size=None) as ws:
        opened = ws.recv(timeout=10)
        assert isinstance(opened, str) and opened.startswith("0")
        sid = json.loads(opened[1:])["sid"]
        before = _stats(server, sid)
        blob = "x" * (32 * 1024)
        for n in range(2000):
            ws.send(f"4{n}:{blob}")
        deadline = time.monotonic() + 120
        stats = _stats(server, sid)
        while stats["handled"] != 2000 and time.monotonic() < deadline:
            time.sleep(0.2)
            stats = _stats(server, sid)
    assert stats["handled"] == 2000 and stats["out_of_order"] == [], stats
    grew = int(stats["peak_rss_kib"]) - int(before["peak_rss_kib"])  # type: ignore[call-overload]
    print(f"{server.mode}: grew {grew} KiB")
    assert grew < 32 * 1024, grew
