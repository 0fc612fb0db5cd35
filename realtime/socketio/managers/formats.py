"""The packet formats of what crosses the broker.

A published event carries its encoded parts and the name of the format that
encoded them (``fmt``). A process whose clients speak that format relays the
parts as they are; one that speaks another decodes them with the named
format and encodes them again, once for all its recipients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from realtime.engine.outgoing import Outgoing
from realtime.exceptions import ConfigurationError
from realtime.protocol.parsers import Parser, get_parser
from realtime.protocol.socketio import SioPacket, SioPacketType

__all__ = ["Formats"]


class Formats:
    """Decodes the events of broker messages, whatever format encoded them.

    Args:
        own: this process's packet format, when it is known (a server's).
        warn: reports a message that cannot be read (now and then).
    """

    def __init__(self, own: Callable[[], Parser], warn: Callable[..., None]) -> None:
        self._own = own
        self._warn = warn
        self._others: dict[str, Parser | None] = {}

    def outgoing(self, message: dict[str, Any]) -> Outgoing | None:
        """The message's event, in this process's format; None if it holds none."""
        own = self._own()
        volatile = bool(message.get("volatile"))
        if message.get("fmt") == own.name:
            return Outgoing(message["parts"], volatile=volatile)
        packet = self.decode(message)
        return None if packet is None else Outgoing(own.encoder.encode(packet), volatile=volatile)

    def decode(self, message: dict[str, Any]) -> SioPacket | None:
        """The event of a message's ``fmt`` and ``parts``; None if it holds none."""
        fmt = str(message.get("fmt"))
        parser = self._parser_of(fmt)
        if parser is None:
            self._warn("ignored broker messages in the unknown packet format %r", fmt)
            return None
        decoder = parser.make_decoder()
        packet = None
        for part in message["parts"]:
            packet = decoder.feed(part)
        if packet is None or packet.type not in (SioPacketType.EVENT, SioPacketType.BINARY_EVENT):
            self._warn("ignored a broker message that holds no event")
            return None
        return packet

    def _parser_of(self, fmt: str) -> Parser | None:
        own = self._own()
        if fmt == own.name:
            return own
        if fmt not in self._others:
            try:
                self._others[fmt] = get_parser(fmt)
            except ConfigurationError:
                self._others[fmt] = None
        return self._others[fmt]
