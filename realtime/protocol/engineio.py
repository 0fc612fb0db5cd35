"""Engine.IO v4 packets and polling payloads, with no I/O.

Everything here turns text or bytes into :class:`Packet` objects and back; it
opens no socket, reads no clock and keeps no state between calls.

Wire facts (https://github.com/socketio/engine.io-protocol, v4):

* A packet is its type digit followed by its data: ``4hello``, ``2probe``.
* Over WebSocket each packet is one frame; a binary frame is a ``message``
  packet whose data is the frame's bytes, with no type byte.
* Over HTTP long polling a payload is packets joined by the record separator
  ``\\x1e``; a binary message is written as ``b`` followed by its base64.
"""

from __future__ import annotations

import binascii
import enum
from dataclasses import dataclass
from typing import NewType

import orjson

from realtime.exceptions import PacketDecodeError

__all__ = [
    "BINARY_PREFIX",
    "MESSAGE_PREFIX",
    "PROTOCOL_VERSION",
    "RECORD_SEPARATOR",
    "EngineSid",
    "ErrorCode",
    "Handshake",
    "Packet",
    "PacketType",
    "decode_payload",
    "encode_payload",
]

#: Session id of the Engine.IO layer (the ``sid`` query parameter).
EngineSid = NewType("EngineSid", str)

PROTOCOL_VERSION = 4
RECORD_SEPARATOR = "\x1e"
BINARY_PREFIX = "b"
PROBE = "probe"


class PacketType(enum.IntEnum):
    """Engine.IO packet types (spec: "Protocol")."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6

    @property
    def char(self) -> str:
        """The single digit that starts this packet on the wire."""
        return _TYPE_CHARS[self]


_TYPE_CHARS = {t: str(int(t)) for t in PacketType}
#: What starts a text frame that carries a ``message`` packet (the common
#: case, which a transport may decode without :meth:`Packet.decode`).
MESSAGE_PREFIX = _TYPE_CHARS[PacketType.MESSAGE]
_CHAR_TYPES = {c: t for t, c in _TYPE_CHARS.items()}
# Types a client may send. OPEN only ever travels from server to client.
_SERVER_TYPES = frozenset(PacketType)
_CLIENT_TYPES = _SERVER_TYPES - {PacketType.OPEN}
_TYPES_WITH_DATA = frozenset(
    {PacketType.OPEN, PacketType.MESSAGE, PacketType.PING, PacketType.PONG}
)


class ErrorCode(enum.IntEnum):
    """Error codes of the HTTP error responses, as the reference server has them.

    The response is ``{"code": <code>, "message": <message>}`` with status 400,
    or 403 for :attr:`FORBIDDEN`.
    """

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5

    @property
    def message(self) -> str:
        """The standard message the reference server sends with this code."""
        return _ERROR_MESSAGES[self]

    @property
    def http_status(self) -> int:
        """The HTTP status code that carries this error."""
        return 403 if self is ErrorCode.FORBIDDEN else 400


_ERROR_MESSAGES = {
    ErrorCode.UNKNOWN_TRANSPORT: "Transport unknown",
    ErrorCode.UNKNOWN_SID: "Session ID unknown",
    ErrorCode.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    ErrorCode.BAD_REQUEST: "Bad request",
    ErrorCode.FORBIDDEN: "Forbidden",
    ErrorCode.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


@dataclass(frozen=True, slots=True)
class Packet:
    """One Engine.IO packet.

    ``data`` is ``str`` for every packet type; a ``message`` may carry
    ``bytes`` instead.
    """

    type: PacketType
    data: str | bytes = ""

    @property
    def is_binary(self) -> bool:
        """True for a message whose data is bytes."""
        return isinstance(self.data, bytes)

    # -- WebSocket form: one packet per frame ------------------------------

    def encode(self) -> str | bytes:
        """Encode for a WebSocket frame: text, or the raw bytes of a binary message.

        Spec: "Packet encoding / WebSocket".
        """
        data = self.data
        if isinstance(data, bytes):
            return data
        return _TYPE_CHARS[self.type] + data

    @classmethod
    def decode(cls, frame: str | bytes, *, from_server: bool = False) -> Packet:
        """Decode one WebSocket frame.

        Args:
            frame: the frame's text, or its bytes for a binary frame.
            from_server: accept the packet types only a server sends (``open``);
                by default the frame is taken as coming from a client.

        Raises:
            PacketDecodeError: the frame is not a packet that peer may send.
        """
        if isinstance(frame, (bytes, bytearray, memoryview)):
            return cls(PacketType.MESSAGE, bytes(frame))
        return cls._decode_text(frame, _SERVER_TYPES if from_server else _CLIENT_TYPES)

    # -- long-polling form ------------------------------------------------

    def encode_text(self) -> str:
        """Encode as one record of a polling payload (binary as base64).

        Spec: "Packet encoding / HTTP long-polling".
        """
        if isinstance(self.data, bytes):
            return BINARY_PREFIX + binascii.b2a_base64(self.data, newline=False).decode("ascii")
        return self.type.char + self.data

    @classmethod
    def _decode_text(cls, text: str, allowed: frozenset[PacketType]) -> Packet:
        if not text:
            raise PacketDecodeError("empty packet")
        first = text[0]
        if first == BINARY_PREFIX:
            try:
                raw = binascii.a2b_base64(text[1:].encode("ascii"), strict_mode=True)
            except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
                raise PacketDecodeError("invalid base64 in binary packet", text) from exc
            return cls(PacketType.MESSAGE, raw)
        packet_type = _CHAR_TYPES.get(first)
        if packet_type is None or packet_type not in allowed:
            raise PacketDecodeError(f"unknown packet type {first!r}", text)
        data = text[1:]
        if data and packet_type not in _TYPES_WITH_DATA:
            raise PacketDecodeError(f"{packet_type.name.lower()} packet carries data", text)
        return cls(packet_type, data)


def encode_payload(packets: list[Packet] | tuple[Packet, ...]) -> str:
    """Join packets into one long-polling payload.

    Spec: "Packet encoding / HTTP long-polling".
    """
    return RECORD_SEPARATOR.join([p.encode_text() for p in packets])


def decode_payload(
    payload: str, *, max_packets: int | None = None, from_server: bool = False
) -> list[Packet]:
    """Split a long-polling payload into packets.

    Args:
        payload: the request or response body, already decoded as UTF-8.
        max_packets: refuse a payload with more packets than this.
        from_server: the payload comes from a server (see :meth:`Packet.decode`).

    Raises:
        PacketDecodeError: the payload or one of its packets is malformed.
    """
    records = payload.split(RECORD_SEPARATOR)
    if max_packets is not None and len(records) > max_packets:
        raise PacketDecodeError(f"payload holds more than {max_packets} packets")
    allowed = _SERVER_TYPES if from_server else _CLIENT_TYPES
    return [Packet._decode_text(record, allowed) for record in records]


@dataclass(frozen=True, slots=True)
class Handshake:
    """The data of the ``open`` packet (spec: "Protocol / Handshake").

    Times are in milliseconds, as on the wire.
    """

    sid: EngineSid
    upgrades: tuple[str, ...]
    ping_interval: int
    ping_timeout: int
    max_payload: int

    def to_packet(self) -> Packet:
        """The ``open`` packet that carries this handshake."""
        body = orjson.dumps(
            {
                "sid": self.sid,
                "upgrades": list(self.upgrades),
                "pingInterval": self.ping_interval,
                "pingTimeout": self.ping_timeout,
                "maxPayload": self.max_payload,
            }
        ).decode("utf-8")
        return Packet(PacketType.OPEN, body)

    @classmethod
    def from_packet(cls, packet: Packet) -> Handshake:
        """Read a handshake out of an ``open`` packet (used by clients and tests).

        Raises:
            PacketDecodeError: the packet is not a valid ``open`` packet.
        """
        if packet.type is not PacketType.OPEN or not isinstance(packet.data, str):
            raise PacketDecodeError("not an open packet")
        try:
            value = orjson.loads(packet.data)
            return cls(
                sid=EngineSid(str(value["sid"])),
                upgrades=tuple(value["upgrades"]),
                ping_interval=int(value["pingInterval"]),
                ping_timeout=int(value["pingTimeout"]),
                max_payload=int(value["maxPayload"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise PacketDecodeError("malformed open packet", packet.data) from exc
