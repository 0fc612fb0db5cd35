"""The chat demo (``examples/chat/app.py``), served as ``make demo`` serves it.

python-socketio clients play the pages; the browser test comes with the
bundled client's tests.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.flask_integration.helpers import (
    PYTHON,
    ROOT,
    Peer,
    Program,
    connect_peer,
    free_port,
    wait_for_http,
)

DEMO = ROOT / "examples" / "chat" / "app.py"


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    port = free_port()
    program = Program([PYTHON, str(DEMO), "--host", "127.0.0.1", "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url)
        yield url
    finally:
        program.stop()


@pytest.fixture
def page(demo: str, transports: list[str]) -> Iterator[Callable[..., Peer]]:
    peers: list[Peer] = []

    def open_page(nick: str | None = None) -> Peer:
        peer = connect_peer(demo, transports, auth={"nick": nick} if nick else None)
        peers.append(peer)
        return peer

    yield open_page
    for peer in peers:
        if peer.client.connected:
            peer.client.disconnect()


def unique(prefix: str) -> str:
    return f"{prefix}{time.monotonic_ns() % 10**9}"


def test_the_page_loads_the_bundled_client_from_the_server(demo: str) -> None:
    html = requests.get(demo, timeout=5).text
    assert '<script src="/socket.io/realtime.js"></script>' in html
    assets = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets)
    for asset in ("/socket.io/realtime.js", "/static/chat.js", "/static/chat.css"):
        assert requests.get(demo + asset, timeout=5).status_code == 200


def test_welcome_nick_and_lobby(page: Callable[..., Peer]) -> None:
    nick = unique("ada")
    peer = page(nick)
    welcome = peer.wait("welcome")[0][0]
    assert welcome["nick"] == nick and welcome["room"] == "lobby"
    assert isinstance(welcome["history"], list)
    members = peer.wait("members")[-1][0]
    assert members["room"] == "lobby"
    assert nick in [m["nick"] for m in members["members"]]


def test_taken_nicks_get_a_suffix_and_renames_are_announced(page: Callable[..., Peer]) -> None:
    nick = unique("bob")
    first, second = page(nick), page(nick)
    assert first.wait("welcome")[0][0]["nick"] == nick
    assert second.wait("welcome")[0][0]["nick"] == f"{nick}-2"
    renamed = unique("carol")
    assert second.client.call("nick", renamed) == {"nick": renamed}
    texts = [n[0]["text"] for n in first.wait("system", 3)]
    assert f"{nick}-2 is now {renamed}" in texts


def test_messages_are_acknowledged_and_reach_the_room_only(page: Callable[..., Peer]) -> None:
    room = unique("room")
    alice, bob, outsider = page(unique("alice")), page(unique("bob")), page(unique("out"))
    for peer in (alice, bob):
        joined = peer.client.call("join", room)
        assert joined["room"] == room and joined["history"] == []
    answer = alice.client.call("chat", {"room": room, "text": "hello bob"})
    message = answer["message"]
    assert (message["room"], message["text"], message["via"]) == (room, "hello bob", "socket")
    assert bob.wait("chat") == [(message,)]
    time.sleep(0.3)
    assert "chat" not in alice.events  # the sender has the ack, not an echo
    assert "chat" not in outsider.events
    late = page(unique("late"))
    assert late.client.call("join", room)["history"] == [message]


def test_refusals_are_answered(page: Callable[..., Peer]) -> None:
    peer = page()
    assert "error" in peer.client.call("chat", {"room": unique("notjoined"), "text": "x"})
    assert "error" in peer.client.call("chat", {"room": "lobby", "text": " "})
    assert "error" in peer.client.call("join", "no spaces allowed")
    assert "error" in peer.client.call("leave", "lobby")


def test_typing_indicator(page: Callable[..., Peer]) -> None:
    room = unique("typing")
    alice, bob = page(unique("alice")), page(unique("bob"))
    alice.client.call("join", room)
    bob.client.call("join", room)
    alice_nick = alice.wait("welcome")[0][0]["nick"]
    alice.client.emit("typing", {"room": room, "typing": True})
    alice.client.emit("typing", {"room": room, "typing": False})
    assert bob.wait("typing", 2) == [
        ({"room": room, "nick": alice_nick, "typing": True},),
        ({"room": room, "nick": alice_nick, "typing": False},),
    ]
    time.sleep(0.2)
    assert "typing" not in alice.events


def test_leave_and_room_list(demo: str, page: Callable[..., Peer]) -> None:
    room = unique("leaving")
    alice, bob = page(unique("alice")), page(unique("bob"))
    alice.client.call("join", room)
    bob.client.call("join", room)
    listed = {r["name"]: r["members"] for r in requests.get(f"{demo}/rooms", timeout=5).json()}
    assert listed[room] == 2
    assert alice.client.call("leave", room) == {"room": room}
    listed = {r["name"]: r["members"] for r in requests.get(f"{demo}/rooms", timeout=5).json()}
    assert listed[room] == 1
    bob.client.call("chat", {"room": room, "text": "anyone?"})
    time.sleep(0.3)
    assert "chat" not in alice.events


def test_http_route_posts_into_a_room(demo: str, page: Callable[..., Peer]) -> None:
    room = unique("http")
    reader = page(unique("reader"))
    reader.client.call("join", room)
    response = requests.post(
        f"{demo}/rooms/{room}/messages", json={"nick": "curl", "text": "from the shell"}, timeout=5
    )
    assert response.status_code == 201
    posted = response.json()
    assert (posted["nick"], posted["text"], posted["via"]) == ("curl", "from the shell", "http")
    assert reader.wait("chat") == [(posted,)]
    form = requests.post(f"{demo}/rooms/{room}/messages", data={"text": "a form"}, timeout=5)
    assert form.status_code == 201 and form.json()["nick"] == "http"
    bad = requests.post(f"{demo}/rooms/{room}/messages", json={"text": ""}, timeout=5)
    assert bad.status_code == 400


def test_members_show_each_pages_transport(
    page: Callable[..., Peer], transports: list[str]
) -> None:
    nick = unique("t")
    peer = page(nick)
    peer.client.emit("transport", peer.client.transport())
    deadline = time.monotonic() + 10
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        for (update,) in peer.events.get("members", []):
            seen.update({m["nick"]: m["transport"] for m in update["members"]})
        if seen.get(nick) == transports[-1]:
            break
        time.sleep(0.05)
    assert seen.get(nick) == transports[-1]


def test_leaving_is_announced(page: Callable[..., Peer]) -> None:
    watcher, leaver = page(unique("w")), page(unique("l"))
    nick = leaver.wait("welcome")[0][0]["nick"]
    leaver.client.disconnect()
    # python-engineio's client can lose its last packets when it disconnects
    # over polling; the server then learns of the leaving from the missed
    # heartbeat, after ping_interval + ping_timeout (45 s by default).
    deadline = time.monotonic() + 55
    while time.monotonic() < deadline:
        if any(n[0]["text"] == f"{nick} left" for n in watcher.events.get("system", [])):
            break
        time.sleep(0.05)
    assert any(n[0]["text"] == f"{nick} left" for n in watcher.events.get("system", []))


def test_the_demo_runs_in_every_async_mode(programs: list[Program], async_mode: str) -> None:
    port = free_port()
    program = Program(
        [PYTHON, str(DEMO), "--port", str(port), "--async-mode", async_mode], cwd=DEMO.parent
    )
    programs.append(program)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url)
    room = unique("modes")
    alice = connect_peer(url, ["polling", "websocket"], auth={"nick": "alice"})
    bob = connect_peer(url, ["websocket"], auth={"nick": "bob"})
    try:
        for peer in (alice, bob):
            peer.client.call("join", room)
        message = alice.client.call("chat", {"room": room, "text": async_mode})["message"]
        assert bob.wait("chat") == [(message,)]
        assert f"(realtime, {async_mode} mode)" in program.text()
    finally:
        alice.client.disconnect()
        bob.client.disconnect()
