"""Connection state recovery across the processes of a deployment, in Redis.

With ``message_queue`` set, a client that drops may come back to any
process, so the log of recoverable events lives in Redis, where every
process reads it:

- ``<channel>:recovery:log``, a Redis Stream: every event the servers emit
  without an acknowledgement is appended there (by each process's
  :class:`~realtime.socketio.recovery.redis_appender.Appender`: in order,
  once each, through outages), and its entry id (``<ms>-<seq>``) is its
  offset. Each process reads the whole stream (``XREAD``) and delivers the
  entries to its own clients, so every client of every process receives
  events in offset order; it also keeps what it read (a
  :class:`~realtime.socketio.recovery.journal.Journal`) to replay it to
  clients that come back, whatever became of Redis meanwhile. The stream is
  trimmed to ``max_packets`` entries and ``max_disconnection_duration``
  seconds. Room changes that concern other processes (``enter_room``,
  ``leave_room`` and ``disconnect`` of their clients, ``close_room``) go
  through the stream too, so they stay in order with the events around
  them; before a process changes the rooms of its own clients it delivers
  what it appended and has not read back yet (:meth:`RedisRecoveryLog.catch_up`),
  so an event emitted before ``leave_room`` still reaches the client that
  leaves.
- ``<channel>:recovery:rec:<pid>``: the state of each recoverable socket,
  written by the process that serves it as it changes
  (:mod:`realtime.socketio.recovery.redis_records`), so that it survives
  that process.
- ``<channel>:recovery:seq:<node>``: the last entry each process appended.
- ``<channel>:recovery:epoch`` and ``...:since``: a value that changes when
  Redis loses its data, and the stream position from which the stream holds
  everything since.

While Redis cannot be reached, a process still serves its own clients: what
it emits is delivered to them at once, and waits in the appender's outbox
to be appended when Redis is back; when it is read back, this process does
not deliver it again. The offsets of events delivered that way say so
(:mod:`realtime.socketio.recovery.offsets`): a client that comes back with
one is replayed what came after, less that process's events it has.

A client that comes back is resumed where it lands: if another process
holds its socket (connected or dropped), that process hands it over; if
the process that held it is gone, its record in Redis is taken over
(:mod:`realtime.socketio.recovery.handover`).

While recovery is on, the servers keep ``<channel>:recovery:on`` alive, so
that a write-only :class:`realtime.Emitter` appends its events to the stream
too (:class:`~realtime.socketio.managers.ordered_log.StreamWriter`): in a
deployment with recovery every event a client receives carries an offset.
"""

from __future__ import annotations

import heapq
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from realtime.exceptions import BrokerUnavailable, ConfigurationError
from realtime.socketio.managers.broker_link import unpack
from realtime.socketio.managers.ordered_log import MARK_TTL, stream_keys
from realtime.socketio.recovery import gaps
from realtime.socketio.recovery.handover import Handover
from realtime.socketio.recovery.journal import Entry, Journal, Position, Skip
from realtime.socketio.recovery.log import RecoveryLog
from realtime.socketio.recovery.offsets import parse_offset, stream_id, text
from realtime.socketio.recovery.options import Snapshot, matches
from realtime.socketio.recovery.redis_appender import APPEND_WAIT, Appender
from realtime.socketio.recovery.redis_records import RecordStore

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.engine.outgoing import Outgoing
    from realtime.protocol.socketio import SioPacket
    from realtime.socketio.managers.ordered_log import OrderedLogHost
    from realtime.socketio.recovery.options import RecoveryOptions

__all__ = ["RedisRecoveryLog"]

#: Milliseconds an XREAD waits for entries before it looks again.
_BLOCK_MS = 1000
#: Entries read at once.
_BATCH = 512
#: Seconds between two trims of the stream by age.
_TRIM_INTERVAL = 5.0
_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 1.0
#: Seconds after Redis lost its data during which clients from offsets this
#: process has not read are asked to come back (the entries are appended again).
_SETTLING = 15.0
#: Seconds a resumed socket is remembered against entries appended again.
_RESUMED_MEMORY = 30.0
_EVENT_FIELDS = frozenset({"ns", "rooms", "exclude", "fmt", "parts"})


def _aged(position: Position, emitted_at: Any) -> bool:
    """Whether an entry reached the stream over :data:`APPEND_WAIT` after its
    emission: its process served it first, so it is late, marked or not."""
    return isinstance(emitted_at, int) and position[0] - emitted_at > APPEND_WAIT * 1000


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
        client = getattr(link.broker, "client", None)
        if client is None:
            raise ConfigurationError(
                "connection_state_recovery with a message_queue needs Redis "
                "(redis://, rediss:// or unix://)"
            )
        self._redis = client
        self._errors: type[Exception] = link.broker.errors  # type: ignore[attr-defined]
        self._mode = mode
        self._prepare = prepare
        self._manager = manager
        self._node = link.node_id
        self._logger = manager.logger
        prefix = f"{manager.channel}:recovery"
        self._stream, self._mark = stream_keys(manager.channel)
        self._epoch_key, self._since_key = f"{prefix}:epoch", f"{prefix}:since"
        self._lock = mode.rlock()
        self._closed = False
        self._last_trim = 0.0
        self._position = self._last_id()
        self._journal = Journal(options, stream_id(self._position) or (0, 0))
        # Per process (node id), the highest entry number read from it.
        self._seen: dict[str, int] = {}
        # This process's entries it delivered itself (Redis being away) and
        # has not read back yet (a heap), and the highest of them. Entries
        # the outbox dropped stay until a later one of ours is read: one
        # that was on its way when it was dropped may still come back.
        self._pending_local: list[int] = []
        self._local_max = 0
        self._local_count = 0
        # Per process, sockets resumed here that have its entries up to a
        # number already (see _already_has).
        self._has: dict[str, list[tuple[str, int]]] = {}
        # Where the log stood when each fresh socket of this process joined
        # (see _joined_since).
        self._joined_at: dict[str, int] = {}
        # Sockets resumed here lately, from where (see _resumed_past).
        self._resumed_at: dict[str, tuple[Position, float]] = {}
        # When this process last found Redis's data lost (see resume).
        self._epoch_changed = 0.0
        self._epoch = self._join_epoch()
        self._keep_mark()
        key_ttl = int(max(options.max_disconnection_duration * 2, 3600))
        self._appender = Appender(
            client,
            self._errors,
            self._stream,
            f"{prefix}:seq:{self._node}",
            self._node,
            mode,
            max_len=options.max_packets,
            key_ttl=key_ttl,
            outbox=manager.outbox_options,
            logger=self._logger,
        )
        self._records = RecordStore(
            client,
            self._errors,
            prefix,
            self._node,
            mode,
            options.max_disconnection_duration,
            self._current,
            self._logger,
        )
        self._handover = Handover(
            manager.queries,
            manager.link,
            self._records,
            self._node,
            self._errors,
            mode,
            self._let_go,
            self._logger,
        )
        manager.use_ordered_log(self)
        mode.spawn(self._read)

    # -- emitting ----------------------------------------------------------------

    def emit(
        self,
        namespace: str,
        packet: SioPacket,
        rooms: Sequence[str] | None,
        exclude: Iterable[str],
    ) -> None:
        message = {
            "ns": namespace,
            "rooms": None if rooms is None else list(rooms),
            "exclude": list(exclude),
            "fmt": self._manager.parser.name,
            "parts": [p.data for p in self._prepare(packet).packets],
            # When it was emitted (see _joined_since).
            "t": self._clock(),
        }
        appended = self._appender.append(message)
        if appended.entry_id is None:
            self._serve_locally(appended.seq, message)

    def append(self, message: dict[str, Any]) -> bool:
        """Append a room change (the managers' :class:`OrderedLog` side)."""
        appended = self._appender.append(message)
        if appended.entry_id is None:
            self._serve_locally(appended.seq, message)
        return True

    def _serve_locally(self, seq: int, message: dict[str, Any]) -> None:
        """Redis is away: apply this process's entry ``seq`` here now, once."""
        with self._lock:
            if self._seen.get(self._node, 0) >= seq:
                return  # read back already (the append went through after all)
            heapq.heappush(self._pending_local, seq)
            self._local_max = max(self._local_max, seq)
            if "op" in message:
                self._apply(message)
                return
            # Kept in the journal after what was read last, until its copy is read.
            self._local_count += 1
            position = (*self._position_id(), self._local_count)
            self._deliver_event(message, position, self._offset(self._position), self._node, seq)

    def catch_up(self) -> None:
        """Deliver to this process's clients what it appended and has not read yet."""
        if self._appender.last_id <= self._position_id():
            return
        with self._lock:
            self._catch_up_locked()

    def _catch_up_locked(self) -> None:
        last = self._appender.last_id
        if last <= self._position_id():
            return
        try:
            entries = self._redis.xrange(
                self._stream, min=f"({self._position}", max=f"{last[0]}-{last[1]}"
            )
        except self._errors as exc:
            self._logger.warning("cannot read the recovery log (%s)", exc)
            return
        for entry_id, fields in entries:
            self._read_entry(text(entry_id), fields)

    # -- reading -------------------------------------------------------------------

    def _position_id(self) -> tuple[int, int]:
        return stream_id(self._position) or (0, 0)

    def _offset(self, position: str) -> str:
        """The offset of what is delivered at ``position`` (see the module's notes)."""
        if self._pending_local:
            return f"{position}~{self._node}~{self._local_max}"
        return position

    def _read(self) -> None:
        backoff = _FIRST_BACKOFF
        failed = False
        while not self._stopping():
            try:
                if failed:
                    self._after_outage()
                reply = self._redis.xread(
                    {self._stream: self._position}, count=_BATCH, block=_BLOCK_MS
                )
                self._trim_by_age()
            except self._errors as exc:
                if self._stopping():
                    return
                if not failed:
                    self._logger.warning("cannot read the recovery log (%s); retrying", exc)
                failed = True
                self._mode.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            except Exception:
                self._logger.exception("error reading the recovery log")
                self._mode.sleep(_MAX_BACKOFF)
                continue
            if failed:
                self._logger.warning("reading the recovery log again")
            failed, backoff = False, _FIRST_BACKOFF
            for _, entries in reply or ():
                with self._lock:
                    for entry_id, fields in entries:
                        self._read_entry(text(entry_id), fields)

    def _stopping(self) -> bool:
        # A method, not the attribute: close() flips it from another task.
        return self._closed

    def _read_entry(self, entry_id: str, fields: dict[Any, Any]) -> None:
        """Deliver one entry to this process's clients, once; the caller holds the lock."""
        number = stream_id(entry_id)
        if number is None or number <= self._position_id():
            return  # read already, by a catch-up
        self._position = entry_id
        try:
            data = fields.get(b"m", fields.get("m"))
            message = unpack(data) if isinstance(data, bytes) else None
            if message is None:
                return
            origin, seq = message.get("o"), message.get("s")
            if isinstance(origin, str) and isinstance(seq, int):
                if seq <= self._seen.get(origin, 0):
                    return  # appended again after an error: read already
                self._seen[origin] = seq
                if origin == self._node and self._read_back(seq):
                    # Delivered here when it could not be appended.
                    if not gaps.is_gap(message):
                        self._journal.supersede(seq)
                        if "op" not in message:
                            self._keep(message, number, entry_id, origin, seq)
                    return
            else:
                origin, seq = None, None
            if "op" in message:
                if "ns" in message:
                    self._apply(message)
            elif gaps.is_gap(message):
                self._gap(message, number, origin)
            elif message.keys() >= _EVENT_FIELDS:
                self._deliver_event(message, number, self._offset(entry_id), origin, seq)
        except Exception:
            self._logger.exception("could not deliver recovery log entry %s", entry_id)

    def _read_back(self, seq: int) -> bool:
        """This process's entry ``seq`` was read: whether it delivered it itself.

        Ours come back in order, so those before it that are still pending
        never will (the outbox dropped them).
        """
        pending = self._pending_local
        while pending and pending[0] < seq:
            heapq.heappop(pending)
        if pending and pending[0] == seq:
            heapq.heappop(pending)
            return True
        return False

    def _apply(self, message: dict[str, Any]) -> None:
        self._manager.apply_ordered(message)

    def _deliver_event(
        self,
        message: dict[str, Any],
        position: Position,
        offset: str,
        origin: str | None,
        seq: int | None,
    ) -> None:
        entry = self._entry(message, position, offset, origin, seq)
        if entry is None:
            return
        exclude = entry.exclude
        if origin is not None and seq is not None and origin in self._has:
            exclude = exclude | self._already_has(origin, seq)
        emitted_at = message.get("t")
        if self._joined_at and (
            message.get("late") or entry.original is not None or _aged(position, emitted_at)
        ):
            # Late (served before it was appended), or appended again (read
            # as new where the first copy was not): not for later joiners.
            exclude = exclude | self._joined_since(entry, emitted_at)
        if entry.original is not None and self._resumed_at:
            exclude = exclude | self._resumed_past(entry)
        self._manager.broadcast_here(entry.namespace, entry.outgoing, entry.rooms, exclude)

    def _joined_since(self, entry: Entry, emitted_at: Any) -> set[str]:
        """The fresh sockets of this process that joined after the entry was
        emitted (it waited in its process's outbox, or is appended again):
        it was not meant for them; the caller holds the lock.

        "After" by :meth:`_clock`: stream positions alone cannot say, since
        during an outage every process's position stands still, and a
        process that started on an empty stream has none.
        """
        if not isinstance(emitted_at, int):
            return set()
        members = self._manager.members(entry.namespace, entry.rooms)
        return {sid for sid, _ in members if self._joined_at.get(sid, 0) > emitted_at}

    def _clock(self) -> int:
        """Milliseconds: the wall clock, never behind the stream position read
        (whose ids are Redis's clock). Processes compare these across hosts,
        so their clocks must agree within a few milliseconds (NTP)."""
        return max(time.time_ns() // 1_000_000, self._position_id()[0])

    def _resumed_past(self, entry: Entry) -> set[str]:
        """The sockets resumed here from an offset past where this entry first
        stood (it was appended again since): they have it; the caller holds the lock."""
        now, original = time.monotonic(), entry.original
        for sid in [s for s, (_, at) in self._resumed_at.items() if now - at > _RESUMED_MEMORY]:
            del self._resumed_at[sid]
        return {
            sid
            for sid, (start, _) in self._resumed_at.items()
            if original is not None and start >= original
        }

    def _already_has(self, origin: str, seq: int) -> set[str]:
        """The sockets resumed here that got ``origin``'s entry ``seq`` before
        (delivered by ``origin`` while Redis was away); the caller holds the lock."""
        filters = self._has[origin]
        have = {sid for sid, upto in filters if seq <= upto}
        remaining = [(sid, upto) for sid, upto in filters if upto > seq]
        if remaining:
            self._has[origin] = remaining
        else:
            del self._has[origin]
        return have

    def _keep(
        self, message: dict[str, Any], position: Position, offset: str, origin: str, seq: int
    ) -> None:
        """Keep an entry for replay without delivering it."""
        self._entry(message, position, offset, origin, seq)

    def _entry(
        self,
        message: dict[str, Any],
        position: Position,
        offset: str,
        origin: str | None,
        seq: int | None,
    ) -> Entry | None:
        """The event with its offset as a last argument, encoded once, kept in the journal."""
        packet = self._manager.decode_packet(message)
        if packet is None:
            return None
        outgoing = self._prepare(packet.with_data([*packet.data, offset]))
        rooms = message["rooms"]
        entry = Entry(
            position,
            str(message["ns"]),
            None if rooms is None else tuple(str(r) for r in rooms),
            frozenset(str(s) for s in message["exclude"]),
            outgoing,
            sum(len(p.data) for p in outgoing.packets),
            time.monotonic(),
            origin,
            seq,
            local=len(position) > 2,
            original=stream_id(message["i"]) if isinstance(message.get("i"), str) else None,
        )
        self._journal.append(entry, entry.at)
        return entry

    def _gap(self, message: dict[str, Any], position: Position, origin: str | None) -> None:
        """Events another process could not append: whoever missed them must know."""
        if origin == self._node:
            return  # this process's clients got them
        for namespace, rooms in gaps.lost_in(message):
            self._journal.mark_lost(namespace, rooms, position, time.monotonic())
            self.host.cut_off(namespace, rooms)

    def _after_outage(self) -> None:
        """Redis answers again: if it lost its data, write back what this process holds."""
        epoch = self._redis.get(self._epoch_key)
        if epoch is not None and text(epoch) == self._epoch:
            return
        self._logger.warning(
            "Redis lost the recovery state (restarted empty, or a failover); writing it again"
        )
        self._epoch = self._join_epoch()
        self._epoch_changed = time.monotonic()
        self._records.rewrite_all()
        self._keep_mark()

    def _join_epoch(self) -> str:
        """The current epoch of Redis's data, starting one if there is none."""
        try:
            self._redis.set(self._epoch_key, secrets.token_hex(8), nx=True)
            self._redis.set(self._since_key, self._position, nx=True)
            epoch = self._redis.get(self._epoch_key)
        except self._errors as exc:
            self._logger.warning("cannot reach Redis for recovery (%s)", exc)
            return ""
        return text(epoch) if epoch is not None else ""

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
        return text(last[0][0]) if last else "0-0"

    # -- sockets joining and resuming ---------------------------------------------

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
            offset = self._offset(self._position)
            outgoing = self._prepare(packet.with_data([*packet.data, offset]))
            outgoing.volatile = volatile
            self._manager.broadcast_here(namespace, outgoing, rooms, exclude)

    def emit_volatile(
        self,
        namespace: str,
        packet: SioPacket,
        rooms: Sequence[str] | None,
        exclude: Iterable[str],
    ) -> None:
        excluded = list(exclude)
        self.emit_here(namespace, packet, rooms, excluded, volatile=True)
        outgoing = self._prepare(packet)
        outgoing.volatile = True
        self._manager.broadcast_elsewhere(namespace, outgoing, rooms, excluded)

    def deliver_volatile(self, message: dict[str, Any]) -> None:
        packet = self._manager.decode_packet(message)
        if packet is not None:
            rooms, exclude = message.get("rooms"), message.get("exclude") or ()
            self.emit_here(message["ns"], packet, rooms, exclude, volatile=True)

    def join(self, sid: str, add: Callable[[], None]) -> str | None:
        with self._lock:
            add()
            self._joined_at[sid] = self._clock()
            return self._offset(self._position)

    def resume(
        self, snapshot: Snapshot, offset: str | None, add: Callable[[], None]
    ) -> list[Outgoing] | None:
        parsed = parse_offset(offset if offset is not None else snapshot.first_offset or "0-0")
        if parsed is None:
            return None
        start, node, upto = parsed

        def has(origin: str | None, seq: int | None) -> bool:
            """Whether the client has this entry: node's own, delivered before it dropped."""
            return origin == node and seq is not None and seq <= upto

        with self._lock:
            self._catch_up_locked()
            if start > self._position_id():
                # Read elsewhere, not here yet: read up to it first.
                self._read_up_to(start)
                if start > self._position_id():
                    try:
                        self._after_outage()
                    except self._errors as exc:
                        raise BrokerUnavailable(f"cannot reach the recovery log: {exc}") from exc
                    if time.monotonic() - self._epoch_changed < _SETTLING:
                        # Redis lost the stream lately: what this process had
                        # not read of it comes back as it is appended again.
                        raise BrokerUnavailable("the recovery log is being rebuilt")
                    return None  # not an offset of this log
            missed = self._journal.since(start, snapshot, has)
            if missed is None and not self._journal.covers(start):
                missed = self._from_redis(start, snapshot, has)
            if missed is None:
                return None
            add()
            if node is not None and node != self._node and upto > self._seen.get(node, 0):
                # What node delivered itself and has not appended yet: when it
                # arrives, this socket has it already.
                self._has.setdefault(node, []).append((snapshot.sid, upto))
            self._resumed_at[snapshot.sid] = (start, time.monotonic())
        self._manager.moved_here(snapshot.sid)
        return missed

    def _read_up_to(self, position: Position) -> None:
        """Read the stream up to ``position`` now; the caller holds the lock.

        Raises:
            BrokerUnavailable: Redis cannot be reached (the client may try again).
        """
        try:
            entries = self._redis.xrange(
                self._stream, min=f"({self._position}", max=f"{position[0]}-{position[1]}"
            )
        except self._errors as exc:
            raise BrokerUnavailable(f"cannot read the recovery log: {exc}") from exc
        for entry_id, fields in entries:
            self._read_entry(text(entry_id), fields)

    def _from_redis(self, start: Position, snapshot: Snapshot, has: Skip) -> list[Outgoing] | None:
        """What the journal does not reach back to, from the stream itself."""
        start_id = f"{start[0]}-{start[1]}"
        try:
            since = self._redis.get(self._since_key)
            if since is None or (stream_id(text(since)) or (0, 0)) > start:
                return None  # Redis lost entries after start
            if self._trimmed_after(start):
                return None
            entries = self._redis.xrange(self._stream, min=f"({start_id}", max=self._position)
        except self._errors as exc:
            self._logger.warning("cannot read the recovery log (%s)", exc)
            return None
        missed: list[Outgoing] = []
        seen: dict[str, int] = {}
        for entry_id, fields in entries:
            data = fields.get(b"m", fields.get("m"))
            message = unpack(data) if isinstance(data, bytes) else None
            if message is None or not message.keys() >= _EVENT_FIELDS:
                continue
            origin, seq = message.get("o"), message.get("s")
            if isinstance(origin, str) and isinstance(seq, int):
                if seq <= seen.get(origin, 0):
                    continue
                seen[origin] = seq
            original = stream_id(message["i"]) if isinstance(message.get("i"), str) else None
            if (
                has(origin, seq)
                or (original is not None and original <= start)
                or not matches(message["ns"], message["rooms"], message["exclude"], snapshot)
            ):
                continue
            packet = self._manager.decode_packet(message)
            if packet is not None:
                missed.append(self._prepare(packet.with_data([*packet.data, text(entry_id)])))
        return missed

    def _trimmed_after(self, start: Position) -> bool:
        """Whether an entry after ``start`` was trimmed from the stream."""
        try:
            info = self._redis.xinfo_stream(self._stream)
        except self._errors:
            return False  # no stream: nothing was ever trimmed
        deleted = info.get("max-deleted-entry-id")
        if deleted is not None:
            return (stream_id(text(deleted)) or (0, 0)) > start
        # Redis < 7 does not say; what is older than the first entry is gone.
        first = info.get("first-entry")
        return first is not None and (stream_id(text(first[0])) or (0, 0)) > start

    # -- the state of recoverable sockets ----------------------------------------------

    def connected(self, pid: str) -> None:
        self._records.connected(pid)

    def changed(self, pid: str, *, urgent: bool) -> None:
        self._records.changed(pid, urgent=urgent)

    def save(self, snapshot: Snapshot) -> None:
        self._joined_at.pop(snapshot.sid, None)
        self._records.dropped(snapshot)

    def left(self, pid: str, sid: str) -> None:
        self._joined_at.pop(sid, None)
        self._records.left(pid)

    def _current(self, pid: str) -> Snapshot | None:
        return self.host.current(pid)

    def _let_go(self, pid: str) -> None:
        self.host.let_go(pid)

    def take(self, pid: str) -> Snapshot | None:
        return self._handover.take(pid)

    def close(self) -> None:
        self._closed = True
        self._appender.close()
        self._records.close()
