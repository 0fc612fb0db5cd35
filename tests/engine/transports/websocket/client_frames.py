"""Client WebSocket frames for the differential tests: a description, its bytes, strategies.

The frames are written here byte by byte rather than by ``websockets``, so
that they can break the rules ``websockets``' serializer enforces: reserved
bits, unknown opcodes, unmasked client frames, lengths in a longer form
than needed, control frames that are too long or fragmented.
"""

from __future__ import annotations

import dataclasses
import struct

from hypothesis import strategies as st

#: Opcodes (RFC 6455 5.2): continuation, text, binary, close, ping, pong,
#: and a few reserved ones.
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RESERVED_OPCODES = (0x3, 0x7, 0xB, 0xF)

#: How the payload length is written: the shortest form RFC 6455 5.2 asks
#: for, or padded to the 16-bit or the 64-bit form.
SHORTEST, LENGTH16, LENGTH64 = "shortest", "16-bit", "64-bit"


@dataclasses.dataclass(frozen=True)
class ClientFrame:
    """One frame as a client would send it (or should not)."""

    opcode: int
    payload: bytes
    fin: bool = True
    rsv: int = 0  # RSV1-3, as the three bits above the opcode
    masked: bool = True
    length_form: str = SHORTEST
    mask: bytes = b"\x12\x34\x56\x78"

    def length_field(self) -> bytes:
        """The second byte (mask bit and 7-bit length) and any extended length."""
        size = len(self.payload)
        mask_bit = 0x80 if self.masked else 0
        form = self.length_form
        if form == SHORTEST:
            form = SHORTEST if size < 126 else LENGTH16 if size < 65536 else LENGTH64
        if form == LENGTH16 and size >= 65536:
            form = LENGTH64
        if form == SHORTEST:
            return bytes((mask_bit | size,))
        if form == LENGTH16:
            return struct.pack("!BH", mask_bit | 126, size)
        return struct.pack("!BQ", mask_bit | 127, size)

    def wire(self) -> bytes:
        """The frame's bytes."""
        first = (0x80 if self.fin else 0) | (self.rsv << 4) | self.opcode
        head = bytes((first,)) + self.length_field()
        if not self.masked:
            return head + self.payload
        masked = bytes(b ^ self.mask[i % 4] for i, b in enumerate(self.payload))
        return head + self.mask + masked

    def is_whole_data_frame(self, max_size: int | None) -> bool:
        """Whether the fast path must read this frame itself (RFC 6455 5.2, 5.4)."""
        return (
            self.fin
            and self.rsv == 0
            and self.opcode in (TEXT, BINARY)
            and self.masked
            and self.length_field()[0] & 0x7F != 127
            and (max_size is None or len(self.payload) <= max_size)
        )


def _repeated(size: int, pattern: bytes) -> bytes:
    return (pattern * (size // len(pattern) + 1))[:size]


#: Payload sizes where the length changes form (RFC 6455 5.2).
_EDGES = st.one_of(
    st.sampled_from([125, 126, 127, 65535, 65536]),
    st.integers(120, 130),
    st.integers(65530, 65540),
)
#: Payloads: mostly short, some at and around the edges of the length forms.
PAYLOADS = st.one_of(
    st.binary(max_size=200),
    st.builds(_repeated, _EDGES, st.binary(min_size=1, max_size=4)),
)

#: Text frames whose payload is an Engine.IO packet, most of the time.
ENGINEIO_TEXT = st.one_of(
    st.text(max_size=60).map(lambda text: ("4" + text).encode()),
    st.sampled_from([b"2", b"3", b"2probe", b"5", b"6", b"1", b"", b"x", b"4\xff\xfe"]),
)


@st.composite
def client_frames(draw: st.DrawFn, payloads: st.SearchStrategy[bytes] = PAYLOADS) -> ClientFrame:
    """Any client frame: mostly whole, masked data frames, and every kind the
    fast path must leave to ``websockets``."""
    kind = draw(
        st.sampled_from(
            ["data"] * 4
            + ["fragment", "control", "reserved-bits", "unmasked", "padded", "odd-opcode"]
            + ["smuggling"]
        )
    )
    opcode = draw(st.sampled_from([TEXT, BINARY]))
    payload = draw(payloads)
    mask = draw(st.binary(min_size=4, max_size=4))
    if kind == "data":
        return ClientFrame(opcode, payload, mask=mask)
    if kind == "fragment":
        fin = draw(st.booleans())
        opcode = draw(st.sampled_from([TEXT, BINARY, CONT]))
        return ClientFrame(opcode, payload, fin=fin, mask=mask)
    if kind == "control":
        opcode = draw(st.sampled_from([CLOSE, PING, PONG]))
        if opcode == CLOSE:
            code = draw(st.sampled_from([1000, 1001, 1011, 3000, 999]))
            payload = draw(st.sampled_from([b"", struct.pack("!H", code) + payload[:20]]))
        return ClientFrame(opcode, payload[:130], fin=draw(st.booleans()), mask=mask)
    if kind == "reserved-bits":
        return ClientFrame(opcode, payload, rsv=draw(st.integers(1, 7)), mask=mask)
    if kind == "unmasked":
        return ClientFrame(opcode, payload, masked=False)
    if kind == "smuggling":
        # On the wire, the payload is a whole data frame of its own: what a
        # reader that lost track of the frame boundaries would take for one.
        inner = ClientFrame(opcode, draw(ENGINEIO_TEXT), mask=mask).wire()
        hidden = bytes(byte ^ mask[i % 4] for i, byte in enumerate(inner))
        return ClientFrame(draw(st.sampled_from([TEXT, BINARY, CONT])), hidden, mask=mask)
    if kind == "padded":
        form = draw(st.sampled_from([LENGTH16, LENGTH64]))
        return ClientFrame(opcode, payload, length_form=form, mask=mask)
    return ClientFrame(draw(st.sampled_from(RESERVED_OPCODES)), payload[:50], mask=mask)


def max_sizes(frames: list[ClientFrame]) -> st.SearchStrategy[int | None]:
    """Limits on a message's size: none, or one some of ``frames`` are at or
    just over."""
    sizes = sorted({len(f.payload) + step for f in frames for step in (-1, 0, 1)} - {-1})
    limits = st.one_of(st.integers(0, 300), st.just(65535))
    return st.one_of(st.none(), st.sampled_from(sizes), limits) if sizes else st.none() | limits


#: Text frames a well-behaved Engine.IO client sends.
_MESSAGE_TEXT = st.text(max_size=60).map(lambda text: ("4" + text).encode())
_LENGTH_FORMS = st.sampled_from([SHORTEST, SHORTEST, SHORTEST, LENGTH16, LENGTH64])


@st.composite
def client_messages(draw: st.DrawFn) -> list[ClientFrame]:
    """The frames of one message as a client sends it (whole, or in fragments
    with a ping between them), any length form; a ping or pong; sometimes a
    frame that hides another, a new message among fragments, or any frame at
    all, rule-breaking included."""
    kind = draw(
        st.sampled_from(["whole"] * 4 + ["fragmented", "control", "smuggling", "any frame"])
    )
    mask = draw(st.binary(min_size=4, max_size=4))
    if kind == "any frame":
        return [draw(client_frames(st.one_of(ENGINEIO_TEXT, PAYLOADS)))]
    if kind == "control":
        payload = draw(st.binary(max_size=125))
        return [ClientFrame(draw(st.sampled_from([PING, PONG])), payload, mask=mask)]
    if kind == "smuggling":
        inner = ClientFrame(draw(st.sampled_from([TEXT, BINARY])), draw(_MESSAGE_TEXT), mask=mask)
        hidden = bytes(byte ^ mask[i % 4] for i, byte in enumerate(inner.wire()))
        return [ClientFrame(BINARY, hidden, mask=mask)]
    opcode = draw(st.sampled_from([TEXT, BINARY]))
    payload = draw(_MESSAGE_TEXT if opcode == TEXT else PAYLOADS)
    if kind == "whole":
        return [ClientFrame(opcode, payload, length_form=draw(_LENGTH_FORMS), mask=mask)]
    cuts = sorted(draw(st.sets(st.integers(0, len(payload)), min_size=1, max_size=3)))
    pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
    frames = [
        ClientFrame(
            opcode if i == 0 else CONT,
            piece,
            fin=i == len(pieces) - 1,
            length_form=draw(_LENGTH_FORMS),
            mask=mask,
        )
        for i, piece in enumerate(pieces)
    ]
    # Between fragments: a ping (allowed), or a new message (not allowed:
    # RFC 6455 5.4).
    between = draw(
        st.sampled_from(
            [None, ClientFrame(PING, b"between", mask=mask), ClientFrame(TEXT, b"4new", mask=mask)]
        )
    )
    if between is not None:
        frames.insert(draw(st.integers(1, len(frames))), between)
    return frames


#: Byte sequences that are not UTF-8 (RFC 3629 3): a lone continuation byte,
#: bytes never used, an overlong form, an encoded surrogate, a code point
#: past U+10FFFF, a sequence cut short.
NOT_UTF8 = (
    b"\x80",
    b"\xff",
    b"\xfe",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xe2\x82",
)
#: Characters of one to four bytes in UTF-8.
_WIDE_TEXT = st.text(alphabet=st.sampled_from("a4é€\U0001f600\u0800\U00010000"), max_size=40)


def _text_at_edge(size: int, char: str) -> bytes:
    """An Engine.IO message packet whose UTF-8 is ``size`` bytes, or one byte
    more when ``char``'s width does not divide the rest."""
    width = len(char.encode())
    return ("4" + char * -(-(size - 1) // width)).encode()


#: UTF-8 text payloads: valid (multi-byte characters, some at the edges of
#: the length forms) or broken by a sequence that is not UTF-8, inserted
#: anywhere, or by the payload ending inside a character.
@st.composite
def utf8_payloads(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["valid", "valid", "at-edge", "broken", "cut-short"]))
    if kind == "at-edge":
        return _text_at_edge(draw(_EDGES), draw(st.sampled_from("xé€\U0001f600")))
    data = ("4" + draw(_WIDE_TEXT)).encode()
    if kind == "broken":
        at = draw(st.integers(1, len(data)))
        return data[:at] + draw(st.sampled_from(NOT_UTF8)) + data[at:]
    if kind == "cut-short":
        return (data + "\U0001f600".encode())[: -draw(st.integers(1, 3))]
    return data


@st.composite
def text_messages(draw: st.DrawFn) -> list[ClientFrame]:
    """A text message, valid UTF-8 or not, whole or in fragments cut at any
    byte (a character may be split between two fragments), with pings,
    pongs or a close between its fragments."""
    payload = draw(utf8_payloads())
    mask = draw(st.binary(min_size=4, max_size=4))
    if draw(st.booleans()):
        return [ClientFrame(TEXT, payload, mask=mask)]
    cuts = sorted(draw(st.sets(st.integers(0, len(payload)), min_size=1, max_size=4)))
    pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
    frames = [
        ClientFrame(TEXT if i == 0 else CONT, piece, fin=i == len(pieces) - 1, mask=mask)
        for i, piece in enumerate(pieces)
    ]
    controls = st.sampled_from(
        [
            ClientFrame(PING, b"between", mask=mask),
            ClientFrame(PONG, b"", mask=mask),
            ClientFrame(CLOSE, struct.pack("!H", 1000), mask=mask),
        ]
    )
    for control in draw(st.lists(controls, max_size=2)):
        frames.insert(draw(st.integers(1, len(frames))), control)
    return frames
