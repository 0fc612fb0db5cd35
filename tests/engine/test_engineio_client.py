"""Interop with python-engineio's client, over each transport, in every async mode."""

from __future__ import annotations

import threading
import time

import engineio
import pytest

from tests.support import eio
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.usefixtures("async_mode")

TRANSPORTS = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "upgrade": ["polling", "websocket"],
}


class Peer:
    """python-engineio's client and what it received."""

    def __init__(self) -> None:
        self.client = engineio.Client(request_timeout=10)
        self.received: list[str | bytes] = []
        self.disconnected = threading.Event()
        self._arrived = threading.Condition()
        self.client.on("message", self._on_message)
        self.client.on("disconnect", self.disconnected.set)

    def _on_message(self, data: str | bytes) -> None:
        with self._arrived:
            self.received.append(data)
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10) -> list[str | bytes]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)


@pytest.fixture(params=list(TRANSPORTS))
def peer(request: pytest.FixtureRequest, echo: ServerProcess) -> Peer:
    peer = Peer()
    peer.client.connect(echo.url, transports=TRANSPORTS[request.param])
    if request.param == "upgrade":
        for _ in range(100):
            if peer.client.transport() == "websocket":
                break
            time.sleep(0.05)
    yield peer
    if peer.client.state == "connected":
        peer.client.disconnect()


def test_transport_is_the_one_asked_for(peer: Peer, request: pytest.FixtureRequest) -> None:
    expected = "polling" if "polling]" in request.node.name else "websocket"
    assert peer.client.transport() == expected


def test_text_and_binary_both_ways(peer: Peer) -> None:
    peer.client.send("hello")
    peer.client.send(b"\x00\x01\xfe\xff")
    peer.client.send("€uro")
    assert peer.wait_for(3) == ["hello", b"\x00\x01\xfe\xff", "€uro"]


def test_many_messages_in_order(peer: Peer) -> None:
    for i in range(200):
        peer.client.send(f"m{i}")
    assert peer.wait_for(200) == [f"m{i}" for i in range(200)]


def test_server_burst_in_order(peer: Peer) -> None:
    peer.client.send("burst:500")
    assert peer.wait_for(500) == [f"b{i}" for i in range(500)]


def test_server_disconnect(peer: Peer, echo: ServerProcess) -> None:
    sid = peer.client.sid
    peer.client.send("disconnect-me")
    assert peer.disconnected.wait(10)
    assert eio.disconnect_reason(echo.url, sid) == "server disconnect"


def test_client_disconnect(peer: Peer, echo: ServerProcess) -> None:
    sid = peer.client.sid
    peer.client.disconnect()
    assert eio.disconnect_reason(echo.url, sid) in ("client disconnect", "transport close")
    assert not eio.disconnect_state(echo.url, sid)["connected"]


def test_refused_connection(echo: ServerProcess) -> None:
    client = engineio.Client()
    with pytest.raises(engineio.exceptions.ConnectionError):
        client.connect(echo.url + "?refuse=1", transports=["polling"])


def test_heartbeats_keep_an_idle_session_alive(fast_heartbeat: ServerProcess) -> None:
    for transports in TRANSPORTS.values():
        peer = Peer()
        peer.client.connect(fast_heartbeat.url, transports=transports)
        time.sleep(1.5)  # several ping intervals
        peer.client.send("still here")
        assert peer.wait_for(1) == ["still here"]
        assert not peer.disconnected.is_set()
        peer.client.disconnect()
