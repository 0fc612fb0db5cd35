"""The recovery log: events in offset order, kept for replay, and dropped sockets.

A :class:`RecoveryLog` gives events their offsets, in the order they are
delivered, and keeps them (bounded by count, bytes and age), together with a
:class:`Snapshot` of each socket that dropped for a reason worth recovering
from. :class:`MemoryRecoveryLog` serves one process; with a message queue,
the log lives in Redis (:mod:`realtime.socketio.recovery.redis_log`).

Beyond socket.io: a ``pid`` without an offset (a client that received no
event before the drop) recovers everything buffered since the socket
connected; and ``received`` counts the events the server got from the socket,
so realtime's client can send again, once, what was lost on the way.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from realtime.socketio.recovery.journal import Entry, Journal
from realtime.socketio.recovery.options import RecoveryOptions, Snapshot

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.engine.outgoing import Outgoing
    from realtime.protocol.socketio import SioPacket
    from realtime.socketio.managers.base import Manager

__all__ = ["MemoryRecoveryLog", "RecoveryHost", "RecoveryLog"]


class RecoveryHost(Protocol):
    """What a recovery log may ask of the server it serves (its resumer)."""

    def let_go(self, pid: str) -> None:
        """Close this process's connection of ``pid``, as dropped, and wait until it left."""

    def current(self, pid: str) -> Snapshot | None:
        """The snapshot of this process's connected socket ``pid``, as it is now."""

    def cut_off(self, namespace: str, rooms: Sequence[str] | None) -> None:
        """Close the connections of this process's sockets in ``rooms`` of
        ``namespace`` (all for None), as lost: they missed events that cannot
        be replayed, and must reconnect to learn it."""


class RecoveryLog(abc.ABC):
    """Offsets, the events kept for replay, and the state of recoverable sockets.

    Args:
        options: the bounds.
    """

    def __init__(self, options: RecoveryOptions) -> None:
        self.options = options

    @abc.abstractmethod
    def emit(
        self,
        namespace: str,
        packet: SioPacket,
        rooms: Sequence[str] | None,
        exclude: Iterable[str],
    ) -> None:
        """Give ``packet`` (an EVENT with no ack id) its offset, keep it, deliver it."""

    @abc.abstractmethod
    def emit_here(
        self,
        namespace: str,
        packet: SioPacket,
        rooms: Sequence[str] | None,
        exclude: Iterable[str],
        *,
        volatile: bool = False,
    ) -> None:
        """Deliver ``packet`` to this process's clients only (``ignore_queue``),
        in order with the log, not kept: it carries the log's current offset,
        so a client that takes its last argument for an offset (as
        socket.io-client does) still recovers from the right place.
        ``volatile``: dropped by a client's transport that cannot take it now."""

    def emit_volatile(
        self,
        namespace: str,
        packet: SioPacket,
        rooms: Sequence[str] | None,
        exclude: Iterable[str],
    ) -> None:
        """Deliver a volatile ``packet`` to the clients of every process, each
        under that process's current offset (as :meth:`emit_here`), not kept."""
        self.emit_here(namespace, packet, rooms, exclude, volatile=True)

    @abc.abstractmethod
    def join(self, sid: str, add: Callable[[], None]) -> str | None:
        """Run ``add`` (socket ``sid`` joining) in order with emits; the log's position then."""

    @abc.abstractmethod
    def resume(
        self, snapshot: Snapshot, offset: str | None, add: Callable[[], None]
    ) -> list[Outgoing] | None:
        """What ``snapshot``'s client missed after ``offset`` (None: it received nothing).

        ``add`` (the socket joining again, with nothing delivered on the way)
        runs in order with emits, so every event is either in the list or
        delivered live afterwards, exactly once. None when part of what it
        missed is no longer kept.
        """

    @abc.abstractmethod
    def save(self, snapshot: Snapshot) -> None:
        """A socket dropped: keep ``snapshot`` for ``max_disconnection_duration`` seconds."""

    @abc.abstractmethod
    def take(self, pid: str) -> Snapshot | None:
        """Remove and return the snapshot of ``pid``, wherever it is kept; None
        if there is none (or it expired).

        Raises:
            BrokerUnavailable: the snapshot may exist but cannot be reached now.
        """

    def attach(self, host: RecoveryHost) -> None:
        """How the log reaches the server's sockets."""
        self.host = host

    # The hooks below keep the state of connected sockets where another
    # process finds it if this one dies; a log that serves one process has
    # nothing to do in them.

    def connected(self, pid: str) -> None:  # noqa: B027
        """A recoverable socket with ``pid`` is now served by this process."""

    def changed(self, pid: str, *, urgent: bool) -> None:  # noqa: B027
        """The rooms or session (``urgent``), or the counters, of socket ``pid`` changed."""

    def left(self, pid: str, sid: str) -> None:  # noqa: B027
        """The socket ``sid`` with ``pid`` left on purpose: nothing is kept of it."""

    def close(self) -> None:  # noqa: B027 - most logs hold nothing to release
        """Release what the log holds."""


class MemoryRecoveryLog(RecoveryLog):
    """The log of one process, in its memory.

    Offsets are decimal counters. Emits, and sockets joining, take one lock,
    so every socket receives events in offset order.

    Args:
        options: the bounds.
        mode: the async mode (its lock).
        prepare: encodes a packet once for every recipient.
        manager: delivers to this process's clients.
    """

    def __init__(
        self,
        options: RecoveryOptions,
        mode: AsyncMode,
        prepare: Callable[[SioPacket], Outgoing],
        manager: Manager,
    ) -> None:
        super().__init__(options)
        self._lock = mode.lock()
        self._prepare = prepare
        self._manager = manager
        self._journal = Journal(options, (0,))
        self._next = 1
        self._snapshots: dict[str, Snapshot] = {}

    def emit(
        self,
        namespace: str,
        packet: SioPacket,
        rooms: Sequence[str] | None,
        exclude: Iterable[str],
    ) -> None:
        excluded = frozenset(exclude)
        with self._lock:
            offset = self._next
            outgoing = self._prepare(packet.with_data([*packet.data, str(offset)]))
            self._next += 1
            entry = Entry(
                (offset,),
                namespace,
                None if rooms is None else tuple(rooms),
                excluded,
                outgoing,
                sum(len(p.data) for p in outgoing.packets),
                time.monotonic(),
            )
            self._journal.append(entry, entry.at)
            self._manager.broadcast(namespace, outgoing, rooms, excluded)

    def emit_here(
        self,
        namespace: str,
        packet: SioPacket,
        rooms: Sequence[str] | None,
        exclude: Iterable[str],
        *,
        volatile: bool = False,
    ) -> None:
        with self._lock:
            outgoing = self._prepare(packet.with_data([*packet.data, str(self._next - 1)]))
            outgoing.volatile = volatile
            self._manager.broadcast_here(namespace, outgoing, rooms, exclude)

    def join(self, sid: str, add: Callable[[], None]) -> str | None:
        with self._lock:
            add()
            return str(self._next - 1)

    def save(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._expire(time.time())
            self._snapshots[snapshot.pid] = snapshot

    def take(self, pid: str) -> Snapshot | None:
        with self._lock:
            self._expire(time.time())
            return self._snapshots.pop(pid, None)

    def _expire(self, now: float) -> None:
        limit = now - self.options.max_disconnection_duration
        for pid in [p for p, s in self._snapshots.items() if s.disconnected_at < limit]:
            del self._snapshots[pid]

    def resume(
        self, snapshot: Snapshot, offset: str | None, add: Callable[[], None]
    ) -> list[Outgoing] | None:
        start_text = offset if offset is not None else snapshot.first_offset
        try:
            start = int(start_text) if start_text is not None else 0
        except ValueError:
            return None
        with self._lock:
            self._journal.trim(time.monotonic())
            if start >= self._next:
                return None  # not an offset of this log
            missed = self._journal.since((start,), snapshot)
            if missed is not None:
                add()
            return missed
