"""Messages prepared once for any number of sessions.

A broadcast encodes its payload once (architecture rule 4): the Engine.IO
packets are built when the :class:`Outgoing` is made, and each transport's
wire form (WebSocket frames, an SSE event, a stream record) the first time a
session on that transport writes it; every later recipient on the same
transport writes those same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from realtime.protocol.engineio import Packet, PacketType

__all__ = ["Outgoing"]


class Outgoing:
    """One message: a text or binary packet and any binary attachments after it.

    Args:
        parts: the data of each Engine.IO ``message`` packet, in order; they
            reach the client contiguous and in this order.
        volatile: a session whose transport cannot take it at once drops
            it rather than queueing it (Socket.IO's volatile events).

    Attributes:
        packets: the Engine.IO packets.
        volatile: see the argument.
    """

    __slots__ = ("_wire", "packets", "volatile")

    def __init__(self, parts: Sequence[str | bytes], *, volatile: bool = False) -> None:
        self.volatile = volatile
        self.packets: tuple[Packet, ...] = (
            (Packet(PacketType.MESSAGE, parts[0]),)
            if len(parts) == 1
            else tuple([Packet(PacketType.MESSAGE, p) for p in parts])
        )
        self._wire: dict[str, bytes] = {}

    def wire(self, form: str, build: Callable[[Sequence[Packet]], bytes]) -> bytes:
        """The packets in wire form ``form``, built by ``build`` the first time.

        Two threads asking at once may both build it; the result is the same.
        """
        data = self._wire.get(form)
        if data is None:
            data = self._wire[form] = build(self.packets)
        return data

    def __repr__(self) -> str:
        return f"<Outgoing {len(self.packets)} packet(s)>"
