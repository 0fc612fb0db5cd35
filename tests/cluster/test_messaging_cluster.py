"""Three server processes, one in each async mode, acting as one server through Redis.

python-socketio clients are spread over the processes; what a handler does
on one process reaches clients served by the others: broadcasts, rooms,
``close_room``, ``disconnect``, ``call()`` and emit callbacks. The emitter of
a process that serves no one (``realtime.Emitter``) reaches them too.

Every test runs twice: as is, and with connection state recovery on, where
events and room changes go through a Redis Stream instead of the
publish/subscribe fan-out (realtime/socketio/recovery/redis_log.py), with the same
promises of order.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import websocket

import realtime
from tests.cluster.test_engine_forwarding import REDIS, redis_answers
from tests.conftest import require
from tests.support.peer import Peer
from tests.support.servers import ServerProcess

APP = "tests.support.cluster_apps:sio_cluster"
MODES = ["threading", "eventlet", "gevent"]

pytestmark = pytest.mark.xdist_group("messaging-cluster")

_rooms = itertools.count()


def room() -> str:
    return f"room-{next(_rooms)}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module", params=["fanout", "recovery"])
def cluster(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[ServerProcess]]]:
    require(redis_answers(), "a Redis server on 127.0.0.1:6379 (make prereqs starts one)")
    channel = f"cluster-{uuid.uuid4().hex[:8]}"
    options: dict[str, object] = {"message_queue": REDIS, "channel": channel}
    if request.param == "recovery":
        options["connection_state_recovery"] = True
    servers = []
    try:
        for mode in MODES:
            env = {"REALTIME_TEST_MONKEY_PATCH": "1"} if mode == "gevent" else {}
            servers.append(ServerProcess(APP, mode, dict(options), env=env).start())
        yield channel, servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def servers(cluster: tuple[str, list[ServerProcess]]) -> list[ServerProcess]:
    return cluster[1]


@pytest.fixture
def peers(servers: list[ServerProcess]) -> Iterator[list[Peer]]:
    """One connected client per process, each answering ``question`` with its sid."""
    made = []
    for i, server in enumerate(servers):
        peer = Peer(offsets="connection_state_recovery" in servers[0].options)
        peer.client.on("question", lambda *args, p=peer: [p.client.get_sid(), *args])
        transports = ["websocket"] if i % 2 else ["polling"]
        peer.client.connect(server.url, transports=transports, wait_timeout=10)
        made.append(peer)
    yield made
    for peer in made:
        if peer.client.connected:
            peer.client.disconnect()


def sid_of(peer: Peer) -> str:
    sid = peer.client.get_sid()
    assert sid is not None
    return sid


def call(peer: Peer, event: str, *args: Any) -> Any:
    return peer.client.call(event, args, timeout=15)


def test_each_process_serves_its_own_clients(peers: list[Peer]) -> None:
    pids = {call(peer, "whoami")["pid"] for peer in peers}
    assert len(pids) == len(MODES)


def test_a_broadcast_reaches_every_process_once_and_in_order(peers: list[Peer]) -> None:
    sender = peers[1]
    for n in range(50):
        sender.client.emit("to", (None, "tick", n))
    for peer in peers:
        assert peer.wait("tick", 50) == [(n,) for n in range(50)]
    # Nothing arrives twice: a last one closes the stream.
    call(sender, "to", None, "last")
    for peer in peers:
        peer.wait("last")
        assert len(peer.events["tick"]) == 50


def test_rooms_span_processes_with_exclusions(peers: list[Peer]) -> None:
    name = room()
    for peer in peers:
        call(peer, "join", name)
    a, b, c = peers
    call(a, "to_except", name, sid_of(c), "news", "not for c")
    call(a, "to", name, "news", "for all")
    for peer in (a, b):
        assert peer.wait("news", 2) == [("not for c",), ("for all",)]
    assert c.wait("news") == [("for all",)]


def test_a_sid_served_elsewhere_is_a_room_of_one(peers: list[Peer]) -> None:
    a, b, c = peers
    call(a, "to", sid_of(c), "direct", 1)
    call(a, "to", [sid_of(b), sid_of(c)], "direct", 2)
    assert c.wait("direct", 2) == [(1,), (2,)]
    assert b.wait("direct") == [(2,)]
    assert "direct" not in a.events


def test_enter_and_leave_room_of_a_client_served_elsewhere(peers: list[Peer]) -> None:
    a, b, c = peers
    name = room()
    call(a, "put", sid_of(b), name)
    call(a, "put", sid_of(c), name)
    # Each process hears another one's messages in the order it sent them,
    # so this emit follows the joins on every process.
    call(a, "to", name, "in_room", "first")
    call(a, "take", sid_of(c), name)
    call(a, "to", name, "in_room", "second")
    assert b.wait("in_room", 2) == [("first",), ("second",)]
    assert c.wait("in_room") == [("first",)]
    call(a, "to", None, "sync")
    c.wait("sync")
    assert c.events["in_room"] == [("first",)]


def test_what_was_emitted_before_a_client_left_a_room_reaches_it(peers: list[Peer]) -> None:
    # With recovery on, a process reads its own events back from Redis; it
    # catches up before a client of its own leaves, as it would have
    # delivered them at once without recovery.
    a, b, _ = peers
    name = room()
    for peer in (a, b):
        call(peer, "join", name)
    for n in range(20):
        call(a, "to", name, "before_leaving", n)
        call(a, "leave", name)
        call(a, "join", name)
    call(b, "to", None, "sync")
    a.wait("sync")
    assert a.wait("before_leaving", 20) == [(n,) for n in range(20)]


def test_close_room_on_every_process(peers: list[Peer]) -> None:
    name = room()
    for peer in peers:
        call(peer, "join", name)
    b = peers[1]
    call(b, "close", name)
    call(b, "to", name, "after_close")
    call(b, "to", None, "sync")
    for peer in peers:
        peer.wait("sync")
        assert "after_close" not in peer.events


def test_ignore_queue_keeps_to_the_calling_process(peers: list[Peer]) -> None:
    # python-socketio's meaning: this process's clients only, never twice.
    a, b, c = peers
    name = room()
    for peer in peers:
        call(peer, "join", name)
    call(a, "here_to", name, "local", "only here")
    call(a, "to", name, "everywhere", 1)
    for peer in peers:
        peer.wait("everywhere")
    assert a.events.get("local") == [("only here",)]
    assert "local" not in b.events and "local" not in c.events
    # A client of another process is not disconnected from here.
    call(a, "here_kick", sid_of(b))
    call(a, "to", None, "sync")
    b.wait("sync")
    assert b.client.connected and not b.disconnect_reasons
    a.client.emit("here_kick", (sid_of(a),))  # its own client: disconnected, no answer
    assert a.wait_disconnect() == ["server disconnect"]


def test_disconnect_a_client_served_elsewhere(peers: list[Peer]) -> None:
    a, b, _ = peers
    call(a, "kick", sid_of(b))
    assert b.wait_disconnect() == ["server disconnect"]


def test_call_a_client_served_elsewhere(peers: list[Peer]) -> None:
    a, b, c = peers
    assert call(a, "ask_sid", sid_of(b), 10) == {"answer": [sid_of(b), sid_of(b)]}
    # to= a sid served elsewhere is one client, as it is on its own process.
    assert call(c, "ask_to", sid_of(a), 10) == {"answer": [sid_of(a), "to"]}


def test_call_a_room_gathers_answers_from_every_process(
    servers: list[ServerProcess], peers: list[Peer]
) -> None:
    name = room()
    for peer in peers:
        call(peer, "join", name)
    # A client on the third process that never answers.
    silent = websocket.create_connection(
        f"{servers[2].ws_url}/socket.io/?EIO=4&transport=websocket", timeout=10
    )
    try:
        silent.recv()
        silent.send("40")
        silent_sid = json.loads(str(silent.recv())[2:])["sid"]
        call(peers[2], "put", silent_sid, name)
        result = call(peers[0], "ask_to", name, 1.5)
    finally:
        silent.close()
    expected = {sid_of(p): {"answer": [sid_of(p), "to"]} for p in peers}
    expected[silent_sid] = {"timeout": True, "disconnected": False}
    assert result == {"each": expected}


def test_call_a_client_that_left_or_never_was(peers: list[Peer]) -> None:
    a, b, _ = peers
    gone = sid_of(b)
    b.client.disconnect()
    # The process that served it says at once that it has no such client.
    assert call(a, "ask_sid", gone, 10) == {"timeout": True, "disconnected": True}
    # A sid naming no process at all.
    assert call(a, "ask_sid", "nobody00" + "x" * 16, 10) == {
        "timeout": True,
        "disconnected": True,
    }


def test_emit_callbacks_run_for_answers_from_other_processes(
    servers: list[ServerProcess], peers: list[Peer]
) -> None:
    name = room()
    for peer in peers:
        call(peer, "join", name)
    key = uuid.uuid4().hex
    call(peers[0], "callback", name, key)
    # Each client acks with one argument, a list.
    expected = sorted([[sid_of(p), "callback"]] for p in peers)
    for _ in range(100):
        got = requests.get(f"{servers[0].url}/_test/state?key={key}", timeout=5).json()
        if len(got) >= len(peers):
            break
        peers[0].wait("never", timeout=0.05)
    assert sorted(got) == expected


def test_the_emitter_of_a_process_that_serves_no_one(
    cluster: tuple[str, list[ServerProcess]], peers: list[Peer]
) -> None:
    channel, _ = cluster
    a, b, c = peers
    name = room()
    with realtime.Emitter(REDIS, channel) as emitter:
        emitter.enter_room(sid_of(a), name)
        emitter.enter_room(sid_of(c), name)
        emitter.emit("from_outside", {"n": 1}, to=name, skip_sid=sid_of(c))
        emitter.emit("from_outside", (2, b"\x00\x01"))
        emitter.send("hello", to=sid_of(b))
        emitter.close_room(name)
        emitter.emit("from_outside", "after close", to=name)
        emitter.disconnect(sid_of(c))
    assert a.wait("from_outside", 2) == [({"n": 1},), (2, b"\x00\x01")]
    assert b.wait("from_outside") == [(2, b"\x00\x01")]
    assert b.wait("message") == [("hello",)]
    assert c.wait_disconnect() == ["server disconnect"]
    assert c.events["from_outside"] == [(2, b"\x00\x01")]
    call(a, "to", None, "sync")
    a.wait("sync")
    assert len(a.events["from_outside"]) == 2


def test_the_emitter_refuses_what_cannot_work(cluster: tuple[str, list[ServerProcess]]) -> None:
    channel, _ = cluster
    with realtime.Emitter(REDIS, channel) as emitter:
        with pytest.raises(realtime.ConfigurationError, match="reserved"):
            emitter.emit("disconnect")
    manager = realtime.RedisManager(REDIS, channel, write_only=True)
    with pytest.raises(realtime.ConfigurationError, match="acknowledgements"):
        manager.emit("event", callback=lambda: None)
    manager.close()


def test_the_emitter_says_when_the_broker_is_unreachable() -> None:
    with realtime.Emitter("redis://127.0.0.1:1/0", "nowhere") as emitter:
        with pytest.raises(realtime.BrokerUnavailable):
            emitter.emit("lost")
