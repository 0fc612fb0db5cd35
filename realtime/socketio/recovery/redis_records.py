"""The state of every recoverable socket, kept in Redis as it changes.

A process keeps, for each recoverable socket it serves (connected, or
dropped and waiting to come back), a *record*: its sid, namespace, rooms,
session and counters (a :class:`~realtime.socketio.recovery.options.Snapshot`).
It is the record's owner, and writes it to ``<channel>:recovery:rec:<pid>``
(a hash: ``node``, the owner, and ``data``) whenever it changes: when the
socket joins, enters or leaves a room, saves its session; its count of
received events at most every :data:`LAZY_INTERVAL` seconds. So a process
that dies, even killed with SIGKILL, leaves every socket's state behind, and
its clients recover on the processes they reconnect to.

Writes are conditional (a script): a process writes or deletes a record
only while it owns it, so a slow process cannot overwrite the state of a
socket another one took over. Taking a record over from a process that is
gone is a compare-and-set of its owner.

After a Redis restart (noticed from ``<channel>:recovery:epoch``), every
process writes all its records again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from realtime.socketio.managers.broker_link import pack, unpack
from realtime.socketio.recovery.options import Snapshot

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode

__all__ = ["LAZY_INTERVAL", "RecordStore", "snapshot_from", "snapshot_to"]

#: Seconds a change of a socket's counters may wait before it is written.
LAZY_INTERVAL = 1.0
#: Seconds a connected socket's record lives without a write (refreshed).
LIVE_TTL = 24 * 3600
_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 2.0

# KEYS: the record. ARGV: owner, data, TTL ms (0: none). Writes if the record
# is missing or ours; 1 if written.
_WRITE = """
local owner = redis.call('HGET', KEYS[1], 'node')
if owner and owner ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'node', ARGV[1], 'data', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
"""
# KEYS: the record. ARGV: owner. Deletes it if it is ours.
_DELETE = """
if redis.call('HGET', KEYS[1], 'node') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""
# KEYS: the record. ARGV: the owner believed gone, the new owner. Returns the
# data, the record now being the new owner's, or false.
_CLAIM = """
local record = redis.call('HMGET', KEYS[1], 'node', 'data')
if not record[1] or record[1] ~= ARGV[1] then return false end
redis.call('HSET', KEYS[1], 'node', ARGV[2])
return record[2]
"""


def snapshot_to(snapshot: Snapshot) -> dict[str, Any]:
    """A snapshot as a plain map (for Redis and for messages between processes)."""
    return {
        "pid": snapshot.pid,
        "sid": snapshot.sid,
        "ns": snapshot.namespace,
        "rooms": list(snapshot.rooms),
        "session": snapshot.session,
        "first": snapshot.first_offset,
        "received": snapshot.received,
        "at": snapshot.disconnected_at,
    }


def snapshot_from(fields: Any) -> Snapshot | None:
    """The snapshot a map holds; None if it holds none."""
    if not isinstance(fields, dict):
        return None
    try:
        return Snapshot(
            pid=str(fields["pid"]),
            sid=str(fields["sid"]),
            namespace=str(fields["ns"]),
            rooms=[str(room) for room in fields["rooms"]],
            session=dict(fields["session"]),
            first_offset=None if fields["first"] is None else str(fields["first"]),
            received=int(fields["received"]),
            disconnected_at=float(fields["at"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


class RecordStore:
    """This process's records, written to Redis as they change.

    Args:
        client: a ``redis.Redis`` client.
        errors: the base class of its errors.
        prefix: the keys' prefix (``<channel>:recovery``).
        node: this process's node id.
        mode: the async mode.
        window: seconds a dropped socket's record is kept.
        current: the snapshot of a connected socket of this process, now.
        logger: where trouble is reported.
    """

    def __init__(
        self,
        client: Any,
        errors: type[Exception],
        prefix: str,
        node: str,
        mode: AsyncMode,
        window: float,
        current: Callable[[str], Snapshot | None],
        logger: logging.Logger,
    ) -> None:
        self._redis = client
        self._errors = errors
        self._prefix = f"{prefix}:rec:"
        self._node = node
        self._mode = mode
        self._window = window
        self._current = current
        self._logger = logger
        self._write = client.register_script(_WRITE)
        self._delete = client.register_script(_DELETE)
        self._claim = client.register_script(_CLAIM)
        self._lock = mode.lock()
        self._wake = mode.event()
        # pid -> None (connected here) or its snapshot (dropped here).
        self._owned: dict[str, Snapshot | None] = {}
        self._urgent: set[str] = set()
        self._lazy: set[str] = set()
        self._gone: set[str] = set()
        self._closed = False
        mode.spawn(self._run)

    def key(self, pid: str) -> str:
        return self._prefix + pid

    # -- what this process serves -------------------------------------------------

    def connected(self, pid: str) -> None:
        """A socket of this process with ``pid`` is connected: write its record."""
        with self._lock:
            self._owned[pid] = None
            self._gone.discard(pid)
            self._urgent.add(pid)
        self._wake.set()

    def changed(self, pid: str, *, urgent: bool) -> None:
        """A connected socket's state changed: rooms, session (``urgent``) or counters."""
        with self._lock:
            if pid not in self._owned:
                return
            (self._urgent if urgent else self._lazy).add(pid)
        if urgent:
            self._wake.set()

    def dropped(self, snapshot: Snapshot) -> None:
        """A socket dropped: keep its snapshot here and in Redis for the window."""
        with self._lock:
            self._owned[snapshot.pid] = snapshot
            self._gone.discard(snapshot.pid)
            self._urgent.add(snapshot.pid)
        self._wake.set()

    def left(self, pid: str) -> None:
        """A socket left on purpose, or was taken over: forget it here and in Redis."""
        with self._lock:
            self._owned.pop(pid, None)
            self._urgent.discard(pid)
            self._lazy.discard(pid)
            self._gone.add(pid)
        self._wake.set()

    def take_local(self, pid: str) -> Snapshot | None:
        """The snapshot of a socket that dropped here, taken (no longer kept here)."""
        with self._lock:
            snapshot = self._owned.get(pid)
            if snapshot is None:
                return None
            del self._owned[pid]
            self._urgent.discard(pid)
        if time.time() - snapshot.disconnected_at > self._window:
            return None
        return snapshot

    def rewrite_all(self) -> None:
        """Write every record again (Redis lost them: a restart, a failover)."""
        with self._lock:
            self._urgent.update(self._owned)
        self._wake.set()

    # -- what another process served --------------------------------------------------

    def claim(self, pid: str, alive: Iterable[str]) -> Snapshot | None:
        """Take over the record of ``pid`` if its owner is not among ``alive``.

        Raises:
            Exception: of the client's ``errors``, when Redis cannot be reached.
        """
        key = self.key(pid)
        owner = self._redis.hget(key, "node")
        if owner is None:
            return None
        owner_text = owner.decode() if isinstance(owner, bytes) else str(owner)
        if owner_text == self._node or owner_text in set(alive):
            return None
        data = self._claim(keys=[key], args=[owner_text, self._node])
        fields = unpack(data) if isinstance(data, bytes) else None
        snapshot = snapshot_from(fields)
        if snapshot is None:
            return None
        if fields is not None and fields.get("live"):
            # Its process died while it was connected: the drop is now.
            snapshot.disconnected_at = time.time()
        if time.time() - snapshot.disconnected_at > self._window:
            return None
        self._logger.info(
            "took over %s from process %s, which is gone (recovery)", snapshot.sid, owner_text
        )
        return snapshot

    # -- writing ------------------------------------------------------------------

    def _run(self) -> None:
        backoff = _FIRST_BACKOFF
        last_lazy = time.monotonic()
        while not self._stopping():
            self._wake.wait(LAZY_INTERVAL)
            self._wake.clear()
            now = time.monotonic()
            with self._lock:
                pids = set(self._urgent)
                self._urgent.clear()
                if now - last_lazy >= LAZY_INTERVAL:
                    pids |= self._lazy
                    self._lazy.clear()
                    last_lazy = now
                gone, self._gone = self._gone, set()
                work = [(pid, self._owned.get(pid)) for pid in pids if pid in self._owned]
            if not work and not gone:
                continue
            try:
                self._flush(work, gone)
            except Exception as exc:
                if not isinstance(exc, self._errors):
                    self._logger.exception("error writing recovery records")
                with self._lock:
                    self._urgent.update(pid for pid, _ in work if pid in self._owned)
                    self._gone |= gone - set(self._owned)
                self._logger.debug("cannot write recovery records (%s); again soon", exc)
                self._mode.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                self._wake.set()
                continue
            backoff = _FIRST_BACKOFF

    def _stopping(self) -> bool:
        # A method, not the attribute: close() flips it from another task.
        return self._closed

    def _flush(self, work: list[tuple[str, Snapshot | None]], gone: set[str]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        window_ms = max(1, int(self._window * 1000))
        for pid, dropped in work:
            if dropped is not None:
                snapshot, live, ttl = dropped, False, window_ms
            else:
                current = self._current(pid)
                if current is None:
                    continue
                snapshot, live, ttl = current, True, LIVE_TTL * 1000
            try:
                data = pack({**snapshot_to(snapshot), "live": live})
            except TypeError as exc:
                self._logger.warning(
                    "cannot keep %s for recovery: its session does not serialize (%s)",
                    snapshot.sid,
                    exc,
                )
                continue
            self._write(keys=[self.key(pid)], args=[self._node, data, ttl], client=pipe)
        for pid in gone:
            self._delete(keys=[self.key(pid)], args=[self._node], client=pipe)
        pipe.execute()

    def close(self) -> None:
        """Stop writing."""
        self._closed = True
        self._wake.set()
