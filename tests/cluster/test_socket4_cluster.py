"""Node's socket.io 4 server tools across two processes sharing Redis.

Two processes of tests/support/socket4_apps.py (threading and eventlet)
sharing Redis, then RabbitMQ, one python-socketio client on each (polling on one, WebSocket on the
other): ``fetch_sockets`` from one process returns the clients of the
other with their rooms, data and handshake; a fetched socket's ``emit``,
``join``, ``leave`` and ``disconnect`` reach a client held elsewhere;
``sockets_join`` then a room emit; ``disconnect_sockets`` of a room that
spans the processes; ``server_side_emit`` without waiting, with answers,
and with a timeout; ``exclude`` of a room that spans them; middlewares and
on_any on a middleware-refused and an unhandled event stay per process.
The official Node client's view is in test_socket4_cluster_node.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster.test_engine_forwarding import REDIS, redis_answers
from tests.conftest import require
from tests.support.peer import Peer, connect_peer
from tests.support.rabbitmq_server import SHARED_URL, amqp_answers
from tests.support.servers import ServerProcess

APP = "tests.support.socket4_apps:sio_socket4"
MODES = ["threading", "eventlet"]

pytestmark = pytest.mark.xdist_group("socket4-cluster")


@pytest.fixture(scope="module", params=["redis", "rabbitmq"])
def servers(request: pytest.FixtureRequest) -> Iterator[list[ServerProcess]]:
    if request.param == "redis":
        require(redis_answers(), "a Redis server on 127.0.0.1:6379 (make prereqs starts one)")
        url = REDIS
    else:
        require(amqp_answers(), "RabbitMQ on 127.0.0.1:5672 (make prereqs starts it)")
        url = SHARED_URL
    options: dict[str, object] = {
        "message_queue": url,
        "channel": f"socket4-{uuid.uuid4().hex[:8]}",
    }
    started = []
    try:
        for mode in MODES:
            started.append(ServerProcess(APP, mode, dict(options)).start())
        yield started
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def peers(servers: list[ServerProcess]) -> Iterator[list[Peer]]:
    """One client per process: polling on the first, WebSocket on the second."""
    made = [
        connect_peer(servers[0].url, ["polling"], auth={"name": "a"}),
        connect_peer(servers[1].url, ["websocket"], auth={"name": "b"}),
    ]
    # RabbitMQ cannot count who gets a message: a process asks those it
    # heard from (heartbeats every second), so wait until they heard each other.
    deadline = time.monotonic() + 15
    while not all(len(call(peer, "fetch")) == 2 for peer in made):
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    yield made
    for peer in made:
        if peer.client.connected:
            peer.client.disconnect()


def call(peer: Peer, event: str, *args: Any) -> Any:
    return peer.client.call(event, args, timeout=15)


def sid(peer: Peer) -> str:
    found = peer.client.get_sid()
    assert found is not None
    return found


def test_fetch_sockets_returns_the_clients_of_every_process(peers: list[Peer]) -> None:
    a, b = peers
    call(b, "join", "blue")
    call(b, "save", "team", "b-team")
    found = {view["sid"]: view for view in call(a, "fetch")}
    assert sid(a) in found and sid(b) in found
    remote = found[sid(b)]
    assert remote["local"] is False
    assert remote["rooms"] == [sid(b), "blue"]
    assert remote["data"]["team"] == "b-team"
    assert remote["auth"] == {"name": "b"}
    assert remote["address"] == "127.0.0.1"
    assert {"auth", "query", "headers", "address", "time", "issued"} <= set(remote["handshake"])
    assert found[sid(a)]["local"] is True
    # Only the members of a room, and a room left out.
    assert [v["sid"] for v in call(a, "fetch", "blue")] == [sid(b)]
    assert sid(b) not in [v["sid"] for v in call(a, "fetch", None, "blue")]


def test_a_session_that_cannot_cross_the_broker_is_left_out_not_the_socket(
    peers: list[Peer],
) -> None:
    a, b = peers
    call(b, "save_odd")
    found = {view["sid"]: view for view in call(a, "fetch")}
    assert found[sid(b)]["data"] == {}
    assert found[sid(b)]["rooms"] == [sid(b)]


def test_a_fetched_socket_acts_on_a_client_another_process_holds(peers: list[Peer]) -> None:
    a, b = peers
    call(a, "view_emit", sid(b), "hi", 1, "two")
    assert b.wait("hi") == [(1, "two")]
    call(a, "view_join", sid(b), "green")
    assert [v["sid"] for v in call(a, "fetch", "green")] == [sid(b)]
    call(a, "view_leave", sid(b), "green")
    assert call(a, "fetch", "green") == []
    call(a, "view_disconnect", sid(b), False)
    assert b.wait_disconnect() != []


def test_sockets_join_then_a_room_emit_reaches_both_processes(peers: list[Peer]) -> None:
    a, b = peers
    room = f"r-{uuid.uuid4().hex[:6]}"
    call(b, "join_all", [room])
    call(a, "to_except", room, None, "news", "for the room")
    for peer in peers:
        assert peer.wait("news") == [("for the room",)]
    call(a, "leave_all", room)
    assert call(b, "fetch", room) == []


def test_exclude_of_a_room_spanning_the_processes(
    servers: list[ServerProcess], peers: list[Peer]
) -> None:
    a, b = peers
    c = connect_peer(servers[1].url, ["polling"])
    try:
        for peer in (a, b):
            call(peer, "join", "muted")
        call(a, "to_except", None, "muted", "news", "not for the muted")
        call(a, "plain_all", "last")
        for peer in (a, b, c):
            peer.wait("last")
        assert c.wait("news") == [("not for the muted",)]
        assert a.events.get("news") is None and b.events.get("news") is None
    finally:
        c.client.disconnect()


def test_disconnect_sockets_of_a_room_spanning_the_processes(
    servers: list[ServerProcess], peers: list[Peer]
) -> None:
    a, b = peers
    stays = connect_peer(servers[0].url, ["websocket"])
    try:
        call(stays, "join_all", ["doomed"], [sid(a), sid(b)])
        call(stays, "kick_all", "doomed")
        assert a.wait_disconnect() != [] and b.wait_disconnect() != []
        assert stays.client.connected
        assert [v["sid"] for v in call(stays, "fetch")] == [sid(stays)]
    finally:
        stays.client.disconnect()


def test_server_side_emit_with_answers_without_waiting_and_with_a_timeout(
    servers: list[ServerProcess], peers: list[Peer]
) -> None:
    a, b = peers
    answers = call(a, "ask_servers", 5, "ping", 3)
    # The other process answers; the sender does not get its own event.
    assert len(answers) == 1
    assert answers[0]["args"] == ["ping", 3]
    call(a, "tell_servers", "reload", {"v": 2})
    deadline = time.monotonic() + 15
    while call(b, "notes") != [["reload", {"v": 2}]] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert call(b, "notes") == [["reload", {"v": 2}]]
    assert call(a, "notes") == []
    late = call(a, "slow_servers", 0.5)
    # The timeout names the process that did not answer (b's: a sid
    # starts with its process's node id).
    (missing,) = late["timeout"]
    assert sid(b).startswith(missing)
    message = late["message"]
    assert f"0 of 1 other processes answered in time; no answer from {missing}" in message


def test_the_flask_extension_across_processes(servers: list[ServerProcess]) -> None:
    options = {**servers[0].options, "channel": f"socket4-flask-{uuid.uuid4().hex[:8]}"}
    flask_app = "tests.support.socket4_apps:flask_socket4"
    started = [ServerProcess(flask_app, mode, dict(options)).start() for mode in MODES]
    peers = [connect_peer(server.url, ["websocket"]) for server in started]
    try:
        a, b = peers
        deadline = time.monotonic() + 15
        while not all(len(call(peer, "fetch")) == 2 for peer in peers):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        call(a, "join_all", ["flask-room"], sid(b))
        assert call(a, "fetch", "flask-room") == [
            {"sid": sid(b), "rooms": [sid(b), "flask-room"], "local": False}
        ]
        # The other process's handler answers, in its app's context.
        (answer,) = call(a, "ask_servers", 5, "hi")
        assert answer["args"] == ["hi"]
        assert answer["app"] == "tests.support.socket4_apps"
    finally:
        for peer in peers:
            peer.client.disconnect()
        for server in started:
            server.stop()
