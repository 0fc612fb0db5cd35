"""What the server tells those who watch it: the admin UI, metrics.

The dispatcher tells each registered :class:`Monitor` of the moments that
count for an operator: a connection opened or closed, a message read, a
socket connected or gone, an event received, a message handed to a
client. Monitors only observe: they cannot refuse or change anything (the
application's middlewares and listeners do that, see
:mod:`realtime.socketio.middlewares`).

What nobody registered costs one truthiness test per moment
(:class:`Monitors` is false while empty).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from realtime.engine import DisconnectReason
    from realtime.engine.outgoing import Outgoing
    from realtime.protocol.engineio import EngineSid
    from realtime.socketio.clients import Socket

__all__ = ["Monitor", "Monitors"]


class Monitor(Protocol):
    """The moments of a server's life an observer hears of.

    Each call is made on the task where the moment happens (a reading task,
    a handler's worker, an emitting task): it must be quick and must not
    wait.
    """

    def session_opened(self, eio_sid: EngineSid, environ: dict[str, Any]) -> None:
        """A client opened an Engine.IO session."""

    def session_closed(self, eio_sid: EngineSid, reason: DisconnectReason) -> None:
        """An Engine.IO session ended."""

    def message_received(self, eio_sid: EngineSid, size: int) -> None:
        """A message of ``size`` bytes (characters, for text) came from the client."""

    def socket_connected(self, socket: Socket) -> None:
        """``socket`` was accepted in its namespace (its connect handler agreed)."""

    def socket_disconnected(self, socket: Socket, reason: DisconnectReason) -> None:
        """``socket``, which was connected, left its namespace (out of its rooms already)."""

    def event_received(self, socket: Socket) -> None:
        """``socket`` sent an event (before any middleware or handler)."""

    def delivered(self, namespace: str, eio_sid: EngineSid, outgoing: Outgoing) -> None:
        """A message of ``namespace`` was handed to a client of this process."""

    def recovery_attempted(self, namespace: str, recovered: bool) -> None:
        """A client asked to resume a dropped socket (connection state
        recovery); ``recovered``: it got it back."""


class Monitors:
    """The monitors of one server; false while there are none.

    What a monitor raises is logged, never passed to the code that told it.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._all: tuple[Monitor, ...] = ()

    def add(self, monitor: Monitor) -> None:
        """Tell ``monitor`` of every moment from now on."""
        self._all = (*self._all, monitor)

    def remove(self, monitor: Monitor) -> None:
        """Stop telling ``monitor`` (nothing if it was not registered)."""
        self._all = tuple(m for m in self._all if m is not monitor)

    def __bool__(self) -> bool:
        return bool(self._all)

    def session_opened(self, eio_sid: EngineSid, environ: dict[str, Any]) -> None:
        for monitor in self._all:
            self._call(monitor.session_opened, eio_sid, environ)

    def session_closed(self, eio_sid: EngineSid, reason: DisconnectReason) -> None:
        for monitor in self._all:
            self._call(monitor.session_closed, eio_sid, reason)

    def message_received(self, eio_sid: EngineSid, size: int) -> None:
        for monitor in self._all:
            self._call(monitor.message_received, eio_sid, size)

    def socket_connected(self, socket: Socket) -> None:
        for monitor in self._all:
            self._call(monitor.socket_connected, socket)

    def socket_disconnected(self, socket: Socket, reason: DisconnectReason) -> None:
        for monitor in self._all:
            self._call(monitor.socket_disconnected, socket, reason)

    def event_received(self, socket: Socket) -> None:
        for monitor in self._all:
            self._call(monitor.event_received, socket)

    def delivered(self, namespace: str, eio_sid: EngineSid, outgoing: Outgoing) -> None:
        for monitor in self._all:
            self._call(monitor.delivered, namespace, eio_sid, outgoing)

    def recovery_attempted(self, namespace: str, recovered: bool) -> None:
        for monitor in self._all:
            self._call(monitor.recovery_attempted, namespace, recovered)

    def _call(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            self._logger.exception("error in a monitor (%s)", getattr(fn, "__qualname__", fn))
