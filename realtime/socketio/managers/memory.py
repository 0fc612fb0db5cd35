"""Rooms kept in this process's memory: the default manager."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from realtime.async_modes import short_lock
from realtime.socketio.managers.base import Manager

if TYPE_CHECKING:
    from realtime.protocol.engineio import EngineSid
    from realtime.protocol.socketio import SocketSid

__all__ = ["MemoryManager"]


class MemoryManager(Manager):
    """Rooms for one process.

    Layout: for each namespace, room name -> {sid: eio_sid} (insertion-ordered,
    so delivery follows join order) and sid -> the rooms it is in.

    Changes take a lock; lookups copy what they need in one C-level step, so
    a broadcast never waits for, nor trips over, a concurrent join or leave.
    The lock is held only around dict updates that never yield, which makes
    a plain lock safe in every async mode.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = short_lock()
        self._rooms: dict[str, dict[str, dict[SocketSid, EngineSid]]] = {}
        self._memberships: dict[str, dict[SocketSid, dict[str, None]]] = {}
        self._eio: dict[str, dict[SocketSid, EngineSid]] = {}

    def add(self, namespace: str, sid: SocketSid, eio_sid: EngineSid) -> None:
        with self._lock:
            self._eio.setdefault(namespace, {})[sid] = eio_sid
            self._memberships.setdefault(namespace, {})[sid] = {}
            self._enter(namespace, sid, sid)

    def restore(
        self, namespace: str, sid: SocketSid, eio_sid: EngineSid, rooms: Iterable[str]
    ) -> None:
        with self._lock:
            self._eio.setdefault(namespace, {})[sid] = eio_sid
            self._memberships.setdefault(namespace, {})[sid] = {}
            self._enter(namespace, sid, sid)
            for room in rooms:
                self._enter(namespace, sid, room)

    def remove(self, namespace: str, sid: SocketSid) -> None:
        with self._lock:
            joined = self._memberships.get(namespace, {}).pop(sid, None)
            for room in joined or ():
                self._drop(namespace, room, sid)
            self._eio.get(namespace, {}).pop(sid, None)

    def enter_room(self, namespace: str, sid: SocketSid, room: str) -> None:
        with self._lock:
            entered = self._enter(namespace, sid, room)
        if entered and self._observers:
            self._rooms_changed(namespace, sid)

    def _enter(self, namespace: str, sid: SocketSid, room: str) -> bool:
        eio_sid = self._eio.get(namespace, {}).get(sid)
        joined = self._memberships.get(namespace, {}).get(sid)
        if eio_sid is None or joined is None or room in joined:
            return False
        self._rooms.setdefault(namespace, {}).setdefault(room, {})[sid] = eio_sid
        joined[room] = None
        return True

    def leave_room(self, namespace: str, sid: SocketSid, room: str) -> None:
        with self._lock:
            self._drop(namespace, room, sid)
            joined = self._memberships.get(namespace, {}).get(sid)
            left = joined is not None and joined.pop(room, False) is None
        if left and self._observers:
            self._rooms_changed(namespace, sid)

    def _drop(self, namespace: str, room: str, sid: SocketSid) -> None:
        rooms = self._rooms.get(namespace, {})
        members = rooms.get(room)
        if members is not None:
            members.pop(sid, None)
            if not members:
                del rooms[room]

    def close_room(self, namespace: str, room: str) -> None:
        with self._lock:
            members = self._rooms.get(namespace, {}).pop(room, None)
            memberships = self._memberships.get(namespace, {})
            for sid in members or ():
                joined = memberships.get(sid)
                if joined is not None:
                    joined.pop(room, None)
        if self._observers:
            for sid in members or ():
                self._rooms_changed(namespace, sid)

    def rooms(self, namespace: str, sid: SocketSid) -> list[str]:
        return list(self._memberships.get(namespace, {}).get(sid, ()))

    def members(
        self, namespace: str, rooms: Sequence[str] | None = None
    ) -> list[tuple[SocketSid, EngineSid]]:
        if rooms is None:
            return list(self._eio.get(namespace, {}).items())
        by_room = self._rooms.get(namespace, {})
        if len(rooms) == 1:
            return list(by_room.get(rooms[0], {}).items())
        seen: dict[SocketSid, EngineSid] = {}
        for room in rooms:
            seen.update(by_room.get(room, {}))
        return list(seen.items())
