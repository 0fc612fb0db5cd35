"""A typical Flask-SocketIO app served for real, in every async mode.

python-socketio's client connects over polling, WebSocket and the upgrade
between them to ``tests.support.flask_apps`` running in a child process.
"""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import pytest
import requests
import socketio

from tests.flask_integration.helpers import Peer, connect_peer
from tests.support.servers import ServerPool, ServerProcess

APP = "tests.support.flask_apps:create_app"


@pytest.fixture
def server(server_pool: ServerPool, async_mode: str) -> ServerProcess:
    return server_pool.get(APP, async_mode)


@pytest.fixture
def connect(server: ServerProcess, transports: list[str]) -> Iterator[Callable[..., Peer]]:
    peers: list[Peer] = []

    def make(**options: Any) -> Peer:
        peer = connect_peer(server.url, transports, **options)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        if peer.client.connected:
            peer.client.disconnect()


def disconnects(server: ServerProcess, sid: str, timeout: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = requests.get(f"{server.url}/state", timeout=5).json()["disconnects"]
        mine = [d for d in found if d["sid"] == sid]
        if mine or time.monotonic() > deadline:
            return mine
        time.sleep(0.05)


def test_connect_handler_runs_in_the_request_of_the_connection(
    connect: Callable[..., Peer], server: ServerProcess, async_mode: str, transports: list[str]
) -> None:
    peer = connect()
    welcome = peer.wait("welcome")
    assert len(welcome) == 1
    assert welcome[0][0]["sid"] == peer.client.get_sid()
    assert welcome[0][0]["mode"] == async_mode
    info = peer.client.call("whoami")
    assert info["sid"] == peer.client.get_sid()
    assert info["namespace"] == "/"
    assert info["event"] == {"message": "whoami", "args": []}
    assert info["app"] == "tests.support.flask_apps"
    assert info["transport"] == transports[-1]


def test_query_string_reaches_request_args(server: ServerProcess, transports: list[str]) -> None:
    peer = connect_peer(f"{server.url}?room=blue&n=2", transports)
    try:
        args = peer.wait("welcome")[0][0]["args"]
        # The connection request's own query: the client's, then Engine.IO's.
        assert (args["room"], args["n"], args["EIO"]) == ("blue", "2", "4")
    finally:
        peer.client.disconnect()


def test_refusal_carries_message_and_data(server: ServerProcess, transports: list[str]) -> None:
    peer = Peer()
    with pytest.raises(socketio.exceptions.ConnectionError):
        peer.client.connect(server.url, transports=transports, auth={"token": "bad"})
    assert peer.connect_errors == [{"message": "unauthorized", "data": {"code": 401}}]


def test_connect_handler_returning_false_refuses(
    server: ServerProcess, transports: list[str]
) -> None:
    peer = Peer()
    with pytest.raises(socketio.exceptions.ConnectionError):
        peer.client.connect(server.url, transports=transports, auth={"token": "false"})
    assert peer.connect_errors == [{"message": "Connection rejected by server"}]


def test_emit_answers_the_sender_and_the_return_value_is_the_ack(
    connect: Callable[..., Peer],
) -> None:
    alice, bob = connect(), connect()
    payload = {"n": [1, 2.5, None], "blob": b"\x00\xff"}
    assert alice.client.call("echo", payload) == payload
    assert alice.wait("echo") == [(payload,)]
    time.sleep(0.2)
    assert "echo" not in bob.events


def test_send_and_message_handler(connect: Callable[..., Peer]) -> None:
    peer = connect()
    peer.client.send("hello")
    assert peer.wait("message") == [("hello",)]


def test_rooms_include_self_and_leave(connect: Callable[..., Peer]) -> None:
    room = f"room-{time.monotonic_ns()}"
    alice, bob, carol = connect(), connect(), connect()
    assert alice.client.call("join", room) == sorted([alice.client.get_sid(), room])
    bob.client.call("join", room)
    assert alice.client.call("say", {"room": room, "text": "hi"}) == "delivered"
    assert bob.wait("said") == [({"text": "hi", "from": alice.client.get_sid()},)]
    assert bob.client.call("leave", room) == [bob.client.get_sid()]
    alice.client.call("say", {"room": room, "text": "again"})
    time.sleep(0.3)
    assert "said" not in alice.events and "said" not in carol.events
    assert len(bob.events["said"]) == 1


def test_broadcast_reaches_everyone_including_the_sender(connect: Callable[..., Peer]) -> None:
    peers = [connect() for _ in range(3)]
    tag = f"all-{time.monotonic_ns()}"
    peers[1].client.emit("shout", tag)
    for peer in peers:
        assert (tag,) in peer.wait("shouted")


def test_managed_session_starts_from_the_cookie_and_stays_on_the_connection(
    server: ServerProcess, transports: list[str]
) -> None:
    http = requests.Session()
    http.get(f"{server.url}/login", params={"name": "ada"}, timeout=5)
    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    first = connect_peer(server.url, transports, headers={"Cookie": cookie})
    second = connect_peer(server.url, transports, headers={"Cookie": cookie})
    try:
        assert first.wait("welcome")[0][0]["user"] == "ada"
        first.client.call("remember", "kept")
        assert first.client.call("recall") == {"value": "kept", "user": "ada"}
        assert second.client.call("recall") == {"value": None, "user": "ada"}
    finally:
        first.client.disconnect()
        second.client.disconnect()


def test_error_handler_answers_and_unhandled_errors_keep_the_connection(
    connect: Callable[..., Peer],
) -> None:
    peer = connect(namespaces=["/", "/chat", "/plain"])
    assert peer.client.call("boom") == {"error": "boom", "event": "boom"}
    peer.client.emit("crash")
    assert peer.client.call("fail", namespace="/chat") == "default: KeyError"
    peer.client.emit("crash", namespace="/plain")
    assert peer.client.call("ping_plain", namespace="/plain") == "pong"
    assert peer.client.call("echo", "still here") == "still here"
    assert peer.client.connected


def test_emit_from_a_view_and_from_the_helper_in_a_view(
    connect: Callable[..., Peer], server: ServerProcess
) -> None:
    room = f"news-{time.monotonic_ns()}"
    reader, other = connect(), connect()
    reader.client.call("join", room)
    response = requests.post(f"{server.url}/notify/{room}", json={"headline": "hi"}, timeout=5)
    assert response.status_code == 204
    assert reader.wait("notice") == [({"headline": "hi"},)]
    tag = f"everyone-{time.monotonic_ns()}"
    assert requests.get(f"{server.url}/broadcast", params={"text": tag}, timeout=5).ok
    for peer in (reader, other):
        assert ({"text": tag},) in peer.wait("notice", count=1 if peer is other else 2)
    assert ({"headline": "hi"},) not in other.events.get("notice", [])


def test_background_task_emits(connect: Callable[..., Peer]) -> None:
    peer = connect()
    peer.client.emit("ticker", 5)
    assert peer.wait("ticked") == [(5,)]
    assert peer.wait("tick", 5) == [(n,) for n in range(5)]


def test_server_calls_the_client_from_a_handler(connect: Callable[..., Peer]) -> None:
    peer = connect()
    peer.client.on("question", lambda question: f"answer to {question}")
    assert peer.client.call("ask", "life") == "answer to life"


def test_ack_callback_runs_in_the_senders_context(
    server: ServerProcess, transports: list[str]
) -> None:
    http = requests.Session()
    http.get(f"{server.url}/login", params={"name": "grace"}, timeout=5)
    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    peer = connect_peer(server.url, transports, headers={"Cookie": cookie})
    try:
        tag = f"q-{time.monotonic_ns()}"
        peer.client.on("question", lambda question: f"re: {question}")
        peer.client.emit("ask_later", tag)
        sid = peer.client.get_sid()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answers = requests.get(f"{server.url}/state", timeout=5).json()["answers"]
            mine = [a for a in answers if a["answer"] == f"re: {tag}"]
            if mine:
                break
            time.sleep(0.05)
        assert mine == [{"answer": f"re: {tag}", "sid": sid, "user": "grace"}]
    finally:
        peer.client.disconnect()


def test_class_based_namespace(connect: Callable[..., Peer]) -> None:
    alice = connect(namespaces=["/chat"])
    bob = connect(namespaces=["/chat"])
    assert alice.wait("joined")[0][0]["namespace"] == "/chat"
    assert "lobby" in alice.wait("joined")[0][0]["rooms"]
    assert alice.client.call("say", "hello lobby", namespace="/chat") == "ok"
    said = bob.wait("said")
    assert ({"text": "hello lobby", "from": alice.client.get_sid("/chat")},) in said
    time.sleep(0.2)
    assert "said" not in alice.events


def test_server_side_disconnect_runs_the_handler_in_context(
    connect: Callable[..., Peer], server: ServerProcess
) -> None:
    peer = connect()
    sid = peer.client.get_sid()
    peer.client.emit("kick")
    assert peer.wait_disconnect() == ["server disconnect"]
    assert disconnects(server, sid) == [
        {"sid": sid, "reason": "server disconnect", "path": "/socket.io/", "event": "disconnect"}
    ]


def test_client_disconnect_runs_the_handler_in_context(
    server_pool: ServerPool, async_mode: str, transports: list[str]
) -> None:
    # Short heartbeats: python-engineio's client may leave its long poll
    # behind, and the server then learns of the end from the heartbeat.
    server = server_pool.get(APP, async_mode, ping_interval=0.3, ping_timeout=0.2)
    peer = connect_peer(server.url, transports)
    sid = peer.client.get_sid()
    peer.client.disconnect()
    found = disconnects(server, sid)
    assert len(found) == 1
    assert found[0]["reason"] in ("client disconnect", "transport close", "ping timeout")
    assert (found[0]["path"], found[0]["event"]) == ("/socket.io/", "disconnect")


def test_dropped_websocket_runs_the_handler_in_context(
    server: ServerProcess,
) -> None:
    # The connection is gone before the handler runs: the request context
    # is still rebuilt from the environ the server keeps for it.
    peer = connect_peer(server.url, ["websocket"])
    sid = peer.client.get_sid()
    peer.client.eio.ws.sock.shutdown(socket.SHUT_RDWR)  # no close frame, no packet
    found = disconnects(server, sid)
    assert [(d["reason"], d["path"]) for d in found] == [("transport close", "/socket.io/")]


def test_the_bundled_client_is_served_by_the_app(server: ServerProcess) -> None:
    source = resources.files("realtime").joinpath("static", "realtime.js").read_bytes()
    response = requests.get(f"{server.url}/socket.io/realtime.js", timeout=5)
    assert response.status_code == 200
    assert response.content == source
    raw = requests.get(
        f"{server.url}/socket.io/realtime.js",
        headers={"Accept-Encoding": "gzip"},
        stream=True,
        timeout=5,
    )
    assert raw.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw.raw.read()) == source
    assert requests.get(f"{server.url}/state", timeout=5).status_code == 200


def test_a_handler_for_every_namespace_serves_namespaces_with_handlers_of_their_own(
    connect: Callable[..., Peer],
) -> None:
    # As Flask-SocketIO's test_send_catch_all_namespace: "/plain" has its own
    # handlers, none for "wildcard"; the handler registered for "*" answers.
    peer = connect(namespaces=["/", "/plain"])
    peer.client.emit("wildcard", {"a": "b"}, namespace="/plain")
    peer.client.emit("wildcard", {"c": "d"})
    got = peer.wait("my custom response", 2)
    assert sorted(args[0]["namespace"] for args in got) == ["/", "/plain"]
    assert {args[0]["namespace"]: args[0]["data"] for args in got} == {
        "/plain": {"a": "b"},
        "/": {"c": "d"},
    }
    # The namespace's own handlers still win.
    assert peer.client.call("ping_plain", namespace="/plain") == "pong"
