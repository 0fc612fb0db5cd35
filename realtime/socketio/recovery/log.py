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
import collections
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from realtime.socketio.recovery.options import IN_FLIGHT, RecoveryOptions, Snapshot, matches

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.engine.outgoing import Outgoing
    from realtime.protocol.socketio import SioPacket
    from realtime.socketio.managers.base import Manager

__all__ = ["MemoryRecoveryLog", "RecoveryLog"]


class RecoveryLog(abc.ABC):
    """Offsets, the events kept for replay, and the snapshots of dropped sockets.

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
    def join(self, add: Callable[[], None]) -> str | None:
        """Run ``add`` (a socket joining) in order with emits; the log's position then."""

    @abc.abstractmethod
    def save(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` for ``max_disconnection_duration`` seconds."""

    @abc.abstractmethod
    def take(self, pid: str) -> Snapshot | None:
        """Remove and return the snapshot of ``pid``; None if there is none (or it expired)."""

    @abc.abstractmethod
    def resume(
        self, snapshot: Snapshot, offset: str | None, add: Callable[[], None]
    ) -> list[Outgoing] | None:
        """What ``snapshot``'s client missed after ``offset`` (None: it received nothing).

        ``add`` (the socket joining again) runs in order with emits, so every
        event is either in the list or delivered live afterwards, never both.
        None when part of what it missed is no longer kept.
        """

    # The hooks below matter when clients may come back to another process;
    # a log that serves one process has nothing to do in them.

    def connected(self, pid: str) -> None:  # noqa: B027
        """A socket with ``pid`` is now served by this process."""

    def left(self, pid: str) -> None:  # noqa: B027
        """The socket with ``pid`` is no longer served by this process."""

    def take_elsewhere(self, pid: str) -> Snapshot | None:
        """Have another process let go of ``pid``, and take its snapshot."""
        return None

    def attach(self, take_over: Callable[[str], None]) -> None:  # noqa: B027
        """``take_over(pid)`` closes this process's connection of ``pid``, as dropped."""

    def close(self) -> None:  # noqa: B027 - most logs hold nothing to release
        """Release what the log holds."""


@dataclass(slots=True)
class _Entry:
    offset: int
    namespace: str
    rooms: tuple[str, ...] | None
    exclude: frozenset[str]
    outgoing: Outgoing
    size: int
    at: float


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
        self._entries: collections.deque[_Entry] = collections.deque()
        self._bytes = 0
        self._next = 1
        self._snapshots: dict[str, Snapshot] = {}
        # The newest offset trimmed, by (namespace, room) it was emitted to
        # (room None: the whole namespace): a snapshot whose client missed a
        # trimmed event cannot be recovered.
        self._trimmed: dict[tuple[str, str | None], tuple[int, float]] = {}

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
            size = sum(len(p.data) for p in outgoing.packets)
            now = time.monotonic()
            self._entries.append(
                _Entry(
                    offset,
                    namespace,
                    None if rooms is None else tuple(rooms),
                    excluded,
                    outgoing,
                    size,
                    now,
                )
            )
            self._bytes += size
            self._trim(now)
            self._manager.broadcast(namespace, outgoing, rooms, excluded)

    def _trim(self, now: float) -> None:
        options = self.options
        oldest_kept = now - options.max_disconnection_duration
        entries = self._entries
        trimmed = self._trimmed
        while entries and (
            len(entries) > options.max_packets
            or self._bytes > options.max_bytes
            or entries[0].at < oldest_kept
        ):
            entry = entries.popleft()
            self._bytes -= entry.size
            for room in entry.rooms or (None,):
                trimmed[(entry.namespace, room)] = (entry.offset, entry.at)
        if len(trimmed) > 2 * options.max_packets:
            # Events trimmed before any snapshot that is still kept could
            # have dropped were received while the client was connected.
            forget = now - options.max_disconnection_duration - IN_FLIGHT
            for key in [k for k, (_, at) in trimmed.items() if at < forget]:
                del trimmed[key]

    def join(self, add: Callable[[], None]) -> str | None:
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
            self._trim(time.monotonic())
            if start >= self._next or self._lost(snapshot, start):
                # The offset is not ours, or part of what it missed is gone.
                return None
            missed = [
                entry.outgoing
                for entry in self._entries
                if entry.offset > start
                and matches(entry.namespace, entry.rooms, entry.exclude, snapshot)
            ]
            add()
            return missed

    def _lost(self, snapshot: Snapshot, start: int) -> bool:
        """Whether an event after ``start``, maybe meant for ``snapshot``, was trimmed."""
        trimmed = self._trimmed
        keys = [(snapshot.namespace, None)] + [(snapshot.namespace, r) for r in snapshot.rooms]
        return any(trimmed.get(key, (0, 0.0))[0] > start for key in keys)
