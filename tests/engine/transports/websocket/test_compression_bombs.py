"""permessage-deflate without bombs: a message whose inflated size passes
``max_http_buffer_size`` is refused with close code 1009, and no more than
that limit (plus zlib's window) is ever inflated.

Inflation happens in one place only: ``websockets``' permessage-deflate
extension, run by the connection's frame protocol with ``max_size`` set to
``max_http_buffer_size``; it asks zlib for at most what is left of the limit
(``decompressobj().decompress(data, max_length)``) and stops there. Checked
in-process (the connection reading a bomb, what Python allocated meanwhile)
and over real sockets in every async mode (a hand-built bomb of 256 MiB,
the server's peak memory before and after; a ``websockets`` client with
compression on).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import tracemalloc
import zlib

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Close, Opcode
from websockets.sync.client import connect

from realtime.async_modes import get_async_mode
from realtime.engine.scheduler import Scheduler
from realtime.engine.transports.websocket.connection import WebSocketConnection, frame_protocol
from realtime.exceptions import PacketDecodeError
from realtime.protocol.engineio import Packet, PacketType
from tests.engine.conftest import ECHO
from tests.engine.transports.websocket.client_frames import BINARY, CONT, TEXT, ClientFrame
from tests.engine.transports.websocket.test_close_handshake import server_frames
from tests.engine.transports.websocket.test_connection import ChunkedReads
from tests.support import eio
from tests.support.servers import ServerPool

MiB = 1024 * 1024


def deflated(size: int, chunk: int = MiB) -> bytes:
    """``size`` zero bytes as a permessage-deflate payload (RFC 7692 7.2.1:
    raw deflate, flushed, without the final ``00 00 ff ff``)."""
    compressor = zlib.compressobj(wbits=-15)
    parts = [compressor.compress(bytes(chunk)) for _ in range(size // chunk)]
    parts.append(compressor.compress(bytes(size % chunk)))
    parts.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    data = b"".join(parts)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


@functools.cache
def bomb(size: int) -> bytes:
    """A masked, compressed binary frame (RSV1 set) inflating to ``size`` zeros."""
    return ClientFrame(BINARY, deflated(size), rsv=4, mask=os.urandom(4)).wire()


def read_compressed(chunks: list[bytes], max_size: int) -> tuple[list[Packet], str | None, bytes]:
    """Packets a connection with permessage-deflate reads from ``chunks``, its
    protocol error, what it wrote."""
    mode = get_async_mode("threading")
    handed = ChunkedReads(chunks)
    deflate = PerMessageDeflate(False, False, 15, 15)
    connection = WebSocketConnection(
        mode,
        Scheduler(mode),
        handed,
        frame_protocol(max_size, [deflate]),
        max_size=max_size,
        compressed=True,
        log=logging.getLogger("tests.websocket"),
        label="test",
    )
    packets: list[Packet] = []
    with contextlib.suppress(PacketDecodeError):  # the connection closed it first
        packets.extend(connection.packets())
    return packets, connection.error, handed.written()


def close_code_written(written: bytes) -> int | None:
    closes = [f for f in server_frames(written) if f.opcode is Opcode.CLOSE]
    return Close.parse(closes[0].data).code if closes else None


@pytest.mark.parametrize("split", [False, True], ids=["one-frame", "fragmented"])
def test_a_bomb_is_refused_with_1009_having_inflated_no_more_than_the_limit(split: bool) -> None:
    limit = 1_000_000
    payload = deflated(64 * MiB)
    if split:
        # The same stream in three fragments: each may inflate only what is
        # left of the limit after the ones before.
        a, b = len(payload) // 3, 2 * len(payload) // 3
        frames = [
            ClientFrame(BINARY, payload[:a], fin=False, rsv=4),
            ClientFrame(CONT, payload[a:b], fin=False),
            ClientFrame(CONT, payload[b:]),
        ]
    else:
        frames = [ClientFrame(BINARY, payload, rsv=4)]
    chunks = [frame.wire() for frame in frames]
    tracemalloc.start()
    try:
        packets, error, written = read_compressed(chunks, limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert packets == []
    assert error is not None and "PayloadTooBig" in error
    assert close_code_written(written) == 1009
    # Inflating it all would have allocated 64 MiB; the chunks themselves
    # take ~0.2 MiB (deflate shrinks zeros about a thousand times).
    assert peak < 8 * MiB, peak


@pytest.mark.parametrize(
    ("size", "accepted"), [(1000, True), (1001, False)], ids=["at-limit", "over"]
)
def test_the_limit_counts_inflated_bytes(size: int, accepted: bool) -> None:
    # A text message: "4" and size - 1 NULs is a message packet.
    text = ClientFrame(TEXT, deflated_text("4" + "\0" * (size - 1)), rsv=4)
    packets, error, written = read_compressed([text.wire()], 1000)
    if accepted:
        assert packets == [Packet(PacketType.MESSAGE, "\0" * (size - 1))]
        assert error is None
    else:
        assert packets == []
        assert close_code_written(written) == 1009


def deflated_text(text: str) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    data = compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return data[:-4]


def peak_rss(pid: int) -> int:
    """The peak resident memory of process ``pid`` so far, in bytes (VmHWM)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.usefixtures("async_mode")
class TestOverSockets:
    def test_a_256_mib_bomb_is_refused_without_inflating_it(
        self, server_pool: ServerPool, async_mode: str
    ) -> None:
        server = server_pool.get(ECHO, async_mode, websocket_compression=True)
        assert server.process is not None
        frame = bomb(256 * MiB)
        assert len(frame) < 1_000_000  # under max_http_buffer_size as sent
        with connect(eio.url(server.ws_url, transport="websocket"), compression="deflate") as ws:
            assert str(ws.recv(timeout=5)).startswith("0")
            before = peak_rss(server.process.pid)
            # Written under the client's feet: the server's inflater is still
            # fresh, as nothing compressed went that way yet.
            ws.socket.sendall(frame)
            with pytest.raises(ConnectionClosedError) as closed:
                ws.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
        grew = peak_rss(server.process.pid) - before
        assert grew < 64 * MiB, f"the server's peak memory grew by {grew / MiB:.0f} MiB"
        # The server still serves.
        ws2, _ = eio.ws_open(server.ws_url)
        ws2.send("4still here")
        assert ws2.recv() == "4still here"
        ws2.close()

    def test_a_websockets_client_compressing_too_much(
        self, server_pool: ServerPool, async_mode: str
    ) -> None:
        server = server_pool.get(
            ECHO, async_mode, websocket_compression=True, max_http_buffer_size=1000
        )
        with connect(eio.url(server.ws_url, transport="websocket"), compression="deflate") as ws:
            assert str(ws.recv(timeout=5)).startswith("0")
            ws.send("4" + "x" * 900)  # inflates to 901 bytes: within the limit
            assert ws.recv(timeout=5) == "4" + "x" * 900
            ws.send(bytes(200_000))  # ~200 bytes on the wire
            with pytest.raises(ConnectionClosedError) as closed:
                ws.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
