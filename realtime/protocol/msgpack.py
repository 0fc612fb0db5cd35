"""Socket.IO v5 packets as MessagePack, compatible with socket.io-msgpack-parser.

An alternative to the default text format, for peers that use
https://github.com/socketio/socket.io-msgpack-parser (or python-socketio's
``serializer="msgpack"``). Both sides of a connection must use it.

Wire facts (from socket.io-msgpack-parser 3.x and its notepack.io codec):

* Each packet is one binary Engine.IO message holding a MessagePack map
  ``{"type": int, "nsp": str, "data": ..., "id": int}``; ``data`` and ``id``
  are left out when absent.
* Binary data stays inline as MessagePack ``bin``, so there are no
  attachments and only the types ``CONNECT`` to ``CONNECT_ERROR`` (0-4) exist:
  a ``BINARY_EVENT`` is sent as an ``EVENT``.
* Dates do not travel: socket.io-msgpack-parser 3.0 uses notepack.io 2.2,
  which writes a JavaScript ``Date`` as extension 0 (it reaches Python as 8
  raw bytes) and cannot read MessagePack timestamps. So a Python
  :class:`datetime.datetime` or :class:`datetime.date` is sent as its ISO
  8601 text, as the default (JSON) parser sends it; a timestamp that does
  arrive decodes to an aware ``datetime``.

The decoder checks what the reference checks (type, namespace is a string,
payload shape, integer ack id) and, unlike it, the default parser's event
rules too (a named, non-reserved event), so the messaging layer sees one
guarantee whichever format is in use. A ``nil`` ``data`` counts as absent:
python-socketio writes ``CONNECT`` as ``{"type": 0, "data": nil, "nsp": "/"}``.

Needs the optional ``msgpack`` package: ``pip install realtime[msgpack]``.
Pick it with ``get_parser("msgpack")``
(:func:`realtime.protocol.socketio.get_parser`).
"""

from __future__ import annotations

import datetime
from typing import Any

from realtime.exceptions import ConfigurationError, PacketDecodeError
from realtime.protocol.socketio import (
    MAX_ACK_ID,
    SioPacket,
    SioPacketType,
    check_ack_id,
    validate_payload,
)

try:
    import msgpack
except ImportError:  # checked when an Encoder or Decoder is made
    msgpack = None

__all__ = ["Decoder", "Encoder"]

# The wire type of each packet type: binary data is inline, so the binary
# types fold into their base types, the only ones this format knows.
_WIRE_TYPES = {t: t for t in SioPacketType} | {
    SioPacketType.BINARY_EVENT: SioPacketType.EVENT,
    SioPacketType.BINARY_ACK: SioPacketType.ACK,
}
_KNOWN_TYPES = {int(t): t for t in SioPacketType if t <= SioPacketType.CONNECT_ERROR}
# notepack.io before 3.0 wrote an ArrayBuffer as extension type 0, and
# undefined as extension type 0 holding one zero byte.
_NOTEPACK_EXT = 0
_NOTEPACK_UNDEFINED = b"\x00"


def _require_msgpack() -> None:
    if msgpack is None:
        raise ConfigurationError(
            "the msgpack parser needs the msgpack package: pip install realtime[msgpack]"
        )


class Encoder:
    """Encodes packets as MessagePack; stateless, so one instance serves every connection.

    Raises:
        ConfigurationError: the msgpack package is not installed.

    Spec: https://github.com/socketio/socket.io-msgpack-parser#format
    """

    __slots__ = ()

    def __init__(self) -> None:
        _require_msgpack()

    def encode(self, packet: SioPacket) -> list[str | bytes]:
        """Encode one packet as the single binary message that carries it.

        Raises:
            TypeError: the data holds something MessagePack cannot carry.
        """
        obj: dict[str, Any] = {"type": int(_WIRE_TYPES[packet.type]), "nsp": packet.namespace}
        if packet.data is not None:
            obj["data"] = packet.data
        if packet.id is not None:
            obj["id"] = packet.id
        packed: bytes = msgpack.packb(obj, default=_as_iso_text)
        return [packed]


class Decoder:
    """Decodes MessagePack packets. Each message is a whole packet, so this keeps no state.

    Raises:
        ConfigurationError: the msgpack package is not installed.

    Spec: https://github.com/socketio/socket.io-msgpack-parser#format
    """

    __slots__ = ()

    def __init__(self) -> None:
        _require_msgpack()

    def reset(self) -> None:
        """Nothing to drop: present for the decoder interface."""

    def feed(self, item: str | bytes | bytearray | memoryview) -> SioPacket | None:
        """Decode one Engine.IO message into a packet.

        Args:
            item: the data of a binary message (``bytearray`` and
                ``memoryview`` are accepted too).

        Returns:
            The packet (never ``None``: there are no attachments to wait for).

        Raises:
            PacketDecodeError: a text message, bytes that are not one
                MessagePack map, or a packet the format does not allow.
        """
        if isinstance(item, str):
            raise PacketDecodeError("text message with the msgpack parser", item)
        data = bytes(item)  # no copy for bytes
        try:
            obj = msgpack.unpackb(data, raw=False, ext_hook=_ext_hook, timestamp=3)
        except Exception as exc:
            # Hostile bytes may trip any error in the C unpacker (bad UTF-8,
            # excessive nesting, out-of-range timestamps...): all of it means
            # the peer sent something we cannot read.
            raise PacketDecodeError("invalid MessagePack", data) from exc
        if not isinstance(obj, dict):
            raise PacketDecodeError("packet is not a MessagePack map", data)
        return _packet_from_map(obj, data)


def _packet_from_map(obj: dict[Any, Any], raw: bytes) -> SioPacket:
    wire_type = obj.get("type")
    packet_type = _KNOWN_TYPES.get(wire_type) if type(wire_type) is int else None
    if packet_type is None:
        raise PacketDecodeError("invalid packet type", raw)
    namespace = obj.get("nsp")
    if not isinstance(namespace, str):
        raise PacketDecodeError("invalid namespace", raw)
    data = obj.get("data")
    validate_payload(packet_type, data, raw=raw)
    ack_id = obj.get("id")
    if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id <= MAX_ACK_ID):
        raise PacketDecodeError("invalid ack id", raw)
    check_ack_id(packet_type, ack_id, raw=raw)
    return SioPacket(packet_type, namespace, data, ack_id)


def _as_iso_text(value: Any) -> Any:
    if isinstance(value, datetime.date):  # datetime is a date too
        return value.isoformat()
    raise TypeError(f"cannot send a {type(value).__name__} with the msgpack parser")


def _ext_hook(code: int, data: bytes) -> Any:
    if code != _NOTEPACK_EXT:
        raise ValueError(f"unsupported MessagePack extension type {code}")
    # Ambiguous by design of the old format: a one-byte ArrayBuffer holding
    # zero reads as undefined, which is far the more common of the two.
    return None if data == _NOTEPACK_UNDEFINED else data
