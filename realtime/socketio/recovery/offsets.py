"""The offsets of the Redis recovery log (:mod:`realtime.socketio.recovery.redis_log`).

An offset is a stream entry id (``<ms>-<seq>``): everything up to that entry.
While Redis is away, a process delivers its own events itself, and their
offsets say so: ``<entry id>~<node>~<n>`` reads "everything up to this entry,
and node's own events up to its n-th".
"""

from __future__ import annotations

from typing import Any

from realtime.socketio.recovery.journal import Position

__all__ = ["parse_offset", "stream_id", "text"]


def stream_id(value: str) -> tuple[int, int] | None:
    """A stream entry id as numbers, or None if ``value`` is not one."""
    ms, dash, seq = value.partition("-")
    if not dash or not ms.isdigit() or not seq.isdigit():
        return None
    return int(ms), int(seq)


def text(value: Any) -> str:
    """A value read from Redis as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_offset(value: str) -> tuple[Position, str | None, int] | None:
    """An offset as (position, node, n): "up to position, and node's own events up to n".

    None if ``value`` is no offset of this log.
    """
    parts = value.split("~")
    position = stream_id(parts[0])
    if position is None:
        return None
    if len(parts) == 1:
        return position, None, 0
    if len(parts) == 3 and parts[1] and parts[2].isdigit():
        return position, parts[1], int(parts[2])
    return None
