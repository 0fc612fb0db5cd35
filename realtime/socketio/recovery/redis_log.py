"""Connection state recovery across the processes of a deployment, in Redis.

With ``message_queue`` set, a client that drops may come back to any
process, so the log of recoverable events and the snapshots of dropped
sockets live in Redis, where every process finds them:

- ``<channel>:recovery:log``, a Redis Stream: every event the servers emit
  without an acknowledgement is appended there (``XADD``), and its entry id
  (``<milliseconds>-<sequence>``) is its offset. Each process reads the
  stream (``XREAD``) and delivers the entries to its own clients, so every
  client of every process receives events in offset order; the stream is
  trimmed to ``max_packets`` entries and ``max_disconnection_duration``
  seconds. Changes that concern other processes (``enter_room``,
  ``leave_room`` and ``disconnect`` of their clients, ``close_room``) go
  through the stream too, so they stay in order with the events around them; before a process
  changes the rooms of its own clients it delivers what it appended and has
  not read back yet (:meth:`RedisRecoveryLog.catch_up`), so an event emitted
  before ``leave_room`` still reaches the client that leaves.
- ``<channel>:recovery:snap:<pid>``: the snapshot of a dropped socket,
  expiring after ``max_disconnection_duration``.
- ``<channel>:recovery:live:<pid>``: the process serving a connected socket,
  so that a client that comes back elsewhere before its old connection was
  noticed dead can have that process close it (``m.takeover``).

While recovery is on, the servers keep ``<channel>:recovery:on`` alive, so
that a write-only :class:`realtime.Emitter` appends its events to the stream
too (:class:`~realtime.socketio.managers.redis_stream.StreamWriter`): in a
deployment with recovery every event a client receives carries an offset.

A socket that resumes on another process keeps its sid, which names the
process that made it; an ``m.moved`` message tells every process where it
now lives (see :mod:`realtime.socketio.managers.pubsub`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from realtime.engine.outgoing import Outgoing
from realtime.exceptions import ConfigurationError
from realtime.socketio.managers.broker_link import pack, unpack
from realtime.socketio.managers.redis_stream import MARK_TTL, stream_keys
from realtime.socketio.recovery.log import RecoveryLog
from realtime.socketio.recovery.options import RecoveryOptions, Snapshot, matches

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.protocol.socketio import SioPacket
    from realtime.socketio.managers.redis_stream import OrderedLogHost

__all__ = ["RedisRecoveryLog"]

#: Milliseconds an XREAD waits for entries before it looks again.
_BLOCK_MS = 1000
#: Entries read at once.
_BATCH = 512
#: Seconds between two trims of the stream by age.
_TRIM_INTERVAL = 5.0
#: Seconds a resuming client waits for another process to let go of it.
TAKEOVER_TIMEOUT = 5.0
#: Seconds a connected client's ``live`` key is kept (refreshed on recovery).
_LIVE_TTL = 24 * 3600
_FIRST_BACKOFF = 0.5
_MAX_BACKOFF = 10.0


def _stream_id(text: str) -> tuple[int, int] | None:
    """A stream entry id as numbers, or None if ``text`` is not one."""
    ms, dash, seq = text.partition("-")
    if not dash or not ms.isdigit() or not seq.isdigit():
        return None
    return int(ms), int(seq)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _current_task() -> object:
    """What tells the running task (thread or greenlet) from the others."""
    try:
        import greenlet  # noqa: PLC0415 - only with eventlet or gevent installed
    except ImportError:
        return threading.get_ident()
    return greenlet.getcurrent()


class _ReentrantLock:
    """The async mode's lock, which the task holding it may take again.

    Delivering an event may end a connection, whose socket then leaves its
    rooms, which catches up with the log: under the same lock.
    """

    def __init__(self, lock: Any) -> None:
        self._lock = lock
        self._owner: object = None
        self._depth = 0

    def __enter__(self) -> None:
        me = _current_task()
        if self._owner is not me:
            self._lock.acquire()
            self._owner = me
        self._depth += 1

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()


class RedisRecoveryLog(RecoveryLog):
    """The recovery log of a deployment, in Redis (see the module's notes).

    Args:
        options: the bounds.
        mode: the async mode (its lock and tasks).
        prepare: encodes a packet once for this process's recipients.
        manager: the deployment's manager, on a Redis broker.
    """

    def __init__(
        self,
        options: RecoveryOptions,
        mode: AsyncMode,
        prepare: Callable[[SioPacket], Outgoing],
        manager: OrderedLogHost,
    ) -> None:
        super().__init__(options)
        link = manager.link
        broker = link.broker
        client = getattr(broker, "client", None)
        if client is None:
            raise ConfigurationError(
                "connection_state_recovery with a message_queue needs Redis "
                "(redis://, rediss:// or unix://)"
            )
        self._redis = client
        self._errors: type[Exception] = broker.errors  # type: ignore[attr-defined]
        self._mode = mode
        self._prepare = prepare
        self._manager = manager
        self._node = link.node_id
        self._logger = manager.logger
        prefix = f"{manager.channel}:recovery"
        self._stream, self._mark = stream_keys(manager.channel)
        self._snap_prefix = f"{prefix}:snap:"
        self._live_prefix = f"{prefix}:live:"
        self._lock = _ReentrantLock(mode.lock())
        self._closed = False
        self._last_trim = 0.0
        self._position = self._last_id()
        self._keep_mark()
        # The newest entry this process appended.
        self._own_last = (0, 0)
        self._take_over: Callable[[str], None] | None = None
        manager.on_takeover(self._on_takeover)
        manager.use_ordered_log(self)
        mode.spawn(self._read)

    # -- emitting and delivering ------------------------------------------------

    def emit(
        self,
        namespace: str,
        packet: SioPacket,
        rooms: Sequence[str] | None,
        exclude: Iterable[str],
    ) -> None:
        excluded = list(exclude)
        entry = {
            "ns": namespace,
            "rooms": None if rooms is None else list(rooms),
            "exclude": excluded,
            "fmt": self._manager.parser.name,
            "parts": [p.data for p in self._prepare(packet).packets],
        }
        try:
            self._xadd(entry)
        except self._errors as exc:
            # Without Redis no process can be reached: the local clients
            # still get the event, which cannot be replayed. Its offset is
            # the last one read, so a client that recovers from it gets all
            # that follows (a client takes a last string argument for an
            # offset: the event must not go without one).
            self._manager.warn("cannot append to the recovery log (%s); local clients only", exc)
            outgoing = self._prepare(packet.with_data([*packet.data, self._position]))
            self._manager.broadcast_here(namespace, outgoing, rooms, excluded)

    def append(self, message: dict[str, Any]) -> bool:
        try:
            self._xadd(message)
        except self._errors as exc:
            self._manager.warn("cannot append to the recovery log (%s)", exc)
            return False
        return True

    def _xadd(self, message: dict[str, Any]) -> None:
        entry_id = self._redis.xadd(
            self._stream, {"m": pack(message)}, maxlen=self.options.max_packets, approximate=True
        )
        self._own_last = max(self._own_last, _stream_id(_text(entry_id)) or (0, 0))

    def catch_up(self) -> None:
        if self._own_last <= self._position_id():
            return
        with self._lock:
            own_last = self._own_last
            if own_last <= self._position_id():
                return
            try:
                entries = self._redis.xrange(
                    self._stream, min=f"({self._position}", max=f"{own_last[0]}-{own_last[1]}"
                )
            except self._errors as exc:
                self._logger.warning("cannot read the recovery log (%s)", exc)
                return
            for entry_id, fields in entries:
                self._deliver(_text(entry_id), fields)

    def _position_id(self) -> tuple[int, int]:
        return _stream_id(self._position) or (0, 0)

    def _read(self) -> None:
        backoff = _FIRST_BACKOFF
        while not self._stopping():
            try:
                reply = self._redis.xread(
                    {self._stream: self._position}, count=_BATCH, block=_BLOCK_MS
                )
                self._trim_by_age()
            except self._errors as exc:
                if self._stopping():
                    return
                self._logger.warning(
                    "cannot read the recovery log (%s); again in %.1f s", exc, backoff
                )
                self._mode.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            backoff = _FIRST_BACKOFF
            for _, entries in reply or ():
                with self._lock:
                    for entry_id, fields in entries:
                        self._deliver(_text(entry_id), fields)

    def _stopping(self) -> bool:
        # A method, not the attribute: close() flips it from another task.
        return self._closed

    def _deliver(self, entry_id: str, fields: dict[Any, Any]) -> None:
        """Deliver one entry to this process's clients; the caller holds the lock."""
        number = _stream_id(entry_id)
        if number is None or number <= self._position_id():
            return  # delivered already, by a catch-up
        self._position = entry_id
        try:
            entry = self._entry(fields)
            if entry is None:
                return
            if "op" in entry:
                self._manager.apply_ordered(entry)
                return
            outgoing = self._outgoing(entry, entry_id)
            if outgoing is not None:
                self._manager.broadcast_here(
                    entry["ns"], outgoing, entry["rooms"], entry["exclude"]
                )
        except Exception:
            self._logger.exception("could not deliver recovery log entry %s", entry_id)

    @staticmethod
    def _entry(fields: dict[Any, Any]) -> dict[str, Any] | None:
        """An entry's message: a room change (``op``) or an event; None if neither."""
        data = fields.get(b"m", fields.get("m"))
        entry = unpack(data) if isinstance(data, bytes) else None
        if entry is None:
            return None
        if "op" in entry:
            return entry if "ns" in entry else None
        return entry if {"ns", "rooms", "exclude", "fmt", "parts"} <= entry.keys() else None

    def _outgoing(self, entry: dict[str, Any], offset: str) -> Outgoing | None:
        """The entry's packet with its offset as a last argument, encoded once."""
        packet = self._manager.decode_packet(entry)
        if packet is None:
            return None
        return self._prepare(packet.with_data([*packet.data, offset]))

    def _trim_by_age(self) -> None:
        now = time.time()
        if now - self._last_trim < _TRIM_INTERVAL:
            return
        self._last_trim = now
        oldest = int((now - self.options.max_disconnection_duration) * 1000)
        self._redis.xtrim(self._stream, minid=f"{oldest}-0", approximate=True)
        self._keep_mark()

    def _keep_mark(self) -> None:
        try:
            self._redis.set(self._mark, self._node, ex=MARK_TTL)
        except self._errors as exc:
            self._logger.warning("cannot reach Redis for recovery (%s)", exc)

    def _last_id(self) -> str:
        try:
            last = self._redis.xrevrange(self._stream, count=1)
        except self._errors as exc:
            self._logger.warning("cannot read the recovery log (%s)", exc)
            return "0-0"
        return _text(last[0][0]) if last else "0-0"

    # -- sockets joining and resuming ---------------------------------------------

    def join(self, add: Callable[[], None]) -> str | None:
        with self._lock:
            add()
            return self._position

    def resume(
        self, snapshot: Snapshot, offset: str | None, add: Callable[[], None]
    ) -> list[Outgoing] | None:
        start_text = offset if offset is not None else snapshot.first_offset or "0-0"
        start = _stream_id(start_text)
        if start is None:
            return None
        with self._lock:
            position = self._position
            if start > (_stream_id(position) or (0, 0)):
                return None  # not an offset of this log, or not read here yet
            try:
                if self._trimmed_after(start):
                    return None
                entries = self._redis.xrange(self._stream, min=f"({start_text}", max=position)
            except self._errors as exc:
                self._logger.warning("cannot read the recovery log (%s)", exc)
                return None
            missed = []
            for entry_id, fields in entries:
                entry = self._entry(fields)
                if (
                    entry is None
                    or "op" in entry
                    or not matches(entry["ns"], entry["rooms"], entry["exclude"], snapshot)
                ):
                    continue
                outgoing = self._outgoing(entry, _text(entry_id))
                if outgoing is not None:
                    missed.append(outgoing)
            add()
        self._manager.moved_here(snapshot.sid)
        return missed

    def _trimmed_after(self, start: tuple[int, int]) -> bool:
        """Whether an entry after ``start`` was trimmed from the stream."""
        try:
            info = self._redis.xinfo_stream(self._stream)
        except self._errors:
            return False  # no stream: nothing was ever trimmed
        deleted = info.get("max-deleted-entry-id")
        if deleted is not None:
            return (_stream_id(_text(deleted)) or (0, 0)) > start
        # Redis < 7 does not say; what is older than the first entry is gone.
        first = info.get("first-entry")
        return first is not None and (_stream_id(_text(first[0])) or (0, 0)) > start

    # -- snapshots ------------------------------------------------------------------

    def connected(self, pid: str) -> None:
        try:
            self._redis.set(self._live_prefix + pid, self._node, ex=_LIVE_TTL)
        except self._errors as exc:
            self._logger.warning("cannot record a recoverable client in Redis (%s)", exc)

    def save(self, snapshot: Snapshot) -> None:
        data = pack(
            {
                "pid": snapshot.pid,
                "sid": snapshot.sid,
                "ns": snapshot.namespace,
                "rooms": list(snapshot.rooms),
                "session": snapshot.session,
                "first": snapshot.first_offset,
                "received": snapshot.received,
                "at": snapshot.disconnected_at,
            }
        )
        ttl = max(1, int(self.options.max_disconnection_duration * 1000))
        try:
            self._redis.set(self._snap_prefix + snapshot.pid, data, px=ttl)
        except self._errors as exc:
            self._logger.warning("cannot keep %s for recovery (%s)", snapshot.sid, exc)
        except TypeError as exc:
            self._logger.warning(
                "cannot keep %s for recovery: its session does not serialize (%s)",
                snapshot.sid,
                exc,
            )

    def left(self, pid: str) -> None:
        try:
            self._redis.delete(self._live_prefix + pid)
        except self._errors as exc:
            self._logger.debug("cannot forget a recoverable client in Redis (%s)", exc)

    def take(self, pid: str) -> Snapshot | None:
        try:
            data = self._redis.getdel(self._snap_prefix + pid)
        except self._errors as exc:
            self._logger.warning("cannot look up a client to recover (%s)", exc)
            return None
        fields = unpack(data) if isinstance(data, bytes) else None
        if fields is None:
            return None
        try:
            return Snapshot(
                pid=str(fields["pid"]),
                sid=str(fields["sid"]),
                namespace=str(fields["ns"]),
                rooms=[str(room) for room in fields["rooms"]],
                session=dict(fields["session"]),
                first_offset=fields["first"],
                received=int(fields["received"]),
                disconnected_at=float(fields["at"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def take_elsewhere(self, pid: str) -> Snapshot | None:
        """Have the process still serving ``pid`` let it go; its snapshot then."""
        try:
            holder = self._redis.get(self._live_prefix + pid)
        except self._errors:
            return None
        if holder is None or _text(holder) == self._node:
            return None
        if not self._manager.ask_takeover(_text(holder), pid):
            return None
        deadline = time.monotonic() + TAKEOVER_TIMEOUT
        while time.monotonic() < deadline:
            snapshot = self.take(pid)
            if snapshot is not None:
                return snapshot
            self._mode.sleep(0.02)
        return None

    def attach(self, take_over: Callable[[str], None]) -> None:
        self._take_over = take_over

    def _on_takeover(self, pid: str) -> None:
        if self._take_over is not None:
            # Not on the broker's listener: letting go waits for the
            # socket's disconnect handler.
            self._mode.spawn(self._take_over, pid)

    def close(self) -> None:
        self._closed = True
