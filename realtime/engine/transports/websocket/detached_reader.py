"""Serving an open WebSocket with no task (green thread or thread) of its own.

Where the socket can be detached (realtime's embedded servers in every mode
and gunicorn's gevent worker, see
:meth:`HandedOverSocket.detach <realtime.async_modes.base.HandedOverSocket.detach>`)
the WebSocket transport hands each connection to a :class:`DetachedReader`
once it is open, and the request's task ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from realtime.engine.transports.websocket.connection import NOTHING_YET
from realtime.exceptions import PacketDecodeError

if TYPE_CHECKING:
    from realtime.async_modes.base import HandedOverSocket
    from realtime.engine.session import Session
    from realtime.engine.transports.base import TransportHost
    from realtime.engine.transports.websocket.connection import WebSocketConnection
    from realtime.protocol.engineio import Packet

__all__ = ["DetachedReader", "ReaderOwner"]


class ReaderOwner(Protocol):
    """What a detached reader asks of the transport it reads for."""

    @property
    def host(self) -> TransportHost:
        """The server (its async mode and logger)."""

    def close_invalid(
        self, session: Session, connection: WebSocketConnection, exc: PacketDecodeError
    ) -> None:
        """Close ``session``: its client sent ``exc``'s invalid packet."""

    def connection_ended(self, session: Session, connection: WebSocketConnection) -> None:
        """Close ``session`` and ``connection`` once no more is read from it."""


class DetachedReader:
    """Serves a WebSocket with no task of its own.

    When the socket turns readable the mode's watcher (a green hub, or the
    threading mode's watcher thread) calls :meth:`_on_readable`, which hands
    a read to a worker: it reads what is there, passes the packets to the
    session and returns; in a green mode a handler the packets started runs
    in the same worker afterwards (:meth:`AsyncMode.run_holding`). While a
    read is under way the socket is not watched, so a second read never runs
    alongside. An idle connection costs no stack at all, and in a green mode
    a message costs two switches (to the worker and back).
    """

    __slots__ = (
        "_backlogged",
        "_busy",
        "_connection",
        "_handed",
        "_mode",
        "_packets",
        "_session",
        "_transport",
    )

    def __init__(
        self,
        transport: ReaderOwner,
        session: Session,
        connection: WebSocketConnection,
        packets: Iterator[Packet],
        handed: HandedOverSocket,
    ) -> None:
        self._transport = transport
        self._session = session
        self._connection = connection
        self._packets = packets
        self._handed = handed
        self._mode = transport.host.mode
        self._busy = False
        self._backlogged = session.flow_control()

    def start(self) -> None:
        self._connection.read_nowait()
        self._handed.detach(self._on_readable, self._on_abort)
        # Bytes may already wait (in the kernel, or parsed along with the
        # upgrade): read once now.
        self._busy = True
        self._mode.submit(self._read)

    def _on_readable(self) -> None:
        # On the hub (green modes) or the watcher thread (threads).
        if self._busy:
            self._handed.pause()  # the read under way takes it; no spinning
            return
        self._busy = True
        self._mode.submit_now(self._read)

    def _read(self) -> None:
        ended = self._mode.run_holding(self._read_available)
        if ended:
            self._finish()

    def _read_available(self) -> bool:
        """Pass on what can be read now; True once the connection is over."""
        session, backlogged = self._session, self._backlogged
        try:
            for packet in self._packets:
                if packet is NOTHING_YET:
                    # Watch again (a handler held back may run after this).
                    self._busy = False
                    self._handed.resume()
                    return False
                session.receive(packet)
                if backlogged is not None and backlogged(self._caught_up):
                    # The client sends faster than its handlers run: still
                    # busy, so unwatched, until they caught up.
                    return False
        except PacketDecodeError as exc:
            self._transport.close_invalid(session, self._connection, exc)
        except Exception:
            self._transport.host.logger.exception(
                "closing %s: error while reading", self._connection.label
            )
        return True  # still busy: nothing reads this socket again

    def _caught_up(self) -> None:
        # From a worker, once the handlers caught up: read on.
        self._mode.submit(self._read)

    def _finish(self) -> None:
        try:
            self._transport.connection_ended(self._session, self._connection)
        finally:
            self._handed.close()

    def _on_abort(self) -> None:
        # The server is stopping.
        self._transport.connection_ended(self._session, self._connection)
