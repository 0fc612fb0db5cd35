"""Gaps: events a process could not append to the recovery log, and who missed them.

When Redis stays away so long that a process's outbox fills up, the oldest
entries are dropped. That process's own clients had them (they are served
at once while Redis is away); the clients of the other processes never
will. In their place the log gets one *gap* entry naming the rooms those
events were for, per namespace; a process that reads it closes the
connections of its clients in those rooms and refuses to replay across it,
so they reconnect with ``recovered`` false and know to fetch what they
missed (see :meth:`realtime.socketio.recovery.journal.Journal.mark_lost`).

Gaps merge: a full outbox that keeps dropping keeps one gap at its head,
never a chain of them. A namespace whose gap would name more than
:data:`MAX_ROOMS` rooms is lost as a whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["MAX_ROOMS", "is_gap", "lost_in", "merge"]

#: Rooms a gap names per namespace before it stands for every room.
MAX_ROOMS = 256

#: Per namespace, the rooms whose members missed events (None: every client).
Lost = dict[str, set[str] | None]


def is_gap(message: dict[str, Any]) -> bool:
    """Whether a log entry is a gap."""
    return "gap" in message


def lost_in(message: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    """A gap's namespaces and rooms (None: all of the namespace's clients)."""
    found: list[tuple[str, list[str] | None]] = []
    items = message.get("gap")
    if not isinstance(items, (list, tuple)):
        return found
    for item in items:
        if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str):
            rooms = item[1]
            found.append((item[0], None if rooms is None else [str(room) for room in rooms]))
    return found


def merge(dropped: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The one gap entry that stands for ``dropped`` entries (gaps among them
    included); None when none of them was an event.

    Room changes are not events: what they would have changed is lost with
    them, and no client can be told it missed one.
    """
    lost: Lost = {}
    for message in dropped:
        if is_gap(message):
            for namespace, rooms in lost_in(message):
                _add(lost, namespace, rooms)
        elif "op" not in message and isinstance(message.get("ns"), str):
            rooms = message.get("rooms")
            _add(lost, message["ns"], None if rooms is None else [str(r) for r in rooms])
    if not lost:
        return None
    return {
        "gap": [
            [namespace, None if rooms is None else sorted(rooms)]
            for namespace, rooms in sorted(lost.items())
        ]
    }


def _add(lost: Lost, namespace: str, rooms: list[str] | None) -> None:
    if namespace in lost and lost[namespace] is None:
        return
    if rooms is None:
        lost[namespace] = None
        return
    known = lost.setdefault(namespace, set())
    assert known is not None
    known.update(rooms)
    if len(known) > MAX_ROOMS:
        lost[namespace] = None
