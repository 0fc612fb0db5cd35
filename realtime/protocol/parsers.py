"""Packet formats by name: one shared encoder and per-connection decoders.

A :class:`Parser` is what the messaging layer encodes and decodes with; a
broadcast encodes once with its encoder, and each connection gets a decoder
of its own. :func:`get_parser` builds the default format's
(:mod:`realtime.protocol.default_parser`) or the MessagePack one
(:mod:`realtime.protocol.msgpack`, an optional dependency, so imported only
when asked for).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from realtime.exceptions import ConfigurationError
from realtime.protocol.default_parser import Decoder, Encoder, check_attachment_limit
from realtime.protocol.socketio import (
    DEFAULT_MAX_ATTACHMENTS,
    PacketDecoder,
    PacketEncoder,
    Serializer,
)

__all__ = ["Parser", "get_parser"]


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
        check_attachment_limit(limit)
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
