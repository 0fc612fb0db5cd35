"""Node's socket.io 4 server tools, through python-socketio's client.

Connection and event middlewares, ``on_any`` and ``on_any_outgoing``, and
the ``disconnecting`` event, on the bare server and on the Flask extension
(tests/support/socket4_apps.py), over polling, WebSocket and the upgrade,
in every async mode. The official Node client's view is in test_socket4_node.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import socketio

from tests.support.peer import TRANSPORTS, Peer, connect_peer
from tests.support.servers import ServerPool, ServerProcess

APPS = {
    "server": "tests.support.socket4_apps:sio_socket4",
    "flask": "tests.support.socket4_apps:flask_socket4",
}


@pytest.fixture(params=list(APPS))
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(server_pool: ServerPool, async_mode: str, flavour: str) -> ServerProcess:
    return server_pool.get(APPS[flavour], async_mode)


@pytest.fixture(params=["polling", "websocket", "upgrade"])
def transports(request: pytest.FixtureRequest) -> list[str]:
    return TRANSPORTS[request.param]


@pytest.fixture
def peer(server: ServerProcess, transports: list[str]) -> Iterator[Peer]:
    made = connect_peer(server.url, transports)
    yield made
    if made.client.connected:
        made.client.disconnect()


def refusal(server: ServerProcess, transports: list[str], auth: Any) -> list[Any]:
    client = socketio.Client(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(server.url, transports=transports, auth=auth, wait_timeout=5)
    return errors


def test_connection_middlewares_run_in_order_before_the_connect_handler(
    peer: Peer, flavour: str
) -> None:
    trail = peer.client.call("trail", timeout=10)
    if flavour == "flask":
        # request.sid is set in a Flask middleware.
        assert trail == [f"first {peer.client.get_sid()}", "second", "connect"]
    else:
        assert trail == ["first", "second", "connect"]


def test_a_middleware_refuses_with_message_and_data(
    server: ServerProcess, transports: list[str]
) -> None:
    assert refusal(server, transports, {"mw_refuse": "no entry"}) == [
        {"message": "no entry", "data": {"by": "middleware"}}
    ]
    assert refusal(server, transports, {"mw_false": True}) == [
        {"message": "Connection rejected by server"}
    ]
    # The connect handler still refuses as before, after the middlewares.
    assert refusal(server, transports, {"handler_refuse": "not you"}) == [{"message": "not you"}]


def test_a_middleware_for_every_namespace_gets_the_namespace(
    server: ServerProcess, transports: list[str]
) -> None:
    made = connect_peer(server.url, transports, namespaces=["/other"])
    try:
        assert made.client.call("trail", namespace="/other", timeout=10) == ["everywhere /other"]
    finally:
        made.client.disconnect()


def test_an_event_middleware_refuses_and_changes_events(peer: Peer, flavour: str) -> None:
    answer = peer.client.call("secret", timeout=10)
    expected: dict[str, Any] = {"error": "forbidden"}
    if flavour == "flask":
        expected["sid"] = peer.client.get_sid()
    assert answer == expected
    # Refused with no answer: no ack at all, the client times out.
    with pytest.raises(socketio.exceptions.TimeoutError):
        peer.client.call("hush", timeout=1)
    assert peer.client.call("shout", ("hi", 2), timeout=10) == ("HI", 2)
    assert peer.client.call("echo", ("as", "is"), timeout=10) == ("as", "is")


def test_on_any_sees_every_incoming_event_and_on_any_outgoing_every_sent_one(
    peer: Peer,
) -> None:
    peer.client.emit("nobody_handles", (1, {"a": [2]}))
    peer.client.emit("hush")
    peer.client.call("ping_me", timeout=10)
    assert peer.wait("pong") == [("a", 1)]
    seen = peer.client.call("seen", timeout=10)
    # The listener sees events as sent, before the middlewares (shout is
    # still shout), handled or not, refused or not.
    assert seen[:3] == [["nobody_handles", 1, {"a": [2]}], ["hush"], ["ping_me"]]
    assert seen[3] == ["seen"]
    peer.client.call("shout", ("x",), timeout=10)
    assert peer.client.call("seen", timeout=10)[-2] == ["shout", "x"]
    assert ["pong", "a", 1] in peer.client.call("seen_out", timeout=10)


def test_the_disconnecting_handler_sees_the_rooms(
    server_pool: ServerPool, async_mode: str, flavour: str, transports: list[str]
) -> None:
    # python-engineio's client may drop its last packets when it disconnects
    # over polling; the server then learns of it from the heartbeat, so this
    # runs with short heartbeats.
    server = server_pool.get(APPS[flavour], async_mode, ping_interval=0.3, ping_timeout=0.2)
    leaving = connect_peer(server.url, transports)
    watcher = connect_peer(server.url, transports)
    try:
        sid = leaving.client.get_sid()
        leaving.client.call("join", "lobby", timeout=10)
        leaving.client.disconnect()
        exits = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            exits = watcher.client.call("exits_of", sid, timeout=10)
            if exits and "disconnect" in exits:
                break
            time.sleep(0.05)
        assert exits is not None
        assert exits["disconnecting"] == [sid, "lobby"]
        assert exits["disconnect"] == [sid, "lobby"]
    finally:
        watcher.client.disconnect()


def test_exclude_leaves_out_the_members_of_rooms_and_sids(
    server: ServerProcess, transports: list[str]
) -> None:
    a, b, c, d = (connect_peer(server.url, transports) for _ in range(4))
    try:
        for peer in (a, b):
            peer.client.call("join", "red", timeout=10)
        c.client.call("join", "blue", timeout=10)
        c.client.call("to_except", (None, "red", "news", 1), timeout=10)
        c.client.call("to_except", (None, ["red", d.client.get_sid()], "news", 2), timeout=10)
        c.client.call("to_except", ("blue", "red", "news", 3), timeout=10)
        c.client.call("plain_all", ("last",), timeout=10)
        for peer in (a, b, c, d):
            peer.wait("last")
        assert a.events.get("news") is None and b.events.get("news") is None
        assert c.wait("news", 3) == [(1,), (2,), (3,)]
        assert d.wait("news") == [(1,)]
    finally:
        for peer in (a, b, c, d):
            peer.client.disconnect()


def test_volatile_events_skip_a_stalled_client_and_reach_the_others(
    server: ServerProcess, transports: list[str]
) -> None:
    # A raw polling client that joined "/" and then stopped polling: no GET
    # waits for it, so its transport cannot take anything now.
    base = f"{server.url}/socket.io/?EIO=4&transport=polling"
    opened = requests.get(base, timeout=10).text
    sid = json.loads(opened[1:])["sid"]
    assert requests.post(f"{base}&sid={sid}", data="40", timeout=10).ok
    assert requests.get(f"{base}&sid={sid}", timeout=10).text.startswith("40")
    active = connect_peer(server.url, transports)
    try:
        active.client.call("volatile_all", ("v", 1), timeout=10)
        active.client.call("plain_all", ("n", 2), timeout=10)
        assert active.wait("n") == [(2,)]
        # The active client got the volatile one too, before the other:
        # unless its own transport could not take it at that instant
        # (polling between two requests), as Node's server drops it then.
        if transports == ["websocket"]:
            assert active.events.get("v") == [(1,)]
        stalled = requests.get(f"{base}&sid={sid}", timeout=10).text
        assert '42["n",2]' in stalled
        assert '"v"' not in stalled
    finally:
        active.client.disconnect()
        requests.post(f"{base}&sid={sid}", data="1", timeout=10)
