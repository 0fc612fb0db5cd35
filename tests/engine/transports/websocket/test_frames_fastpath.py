"""The framing fast path, checked against the websockets package's parser and serializer.

The examples first, then the properties: on random client frames, those the
fast path must decline included, it reads what websockets reads and stops
where websockets must take over; on random packets, it writes what
websockets writes.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from realtime.engine.transports.websocket.frames_fastpath import (
    client_frame_size,
    frame_for,
    frames_for,
    whole_data_frames,
)
from realtime.protocol.engineio import Packet, PacketType
from tests.engine.transports.websocket.client_frames import (
    BINARY,
    PING,
    SHORTEST,
    TEXT,
    ClientFrame,
    client_frames,
    max_sizes,
)


def client_frame(
    opcode: Opcode, payload: bytes, *, fin: bool = True, rsv1: bool = False, masked: bool = True
) -> bytes:
    wire = bytearray(Frame(opcode, payload, fin=fin).serialize(mask=masked))
    if rsv1:
        wire[0] |= 0x40
    return bytes(wire)


def websockets_reads(data: bytes) -> list[tuple[bool, bytes]]:
    """What the websockets protocol parses from ``data``, as (is_text, payload)."""
    proto = ServerProtocol(state=State.OPEN, max_size=None)
    proto.receive_data(data)
    return [
        (e.opcode is Opcode.TEXT, bytes(e.data))
        for e in proto.events_received()
        if isinstance(e, Frame)
    ]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 1000, 65535])
def test_whole_data_frames_match_websockets(size: int) -> None:
    payload = os.urandom(size)
    data = client_frame(Opcode.BINARY, payload) + client_frame(Opcode.TEXT, b"4hi")
    messages, used = whole_data_frames(data, None)
    assert used == len(data)
    assert messages == websockets_reads(data) == [(False, payload), (True, b"4hi")]


def test_a_64_bit_length_is_left_to_websockets() -> None:
    data = client_frame(Opcode.TEXT, b"4ok") + client_frame(Opcode.BINARY, bytes(65536))
    messages, used = whole_data_frames(data, None)
    assert messages == [(True, b"4ok")]
    assert used == len(client_frame(Opcode.TEXT, b"4ok"))


@pytest.mark.parametrize(
    "odd",
    [
        client_frame(Opcode.PING, b"p"),
        client_frame(Opcode.CLOSE, b"\x03\xe8"),
        client_frame(Opcode.TEXT, b"4frag", fin=False),
        client_frame(Opcode.TEXT, b"4x", rsv1=True),
        client_frame(Opcode.TEXT, b"4x", masked=False),
    ],
    ids=["ping", "close", "fragment", "reserved-bit", "unmasked"],
)
def test_anything_else_stops_the_fast_path_at_its_first_byte(odd: bytes) -> None:
    first = client_frame(Opcode.TEXT, b"4first")
    messages, used = whole_data_frames(first + odd + client_frame(Opcode.TEXT, b"4after"), None)
    assert messages == [(True, b"4first")]
    assert used == len(first)


def test_a_partial_frame_is_left_whole() -> None:
    whole = client_frame(Opcode.TEXT, b"4" + b"x" * 300)
    for cut in range(1, len(whole)):
        messages, used = whole_data_frames(whole[:cut], None)
        assert (messages, used) == ([], 0)


def test_a_message_over_the_limit_is_left_to_websockets() -> None:
    data = client_frame(Opcode.TEXT, b"4" * 100)
    assert whole_data_frames(data, 99) == ([], 0)
    assert whole_data_frames(data, 100) == ([(True, b"4" * 100)], len(data))


def test_random_streams_parse_as_websockets_parses_them() -> None:
    rng = random.Random(7)
    for _ in range(200):
        frames = [
            client_frame(rng.choice([Opcode.TEXT, Opcode.BINARY]), os.urandom(rng.randrange(300)))
            for _ in range(rng.randrange(1, 6))
        ]
        data = b"".join(frames)
        messages, used = whole_data_frames(data, None)
        assert used == len(data)
        assert messages == websockets_reads(data)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_frame_for_matches_websockets(size: int) -> None:
    text = Packet(PacketType.MESSAGE, "x" * size)
    binary = Packet(PacketType.MESSAGE, bytes(size))
    assert frame_for(text) == Frame(Opcode.TEXT, ("4" + "x" * size).encode()).serialize(mask=False)
    assert frame_for(binary) == Frame(Opcode.BINARY, bytes(size)).serialize(mask=False)


# -- Properties: the fast path against websockets, on random frames -----------


@dataclasses.dataclass
class Reading:
    """What a fresh websockets protocol made of some bytes."""

    frames: list[tuple[int, bool, bytes]]  # (opcode, fin, payload)
    failure: str | None  # the parser's exception, by type
    sent: bytes  # what it answered (pong, close)


def websockets_reading(data: bytes, max_size: int | None) -> Reading:
    proto = ServerProtocol(state=State.OPEN, max_size=max_size)
    proto.receive_data(data)
    frames = [
        (int(e.opcode), e.fin, bytes(e.data))
        for e in proto.events_received()
        if isinstance(e, Frame)
    ]
    failure = proto.parser_exc
    return Reading(
        frames,
        None if failure is None else type(failure).__name__,
        b"".join(proto.data_to_send()),
    )


def as_frames(messages: list[tuple[bool, bytes]]) -> list[tuple[int, bool, bytes]]:
    return [
        (int(Opcode.TEXT if is_text else Opcode.BINARY), True, data) for is_text, data in messages
    ]


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[ClientFrame], int, int | None]:
    """Frames back to back, by how many bytes a read cut them short (it may
    end inside a frame), and a limit on the message size."""
    frames = draw(st.lists(client_frames(), max_size=8))
    short_by = draw(st.one_of(st.just(0), st.integers(1, 10), st.integers(0, 200_000)))
    return frames, short_by, draw(max_sizes(frames))


@settings(max_examples=500, deadline=None)
@given(streams())
def test_it_reads_what_websockets_reads_and_stops_where_websockets_must_take_over(
    stream: tuple[list[ClientFrame], int, int | None],
) -> None:
    frames, short_by, max_size = stream
    wires = [frame.wire() for frame in frames]
    data = b"".join(wires)
    data = data[: max(0, len(data) - short_by)]
    messages, used = whole_data_frames(data, max_size)

    # It took whole frames, all it had to take, and nothing else.
    boundaries = list(itertools.accumulate(map(len, wires), initial=0))
    assert used in boundaries
    taken = boundaries.index(used)
    assert all(frame.is_whole_data_frame(max_size) for frame in frames[:taken])
    if used < len(data):
        declined = frames[taken]
        assert not declined.is_whole_data_frame(max_size) or len(data) < boundaries[taken + 1]

    # What it read is what websockets reads from those bytes, with no error
    # and nothing to answer.
    assert websockets_reading(data[:used], max_size) == Reading(as_frames(messages), None, b"")

    # Handing the rest to websockets from where it stopped gives what
    # websockets makes of the whole: frames, the error, its answers.
    rest = websockets_reading(data[used:], max_size)
    whole = websockets_reading(data, max_size)
    assert as_frames(messages) + rest.frames == whole.frames
    assert (rest.failure, rest.sent) == (whole.failure, whole.sent)


@settings(max_examples=200, deadline=None)
@given(client_frames())
@example(ClientFrame(TEXT, bytes(125)))
@example(ClientFrame(TEXT, bytes(126)))
@example(ClientFrame(BINARY, bytes(65535)))
@example(ClientFrame(BINARY, bytes(65536)))
@example(ClientFrame(PING, b"p"))
def test_client_frame_size_is_what_a_frame_in_the_shortest_form_took(frame: ClientFrame) -> None:
    wire = dataclasses.replace(frame, length_form=SHORTEST).wire()
    parsed = websockets_reading(wire, None)
    if parsed.failure is None:
        ((opcode, fin, payload),) = parsed.frames
        assert client_frame_size(Frame(Opcode(opcode), payload, fin)) == len(wire)


packets = st.one_of(
    st.builds(Packet, st.sampled_from(list(PacketType)), st.text(max_size=80)),
    st.builds(Packet, st.just(PacketType.MESSAGE), st.binary(max_size=80)),
    st.builds(
        Packet,
        st.just(PacketType.MESSAGE),
        st.integers(120, 70000).map(lambda size: "é" * (size // 2)),
    ),
    st.builds(Packet, st.just(PacketType.MESSAGE), st.integers(65530, 65540).map(bytes)),
)


def _at_edges(size: int) -> list[Packet]:
    """A binary and a text message packet whose frames carry ``size`` bytes."""
    return [Packet(PacketType.MESSAGE, bytes(size)), Packet(PacketType.MESSAGE, "x" * (size - 1))]


@settings(max_examples=200, deadline=None)
@given(st.lists(packets, max_size=5))
@example(_at_edges(125) + _at_edges(126))
@example(_at_edges(65535) + _at_edges(65536))
@example([Packet(PacketType.MESSAGE, "")])
def test_it_writes_what_websockets_writes(batch: list[Packet]) -> None:
    messages = []
    for packet in batch:
        encoded = packet.encode()
        if isinstance(encoded, bytes):
            messages.append((Opcode.BINARY, encoded))
        else:
            messages.append((Opcode.TEXT, encoded.encode("utf-8")))
        assert frame_for(packet) == Frame(*messages[-1]).serialize(mask=False)
    assert frames_for(batch) == b"".join(Frame(*m).serialize(mask=False) for m in messages)

    # And a websockets client reads them back, one whole frame per packet.
    client = ClientProtocol(parse_uri("ws://x/"), state=State.OPEN, max_size=None)
    client.receive_data(frames_for(batch))
    read = [e for e in client.events_received() if isinstance(e, Frame)]
    assert client.parser_exc is None
    assert [(f.opcode, bytes(f.data)) for f in read] == messages
    assert all(f.fin for f in read)
