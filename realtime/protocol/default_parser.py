"""The default Socket.IO packet format: JSON text with binary attachments.

This is socket.io-parser's format, the one every official client speaks by
default. Everything here turns :class:`~realtime.protocol.socketio.SioPacket`
objects into the text and bytes of Engine.IO messages and back; it opens no
socket and reads no clock. The only state lives in :class:`Decoder`, which
holds a binary packet until its attachments have arrived.

Wire facts (https://github.com/socketio/socket.io-protocol, v5):

* What this module writes and reads is what follows the Engine.IO ``4``.
* The text form is ``<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]``;
  the namespace is left out when it is ``/``.
* Binary data is taken out of the JSON: each bytes value becomes
  ``{"_placeholder":true,"num":N}``, numbered depth first, and follows the text
  as a binary message of its own. Such packets are ``BINARY_EVENT`` and
  ``BINARY_ACK`` on the wire.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from realtime.exceptions import ConfigurationError, PacketDecodeError
from realtime.protocol.socketio import (
    DEFAULT_MAX_ATTACHMENTS,
    MAX_ACK_ID,
    RESERVED_EVENTS,
    Serializer,
    SioPacket,
    SioPacketType,
    base_type,
    check_ack_id,
    validate_payload,
)

__all__ = ["Decoder", "Encoder", "JSONSerializer", "check_attachment_limit"]

_MAX_ACK_ID_DIGITS = len(str(MAX_ACK_ID))
_MAX_COUNT_DIGITS = 16  # only bounds the int() call; the limit itself is max_attachments
_TYPE_CHARS = {t: str(int(t)) for t in SioPacketType}
_CHAR_TYPES = {c: t for t, c in _TYPE_CHARS.items()}
# The wire type the encoder uses when an event or ack carries binary data.
_BINARY_CHARS = {
    SioPacketType.EVENT: _TYPE_CHARS[SioPacketType.BINARY_EVENT],
    SioPacketType.ACK: _TYPE_CHARS[SioPacketType.BINARY_ACK],
}
_BINARY_VALUES = (bytes, bytearray, memoryview)
_DIGITS = re.compile(r"[0-9]+")
_BASE_TYPES = {t: base_type(t) for t in SioPacketType}
# Read once: each SioPacketType.X is a lookup through the enum's metaclass.
_EVENT = SioPacketType.EVENT
_ACK = SioPacketType.ACK


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


def check_attachment_limit(max_attachments: int) -> None:
    """Refuse a negative attachment limit.

    Raises:
        ConfigurationError: ``max_attachments`` is below zero.
    """
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
        check_attachment_limit(max_attachments)
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
        elif packet_type is _EVENT or packet_type is _ACK:
            if self._fast:
                # orjson refuses bytes, bytearray and memoryview, so a
                # payload it serializes holds no binary data.
                try:
                    body = orjson.dumps(data).decode("utf-8")
                except TypeError:
                    # Binary data, non-string keys or a foreign type.
                    body, attachments = self._dump_with_attachments(data)
            else:
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
        check_attachment_limit(max_attachments)
        checked = _check_serializer(serializer)
        # The default serializer's loads is orjson's, called straight.
        self._loads = orjson.loads if type(checked) is JSONSerializer else checked.loads
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
        # The namespace and the ack id, read here rather than by helpers:
        # every event a client sends comes this way.
        if text.startswith("/", pos):
            comma = text.find(",", pos)
            if comma < 0:
                namespace, pos = text[pos:], len(text)
            else:
                namespace, pos = text[pos:comma], comma + 1
        else:
            namespace = "/"
        ack_id: int | None = None
        match = _DIGITS.match(text, pos)
        if match is not None:
            digits = match.group()
            if len(digits) > _MAX_ACK_ID_DIGITS or int(digits) > MAX_ACK_ID:
                raise PacketDecodeError("ack id out of range", text)
            ack_id, pos = int(digits), match.end()
        data = self._read_payload(text, pos)
        if not (
            packet_type is _EVENT
            and type(data) is list
            and data
            and type(data[0]) is str
            and data[0] not in RESERVED_EVENTS
        ):
            # Not a plain event: the full checks, with their reasons.
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
