"""An open WebSocket connection: reading with the fast path against reading with
websockets alone, on random frames cut into random reads; then over real
sockets, in every async mode: frames in and out (the fast path and
websockets' parser taking turns), control frames, close codes, a peer that
vanishes."""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterable

import pytest
import websocket
from hypothesis import example, given, settings
from hypothesis import strategies as st

from realtime.async_modes import get_async_mode
from realtime.async_modes.base import HandedOverSocket
from realtime.engine.scheduler import Scheduler
from realtime.engine.transports.websocket.connection import (
    NOTHING_YET,
    WebSocketConnection,
    frame_protocol,
)
from realtime.exceptions import PacketDecodeError
from realtime.protocol.engineio import Packet
from tests.engine.transports.websocket.client_frames import (
    BINARY,
    CONT,
    LENGTH16,
    TEXT,
    ClientFrame,
    client_messages,
    max_sizes,
)
from tests.support import eio
from tests.support.servers import ServerProcess


class ChunkedReads(HandedOverSocket):
    """A handed-over socket whose reads return the given chunks, then the end.

    What the connection writes goes to the other end of a socket pair.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        ours, self._peer = socket.socketpair()
        super().__init__(ours, ours, lambda start_response: [])
        self._chunks = [chunk for chunk in chunks if chunk]

    def recv(self, size: int) -> bytes:
        if not self._chunks:
            return b""
        chunk = self._chunks.pop(0)
        if len(chunk) > size:
            self._chunks.insert(0, chunk[size:])
        return chunk[:size]

    def written(self) -> bytes:
        """What the connection wrote (pongs, close frames); closes both ends."""
        self._peer.setblocking(False)
        data = b""
        with contextlib.suppress(BlockingIOError):
            while chunk := self._peer.recv(65536):
                data += chunk
        self._peer.close()
        self.sock.close()
        return data


class ChunkedReadsNoWait(ChunkedReads):
    """Like :class:`ChunkedReads`, read without waiting: each chunk once the
    reader was told nothing more is there (as a detached reader reads)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__(chunks)
        self.nothing_yet = 0
        #: Reads after one that returned less than asked (the connection
        #: knew they would find nothing).
        self.wasted = 0
        self._short = False

    def recv_nowait(self, size: int) -> bytes | None:
        if self.nothing_yet < 0:
            self.wasted += self._short
            return None  # drained: a reader must wait to be told of more
        self.nothing_yet = -1
        data = self.recv(size)
        self._short = len(data) < size
        return data

    def told_readable(self) -> None:
        self.nothing_yet = 0


def read_everything(
    chunks: list[bytes], max_size: int | None, *, fast_path: bool, nowait: bool = False
) -> tuple[list[Packet], str | None, str | None, bytes]:
    """Packets a connection reads from ``chunks``, how it failed, what it wrote.

    Without the fast path, the connection is one whose handshake negotiated
    no extension through websockets: every frame goes through websockets.
    ``nowait`` reads as a detached reader does: each chunk once the
    connection said it has nothing more (:data:`NOTHING_YET`).
    """
    mode = get_async_mode("threading")
    handed = ChunkedReadsNoWait(chunks) if nowait else ChunkedReads(chunks)
    connection = WebSocketConnection(
        mode,
        Scheduler(mode),
        handed,
        None if fast_path else frame_protocol(max_size),
        max_size=max_size,
        compressed=not fast_path,
        log=logging.getLogger("tests.websocket"),
        label="test",
    )
    packets: list[Packet] = []
    invalid = None
    if nowait:
        connection.read_nowait()
    try:
        for packet in connection.packets():
            if packet is NOTHING_YET:
                assert isinstance(handed, ChunkedReadsNoWait)
                handed.told_readable()
            else:
                packets.append(packet)
    except PacketDecodeError as exc:
        invalid = str(exc)
    if isinstance(handed, ChunkedReadsNoWait):
        assert handed.wasted == 0
    return packets, invalid, connection.error, handed.written()


@st.composite
def reads(draw: st.DrawFn) -> tuple[list[bytes], int | None]:
    """Random client messages, cut into reads; a size limit."""
    messages = draw(st.lists(client_messages(), max_size=10))
    frames = [frame for message in messages for frame in message]
    # A read ends anywhere, and often where a mistake would show: at a
    # frame's end, inside its header, right after the header.
    cut_frame_at = st.lists(st.sampled_from([-1, -1, 0, 1, 2, 4, 6, 8]), max_size=2)
    chunks = [b""]
    for frame in frames:
        wire = frame.wire()
        cuts = sorted({len(wire) if k == -1 else min(k, len(wire)) for k in draw(cut_frame_at)})
        for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
            chunks[-1] += wire[start:end]
            if end in cuts:
                chunks.append(b"")
    return chunks, draw(max_sizes(frames))


_MASK = b"\x01\x02\x03\x04"
_HIDDEN = bytes(b ^ _MASK[i % 4] for i, b in enumerate(ClientFrame(TEXT, b"4hidden").wire()))
_FRAGMENT = ClientFrame(TEXT, b"4frag", fin=False).wire()
_SMUGGLER = ClientFrame(BINARY, _HIDDEN, mask=_MASK).wire()
_PADDED = ClientFrame(TEXT, b"4pad", length_form=LENGTH16).wire()
_WHOLE = ClientFrame(TEXT, b"4whole").wire()


@settings(max_examples=400, deadline=None)
@given(reads())
# A new message where a fragment's continuation should come, in the next read.
@example(([_FRAGMENT, _WHOLE + ClientFrame(CONT, b"ment").wire()], None))
# A frame's header in one read, its payload (which looks like a frame) in the next.
@example(([_SMUGGLER[:6], _SMUGGLER[6:] + _WHOLE], None))
# A length in a longer form than needed, then whole frames in later reads.
@example(([_PADDED[:3], _PADDED[3:] + _WHOLE, _WHOLE], None))
def test_the_fast_path_reads_what_websockets_alone_reads(
    case: tuple[list[bytes], int | None],
) -> None:
    # Everything that can be seen from outside: the packets, the invalid
    # packet that ended them, the protocol violation, the bytes answered.
    chunks, max_size = case
    with_fast_path = read_everything(chunks, max_size, fast_path=True)
    websockets_alone = read_everything(chunks, max_size, fast_path=False)
    assert with_fast_path == websockets_alone
    # Read without waiting, as a detached reader does: a read that took all
    # there was is not followed by another until the socket is readable.
    assert read_everything(chunks, max_size, fast_path=True, nowait=True) == websockets_alone


@pytest.mark.usefixtures("async_mode")
class TestFrames:
    def test_text_and_binary_echo(self, echo: ServerProcess) -> None:
        ws, _ = eio.ws_open(echo.ws_url)
        ws.send("4hello €")
        assert ws.recv() == "4hello €"
        ws.send_binary(bytes([1, 2, 3, 4]))
        assert ws.recv() == bytes([1, 2, 3, 4])
        ws.send("4")
        assert ws.recv() == "4"
        ws.close()

    def test_fragmented_message_is_reassembled(self, echo: ServerProcess) -> None:
        ws, _ = eio.ws_open(echo.ws_url)
        ws.send_frame(websocket.ABNF.create_frame("4frag", websocket.ABNF.OPCODE_TEXT, fin=0))
        ws.send_frame(websocket.ABNF.create_frame("mented", websocket.ABNF.OPCODE_CONT, fin=1))
        assert ws.recv() == "4fragmented"
        ws.close()

    def test_frames_split_and_mixed_in_one_write(self, echo: ServerProcess) -> None:
        # Whole frames, a frame cut in two writes, a ping, a fragmented
        # message and a frame with a padded length, back to back: the fast
        # path and websockets' parser take turns without losing a byte.
        ws, _ = eio.ws_open(echo.ws_url)

        def frame(text: str, opcode: int = websocket.ABNF.OPCODE_TEXT, fin: int = 1) -> bytes:
            return bytes(websocket.ABNF.create_frame(text, opcode, fin=fin).format())

        cut = frame("4" + "c" * 200)
        ws.sock.sendall(frame("4a") + frame("4b") + cut[:7])
        time.sleep(0.1)
        padded = bytearray([0x81, 0x80 | 126, 0, 3, 0, 0, 0, 0]) + b"4pd"  # 3 bytes as 16-bit
        ws.sock.sendall(
            cut[7:]
            + frame("4d")
            + frame("", websocket.ABNF.OPCODE_PING)
            + frame("4fr", fin=0)
            + frame("ag", websocket.ABNF.OPCODE_CONT)
            + frame("4e")
            + bytes(padded)
            + frame("4f")
        )
        expected = ["4a", "4b", "4" + "c" * 200, "4d", "4frag", "4e", "4pd", "4f"]
        assert [eio.ws_recv_skip_pings(ws) for _ in expected] == expected
        ws.send("4g")
        assert eio.ws_recv_skip_pings(ws) == "4g"
        ws.close()

    def test_burst_arrives_in_order(self, echo: ServerProcess) -> None:
        ws, _ = eio.ws_open(echo.ws_url)
        ws.send("4burst:2000")
        assert [ws.recv() for _ in range(2000)] == [f"4b{i}" for i in range(2000)]
        ws.close()

    def test_large_binary_message(self, echo: ServerProcess) -> None:
        ws, _ = eio.ws_open(echo.ws_url)
        ws.send("4binary:512000")
        data = ws.recv()
        assert isinstance(data, bytes) and len(data) == 512001
        ws.close()

    def test_client_vanishing_is_a_transport_close(self, echo: ServerProcess) -> None:
        ws, data = eio.ws_open(echo.ws_url)
        ws.sock.shutdown(socket.SHUT_RDWR)
        ws.sock.close()
        assert eio.disconnect_reason(echo.url, data["sid"]) == "transport close"

    def test_invalid_utf8_closes_with_1007(self, echo: ServerProcess) -> None:
        ws, _ = eio.ws_open(echo.ws_url)
        ws.send_frame(websocket.ABNF.create_frame(b"4\xff\xfe", websocket.ABNF.OPCODE_TEXT))
        ws.settimeout(5)
        opcode, frame = ws.recv_data_frame(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(frame.data[:2], "big") == 1007

    def test_oversize_message_closes_with_1009(self, strict: ServerProcess) -> None:
        bystander, _ = eio.ws_open(strict.ws_url)
        ws, data = eio.ws_open(strict.ws_url)
        ws.send("4" + "x" * 2000)
        ws.settimeout(5)
        opcode, frame = ws.recv_data_frame(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(frame.data[:2], "big") == 1009
        assert eio.disconnect_reason(strict.url, data["sid"]) == "transport error"
        bystander.send("4ok")
        assert bystander.recv() == "4ok"

    def test_websocket_ping_frames_are_answered(self, echo: ServerProcess) -> None:
        ws, _ = eio.ws_open(echo.ws_url)
        ws.ping(b"are you there")
        ws.settimeout(5)
        opcode, frame = ws.recv_data_frame(control_frame=True)
        assert (opcode, frame.data) == (websocket.ABNF.OPCODE_PONG, b"are you there")
        ws.close()
