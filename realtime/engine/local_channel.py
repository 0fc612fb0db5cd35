"""In-process sessions: a client in the same process, with no network between.

Test clients use them: the session, its ordering and every layer above run
exactly as for a remote client; only the transport is a function call. The
channel delivers what the server sends to a callback and reports the
session's end to another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from realtime.protocol.engineio import Packet, PacketType

if TYPE_CHECKING:
    from realtime.engine.outgoing import Outgoing

__all__ = ["LocalChannel"]

OnPackets = Callable[[Sequence[Packet]], None]


class LocalChannel:
    """A push channel whose other end is a Python callback.

    Args:
        on_packets: receives every message packet the server sends, in
            order (the engine's own packets, pings and the close, stay here).
        on_close: called once when the server closes the session.
    """

    name = "local"

    def __init__(self, on_packets: OnPackets, on_close: Callable[[], None]) -> None:
        self._on_packets = on_packets
        self._on_close = on_close
        self._closed = False

    def write_packets(self, packets: Sequence[Packet]) -> None:
        if not self._closed:
            messages = [p for p in packets if p.type is PacketType.MESSAGE]
            if messages:
                self._on_packets(messages)

    def write_outgoing(self, outgoing: Outgoing) -> None:
        self.write_packets(outgoing.packets)

    def close(self, graceful: bool) -> None:
        if not self._closed:
            self._closed = True
            self._on_close()
