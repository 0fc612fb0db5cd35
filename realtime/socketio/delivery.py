"""Handing Socket.IO packets to Engine.IO sessions.

Everything the server sends goes through :class:`Delivery`, which encodes a
packet once and gives the prepared message to the engine. While a connect
handler runs, what is sent to that client in that namespace is held: the
reference server's CONNECT reply comes before anything the handler emits,
and a refused client must not get what was meant for an accepted one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from realtime.engine.outgoing import Outgoing

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.protocol.engineio import EngineSid
    from realtime.protocol.socketio import PacketEncoder, SioPacket

__all__ = ["Delivery"]

Send = Callable[["EngineSid", Outgoing], bool]


class Delivery:
    """Sends to connections, holding a namespace's messages while it connects.

    Args:
        send: hands a prepared message to one Engine.IO session.
        encoder: the packet format's encoder.
        mode: the async mode (for the hold's lock).
    """

    def __init__(self, send: Send, encoder: PacketEncoder, mode: AsyncMode) -> None:
        self._send = send
        self._encoder = encoder
        self._lock = mode.lock()
        self._held: dict[tuple[EngineSid, str], list[Outgoing]] = {}

    def prepare(self, packet: SioPacket, *, volatile: bool = False) -> Outgoing:
        """Encode ``packet`` once, for any number of recipients (``volatile``:
        see :class:`~realtime.engine.outgoing.Outgoing`)."""
        return Outgoing(self._encoder.encode(packet), volatile=volatile)

    def packet(self, eio_sid: EngineSid, packet: SioPacket) -> bool:
        """Send one packet to one connection."""
        return self.deliver(packet.namespace, eio_sid, self.prepare(packet))

    def send_now(self, eio_sid: EngineSid, packet: SioPacket) -> bool:
        """Send one packet to one connection at once, past any hold (an early CONNECT reply)."""
        return self._send(eio_sid, self.prepare(packet))

    def deliver(self, namespace: str, eio_sid: EngineSid, outgoing: Outgoing) -> bool:
        """Send a prepared message, unless that namespace's connect handler holds it."""
        if self._held:
            with self._lock:
                held = self._held.get((eio_sid, namespace))
                if held is not None:
                    held.append(outgoing)
                    return True
        return self._send(eio_sid, outgoing)

    def hold(self, eio_sid: EngineSid, namespace: str) -> None:
        """Hold what is sent to ``eio_sid`` in ``namespace`` until :meth:`release`."""
        with self._lock:
            self._held.setdefault((eio_sid, namespace), [])

    def release(
        self,
        eio_sid: EngineSid,
        namespace: str,
        reply: Outgoing | None,
        *,
        keep: bool,
        then: Sequence[Outgoing] = (),
    ) -> None:
        """End the hold: send ``reply`` first, ``then`` (if ``keep``), then what was held.

        A refused client gets its reply alone (``keep=False``): what the
        connect handler sent it is dropped. ``then`` is what a recovered
        client missed.
        """
        with self._lock:
            held = self._held.pop((eio_sid, namespace), [])
            if reply is not None:
                self._send(eio_sid, reply)
            if keep:
                for outgoing in then:
                    self._send(eio_sid, outgoing)
                for outgoing in held:
                    self._send(eio_sid, outgoing)

    def forget(self, eio_sid: EngineSid) -> None:
        """The connection closed: drop whatever was held for it."""
        if self._held:
            with self._lock:
                for key in [k for k in self._held if k[0] == eio_sid]:
                    del self._held[key]
