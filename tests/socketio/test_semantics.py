"""What the messaging layer promises around handlers, in every async mode, over real sockets.

Each client's events run in the order they arrived, but one that blocks does
not hold up the rest for long; what a connect handler sends waits for the
client's CONNECT; a refused client gets its refusal alone; a client that
leaves is out of its rooms before its disconnect handler runs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import socketio
import websocket

from realtime.socketio.ordering import PATIENCE
from tests.support import eio
from tests.support.servers import ServerPool, ServerProcess

pytestmark = pytest.mark.usefixtures("async_mode")

APP = "tests.support.sio_apps:sio_semantics"
PATH = "/socket.io/"


@pytest.fixture
def server(server_pool: ServerPool, async_mode: str) -> ServerProcess:
    return server_pool.get(APP, async_mode)


@pytest.fixture
def clients(server: ServerProcess) -> Iterator[list[socketio.Client]]:
    made: list[socketio.Client] = []
    yield made
    for client in made:
        if client.connected:
            client.disconnect()


def connect(server: ServerProcess, made: list[socketio.Client], **options: Any) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.connect(server.url, transports=["websocket"], wait_timeout=10, **options)
    made.append(client)
    return client


def open_ws(server: ServerProcess) -> websocket.WebSocket:
    ws = websocket.create_connection(f"{server.ws_url}{PATH}?EIO=4&transport=websocket", timeout=10)
    assert str(ws.recv()).startswith("0{")
    return ws


def recv(ws: websocket.WebSocket) -> str:
    frame = eio.ws_recv_skip_pings(ws)
    assert isinstance(frame, str)
    return frame


def sid_of(connect_reply: str, namespace: str = "") -> str:
    prefix = f"40{namespace}," if namespace else "40"
    assert connect_reply.startswith(prefix), connect_reply
    return str(json.loads(connect_reply[len(prefix) :])["sid"])


def acks_in_arrival_order(client: socketio.Client, *work: tuple[float, str]) -> list[str]:
    """Send ``work`` events back to back; the tags of their acks as they came."""
    arrived: list[str] = []
    done = threading.Event()

    def record(tag: str) -> None:
        arrived.append(tag)
        if len(arrived) == len(work):
            done.set()

    for delay, tag in work:
        client.emit("work", (delay, tag), callback=record)
    assert done.wait(15), arrived
    return arrived


class TestHandlerOrder:
    def test_a_clients_events_are_handled_in_the_order_they_came(
        self, server: ServerProcess, clients: list[socketio.Client]
    ) -> None:
        client = connect(server, clients)
        # Each handler sleeps less than the one before: run side by side, the
        # acks would come back reversed.
        work = [(0.3, "a"), (0.2, "b"), (0.1, "c"), (0.0, "d")]
        assert acks_in_arrival_order(client, *work) == ["a", "b", "c", "d"]

    def test_a_handler_that_blocks_lets_the_next_ones_run(
        self, server: ServerProcess, clients: list[socketio.Client]
    ) -> None:
        client = connect(server, clients)
        blocking = PATIENCE * 8
        assert acks_in_arrival_order(client, (blocking, "slow"), (0.0, "quick")) == [
            "quick",
            "slow",
        ]

    def test_one_clients_slow_handler_does_not_delay_another_client(
        self, server: ServerProcess, clients: list[socketio.Client]
    ) -> None:
        slow, other = connect(server, clients), connect(server, clients)
        slow.emit("work", (PATIENCE * 8, "slow"))
        started = time.monotonic()
        assert other.call("work", (0.0, "other"), timeout=PATIENCE * 4) == "other"
        assert time.monotonic() - started < PATIENCE * 4

    def test_call_from_an_inline_handler_is_refused(
        self, server_pool: ServerPool, async_mode: str, clients: list[socketio.Client]
    ) -> None:
        # With async_handlers=False the handler runs on the thread that reads
        # the client's packets: waiting there for the client's answer would
        # wait forever, so call() says so instead.
        inline = server_pool.get(APP, async_mode, async_handlers=False)
        client = connect(inline, clients)
        client.on("question", lambda: "answer")
        answer = client.call("ask_inline", timeout=10)
        assert answer.startswith("ConfigurationError: ") and "async_handlers" in answer
        assert client.call("work", (0, "still served"), timeout=10) == "still served"


class TestConnectHandler:
    def test_what_the_connect_handler_sends_follows_the_connect_reply(
        self, server: ServerProcess
    ) -> None:
        ws = open_ws(server)
        ws.send('40{"early":0.2}')
        sid = sid_of(recv(ws))
        assert recv(ws) == f'42["early","{sid}"]'
        ws.close()

    def test_a_refused_client_gets_its_refusal_alone(self, server: ServerProcess) -> None:
        ws = open_ws(server)
        ws.send('40{"early":0.1,"refuse":true}')
        assert recv(ws) == '44{"message":"refused"}'
        # The next CONNECT is answered first: nothing held for the refused
        # attempt came out in between.
        ws.send("40")
        sid_of(recv(ws))
        ws.close()

    def test_refusal_data_that_cannot_be_encoded_still_answers(self, server: ServerProcess) -> None:
        ws = open_ws(server)
        ws.send('40{"early":0,"refuse":"unencodable"}')
        assert recv(ws) == '44{"message":"unencodable"}'
        ws.send("40/side,")
        sid_of(recv(ws), "/side")
        ws.send('42/side,1["ping"]')
        assert recv(ws) == '43/side,1["pong"]'
        ws.close()


class TestDisconnectHandler:
    def test_a_kicked_client_gets_nothing_its_disconnect_handler_broadcasts(
        self, server: ServerProcess, clients: list[socketio.Client]
    ) -> None:
        room = f"room-{time.monotonic_ns()}"
        other = connect(server, clients)
        gone: list[Any] = []
        arrived = threading.Event()
        other.on("gone", lambda sid, rooms: (gone.append((sid, rooms)), arrived.set()))
        other.call("join", room, timeout=5)

        ws = open_ws(server)
        ws.send("40")
        sid = sid_of(recv(ws))
        ws.send("40/side,")
        sid_of(recv(ws), "/side")
        ws.send(f'421["join","{room}"]')
        assert recv(ws) == f'431[["{sid}","{room}"]]'
        ws.send('42["kick"]')
        assert recv(ws) == "41"
        assert arrived.wait(10)
        assert gone == [(sid, [sid, room])]
        # Anything sent to this client after its "41" would come before this
        # answer on the same connection.
        ws.send('42/side,2["ping"]')
        assert recv(ws) == '43/side,2["pong"]'
        ws.close()
        seen = requests.get(f"{server.url}/_test/state?sid={sid}", timeout=5).json()
        assert seen == {
            "rooms": [sid, room],
            "transport": "websocket",
            "reason": "server disconnect",
        }

    @pytest.mark.parametrize("transport", ["polling", "websocket"])
    def test_the_disconnect_handler_sees_rooms_and_transport(
        self, server: ServerProcess, transport: str
    ) -> None:
        # A raw client: python-socketio's may lose its "41" to a race between
        # its threads (see test_client_disconnect_reason).
        session = RawSession(server, transport)
        session.send("40")
        sid = sid_of(session.receive())
        session.send('421["join","lobby"]')
        assert session.receive() == f'431[["{sid}","lobby"]]'
        session.send("41")
        deadline = time.monotonic() + 10
        while (
            seen := requests.get(f"{server.url}/_test/state?sid={sid}", timeout=5).json()
        ) is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        session.close()
        assert seen == {
            "rooms": [sid, "lobby"],
            "transport": transport,
            "reason": "client disconnect",
        }


class RawSession:
    """One Engine.IO session over polling or WebSocket, frame by frame (pings answered)."""

    def __init__(self, server: ServerProcess, transport: str) -> None:
        self.base = f"{server.url}{PATH}?EIO=4&transport={transport}"
        self.ws: websocket.WebSocket | None = None
        self.pending: list[str] = []
        if transport == "websocket":
            self.ws = open_ws(server)
        else:
            opened = requests.get(self.base, timeout=10).text
            assert opened.startswith("0{")
            self.base += f"&sid={json.loads(opened[1:])['sid']}"

    def send(self, frame: str) -> None:
        if self.ws is not None:
            self.ws.send(frame)
        else:
            assert requests.post(self.base, data=frame, timeout=10).text == "ok"

    def receive(self) -> str:
        if self.ws is not None:
            return recv(self.ws)
        while not self.pending:
            frames = requests.get(self.base, timeout=10).text.split("\x1e")
            if "2" in frames:
                self.send("3")
            self.pending = [frame for frame in frames if frame != "2"]
        return self.pending.pop(0)

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        else:
            self.send("1")
