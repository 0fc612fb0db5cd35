"""``SocketIO(message_queue=...)``: Flask apps in several processes, and emitters with no app."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from realtime.flask_integration import SocketIO
from tests.cluster.test_engine_forwarding import REDIS, redis_answers
from tests.conftest import require
from tests.support.peer import Peer, connect_peer
from tests.support.servers import ServerProcess

APP = "tests.support.flask_apps:create_app"


@pytest.fixture
def deployment() -> Iterator[tuple[str, list[ServerProcess]]]:
    require(redis_answers(), "a Redis server on 127.0.0.1:6379 (make prereqs starts one)")
    channel = f"flask-{uuid.uuid4().hex[:8]}"
    options = {"message_queue": REDIS, "channel": channel}
    servers = []
    try:
        for mode in ("threading", "eventlet"):
            servers.append(ServerProcess(APP, mode, dict(options)).start())
        yield channel, servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def members(deployment: tuple[str, list[ServerProcess]]) -> Iterator[tuple[str, list[Peer]]]:
    """A client of each process, both in one room."""
    _, servers = deployment
    room = f"room-{uuid.uuid4().hex[:6]}"
    peers = [connect_peer(server.url, ["websocket"]) for server in servers]
    for peer in peers:
        assert room in peer.client.call("join", room, timeout=10)
    yield room, peers
    for peer in peers:
        peer.client.disconnect()


def test_a_view_on_one_process_reaches_clients_of_the_other(
    deployment: tuple[str, list[ServerProcess]], members: tuple[str, list[Peer]]
) -> None:
    _, servers = deployment
    room, peers = members
    response = requests.post(f"{servers[0].url}/notify/{room}", json={"n": 1}, timeout=10)
    assert response.status_code == 204
    for peer in peers:
        assert peer.wait("notice") == [({"n": 1},)]


def test_an_extension_with_no_app_emits_through_the_queue(
    deployment: tuple[str, list[ServerProcess]], members: tuple[str, list[Peer]]
) -> None:
    channel, _ = deployment
    room, peers = members
    # What a Celery worker or a script does: the extension, a queue, no app.
    worker = SocketIO(message_queue=REDIS, channel=channel)
    worker.emit("notice", {"from": "worker"}, to=room)
    worker.send("plain text", to=room)
    for peer in peers:
        assert peer.wait("notice") == [({"from": "worker"},)]
        assert peer.wait("message") == [("plain text",)]
    worker.close_room(room)
    worker.emit("notice", "after close", to=room)
    worker.emit("notice", "to everyone")
    for peer in peers:
        assert peer.wait("notice", 2)[1] == ("to everyone",)
    with pytest.raises(ValueError, match="callback"):
        worker.emit("notice", callback=lambda *args: None)


def test_ignore_queue_keeps_to_this_process(
    deployment: tuple[str, list[ServerProcess]], members: tuple[str, list[Peer]]
) -> None:
    # python-socketio's meaning of ignore_queue=True: this process's clients
    # only. Code moved from it must not deliver twice (once here, once
    # through the queue) nor reach the other processes.
    _, servers = deployment
    room, peers = members
    here, there = peers
    response = requests.post(f"{servers[0].url}/notify_here/{room}", json={"n": 1}, timeout=10)
    assert response.status_code == 204
    assert here.wait("notice") == [({"n": 1},)]
    # A later normal emit reaches both: the other process got nothing before it.
    requests.post(f"{servers[0].url}/notify/{room}", json={"n": 2}, timeout=10)
    assert here.wait("notice", 2) == [({"n": 1},), ({"n": 2},)]
    assert there.wait("notice") == [({"n": 2},)]

    # call(ignore_queue=True) to a client of the other process: nobody here
    # has it, so it is a room with no member (as in one process), and the
    # other client is never asked.
    asked: list[Any] = []
    there.client.on("question", lambda *args: asked.append(args) or "answered")
    here.client.on("question", lambda *args: "answered here")
    assert here.client.call("call_here", there.client.get_sid(), timeout=10) == {"answer": {}}
    assert asked == []
    assert here.client.call("call_here", here.client.get_sid(), timeout=10) == {
        "answer": "answered here"
    }

    # close_room(ignore_queue=True): this process's members leave, the others stay.
    here.client.call("close_here", room, timeout=10)
    requests.post(f"{servers[0].url}/notify/{room}", json={"n": 3}, timeout=10)
    assert there.wait("notice", 2) == [({"n": 2},), ({"n": 3},)]
    assert here.wait("notice", 3, timeout=1) == [({"n": 1},), ({"n": 2},)]
