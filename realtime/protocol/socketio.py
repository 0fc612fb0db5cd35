"""Socket.IO v5 packets with binary attachments, with no I/O.

Everything here turns :class:`SioPacket` objects into the text and bytes of
Engine.IO messages and back; it opens no socket and reads no clock. The only
state lives in :class:`Decoder`, which holds a binary packet until its
attachments have arrived.

Wire facts (https://github.com/socketio/socket.io-protocol, v5):

* Each Socket.IO packet travels as one Engine.IO ``message``: what this module
  writes and reads is what follows the Engine.IO ``4``.
* The text form is ``<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]``;
  the namespace is left out when it is ``/``.
* Binary data is taken out of the JSON: each bytes value becomes
  ``{"_placeholder":true,"num":N}``, numbered depth first, and follows the text
  as a binary message of its own. Such packets are ``BINARY_EVENT`` and
  ``BINARY_ACK`` on the wire; the encoder picks those types itself, and the
  decoder reports them as plain ``EVENT`` and ``ACK``, as the reference parser
  does.

Two parsers speak this protocol: the default one here and the MessagePack one
of :mod:`realtime.protocol.msgpack`. :func:`get_parser` picks one by name and
gives a :class:`Parser`: one encoder to share (a broadcast encodes once) and a
factory for the per-connection decoders.
"""

from __future__ import annotations

import enum
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, NewType, Protocol, Self

import orjson

from realtime.exceptions import ConfigurationError, PacketDecodeError

__all__ = [
    "DEFAULT_MAX_ATTACHMENTS",
    "MAX_ACK_ID",
    "PROTOCOL_VERSION",
    "RESERVED_EVENTS",
    "Decoder",
    "Encoder",
    "JSONSerializer",
    "PacketDecoder",
    "PacketEncoder",
    "Parser",
    "Serializer",
    "SioPacket",
    "SioPacketType",
    "SocketSid",
    "check_ack_id",
    "get_parser",
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
_MAX_ACK_ID_DIGITS = len(str(MAX_ACK_ID))
_MAX_COUNT_DIGITS = 16  # only bounds the int() call; the limit itself is max_attachments


class SioPacketType(enum.IntEnum):
    """Socket.IO packet types (spec: "Exchange protocol")."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


_TYPE_CHARS = {t: str(int(t)) for t in SioPacketType}
_CHAR_TYPES = {c: t for t, c in _TYPE_CHARS.items()}
# What the decoder reports for each wire type, and the wire type the encoder
# uses when an event or ack carries binary data.
_BASE_TYPES = {t: t for t in SioPacketType} | {
    SioPacketType.BINARY_EVENT: SioPacketType.EVENT,
    SioPacketType.BINARY_ACK: SioPacketType.ACK,
}
_BINARY_CHARS = {
    SioPacketType.EVENT: _TYPE_CHARS[SioPacketType.BINARY_EVENT],
    SioPacketType.ACK: _TYPE_CHARS[SioPacketType.BINARY_ACK],
}
_EVENT_TYPES = frozenset({SioPacketType.EVENT, SioPacketType.BINARY_EVENT})
_ACK_TYPES = frozenset({SioPacketType.ACK, SioPacketType.BINARY_ACK})
_BINARY_VALUES = (bytes, bytearray, memoryview)
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class SioPacket:
    """One Socket.IO packet.

    ``data`` is ``None`` when the packet has no payload; otherwise it is what
    the JSON holds (``dict``, ``list``, ``str``...), with ``bytes`` where binary
    attachments were. An event's data is ``[name, *args]``, an ack's is
    ``[*args]``. ``id`` is the ack id of an event that wants an answer, or of
    the ack that answers it.
    """

    type: SioPacketType
    namespace: str = "/"
    data: Any = None
    id: int | None = None

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


class JSONSerializer:
    """The default serializer, on orjson: compact output, as ``JSON.stringify`` writes it.

    Tuples become arrays and non-string dict keys become strings (``{1: x}`` is
    ``{"1":x}``), as in JavaScript. Unlike JavaScript, a Python float keeps its
    decimal point (``1.0``, which JavaScript reads as ``1``); NaN and the
    infinities are written ``null``, as ``JSON.stringify`` does.
    """

    __slots__ = ()

    def dumps(self, obj: Any, /) -> str:
        """Serialize ``obj`` to compact JSON text.

        Raises:
            TypeError: ``obj`` holds something JSON cannot carry (bytes too:
                binary data is the encoder's business).
        """
        try:
            return orjson.dumps(obj).decode("utf-8")
        except TypeError:
            # Allowing non-string keys costs up to twice the time on dict-heavy
            # payloads, so it is only tried when the plain call fails.
            return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")

    def loads(self, text: str, /) -> Any:
        """Parse JSON text (strict: no NaN, no trailing garbage).

        Raises:
            orjson.JSONDecodeError: the text is not JSON (a ``ValueError``).
        """
        return orjson.loads(text)


_JSON = JSONSerializer()


def _check_serializer(serializer: Serializer | None) -> Serializer:
    if serializer is None:
        return _JSON
    if not (
        callable(getattr(serializer, "dumps", None))
        and callable(getattr(serializer, "loads", None))
    ):
        raise ConfigurationError(f"serializer {serializer!r} lacks dumps() and loads()")
    return serializer


def _check_limit(max_attachments: int) -> None:
    if max_attachments < 0:
        raise ConfigurationError(f"max_attachments must be >= 0, not {max_attachments}")


# -- encoding ---------------------------------------------------------------


class Encoder:
    """Encodes packets for the wire; stateless, so one instance serves every connection.

    Args:
        serializer: turns payloads into JSON text (default: :class:`JSONSerializer`).
            With the default, an event or ack is serialized in one orjson call
            and only searched for binary data when that call fails; any other
            serializer may accept bytes its own way, so with one every event
            and ack is searched first.
        max_attachments: the most binary attachments one packet may carry.
            socket.io-client (socket.io-parser 4.2.6 and later) drops the
            connection on a packet with more than 10, so the encoder refuses
            to write one rather than break the client.

    Spec: https://github.com/socketio/socket.io-protocol#packet-encoding
    """

    __slots__ = ("_fast", "_max_attachments", "_serializer")

    def __init__(
        self,
        serializer: Serializer | None = None,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
    ) -> None:
        self._serializer = _check_serializer(serializer)
        _check_limit(max_attachments)
        self._max_attachments = max_attachments
        # orjson refuses bytes, bytearray and memoryview, so a payload it
        # serializes holds no binary data and needs no search.
        self._fast = type(self._serializer) is JSONSerializer

    def encode(self, packet: SioPacket) -> list[str | bytes]:
        """Encode one packet as the Engine.IO messages that carry it.

        An event or ack whose data holds ``bytes``, ``bytearray`` or
        ``memoryview`` values (at any depth, in lists, tuples and dicts) is
        sent as ``BINARY_EVENT`` or ``BINARY_ACK`` with those values as
        attachments, whatever type the packet names.

        Returns:
            The packet's text (without the Engine.IO ``4``), then each
            attachment as ``bytes``, in order.

        Raises:
            ConfigurationError: the namespace does not start with ``/`` or holds
                a ``,`` (this format has no escape for it), the ack id is
                negative, or the data holds more binary values than
                ``max_attachments``.
            TypeError: the data holds something the serializer cannot write.
        """
        packet_type = _BASE_TYPES[packet.type]
        data = packet.data
        attachments: list[bytes] = []
        if data is None:
            body = ""
        elif packet_type is SioPacketType.EVENT or packet_type is SioPacketType.ACK:
            body, attachments = self._dump_with_attachments(data)
        else:
            body = self._serializer.dumps(data)
        if attachments:
            if len(attachments) > self._max_attachments:
                raise ConfigurationError(
                    f"the packet holds {len(attachments)} binary values; clients refuse "
                    f"more than {self._max_attachments} (send fewer, or join them)"
                )
            head = f"{_BINARY_CHARS[packet_type]}{len(attachments)}-"
        else:
            head = _TYPE_CHARS[packet_type]
        namespace = packet.namespace
        if namespace != "/":
            if not namespace.startswith("/") or "," in namespace:
                raise ConfigurationError(
                    f"namespace {namespace!r} must start with '/' and hold no ','"
                )
            head += namespace + ","
        if packet.id is not None:
            if packet.id < 0:
                raise ConfigurationError(f"ack id {packet.id} is negative")
            head += str(packet.id)
        return [head + body, *attachments]

    def _dump_with_attachments(self, data: Any) -> tuple[str, list[bytes]]:
        if self._fast:
            try:
                return orjson.dumps(data).decode("utf-8"), []
            except TypeError:
                pass  # binary data, non-string keys or a foreign type: look closer
        buffers: list[bytes] = []
        stripped = _take_out_binary(data, buffers)
        return self._serializer.dumps(stripped), buffers


def _take_out_binary(value: Any, buffers: list[bytes]) -> Any:
    """Replace binary values by placeholders, depth first, copying only what changes."""
    if isinstance(value, _BINARY_VALUES):
        placeholder = {"_placeholder": True, "num": len(buffers)}
        buffers.append(bytes(value))
        return placeholder
    if isinstance(value, list | tuple):
        new_list: list[Any] | None = None
        for index, item in enumerate(value):
            new = _take_out_binary(item, buffers)
            if new is not item:
                if new_list is None:
                    new_list = list(value)
                new_list[index] = new
        return value if new_list is None else new_list
    if isinstance(value, dict):
        new_dict: dict[Any, Any] | None = None
        for key, item in value.items():
            new = _take_out_binary(item, buffers)
            if new is not item:
                if new_dict is None:
                    new_dict = dict(value)
                new_dict[key] = new
        return value if new_dict is None else new_dict
    return value


# -- decoding ---------------------------------------------------------------


class _Pending:
    """A binary packet whose attachments are still arriving."""

    __slots__ = ("buffers", "data", "expected", "id", "namespace", "type")

    def __init__(
        self, packet_type: SioPacketType, namespace: str, data: Any, id: int | None, expected: int
    ) -> None:
        self.type = packet_type
        self.namespace = namespace
        self.data = data
        self.id = id
        self.expected = expected
        self.buffers: list[bytes] = []

    def complete(self) -> SioPacket:
        data = _put_back_binary(self.data, self.buffers)
        return SioPacket(self.type, self.namespace, data, self.id)


class Decoder:
    """Decodes the Engine.IO messages of one connection into packets.

    A binary packet arrives as its text then one binary message per
    attachment, so a decoder is stateful and belongs to one connection.

    After it raises :class:`PacketDecodeError` a decoder is reset: the packet
    it was assembling is dropped and the next message must start a new packet.
    (The session should close anyway: the spec says to close on bad input.)

    Args:
        serializer: parses the JSON payloads (default: :class:`JSONSerializer`).
        max_attachments: refuse a binary packet announcing more attachments.

    Spec: https://github.com/socketio/socket.io-protocol#packet-encoding
    """

    __slots__ = ("_loads", "_max_attachments", "_pending")

    def __init__(
        self,
        serializer: Serializer | None = None,
        *,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
    ) -> None:
        _check_limit(max_attachments)
        self._loads = _check_serializer(serializer).loads
        self._max_attachments = max_attachments
        self._pending: _Pending | None = None

    @property
    def awaiting_attachments(self) -> int:
        """How many attachments the packet being assembled still needs (0 when idle)."""
        pending = self._pending
        return 0 if pending is None else pending.expected - len(pending.buffers)

    def reset(self) -> None:
        """Drop any packet being assembled (for instance when the connection closes)."""
        self._pending = None

    def feed(self, item: str | bytes | bytearray | memoryview) -> SioPacket | None:
        """Take one Engine.IO message: text starts a packet, bytes are an attachment.

        Args:
            item: the message's text, or its data for a binary message
                (``bytearray`` and ``memoryview`` are accepted too).

        Returns:
            The packet once it is complete, or ``None`` while attachments are
            still expected.

        Raises:
            PacketDecodeError: the message is not valid here; the decoder is
                reset.
        """
        try:
            if isinstance(item, str):
                return self._feed_text(item)
            return self._feed_attachment(bytes(item))
        except PacketDecodeError:
            self._pending = None
            raise

    def _feed_attachment(self, data: bytes) -> SioPacket | None:
        pending = self._pending
        if pending is None:
            raise PacketDecodeError("binary data while no attachment is expected", data)
        pending.buffers.append(data)
        if len(pending.buffers) < pending.expected:
            return None
        self._pending = None
        return pending.complete()

    def _feed_text(self, text: str) -> SioPacket | None:
        if self._pending is not None:
            raise PacketDecodeError(
                f"text while {self.awaiting_attachments} attachment(s) are expected", text
            )
        if not text:
            raise PacketDecodeError("empty packet")
        wire_type = _CHAR_TYPES.get(text[0])
        if wire_type is None:
            raise PacketDecodeError("unknown packet type", text)
        packet_type = _BASE_TYPES[wire_type]
        binary = wire_type is not packet_type
        pos = 1
        count = 0
        if binary:
            count, pos = _read_attachment_count(text, self._max_attachments)
        namespace, pos = _read_namespace(text, pos)
        ack_id, pos = _read_ack_id(text, pos)
        data = self._read_payload(text, pos)
        validate_payload(packet_type, data, raw=text)
        check_ack_id(packet_type, ack_id, raw=text)
        if not binary:
            return SioPacket(packet_type, namespace, data, ack_id)
        pending = _Pending(packet_type, namespace, data, ack_id, count)
        if count == 0:
            return pending.complete()
        self._pending = pending
        return None

    def _read_payload(self, text: str, pos: int) -> Any:
        if pos == len(text):
            return None
        try:
            data = self._loads(text[pos:])
        except Exception as exc:
            # A serializer may raise anything on hostile input (the stdlib
            # json module raises RecursionError on deep nesting): all of it
            # means the peer sent a payload we cannot read.
            raise PacketDecodeError("invalid JSON payload", text) from exc
        if data is None:
            raise PacketDecodeError("null payload", text)
        return data


def _read_attachment_count(text: str, limit: int) -> tuple[int, int]:
    dash = text.find("-", 1)
    digits = text[1:dash] if dash > 0 else ""
    if not (digits.isascii() and digits.isdigit()):
        raise PacketDecodeError("invalid attachment count", text)
    if len(digits) > _MAX_COUNT_DIGITS or int(digits) > limit:
        raise PacketDecodeError(f"more than {limit} attachments", text)
    return int(digits), dash + 1


def _read_namespace(text: str, pos: int) -> tuple[str, int]:
    if not text.startswith("/", pos):
        return "/", pos
    comma = text.find(",", pos)
    if comma < 0:
        return text[pos:], len(text)
    return text[pos:comma], comma + 1


def _read_ack_id(text: str, pos: int) -> tuple[int | None, int]:
    match = _DIGITS.match(text, pos)
    if match is None:
        return None, pos
    digits = match.group()
    if len(digits) > _MAX_ACK_ID_DIGITS or int(digits) > MAX_ACK_ID:
        raise PacketDecodeError("ack id out of range", text)
    return int(digits), match.end()


def _put_back_binary(data: Any, buffers: list[bytes]) -> Any:
    """Replace each placeholder in freshly decoded data by its attachment, in place.

    Iterative, so that a deeply nested payload cannot exhaust the stack.
    """
    root = [data]
    stack: list[list[Any] | dict[Any, Any]] = [root]
    while stack:
        container = stack.pop()
        items = enumerate(container) if isinstance(container, list) else container.items()
        for key, value in items:
            if isinstance(value, dict):
                if value.get("_placeholder") is True:
                    container[key] = _attachment(value, buffers)
                else:
                    stack.append(value)
            elif isinstance(value, list):
                stack.append(value)
    return root[0]


def _attachment(placeholder: dict[Any, Any], buffers: list[bytes]) -> bytes:
    num = placeholder.get("num")
    if type(num) is not int or not 0 <= num < len(buffers):
        raise PacketDecodeError(f"invalid attachment placeholder {placeholder!r:.60}")
    return buffers[num]


# -- parsers ----------------------------------------------------------------


class PacketEncoder(Protocol):
    """What a parser's encoder does (see :meth:`Encoder.encode`)."""

    def encode(self, packet: SioPacket) -> list[str | bytes]:
        """Encode one packet as Engine.IO messages."""
        ...


class PacketDecoder(Protocol):
    """What a parser's per-connection decoder does (see :meth:`Decoder.feed`)."""

    def feed(self, item: str | bytes) -> SioPacket | None:
        """Take one Engine.IO message; return a packet once one is complete."""
        ...

    def reset(self) -> None:
        """Drop any partly received packet."""
        ...


@dataclass(frozen=True, slots=True)
class Parser:
    """A packet format: one shared encoder and a factory of per-connection decoders.

    Build one for a custom format: ``Parser("mine", MyEncoder(), MyDecoder)``;
    both sides of a connection must use the same format.
    """

    name: str
    encoder: PacketEncoder
    make_decoder: Callable[[], PacketDecoder]


def get_parser(
    parser: str | Parser = "default",
    *,
    serializer: Serializer | None = None,
    max_attachments: int | None = None,
) -> Parser:
    """Pick a packet format by name.

    ``"default"`` is the text format of the spec (:class:`Encoder`,
    :class:`Decoder`); ``"msgpack"`` is socket.io-msgpack-parser's format
    (:mod:`realtime.protocol.msgpack`, needs ``pip install realtime[msgpack]``).
    A :class:`Parser` is returned as it is.

    Args:
        parser: a name, or a ready :class:`Parser`.
        serializer: the JSON serializer of the default parser.
        max_attachments: the attachment limit of the default parser, for what
            it decodes and what it encodes (default :data:`DEFAULT_MAX_ATTACHMENTS`).

    Raises:
        ConfigurationError: unknown name, options the chosen parser does not
            take, or the msgpack package is missing.
    """
    if parser == "default":
        limit = DEFAULT_MAX_ATTACHMENTS if max_attachments is None else max_attachments
        _check_limit(limit)
        encoder = Encoder(serializer, limit)
        return Parser("default", encoder, partial(Decoder, serializer, max_attachments=limit))
    if serializer is not None or max_attachments is not None:
        raise ConfigurationError("serializer and max_attachments apply to the default parser only")
    if isinstance(parser, Parser):
        return parser
    if parser == "msgpack":
        # Imported on demand: msgpack is an optional dependency.
        module = importlib.import_module("realtime.protocol.msgpack")
        return Parser("msgpack", module.Encoder(), module.Decoder)
    raise ConfigurationError(
        f"unknown parser {parser!r}: expected 'default', 'msgpack' or a Parser"
    )
