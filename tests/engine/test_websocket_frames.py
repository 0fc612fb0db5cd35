"""realtime's own framing fast paths, checked against the websockets package."""

from __future__ import annotations

import os
import random

import pytest
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from realtime.engine.transports.websocket import _handshake_key, _simple_frames, frame_for
from realtime.protocol.engineio import Packet, PacketType


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
def test_simple_frames_match_websockets(size: int) -> None:
    payload = os.urandom(size)
    data = client_frame(Opcode.BINARY, payload) + client_frame(Opcode.TEXT, b"4hi")
    messages, used = _simple_frames(data, None)
    assert used == len(data)
    assert messages == websockets_reads(data) == [(False, payload), (True, b"4hi")]


def test_a_64_bit_length_is_left_to_websockets() -> None:
    data = client_frame(Opcode.TEXT, b"4ok") + client_frame(Opcode.BINARY, bytes(65536))
    messages, used = _simple_frames(data, None)
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
    messages, used = _simple_frames(first + odd + client_frame(Opcode.TEXT, b"4after"), None)
    assert messages == [(True, b"4first")]
    assert used == len(first)


def test_a_partial_frame_is_left_whole() -> None:
    whole = client_frame(Opcode.TEXT, b"4" + b"x" * 300)
    for cut in range(1, len(whole)):
        messages, used = _simple_frames(whole[:cut], None)
        assert (messages, used) == ([], 0)


def test_a_message_over_the_limit_is_left_to_websockets() -> None:
    data = client_frame(Opcode.TEXT, b"4" * 100)
    assert _simple_frames(data, 99) == ([], 0)
    assert _simple_frames(data, 100) == ([(True, b"4" * 100)], len(data))


def test_random_streams_parse_as_websockets_parses_them() -> None:
    rng = random.Random(7)
    for _ in range(200):
        frames = [
            client_frame(rng.choice([Opcode.TEXT, Opcode.BINARY]), os.urandom(rng.randrange(300)))
            for _ in range(rng.randrange(1, 6))
        ]
        data = b"".join(frames)
        messages, used = _simple_frames(data, None)
        assert used == len(data)
        assert messages == websockets_reads(data)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_frame_for_matches_websockets(size: int) -> None:
    text = Packet(PacketType.MESSAGE, "x" * size)
    binary = Packet(PacketType.MESSAGE, bytes(size))
    assert frame_for(text) == Frame(Opcode.TEXT, ("4" + "x" * size).encode()).serialize(mask=False)
    assert frame_for(binary) == Frame(Opcode.BINARY, bytes(size)).serialize(mask=False)


def handshake_environ(**headers: str) -> dict[str, str]:
    environ = {
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade",
        "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
    }
    for name, value in headers.items():
        if value:
            environ[name] = value
        else:
            environ.pop(name, None)
    return environ


def test_handshake_accept_key_is_the_rfcs_example() -> None:
    # RFC 6455 1.3: this key gives this accept value.
    assert _handshake_key(handshake_environ()) == (True, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")


def test_handshake_tokens_are_found_among_others() -> None:
    environ = handshake_environ(HTTP_CONNECTION="keep-alive, Upgrade", HTTP_UPGRADE="WebSocket")
    assert _handshake_key(environ)[0] is True


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"HTTP_UPGRADE": ""}, "Upgrade"),
        ({"HTTP_UPGRADE": "h2c"}, "Upgrade"),
        ({"HTTP_CONNECTION": "keep-alive"}, "Connection"),
        ({"HTTP_SEC_WEBSOCKET_VERSION": "8"}, "Version"),
        ({"HTTP_SEC_WEBSOCKET_VERSION": ""}, "Version"),
        ({"HTTP_SEC_WEBSOCKET_KEY": ""}, "Key"),
        ({"HTTP_SEC_WEBSOCKET_KEY": "c2hvcnQ="}, "Key"),
        ({"HTTP_SEC_WEBSOCKET_KEY": "not base64 at all!!!!!=="}, "Key"),
    ],
)
def test_bad_handshakes_say_what_is_wrong(headers: dict[str, str], problem: str) -> None:
    valid, message = _handshake_key(handshake_environ(**headers))
    assert valid is False
    assert problem in message
