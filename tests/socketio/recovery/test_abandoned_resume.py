"""A resume whose connection closes while the server looks the socket up.

Resuming can wait: for the socket's old connection to be let go (its
disconnect handler to return, up to 5 s), for another process to hand the
socket over. A client that gives up meanwhile (its session closed: it sent a
close, or its requests failed and it reconnects) must leave nothing behind.
Before this was handled, the socket was registered on the closed session
anyway: connected, in its rooms, unreachable, never closed; every later
attempt to resume it waited 5 s for it to leave and came back as a new
socket (found by the chaos test: a polling client that lost the rest of a
stream after a worker and Redis died). The same for a connection lost
while the connect handler of its resumed socket runs. Raw Engine.IO polling
over real sockets against a server in this process, so that a handler can
be held at a gate.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

import realtime
from tests.support.embedded import embedded_server

ROOM = "r"


def _url(base: str, sid: str | None = None) -> str:
    url = f"{base}/socket.io/?EIO=4&transport=polling"
    return url if sid is None else f"{url}&sid={sid}"


def _open(base: str) -> str:
    response = requests.get(_url(base), timeout=10)
    assert response.status_code == 200 and response.text.startswith("0"), response.text
    sid: str = json.loads(response.text[1:])["sid"]
    return sid


def _post(base: str, sid: str, body: str) -> requests.Response:
    return requests.post(_url(base, sid), data=body, timeout=15)


def _poll(base: str, sid: str) -> list[str]:
    response = requests.get(_url(base, sid), timeout=15)
    assert response.status_code == 200, response.text
    return response.text.split("\x1e")


def _connected(base: str, sid: str) -> dict[str, Any]:
    """The CONNECT reply's payload, from the session's next poll."""
    for packet in _poll(base, sid):
        if packet.startswith("40"):
            data: dict[str, Any] = json.loads(packet[2:])
            return data
    raise AssertionError("no CONNECT reply")


@dataclass
class Joined:
    """A raw polling client in ROOM with an offset: its session, sid and pid."""

    eio_sid: str
    sid: str
    pid: str
    offset: str


def _joined(base: str, sio: realtime.Server) -> Joined:
    """Open a session, join ``/`` and ROOM (the app's ``join`` event), and
    take the offset of one broadcast."""
    eio_sid = _open(base)
    assert _post(base, eio_sid, "40").text == "ok"
    welcome = _connected(base, eio_sid)
    assert _post(base, eio_sid, '420["join"]').text == "ok"
    assert _poll(base, eio_sid) == ["430[true]"]
    sio.emit("tick", 1, to=ROOM)
    (tick,) = _poll(base, eio_sid)
    return Joined(eio_sid, welcome["sid"], welcome["pid"], json.loads(tick[2:])[-1])


class _App:
    def __init__(self) -> None:
        self.sio = realtime.Server(async_mode="threading", connection_state_recovery=True)
        self.gate = threading.Event()
        self.holding = threading.Event()
        self.hold = False
        self.left: list[str] = []
        sio = self.sio

        @sio.on("join")
        def join(sid: str) -> bool:
            sio.enter_room(sid, ROOM)
            return True

        @sio.on("disconnect")
        def disconnect(sid: str, reason: str) -> None:
            if self.hold:
                self.holding.set()
                self.gate.wait(10)
            self.left.append(sid)


@pytest.fixture
def app() -> Iterator[tuple[_App, str]]:
    made = _App()
    with embedded_server(made.sio, "threading") as base:
        yield made, base
    made.gate.set()


def test_a_resume_abandoned_midway_leaves_the_socket_resumable(
    app: tuple[_App, str], caplog: pytest.LogCaptureFixture
) -> None:
    made, base = app
    sio = made.sio
    caplog.set_level(logging.INFO, logger="realtime")

    # A client in the room, with an offset.
    joined = _joined(base, sio)
    sid, pid, offset = joined.sid, joined.pid, joined.offset

    # It comes back on a second session; letting the first go is held up by
    # its disconnect handler, and the client gives the second session up.
    made.hold = True
    second = _open(base)
    asked = threading.Thread(
        target=_post, args=(base, second, "40" + json.dumps({"pid": pid, "offset": offset}))
    )
    asked.start()
    # The resume let the first session go, and waits for its socket to leave.
    assert made.holding.wait(5)
    sio.engine.disconnect(second)
    made.hold = False
    made.gate.set()
    asked.join(10)
    assert not asked.is_alive()

    # A third try resumes it at once, with its sid, rooms and what it missed.
    sio.emit("tick", 2, to=ROOM)
    third = _open(base)
    started = time.monotonic()
    assert _post(base, third, "40" + json.dumps({"pid": pid, "offset": offset})).text == "ok"
    packets = _poll(base, third)
    elapsed = time.monotonic() - started
    connect = json.loads(packets[0][2:])
    assert connect["sid"] == sid and connect["pid"] == pid, packets
    assert sio.recovered(sid)
    assert [json.loads(p[2:])[:2] for p in packets[1:]] == [["tick", 2]], packets
    assert elapsed < 3, elapsed
    assert "did not return within" not in caplog.text
    sio.emit("tick", 3, to=ROOM)
    assert [json.loads(p[2:])[:2] for p in _poll(base, third)] == [["tick", 3]]
    assert sio.rooms(sid) and ROOM in sio.rooms(sid)


def test_a_connection_lost_while_its_connect_handler_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The client's transport drops while the connect handler of its resumed
    # socket still runs: the handler's return finds the socket gone (no
    # error), and the client's next try resumes it.
    from realtime.engine.session import DisconnectReason

    sio = realtime.Server(async_mode="threading", connection_state_recovery=True)
    gate, holding = threading.Event(), threading.Event()
    hold = {"on": False}

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if hold["on"]:
            hold["on"] = False
            holding.set()
            gate.wait(10)

    @sio.on("join")
    def join(sid: str) -> bool:
        sio.enter_room(sid, ROOM)
        return True

    caplog.set_level(logging.INFO, logger="realtime")
    with embedded_server(sio, "threading") as base:
        joined = _joined(base, sio)
        first, sid, pid, offset = joined.eio_sid, joined.sid, joined.pid, joined.offset
        sio.engine.disconnect(first, reason=DisconnectReason.TRANSPORT_CLOSE)

        hold["on"] = True
        second = _open(base)
        asked = threading.Thread(
            target=_post, args=(base, second, "40" + json.dumps({"pid": pid, "offset": offset}))
        )
        asked.start()
        assert holding.wait(5)
        sio.engine.disconnect(second, reason=DisconnectReason.TRANSPORT_CLOSE)
        gate.set()
        asked.join(10)
        assert not asked.is_alive()

        sio.emit("tick", 2, to=ROOM)
        third = _open(base)
        assert _post(base, third, "40" + json.dumps({"pid": pid, "offset": offset})).text == "ok"
        packets = _poll(base, third)
        connect_reply = json.loads(packets[0][2:])
        assert connect_reply["sid"] == sid, packets
        assert [json.loads(p[2:])[:2] for p in packets[1:]] == [["tick", 2]], packets
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_a_socket_whose_connection_vanished_unnoticed_is_let_go(
    app: tuple[_App, str], caplog: pytest.LogCaptureFixture
) -> None:
    # Defence in depth: were a socket ever left registered on a session the
    # engine no longer has (the dispatcher never told; no known path does
    # this now), nothing would close it. A resume closes it as dropped and
    # gets it back at once, instead of waiting 5 s for it and coming back
    # as a new socket while the ghost stays.
    made, base = app
    sio = made.sio
    caplog.set_level(logging.INFO, logger="realtime")
    joined = _joined(base, sio)
    first, sid, pid, offset = joined.eio_sid, joined.sid, joined.pid, joined.offset
    # The engine forgets the session without a word to the messaging layer.
    sio.engine._sessions.pop(first)

    sio.emit("tick", 2, to=ROOM)
    second = _open(base)
    started = time.monotonic()
    assert _post(base, second, "40" + json.dumps({"pid": pid, "offset": offset})).text == "ok"
    packets = _poll(base, second)
    elapsed = time.monotonic() - started
    connect = json.loads(packets[0][2:])
    assert connect["sid"] == sid and connect["pid"] == pid, packets
    assert [json.loads(p[2:])[:2] for p in packets[1:]] == [["tick", 2]], packets
    assert elapsed < 3, elapsed
    assert made.left == [sid], "its disconnect handler ran once"
    assert "did not return within" not in caplog.text
    sio.emit("tick", 3, to=ROOM)
    assert [json.loads(p[2:])[:2] for p in _poll(base, second)] == [["tick", 3]]
