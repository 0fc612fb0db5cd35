"""Interop with python-socketio's client, over each transport, in every async mode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import socketio

from tests.socketio.conftest import state
from tests.support.peer import TRANSPORTS, Peer
from tests.support.servers import ServerPool, ServerProcess

pytestmark = pytest.mark.usefixtures("async_mode")


@pytest.fixture(params=list(TRANSPORTS))
def transports(request: pytest.FixtureRequest) -> list[str]:
    return TRANSPORTS[request.param]


@pytest.fixture
def connect(sio: ServerProcess, transports: list[str]) -> Iterator[Any]:
    peers: list[Peer] = []

    def make(auth: Any = None, namespaces: list[str] | None = None, **options: Any) -> Peer:
        peer = Peer(**options)
        peer.client.connect(
            sio.url, transports=transports, auth=auth, namespaces=namespaces, wait_timeout=10
        )
        if len(transports) == 2:
            for _ in range(100):
                if peer.client.transport() == "websocket":
                    break
                time.sleep(0.05)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        if peer.client.connected:
            peer.client.disconnect()


def test_connect_with_auth(connect: Any, transports: list[str]) -> None:
    peer = connect(auth={"token": "t0k3n"})
    assert peer.wait("auth") == [({"token": "t0k3n"},)]
    assert peer.client.transport() == transports[-1]
    assert peer.client.call("transport") == transports[-1]


def test_refused_connection_carries_message_and_data(
    sio: ServerProcess, transports: list[str]
) -> None:
    client = socketio.Client(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(sio.url, transports=transports, auth={"refuse": "no entry"}, wait_timeout=5)
    assert errors == [{"message": "no entry", "data": {"why": "no entry"}}]


def test_several_namespaces_share_one_connection(connect: Any) -> None:
    peer = connect(namespaces=["/", "/custom", "/chat"])
    client = peer.client
    sids = {ns: client.get_sid(ns) for ns in ("/", "/custom", "/chat")}
    assert len(set(sids.values())) == 3
    assert client.eio.sid not in sids.values()
    client.emit("message", "to custom", namespace="/custom")
    client.emit("message", "to main")
    assert peer.wait("message-back", 2) in (
        [("to custom",), ("to main",)],
        [("to main",), ("to custom",)],
    )


def test_events_with_several_arguments_and_acks(connect: Any) -> None:
    peer = connect()
    args = (1, "two", {"three": [3.5, None, True]}, ["four"])
    assert peer.client.call("message-with-ack", args) == args
    peer.client.emit("message", args)
    assert peer.wait("message-back") == [args]


def test_binary_both_ways(connect: Any) -> None:
    peer = connect()
    blob = bytes(range(256))
    answer = peer.client.call("binary_back", {"nested": [blob, {"deeper": b"\x01"}]})
    assert answer == {"got": {"nested": [blob, {"deeper": b"\x01"}]}, "extra": b"\x00\xff"}


def test_server_calls_the_client(connect: Any) -> None:
    peer = connect()
    peer.client.on("question", lambda *args: ("answer", *args))
    assert peer.client.call("ask", ("why", 42)) == ("answer", "why", 42)


def test_server_call_times_out(connect: Any) -> None:
    peer = connect()
    peer.client.on("silent", lambda: time.sleep(1.5))
    assert peer.client.call("ask_with_timeout", 0.3, timeout=10) == "timeout True"


def test_server_emit_with_callback(connect: Any, sio: ServerProcess) -> None:
    peer = connect()
    peer.client.on("question", lambda question: f"re: {question}")
    key = f"cb-{time.monotonic_ns()}"
    peer.client.emit("emit_with_callback", key)
    for _ in range(100):
        if state(sio, callback=key)["callback"]:
            break
        time.sleep(0.05)
    assert state(sio, callback=key)["callback"] == ["re: callback?"]


def test_rooms_and_broadcasts_with_exclusions(connect: Any) -> None:
    room = f"room-{time.monotonic_ns()}"
    alice, bob, carol = connect(), connect(), connect()
    assert room in alice.client.call("join", room)
    assert room in bob.client.call("join", room)
    alice.client.emit("to_room", (room, "news", "from alice"))
    assert bob.wait("news") == [("from alice",)]
    bob.client.emit("to_room_except", (room, bob.client.get_sid(), "gossip", "not for bob"))
    assert alice.wait("gossip") == [("not for bob",)]
    carol.client.emit("to_rooms", ([room, carol.client.get_sid()], "roll call"))
    for peer in (alice, bob, carol):
        assert peer.wait("roll call") == [()]
    time.sleep(0.3)
    assert "news" not in alice.events and "news" not in carol.events
    assert "gossip" not in bob.events and "gossip" not in carol.events
    assert room not in bob.client.call("leave", room)
    alice.client.emit("to_room", (room, "after leave", 1))
    time.sleep(0.3)
    assert "after leave" not in bob.events


def test_close_room(connect: Any) -> None:
    room = f"closing-{time.monotonic_ns()}"
    alice, bob = connect(), connect()
    alice.client.call("join", room)
    bob.client.call("join", room)
    alice.client.emit("close_room", room)
    time.sleep(0.2)
    assert room not in bob.client.call("leave", "nothing")
    alice.client.emit("to_room", (room, "echo in an empty room"))
    time.sleep(0.3)
    assert "echo in an empty room" not in bob.events


def test_call_to_a_room_gathers_every_answer(connect: Any) -> None:
    room = f"poll-{time.monotonic_ns()}"
    alice, bob, dave = connect(), connect(), connect()
    for peer in (alice, bob, dave):
        peer.client.call("join", room)
    alice.client.on("question", lambda q: "alice says yes")
    bob.client.on("question", lambda q: "bob says no")
    dave.client.on("question", lambda q: time.sleep(2))
    answers = alice.client.call("ask_room", (room, 0.5), timeout=10)
    assert answers == {
        alice.client.get_sid(): "alice says yes",
        bob.client.get_sid(): "bob says no",
        dave.client.get_sid(): "timeout",
    }


def test_everyone_gets_a_broadcast(connect: Any) -> None:
    peers = [connect() for _ in range(4)]
    tag = f"all-{time.monotonic_ns()}"
    peers[0].client.emit("to_all", (tag, "hello everyone"))
    for peer in peers:
        assert peer.wait(tag) == [("hello everyone",)]


def test_session_storage(connect: Any) -> None:
    peer = connect()
    peer.client.emit("session_set", {"user": "ada"})
    assert peer.client.call("session_get") == {"user": "ada"}
    other = connect()
    assert other.client.call("session_get") is None


def test_class_based_namespace(connect: Any) -> None:
    alice, bob = connect(namespaces=["/chat"]), connect(namespaces=["/chat"])
    assert alice.client.call("say", "hi bob", namespace="/chat") == "ok"
    assert bob.wait("said") == [("hi bob",)]
    assert "said" not in alice.events


def test_client_disconnect_reason(
    server_pool: ServerPool, async_mode: str, transports: list[str]
) -> None:
    # python-engineio's client may drop its last packets and leave its long
    # poll open when it disconnects; the server then learns of it from the
    # heartbeat, so this runs with short heartbeats.
    server = server_pool.get(
        "tests.support.sio_apps:sio_echo", async_mode, ping_interval=0.3, ping_timeout=0.2
    )
    client = socketio.Client(reconnection=False)
    client.connect(server.url, transports=transports, wait_timeout=10)
    sid = client.get_sid()
    client.disconnect()
    for _ in range(100):
        if state(server, sid=sid)["reason"]:
            break
        time.sleep(0.05)
    assert state(server, sid=sid)["reason"] in (
        "client disconnect",
        "transport close",
        "ping timeout",
    )


def test_server_disconnect_reason(connect: Any, sio: ServerProcess) -> None:
    peer = connect()
    sid = peer.client.get_sid()
    peer.client.emit("kick")
    assert peer.wait_disconnect() == ["server disconnect"]
    for _ in range(100):
        if state(sio, sid=sid)["reason"]:
            break
        time.sleep(0.05)
    assert state(sio, sid=sid)["reason"] == "server disconnect"


def test_msgpack_serializer(
    server_pool: ServerPool, async_mode: str, transports: list[str]
) -> None:
    server = server_pool.get("tests.support.sio_apps:sio_echo", async_mode, serializer="msgpack")
    client = socketio.Client(reconnection=False, serializer="msgpack")
    client.connect(server.url, transports=transports, wait_timeout=10)
    try:
        args = ("text", b"\x00\x01binary", {"n": [1, 2.5, None]})
        assert client.call("message-with-ack", args) == args
    finally:
        client.disconnect()
