"""Socket.IO v5 packets, and what a packet format must do, with no I/O.

:class:`SioPacket` is one packet as the messaging layer sees it; a *parser*
turns packets into the text and bytes of Engine.IO messages and back. Two
parsers speak this protocol: the default one (:mod:`realtime.protocol.default_parser`,
JSON text with binary attachments) and the MessagePack one
(:mod:`realtime.protocol.msgpack`); :func:`realtime.protocol.parsers.get_parser`
picks one by name. This module holds what every format shares: the packet
types, the payload rules, and the :class:`PacketEncoder` / :class:`PacketDecoder`
interfaces.

Wire facts (https://github.com/socketio/socket.io-protocol, v5):

* Each Socket.IO packet travels as one Engine.IO ``message`` (or, with binary
  attachments in the default format, several).
* Packets of type ``BINARY_EVENT`` and ``BINARY_ACK`` carry binary data; a
  parser picks those types itself when it encodes, and reports them as plain
  ``EVENT`` and ``ACK`` when it decodes, as the reference parser does.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, NewType, Protocol, Self

from realtime.exceptions import PacketDecodeError

__all__ = [
    "DEFAULT_MAX_ATTACHMENTS",
    "MAX_ACK_ID",
    "PROTOCOL_VERSION",
    "RESERVED_EVENTS",
    "PacketDecoder",
    "PacketEncoder",
    "Serializer",
    "SioPacket",
    "SioPacketType",
    "SocketSid",
    "base_type",
    "check_ack_id",
    "validate_payload",
]

#: Session id of the Socket.IO layer (``data.sid`` of the ``CONNECT`` reply);
#: not the Engine.IO sid of the connection under it.
SocketSid = NewType("SocketSid", str)

PROTOCOL_VERSION = 5

#: Event names a peer may not use: they mean something to the libraries
#: themselves (the reference parser refuses them since socket.io-parser 4.2.3).
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)

#: How many attachments one binary packet may announce, as in socket.io-parser
#: 4.2.6 (CVE-2026-33151): a peer must not make a decoder wait for, and hold,
#: an unbounded number of buffers.
DEFAULT_MAX_ATTACHMENTS = 10

#: Largest ack id accepted: ids are JavaScript numbers, exact up to 2**53 - 1.
MAX_ACK_ID = 2**53 - 1


class SioPacketType(enum.IntEnum):
    """Socket.IO packet types (spec: "Exchange protocol")."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


# What a decoder reports for each wire type: binary types as their base type.
_BASE_TYPES = {t: t for t in SioPacketType} | {
    SioPacketType.BINARY_EVENT: SioPacketType.EVENT,
    SioPacketType.BINARY_ACK: SioPacketType.ACK,
}
_EVENT_TYPES = frozenset({SioPacketType.EVENT, SioPacketType.BINARY_EVENT})
_ACK_TYPES = frozenset({SioPacketType.ACK, SioPacketType.BINARY_ACK})


def base_type(packet_type: SioPacketType) -> SioPacketType:
    """The type a decoder reports for ``packet_type``: ``EVENT`` for ``BINARY_EVENT``..."""
    return _BASE_TYPES[packet_type]


@dataclass(frozen=True, slots=True, init=False)
class SioPacket:
    """One Socket.IO packet.

    ``data`` is ``None`` when the packet has no payload; otherwise it is what
    the JSON holds (``dict``, ``list``, ``str``...), with ``bytes`` where binary
    attachments were. An event's data is ``[name, *args]``, an ack's is
    ``[*args]``. ``id`` is the ack id of an event that wants an answer, or of
    the ack that answers it.
    """

    type: SioPacketType
    namespace: str
    data: Any
    id: int | None

    def __init__(
        self,
        type: SioPacketType,
        namespace: str = "/",
        data: Any = None,
        id: int | None = None,
    ) -> None:
        # Two are made for every event with an ack: the slots are filled
        # through their descriptors, which costs half what the frozen
        # dataclass's own __init__ (object.__setattr__ by name) does.
        _set_type(self, type)
        _set_namespace(self, namespace)
        _set_data(self, data)
        _set_id(self, id)

    def with_id(self, ack_id: int | None) -> SioPacket:
        """The same packet with another ack id."""
        return SioPacket(self.type, self.namespace, self.data, ack_id)

    def with_data(self, data: Any) -> SioPacket:
        """The same packet with another payload."""
        return SioPacket(self.type, self.namespace, data, self.id)

    @classmethod
    def connect(cls, namespace: str = "/", data: dict[str, Any] | None = None) -> Self:
        """A ``CONNECT`` packet: the client's request (``data`` is its auth) or the reply."""
        return cls(SioPacketType.CONNECT, namespace, data)

    @classmethod
    def disconnect(cls, namespace: str = "/") -> Self:
        """A ``DISCONNECT`` packet."""
        return cls(SioPacketType.DISCONNECT, namespace)

    @classmethod
    def event(cls, namespace: str, name: str, *args: Any, id: int | None = None) -> Self:
        """An ``EVENT`` packet; give ``id`` to ask for an ack."""
        return cls(SioPacketType.EVENT, namespace, [name, *args], id)

    @classmethod
    def ack(cls, namespace: str, id: int, *args: Any) -> Self:
        """An ``ACK`` packet answering the event with ack id ``id``."""
        return cls(SioPacketType.ACK, namespace, list(args), id)

    @classmethod
    def connect_error(cls, namespace: str, message: str, data: Any = None) -> Self:
        """A ``CONNECT_ERROR`` packet: ``{"message": ..., "data": ...}`` as the reference sends."""
        payload: dict[str, Any] = {"message": message}
        if data is not None:
            payload["data"] = data
        return cls(SioPacketType.CONNECT_ERROR, namespace, payload)

    @property
    def event_name(self) -> str | None:
        """The name of an event, as text; ``None`` for other packets.

        The reference parser lets a number name an event; it is given here as
        JavaScript would spell it for an integer (``1``, not ``1.0``).
        """
        if self.type not in _EVENT_TYPES or not isinstance(self.data, list) or not self.data:
            return None
        name = self.data[0]
        if isinstance(name, str):
            return name
        if isinstance(name, bool) or not isinstance(name, int | float):
            return None
        if isinstance(name, float) and name.is_integer():
            return str(int(name))
        return str(name)

    @property
    def args(self) -> list[Any]:
        """The arguments of an event (after its name) or of an ack; ``[]`` otherwise."""
        if not isinstance(self.data, list):
            return []
        if self.type in _EVENT_TYPES:
            return self.data[1:]
        if self.type in _ACK_TYPES:
            return list(self.data)
        return []


_slots: dict[str, Any] = dict(SioPacket.__dict__)
_set_type = _slots["type"].__set__
_set_namespace = _slots["namespace"].__set__
_set_data = _slots["data"].__set__
_set_id = _slots["id"].__set__
del _slots


def validate_payload(
    packet_type: SioPacketType, data: Any, *, raw: str | bytes | None = None
) -> None:
    """Check a decoded payload against what its packet type allows.

    ``None`` stands for "no payload" (a JSON ``null`` payload is never valid,
    so decoders refuse it before calling this). The rules are the reference
    parser's: ``CONNECT`` has no payload or an object; ``DISCONNECT`` none;
    ``CONNECT_ERROR`` a string or an object; an event a non-empty array whose
    first element is a number or a string outside :data:`RESERVED_EVENTS`; an
    ack an array. The spec makes the payload of events and acks mandatory.

    Spec: https://github.com/socketio/socket.io-protocol#exchange-protocol

    Args:
        packet_type: the packet's type (binary types follow their base type).
        data: the decoded payload, ``None`` when there is none.
        raw: the input it came from, for the error message.

    Raises:
        PacketDecodeError: the payload is not allowed for that type.
    """
    base = _BASE_TYPES[packet_type]
    if base is SioPacketType.EVENT:
        reason = _event_payload_problem(data)
    elif base is SioPacketType.ACK:
        reason = None if isinstance(data, list) else "ack payload is not an array"
    elif base is SioPacketType.CONNECT:
        reason = (
            None if data is None or isinstance(data, dict) else "connect payload is not an object"
        )
    elif base is SioPacketType.DISCONNECT:
        reason = None if data is None else "disconnect packet carries a payload"
    else:
        reason = (
            None
            if isinstance(data, str | dict)
            else "connect_error payload is not a string or object"
        )
    if reason is not None:
        raise PacketDecodeError(reason, raw)


def check_ack_id(packet_type: SioPacketType, ack_id: int | None, *, raw: Any = None) -> None:
    """An acknowledgement must say which event it answers.

    Raises:
        PacketDecodeError: an ``ACK`` or ``BINARY_ACK`` without an id.
    """
    if ack_id is None and _BASE_TYPES[packet_type] is SioPacketType.ACK:
        raise PacketDecodeError("ack packet without an id", raw)


def _event_payload_problem(data: Any) -> str | None:
    if not isinstance(data, list) or not data:
        return "event payload is not a non-empty array"
    name = data[0]
    if isinstance(name, str):
        return f"reserved event name {name!r}" if name in RESERVED_EVENTS else None
    if isinstance(name, int | float) and not isinstance(name, bool):
        return None
    return "event name is not a string or a number"


# -- serializers ------------------------------------------------------------


class Serializer(Protocol):
    """Turns payloads into JSON text and back.

    Any object with these two methods works, modules included: the stdlib
    :mod:`json` module, or ``simplejson``, can be passed as is (as with
    python-socketio's ``json=`` option). ``dumps`` must return ``str`` and
    raise ``TypeError`` for what it cannot represent; whatever ``loads``
    raises on bad input is reported as :class:`PacketDecodeError`.
    """

    def dumps(self, obj: Any, /) -> str:
        """Serialize a payload to JSON text."""
        ...

    def loads(self, text: str, /) -> Any:
        """Parse JSON text."""
        ...


# -- what a packet format does ---------------------------------------------


class PacketEncoder(Protocol):
    """What a parser's encoder does (one instance serves every connection)."""

    def encode(self, packet: SioPacket) -> list[str | bytes]:
        """Encode one packet as Engine.IO messages."""
        ...


class PacketDecoder(Protocol):
    """What a parser's per-connection decoder does."""

    def feed(self, item: str | bytes) -> SioPacket | None:
        """Take one Engine.IO message; return a packet once one is complete."""
        ...

    def reset(self) -> None:
        """Drop any partly received packet."""
        ...
