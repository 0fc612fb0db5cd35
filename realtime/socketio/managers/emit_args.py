"""How the arguments of ``emit()`` become a packet and its recipients.

Shared by :class:`realtime.Server`, :class:`realtime.Emitter` and a
write-only manager, so that a process emitting through the broker means
exactly what a server's own ``emit()`` means. It lives on the managers'
floor because a write-only manager emits too.
"""

from __future__ import annotations

from typing import Any

from realtime.exceptions import ConfigurationError
from realtime.protocol.socketio import RESERVED_EVENTS, SioPacket, SioPacketType

__all__ = ["Target", "as_args", "as_exclude", "as_rooms", "check_event_name", "event_packet"]

#: Who ``emit(to=...)`` reaches: a sid, a room, a list of them, or None for all.
Target = str | list[str] | tuple[str, ...] | None


def as_args(data: Any) -> list[Any]:
    """Event arguments from a value: None is none, a tuple is several, else one."""
    if data is None:
        return []
    if isinstance(data, tuple):
        return list(data)
    return [data]


def as_rooms(target: Target) -> list[str] | None:
    """The rooms ``to=`` names (None: the whole namespace)."""
    if target is None:
        return None
    if isinstance(target, str):
        return [target]
    return list(target)


def as_exclude(target: Target) -> set[str]:
    """The sids ``skip_sid=`` names."""
    if target is None:
        return set()
    if isinstance(target, str):
        return {target}
    return set(target)


def check_event_name(event: str) -> None:
    """Refuse the event names Socket.IO reserves.

    Raises:
        ConfigurationError: clients would drop the connection on receiving it.
    """
    if event in RESERVED_EVENTS:
        raise ConfigurationError(
            f"{event!r} is reserved by Socket.IO; clients drop a connection that "
            "receives it as an event name"
        )


def event_packet(event: str, data: Any, namespace: str, ack_id: int | None = None) -> SioPacket:
    """The EVENT packet of ``emit(event, data)``."""
    check_event_name(event)
    return SioPacket(SioPacketType.EVENT, namespace, [event, *as_args(data)], ack_id)
