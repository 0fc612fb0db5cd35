"""The closing handshake (RFC 6455 5.5.1, 7) over real sockets, in every async mode.

A client's close frame is echoed with its status code and the server then
closes the TCP connection (7.1.1: the server closes it first); a close frame
that breaks the rules (a one-byte payload, a code that must not be sent, a
reason that is not UTF-8, a control frame that is too long or fragmented)
fails the connection with 1002 (or 1007 for the reason). The server's own
close is answered by the client, and the server then closes the connection;
bytes after a client's close frame are discarded. Checked with bytes written
by hand and with the ``websockets`` client.
"""

from __future__ import annotations

import json
import os
import struct

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State
from websockets.sync.client import connect
from websockets.uri import parse_uri

from tests.engine.transports.websocket.client_frames import CLOSE, TEXT, ClientFrame
from tests.support import eio
from tests.support.raw_websocket import RawWebSocket, open_raw
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.usefixtures("async_mode")


def server_frames(data: bytes) -> list[Frame]:
    """The frames in what a server sent, read by ``websockets``' client parser
    (which also checks that they are valid server frames)."""
    client = ClientProtocol(parse_uri("ws://x/"), state=State.OPEN, max_size=None)
    client.receive_data(data)
    assert client.parser_exc is None, client.parser_exc
    return [e for e in client.events_received() if isinstance(e, Frame)]


def opened(server: ServerProcess) -> tuple[RawWebSocket, str]:
    """A raw WebSocket on a new session, its open packet read; and its sid."""
    raw = open_raw(server.port, "EIO=4&transport=websocket", want_after=2)
    assert raw.status.split()[1] == "101"
    data = raw.after
    while True:
        frames = server_frames(data)
        if frames:
            break
        data += raw.sock.recv(65536)
    (first,) = frames
    assert first.data[:1] == b"0"
    return raw, json.loads(bytes(first.data[1:]))["sid"]


def close_code(frame: Frame) -> int | None:
    return Close.parse(frame.data).code if frame.data else None


class TestClientCloses:
    @pytest.mark.parametrize(
        "payload",
        [
            b"",
            struct.pack("!H", 1000),
            struct.pack("!H", 1000) + "bye ✓".encode(),
            struct.pack("!H", 1001),
            struct.pack("!H", 1011) + b"oops",
            struct.pack("!H", 3000),
            struct.pack("!H", 4999) + b"app",
        ],
        ids=["empty", "1000", "1000-reason", "1001", "1011", "3000", "4999"],
    )
    def test_its_close_is_echoed_then_the_connection_closed(
        self, echo: ServerProcess, payload: bytes
    ) -> None:
        raw, sid = opened(echo)
        # Bytes after the close frame are discarded (RFC 6455 1.4), not read
        # as a message.
        raw.sock.sendall(ClientFrame(CLOSE, payload).wire() + ClientFrame(TEXT, b"4late").wire())
        data, took = raw.read_until_eof(timeout=4)
        raw.close()
        assert took is not None, "the server did not close the connection"
        frames = server_frames(data)
        assert [(f.opcode, bytes(f.data)) for f in frames] == [(Opcode.CLOSE, payload)]
        assert eio.disconnect_reason(echo.url, sid) == "transport close"

    def test_a_close_between_fragments_is_echoed(self, echo: ServerProcess) -> None:
        # RFC 6455 5.4: control frames may come between fragments (websockets
        # alone would answer 1002; Node's ws echoes, as we do). The unfinished
        # message is dropped.
        raw, sid = opened(echo)
        close = struct.pack("!H", 1000) + b"bye"
        raw.sock.sendall(
            ClientFrame(TEXT, b"4unfin", fin=False).wire() + ClientFrame(CLOSE, close).wire()
        )
        data, took = raw.read_until_eof(timeout=4)
        raw.close()
        assert took is not None, "the server did not close the connection"
        assert [(f.opcode, bytes(f.data)) for f in server_frames(data)] == [(Opcode.CLOSE, close)]
        assert eio.disconnect_reason(echo.url, sid) == "transport close"

    @pytest.mark.parametrize(
        ("frame", "code"),
        [
            (ClientFrame(CLOSE, b"\x03"), 1002),  # a one-byte payload (5.5.1)
            (ClientFrame(CLOSE, struct.pack("!H", 0)), 1002),
            (ClientFrame(CLOSE, struct.pack("!H", 999)), 1002),
            (ClientFrame(CLOSE, struct.pack("!H", 1004)), 1002),  # reserved (7.4.1)
            (ClientFrame(CLOSE, struct.pack("!H", 1005)), 1002),  # never sent (7.4.1)
            (ClientFrame(CLOSE, struct.pack("!H", 1006)), 1002),
            (ClientFrame(CLOSE, struct.pack("!H", 1015)), 1002),
            (ClientFrame(CLOSE, struct.pack("!H", 2999)), 1002),  # unassigned (7.4.2)
            (ClientFrame(CLOSE, struct.pack("!H", 5000)), 1002),
            (ClientFrame(CLOSE, struct.pack("!H", 1000) + b"\xff\xfe"), 1007),  # 8.1
            (ClientFrame(CLOSE, struct.pack("!H", 1000) + b"x" * 124), 1002),  # > 125 (5.5)
            (ClientFrame(CLOSE, struct.pack("!H", 1000), fin=False), 1002),  # fragmented (5.5)
            (ClientFrame(CLOSE, struct.pack("!H", 1000), masked=False), 1002),  # 5.1
            (ClientFrame(CLOSE, struct.pack("!H", 1000), rsv=4), 1002),  # 5.2
        ],
        ids=[
            "one-byte",
            "code-0",
            "code-999",
            "code-1004",
            "code-1005",
            "code-1006",
            "code-1015",
            "code-2999",
            "code-5000",
            "reason-not-utf8",
            "too-long",
            "fragmented",
            "unmasked",
            "reserved-bit",
        ],
    )
    def test_an_invalid_close_fails_the_connection(
        self, echo: ServerProcess, frame: ClientFrame, code: int
    ) -> None:
        raw, sid = opened(echo)
        raw.sock.sendall(frame.wire())
        data, took = raw.read_until_eof(timeout=4)
        raw.close()
        assert took is not None, "the server did not close the connection"
        frames = server_frames(data)
        assert [f.opcode for f in frames] == [Opcode.CLOSE]
        assert close_code(frames[0]) == code
        assert eio.disconnect_reason(echo.url, sid) == "transport error"

    def test_with_the_websockets_client(self, echo: ServerProcess) -> None:
        with connect(eio.url(echo.ws_url, transport="websocket")) as ws:
            assert str(ws.recv(timeout=5)).startswith("0")
            ws.send("4hello")
            assert ws.recv(timeout=5) == "4hello"
            ws.close(1000, "done")
            # The server answered with the same code and reason, after the
            # client's close (the client started the handshake).
            assert ws.protocol.close_rcvd == Close(1000, "done")
            assert ws.protocol.close_rcvd_then_sent is False
            assert ws.protocol.state is State.CLOSED


class TestServerCloses:
    def test_it_closes_the_connection_once_the_client_answers(self, echo: ServerProcess) -> None:
        raw, sid = opened(echo)
        raw.send_text("4disconnect-me")
        data = b""
        while not any(f.opcode is Opcode.CLOSE for f in server_frames(data)):
            data += raw.sock.recv(65536)
        frames = server_frames(data)
        assert [bytes(f.data) for f in frames if f.opcode is Opcode.TEXT] == [b"1"]
        (close,) = [f for f in frames if f.opcode is Opcode.CLOSE]
        assert close_code(close) == 1000
        # The client answers; the server then closes the TCP connection
        # (7.1.1), long before its close timeout.
        raw.sock.sendall(ClientFrame(CLOSE, bytes(close.data), mask=os.urandom(4)).wire())
        rest, took = raw.read_until_eof(timeout=4)
        raw.close()
        assert took is not None, "the server did not close the connection"
        assert rest == b""
        assert eio.disconnect_reason(echo.url, sid) == "server disconnect"

    def test_with_the_websockets_client(self, echo: ServerProcess) -> None:
        with connect(eio.url(echo.ws_url, transport="websocket")) as ws:
            assert str(ws.recv(timeout=5)).startswith("0")
            ws.send("4disconnect-me")
            assert ws.recv(timeout=5) == "1"
            ws.recv_events_thread.join(5)  # the close handshake, then the end
            assert ws.protocol.close_rcvd == Close(1000, "")
            assert ws.protocol.close_rcvd_then_sent is True
            assert ws.protocol.state is State.CLOSED
