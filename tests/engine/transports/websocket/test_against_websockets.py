"""The WebSocket path as a whole, against the ``websockets`` library as a server.

Streams of client frames, generated, cut into random reads, go to a
:class:`WebSocketConnection` (the fast path and ``websockets``' parser
taking turns, then the Engine.IO packet decoding) and to a model of a
``websockets`` server: its sans-I/O ``ServerProtocol`` fed the same reads,
its ``Assembler`` joining fragments and decoding text as its sync server's
``recv()`` does (invalid UTF-8 fails the connection with 1007), then the
same Engine.IO decoding. Both must read the same packets and write the same
frames back (pongs, and a close with the same code; the reasons may differ).

The streams hold fragmented messages with pings, pongs and closes between
fragments; text cut anywhere, a character split across fragments included;
invalid UTF-8; payloads at the edges of the length forms (125/126,
65535/65536); random masks; reserved bits; unknown opcodes; unmasked and
padded frames; and limits on the message size right at and around the
messages' sizes (the connection's ``max_size`` and ``websockets``'
``max_size`` the same).

Deliberate differences from ``websockets``, each tested on its own below:
a close frame between the fragments of a message is echoed (RFC 6455 5.4,
5.5.1; Node's ``ws`` does so) where ``websockets`` answers 1002; a message
may come in any number of fragments (as with ``ws``; the bytes still count
against the limit), where ``websockets``' ``Assembler`` stops at 4,096
with 1009.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hypothesis import example, given, settings
from hypothesis import strategies as st
from websockets.client import ClientProtocol
from websockets.exceptions import TooManyFragments
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.sync.messages import Assembler
from websockets.uri import parse_uri

from realtime.async_modes import get_async_mode
from realtime.engine.scheduler import Scheduler
from realtime.engine.transports.websocket.connection import WebSocketConnection, frame_protocol
from realtime.exceptions import PacketDecodeError
from realtime.protocol.engineio import Packet, PacketType
from tests.engine.transports.websocket.client_frames import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    TEXT,
    ClientFrame,
    client_messages,
    max_sizes,
    text_messages,
    utf8_payloads,
)
from tests.engine.transports.websocket.test_close_handshake import server_frames
from tests.engine.transports.websocket.test_compression_bombs import read_compressed
from tests.engine.transports.websocket.test_connection import ChunkedReads, read_everything

if TYPE_CHECKING:
    from websockets.extensions import Extension

_RECV_SIZE = 65536  # what the connection asks of a socket at most


@dataclasses.dataclass
class Outcome:
    """What can be seen from outside: the packets read, the frames written
    (a close by its code alone)."""

    packets: list[Packet]
    written: list[tuple[Opcode, bytes | int | None]]


def frames_written(data: bytes) -> list[tuple[Opcode, bytes | int | None]]:
    return [
        (f.opcode, Close.parse(f.data).code if f.data else None)
        if f.opcode is Opcode.CLOSE
        else (f.opcode, bytes(f.data))
        for f in server_frames(data)
    ]


class _EchoingCloseBetweenFragments(ServerProtocol):
    """``websockets``' protocol with the one difference the connection means to
    have in its frames (tested on its own below)."""

    def recv_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.CLOSE:
            self.current_size = None
        super().recv_frame(frame)


def websockets_server(
    chunks: list[bytes],
    max_size: int | None,
    *,
    as_is: bool = False,
    extensions: Sequence[Extension] = (),
) -> Outcome:
    """What a ``websockets`` server reading ``chunks`` makes of them, in one
    thread: after each read, the messages complete so far are taken and
    decoded as its ``recv()`` does, then as Engine.IO packets.

    By default a close between fragments is echoed, the one difference in
    frames the connection means to have; ``as_is`` runs ``websockets``'
    protocol unchanged. ``extensions``: what the handshake negotiated.
    """
    protocol_class = ServerProtocol if as_is else _EchoingCloseBetweenFragments
    proto = protocol_class(state=State.OPEN, max_size=max_size)
    proto.extensions = list(extensions)
    assembler = Assembler()
    packets: list[Packet] = []
    written = b""
    for chunk in [*chunks, b""]:
        if chunk:
            proto.receive_data(chunk)
        else:
            proto.receive_eof()
        for event in proto.events_received():
            if isinstance(event, Frame) and event.opcode in (
                Opcode.TEXT,
                Opcode.BINARY,
                Opcode.CONT,
            ):
                assembler.put(event)
        failed = False
        while not failed:
            try:
                message = assembler.get(timeout=0)
            except TimeoutError:
                break
            except UnicodeDecodeError:
                proto.fail(1007, "invalid UTF-8")  # as websockets' recv() does
                failed = True
            except TooManyFragments:
                proto.fail(1009, "too many fragments")
                failed = True
            else:
                # Engine.IO, as realtime decodes a message.
                if isinstance(message, bytes):
                    packets.append(Packet(PacketType.MESSAGE, message))
                    continue
                try:
                    packets.append(Packet.decode(message))
                except PacketDecodeError:
                    proto.fail(1003, "not an Engine.IO packet")
                    failed = True
        written += b"".join(d for d in proto.data_to_send() if d)
        if failed or proto.state is State.CLOSED or proto.eof_sent:
            break
    return Outcome(packets, frames_written(written))


def connection_reads(chunks: list[bytes], max_size: int | None) -> Outcome:
    packets, _, _, written = read_everything(chunks, max_size, fast_path=True)
    return Outcome(packets, frames_written(written))


def as_reads(chunks: list[bytes]) -> list[bytes]:
    """``chunks`` as the connection's socket reads return them (at most
    ``_RECV_SIZE`` bytes each), so that both sides see the same reads."""
    return [c[i : i + _RECV_SIZE] for c in chunks if c for i in range(0, len(c), _RECV_SIZE)]


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[bytes], int | None]:
    """Messages of every kind, cut into reads; a limit on a message's size
    (none, or at and around the sizes of the messages and frames sent)."""
    messages = draw(st.lists(st.one_of(client_messages(), text_messages()), min_size=1, max_size=6))
    frames = [frame for message in messages for frame in message]
    cut_frame_at = st.lists(st.sampled_from([-1, -1, 0, 1, 2, 4, 6, 8, 130]), max_size=2)
    chunks = [b""]
    for frame in frames:
        wire = frame.wire()
        cuts = sorted({len(wire) if k == -1 else min(k, len(wire)) for k in draw(cut_frame_at)})
        for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
            chunks[-1] += wire[start:end]
            if end in cuts:
                chunks.append(b"")
    totals = [ClientFrame(TEXT, b"x" * sum(len(f.payload) for f in m)) for m in messages]
    return as_reads(chunks), draw(max_sizes(frames + totals))


def _wire(*frames: ClientFrame) -> list[bytes]:
    return [b"".join(frame.wire() for frame in frames)]


_EURO = "€".encode()


@settings(max_examples=300, deadline=None)
@given(streams())
# A character split between two fragments: one message.
@example(
    (_wire(ClientFrame(TEXT, b"4" + _EURO[:1], fin=False), ClientFrame(CONT, _EURO[1:])), None)
)
# The message ends inside a character: 1007.
@example((_wire(ClientFrame(TEXT, b"4" + _EURO[:2], fin=False), ClientFrame(CONT, b"")), None))
# A ping between fragments, answered; then the message.
@example(
    (
        _wire(
            ClientFrame(TEXT, b"4a", fin=False),
            ClientFrame(PING, b"p"),
            ClientFrame(CONT, b"b"),
        ),
        None,
    )
)
# Every length form at its edges, at the limit and one over.
@example((_wire(ClientFrame(BINARY, bytes(125)), ClientFrame(BINARY, bytes(126))), 125))
@example((as_reads(_wire(ClientFrame(BINARY, bytes(65535)))), 65535))
@example((as_reads(_wire(ClientFrame(BINARY, bytes(65536)))), 65535))
@example((as_reads(_wire(ClientFrame(TEXT, b"4" + bytes(65535)))), 65536))
# Fragments that pass the limit only together.
@example((_wire(ClientFrame(BINARY, bytes(60), fin=False), ClientFrame(CONT, bytes(60))), 100))
# A reserved bit, an unknown opcode, an unmasked frame.
@example((_wire(ClientFrame(TEXT, b"4x", rsv=4)), None))
@example((_wire(ClientFrame(0x3, b"4x")), None))
@example((_wire(ClientFrame(TEXT, b"4x", masked=False)), None))
def test_the_connection_reads_what_a_websockets_server_reads(
    case: tuple[list[bytes], int | None],
) -> None:
    chunks, max_size = case
    assert connection_reads(chunks, max_size) == websockets_server(chunks, max_size)


def test_a_close_between_fragments_is_echoed_where_websockets_answers_1002() -> None:
    # RFC 6455 5.4: control frames may come between fragments; 5.5.1: a
    # close is answered, typically with its code. Node's ws echoes it.
    chunks = _wire(
        ClientFrame(TEXT, b"4unfin", fin=False),
        ClientFrame(CLOSE, struct.pack("!H", 1001) + b"going"),
    )
    ours = connection_reads(chunks, None)
    assert ours == Outcome([], [(Opcode.CLOSE, 1001)])
    plain = websockets_server(chunks, None, as_is=True)
    assert plain == Outcome([], [(Opcode.CLOSE, 1002)])


def test_any_number_of_fragments_where_websockets_stops_at_4096() -> None:
    # The message grows in one buffer whatever its fragments (Node's ws
    # does not count them either); its bytes count against the limit.
    frames = [ClientFrame(TEXT, b"4", fin=False)]
    frames += [ClientFrame(CONT, os.urandom(1).hex()[:1].encode(), fin=False) for _ in range(5000)]
    frames += [ClientFrame(CONT, b"")]
    chunks = as_reads(_wire(*frames))
    ours = connection_reads(chunks, None)
    text = "".join(f.payload.decode() for f in frames)
    assert ours == Outcome([Packet.decode(text)], [])
    assert websockets_server(chunks, None) == Outcome([], [(Opcode.CLOSE, 1009)])
    # Over the limit, the same message is refused as any other.
    assert connection_reads(chunks, 4000) == Outcome([], [(Opcode.CLOSE, 1009)])


def _deflate() -> PerMessageDeflate:
    return PerMessageDeflate(False, False, 15, 15)


#: What a client compresses: text (valid UTF-8 or not), short binary, and
#: long runs of zeros that shrink a thousand times.
_COMPRESSED_PAYLOADS = st.one_of(
    st.tuples(st.just(True), utf8_payloads()),
    st.tuples(st.just(False), st.binary(max_size=200)),
    st.tuples(st.just(False), st.sampled_from([1000, 65535, 65536, 300_000]).map(bytes)),
)


@st.composite
def compressed_streams(draw: st.DrawFn) -> tuple[list[bytes], int | None]:
    """Messages a ``websockets`` client compresses (permessage-deflate, one
    context for the whole connection), some in fragments cut at any byte,
    with pings between them, cut into random reads; a limit at and around
    the messages' inflated sizes."""
    client = ClientProtocol(parse_uri("ws://x/"), state=State.OPEN, max_size=None)
    client.extensions = [_deflate()]
    sizes = []
    for is_text, payload in draw(st.lists(_COMPRESSED_PAYLOADS, min_size=1, max_size=4)):
        sizes.append(len(payload))
        cuts = sorted(draw(st.sets(st.integers(0, len(payload)), max_size=3)))
        pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
        for i, piece in enumerate(pieces):
            fin = i == len(pieces) - 1
            if i == 0:
                (client.send_text if is_text else client.send_binary)(piece, fin=fin)
            else:
                client.send_continuation(piece, fin=fin)
            if not fin and draw(st.booleans()):
                client.send_ping(b"between")
    wire = b"".join(client.data_to_send())
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(wire) - 1)), max_size=4)))
    chunks = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    limits = sorted({size + step for size in sizes for step in (-1, 0, 1)} - {-1})
    return as_reads(chunks), draw(st.one_of(st.none(), st.sampled_from(limits)))


@settings(max_examples=100, deadline=None)
@given(compressed_streams())
def test_with_compression_the_connection_reads_what_a_websockets_server_reads(
    case: tuple[list[bytes], int | None],
) -> None:
    chunks, max_size = case
    packets, _, written = read_compressed(chunks, max_size)
    ours = Outcome(packets, frames_written(written))
    assert ours == websockets_server(chunks, max_size, extensions=[_deflate()])


_PACKETS = st.one_of(
    st.builds(Packet, st.sampled_from(list(PacketType)), st.text(max_size=80)),
    st.builds(Packet, st.just(PacketType.MESSAGE), st.binary(max_size=300)),
    st.builds(
        Packet,
        st.just(PacketType.MESSAGE),
        st.sampled_from([124, 125, 65534, 65535]).map("x".__mul__),
    ),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_PACKETS, min_size=1, max_size=6))
def test_compressed_frames_written_are_read_by_a_websockets_client(batch: list[Packet]) -> None:
    # With permessage-deflate the frames are websockets' own; a websockets
    # client with the extension reads each packet back, in order.
    handed = ChunkedReads([])
    mode = get_async_mode("threading")
    connection = WebSocketConnection(
        mode,
        Scheduler(mode),
        handed,
        frame_protocol(None, [_deflate()]),
        max_size=None,
        compressed=True,
        log=logging.getLogger("tests.websocket"),
        label="test",
    )
    connection.write_packets(batch[:1])
    connection.write_packets(batch[1:])
    client = ClientProtocol(parse_uri("ws://x/"), state=State.OPEN, max_size=None)
    client.extensions = [_deflate()]
    written = handed.written()
    assert written[0] & 0x40  # RSV1: compressed (RFC 7692 6)
    client.receive_data(written)
    assert client.parser_exc is None
    frames = [e for e in client.events_received() if isinstance(e, Frame)]
    assert all(f.fin for f in frames)
    read = [bytes(f.data).decode() if f.opcode is Opcode.TEXT else bytes(f.data) for f in frames]
    assert read == [packet.encode() for packet in batch]
