"""A client that does not read what is sent to it: ``slow_client_limit`` and
``slow_client_policy``, in every async mode, over real sockets.

The bare engine (``engine_echo``) sends ``big:400:8192`` (400 numbered
messages of 8 KiB, 3.2 MB) to a client that reads nothing, with a limit of
256 KiB. On WebSocket the client is a raw socket with a small receive
buffer; on polling it sends no ``GET``. With ``disconnect`` the connection is
closed and the log says why; with ``drop`` messages past the limit are
dropped (the client gets a prefix, then only what came once it read again),
the session lives on, and the log counts the drops.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from realtime.engine.session import MAX_PACKETS_PER_POLL
from tests.support import eio
from tests.support.raw_websocket import RawWebSocket, open_raw
from tests.support.servers import ServerProcess

LIMIT = 256 * 1024
BLAST = "big:400:8192"


@pytest.fixture(params=["disconnect", "drop"])
def policy(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(async_mode: str, policy: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    log = tmp_path / "server.log"
    options = {"slow_client_limit": LIMIT, "slow_client_policy": policy}
    started = ServerProcess(
        "tests.support.apps:engine_echo", async_mode, options, log_path=str(log)
    ).start()
    yield started, log
    started.stop()


class Reader:
    """A raw WebSocket's frames, as ``websockets``' client parser reads them."""

    def __init__(self, raw: RawWebSocket) -> None:
        self.raw = raw
        self.parser = ClientProtocol(parse_uri("ws://x/"), state=State.OPEN, max_size=None)
        self.parser.receive_data(raw.after)

    def texts(self, until: float) -> tuple[list[str], bool]:
        """Text messages read for ``until`` seconds (or until the server
        closes), and whether it closed."""
        texts: list[str] = []
        deadline = time.monotonic() + until
        closed = False
        while time.monotonic() < deadline:
            self.raw.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.raw.sock.recv(65536)
            except TimeoutError:
                break
            except OSError:
                closed = True
                break
            if not data:
                closed = True
                break
            self.parser.receive_data(data)
            for event in self.parser.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    texts.append(bytes(event.data).decode())
        return texts, closed


def _numbers(texts: list[str]) -> list[int]:
    """The numbers of ``big`` messages (``4N:xxx``) among Engine.IO packets."""
    return [int(t[1:].split(":")[0]) for t in texts if t.startswith("4") and ":" in t]


def test_a_websocket_client_that_does_not_read(
    server: tuple[ServerProcess, Path], policy: str
) -> None:
    process, log = server
    raw = open_raw(process.port, "EIO=4&transport=websocket", receive_buffer=4096)
    assert raw.status.split()[1] == "101"
    reader = Reader(raw)
    raw.send_text("4" + BLAST)
    time.sleep(2)  # not reading: what the kernel refuses waits on the server
    texts, closed = reader.texts(until=3)
    numbers = _numbers(texts)
    if policy == "disconnect":
        assert closed, "the server closed the connection"
        assert len(numbers) < 400
        assert "disconnecting it" in log.read_text()
    else:
        assert not closed
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
        assert 0 < len(numbers) < 400, "some were dropped"
        # The session lives on: it answers, once the client reads again.
        raw.send_text("4after")
        later, closed = reader.texts(until=2)
        assert not closed and "4after" in later
        assert "dropped" in log.read_text() and "slow_client_policy 'drop'" in log.read_text()
    assert "Traceback" not in log.read_text()


def test_a_polling_client_that_does_not_fetch(
    server: tuple[ServerProcess, Path], policy: str
) -> None:
    process, log = server
    sid, _ = eio.handshake(process.url)
    assert eio.post(process.url, sid, "4" + BLAST).text == "ok"
    time.sleep(1)
    if policy == "disconnect":
        # The session is gone: the next GET is told so.
        response = eio.poll(process.url, sid)
        assert response.status_code == 400 or response.text.startswith("1"), response.text
        assert "disconnecting it" in log.read_text()
    else:
        got: list[int] = []
        for _ in range(100):
            response = eio.poll(process.url, sid)
            assert response.status_code == 200, response.text
            packets = response.text.split("\x1e")
            got += _numbers(packets)
            if len(packets) < MAX_PACKETS_PER_POLL:
                break  # the queue is empty
        assert got == sorted(got) and 0 < len(got) < 400, got[-5:]
        assert eio.post(process.url, sid, "4after").text == "ok"
        assert "4after" in eio.poll(process.url, sid).text.split("\x1e")
        assert "slow_client_policy 'drop'" in log.read_text()
    assert "Traceback" not in log.read_text()
