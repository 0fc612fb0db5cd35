"""The events a process keeps for replay, in delivery order, bounded.

Both recovery logs keep one :class:`Journal`: the in-memory log of a single
process holds every event it emitted; the Redis log of a deployment holds
every event this process read from the deployment's stream (every process
reads all of it), so a client that comes back to any process that was
running when it left can be replayed from memory, whatever happened to the
broker meanwhile.

Entries are ordered by their *position*, a tuple: ``(n,)`` in the memory log,
``(milliseconds, sequence)`` (the stream entry id) in the Redis log. The
journal is bounded by count, bytes and age (:class:`RecoveryOptions`); what
it trims it remembers per (namespace, room), so that a client that missed a
trimmed event is refused rather than replayed with a gap.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from realtime.socketio.recovery.options import IN_FLIGHT, RecoveryOptions, Snapshot, matches

if TYPE_CHECKING:
    from realtime.engine.outgoing import Outgoing

__all__ = ["Entry", "Journal", "Position", "Skip"]

#: Where an entry stands in the log; tuples compare in log order.
Position = tuple[int, ...]


@dataclass(slots=True)
class Entry:
    """One event kept for replay.

    Attributes:
        position: where it stands in the log.
        namespace: its namespace.
        rooms: the rooms it went to (None: the whole namespace).
        exclude: the sids it skipped.
        outgoing: the event, encoded with its offset.
        size: its bytes.
        at: when it was kept (monotonic seconds).
        origin: the process that emitted it, when the log says.
        seq: its number among that process's appends.
        local: it was delivered by this process while the deployment's log
            could not be reached, and is not in that log (yet).
        superseded: a local entry whose copy in the log was since read.
        original: where it stood in the log before it was appended again
            (Redis lost it, or failed over before it was replicated).
    """

    position: Position
    namespace: str
    rooms: tuple[str, ...] | None
    exclude: frozenset[str]
    outgoing: Outgoing
    size: int
    at: float
    origin: str | None = None
    seq: int | None = None
    local: bool = False
    superseded: bool = False
    original: Position | None = None


#: Whether a client being replayed already has an entry, by (origin, seq).
Skip = Callable[[str | None, int | None], bool]


class Journal:
    """Entries in position order, bounded by ``options``.

    Not thread-safe: its owner holds its lock around every call.

    Args:
        options: the bounds (count, bytes, age).
        start: the position it starts at: it holds everything after it.
    """

    def __init__(self, options: RecoveryOptions, start: Position) -> None:
        self._options = options
        self._entries: collections.deque[Entry] = collections.deque()
        self._bytes = 0
        #: Everything after this position is here, unless trimmed.
        self.start = start
        # The newest position trimmed, by (namespace, room) it was emitted to
        # (room None: the whole namespace), with when it was trimmed.
        self._trimmed: dict[tuple[str, str | None], tuple[Position, float]] = {}
        # Local entries by their seq, until their copy in the log is read.
        self._local: dict[int, Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def append(self, entry: Entry, now: float) -> None:
        """Keep ``entry`` (its position after every other one's)."""
        self._entries.append(entry)
        self._bytes += entry.size
        if entry.local and entry.seq is not None:
            self._local[entry.seq] = entry
        self.trim(now)

    def supersede(self, seq: int) -> None:
        """The log's copy of this process's local entry ``seq`` was read: replay that one."""
        entry = self._local.pop(seq, None)
        if entry is not None:
            entry.superseded = True

    def trim(self, now: float) -> None:
        """Drop what is past the bounds, remembering what was dropped for whom."""
        options = self._options
        oldest_kept = now - options.max_disconnection_duration
        entries, trimmed = self._entries, self._trimmed
        while entries and (
            len(entries) > options.max_packets
            or self._bytes > options.max_bytes
            or entries[0].at < oldest_kept
        ):
            entry = entries.popleft()
            self._bytes -= entry.size
            if entry.local and entry.seq is not None:
                self._local.pop(entry.seq, None)
            if not entry.superseded:
                self.mark_lost(entry.namespace, entry.rooms, entry.position, now)
        if len(trimmed) > 2 * options.max_packets:
            # Events trimmed before any snapshot that is still kept could
            # have dropped were received while the client was connected.
            forget = now - options.max_disconnection_duration - IN_FLIGHT
            for key in [k for k, (_, at) in trimmed.items() if at < forget]:
                del trimmed[key]

    def mark_lost(
        self, namespace: str, rooms: Iterable[str] | None, position: Position, now: float
    ) -> None:
        """Events for ``rooms`` of ``namespace`` up to ``position`` cannot be replayed."""
        trimmed = self._trimmed
        for room in rooms or (None,):
            key = (namespace, room)
            if trimmed.get(key, ((), 0.0))[0] < position:
                trimmed[key] = (position, now)

    def covers(self, start: Position) -> bool:
        """Whether everything after ``start`` went through this journal."""
        return start >= self.start

    def since(
        self, start: Position, snapshot: Snapshot, skip: Skip | None = None
    ) -> list[Outgoing] | None:
        """What ``snapshot``'s client missed after ``start``, in order.

        None when part of it was trimmed (or lost some other way), or the
        journal does not reach back to ``start``.
        """
        if not self.covers(start) or self._lost(snapshot, start):
            return None
        return [
            entry.outgoing
            for entry in self._entries
            if entry.position > start
            and not entry.superseded
            and (entry.original is None or entry.original > start)
            and matches(entry.namespace, entry.rooms, entry.exclude, snapshot)
            and (skip is None or not skip(entry.origin, entry.seq))
        ]

    def _lost(self, snapshot: Snapshot, start: Position) -> bool:
        """Whether an event after ``start``, maybe meant for ``snapshot``, is gone."""
        trimmed = self._trimmed
        keys: Sequence[tuple[str, str | None]] = [(snapshot.namespace, None)] + [
            (snapshot.namespace, r) for r in snapshot.rooms
        ]
        return any(trimmed.get(key, ((), 0.0))[0] > start for key in keys)
