"""How one process appends to the deployment's recovery log: in order, once each,
through broker outages and failovers.

Every entry this process appends (an event, a room change) gets the next
number of its own sequence (``s``) and this process's node id (``o``). One
task appends, in batches, with one Lua script per batch that skips what the
stream already has from this process (entries numbered up to the last one
recorded in ``<channel>:recovery:seq:<node>``), so a batch sent again after
an error the script may have survived is appended once. Callers wait for
their entry's batch (group commit): an entry is in Redis when ``append``
returns its id, so what the application acknowledged after an emit is in
the log even if this process dies the next moment.

When Redis cannot be reached, ``append`` returns at once without an id:
the entry waits in the *outbox*, in order, and the caller serves its own
clients meanwhile (see :mod:`realtime.socketio.recovery.redis_log`). The
outbox is bounded (:class:`~realtime.socketio.managers.outbox.OutboxOptions`);
past the bound, the oldest entries are dropped and reported. Entries appended in the last
:data:`RESUBMIT_WINDOW` seconds are kept too, and appended again (the
script skips those the stream has) after every error: a failover to a
replica that had not received them yet, or a Redis restarted empty, loses
none of them.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from realtime.socketio.managers.broker_link import pack
from realtime.socketio.recovery import gaps

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.async_modes.base import Event
    from realtime.socketio.managers.outbox import OutboxOptions

__all__ = ["APPEND_WAIT", "RESUBMIT_WINDOW", "Appended", "Appender"]

#: Seconds an appended entry is kept to be appended again after an error.
RESUBMIT_WINDOW = 10.0
#: Seconds a caller waits for its entry's batch before serving its own
#: clients as if Redis were away (the entry stays in the outbox).
APPEND_WAIT = 2.0
#: Seconds between two reports of entries dropped from a full outbox.
DROP_REPORT_INTERVAL = 10.0
#: Entries per script call, at most.
_BATCH = 256
_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 2.0

# KEYS: the stream, this process's sequence key. ARGV: MAXLEN, the sequence
# key's TTL in seconds, then (seq, data) pairs in order. Returns each entry's
# id, or false for one the stream already had.
_APPEND_SCRIPT = """
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local ids = {}
for i = 3, #ARGV, 2 do
  local seq = tonumber(ARGV[i])
  if seq > last then
    ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[i + 1])
    last = seq
  else
    ids[#ids + 1] = false
  end
end
redis.call('SET', KEYS[2], last, 'EX', ARGV[2])
return ids
"""


@dataclass(frozen=True)
class Appended:
    """What became of one entry: its number, and its stream id once in Redis."""

    seq: int
    entry_id: str | None


class _Item:
    __slots__ = ("data", "done", "entry_id", "message", "sent_at", "seq", "size")

    def __init__(self, seq: int, message: dict[str, Any], data: bytes, done: Event) -> None:
        self.seq = seq
        self.message = message
        self.data = data
        self.size = len(data)
        self.done = done
        self.entry_id: str | None = None
        self.sent_at = 0.0


class Appender:
    """Appends this process's entries to the stream (see the module's notes).

    Args:
        client: a ``redis.Redis`` client (cooperative in the async mode).
        errors: the base class of the client's errors.
        stream: the stream's key.
        seq_key: this process's sequence key.
        node: this process's node id.
        mode: the async mode.
        max_len: the stream's length bound (approximate trimming).
        key_ttl: seconds the sequence key outlives this process's last append.
        outbox: the outbox's bounds.
        logger: where trouble is reported.
    """

    def __init__(
        self,
        client: Any,
        errors: type[Exception],
        stream: str,
        seq_key: str,
        node: str,
        mode: AsyncMode,
        *,
        max_len: int,
        key_ttl: int,
        outbox: OutboxOptions,
        logger: logging.Logger,
    ) -> None:
        self._redis = client
        self._errors = errors
        self._keys = [stream, seq_key]
        self._node = node
        self._mode = mode
        self._max_len = max_len
        self._key_ttl = key_ttl
        self._outbox_options = outbox
        self._logger = logger
        self._script = client.register_script(_APPEND_SCRIPT)
        self._lock = mode.lock()
        self._wake = mode.event()
        self._next = 1
        self._outbox: collections.deque[_Item] = collections.deque()
        self._outbox_bytes = 0
        self._dropped_since_report = 0
        self._last_drop_report = -DROP_REPORT_INTERVAL
        self._recent: collections.deque[tuple[float, _Item]] = collections.deque()
        self._resubmit = False
        self._closed = False
        #: Redis could not be reached at the last try.
        self.down = False
        #: The newest stream id this process appended (as numbers).
        self.last_id: tuple[int, int] = (0, 0)
        mode.spawn(self._run)

    def append(self, message: dict[str, Any]) -> Appended:
        """Append ``message`` (its ``o`` and ``s`` are set here).

        Returns once it is in Redis (with its id), or at once (without one)
        when Redis is known to be away: it then waits in the outbox.
        """
        done = self._mode.event()
        with self._lock:
            seq = self._next
            self._next += 1
            message["o"], message["s"] = self._node, seq
            down = self.down
            if down:
                # The caller serves it at once: it goes out late (see the log).
                message["late"] = True
            item = _Item(seq, message, pack(message), done)
            self._outbox.append(item)
            self._outbox_bytes += item.size
            self._bound_locked()
        self._wake.set()
        if not down and not done.wait(APPEND_WAIT):
            with self._lock:
                if item.entry_id is None:
                    # Served by the caller now, so late if it goes out later
                    # (unless the batch holding it is on its way already: the
                    # readers then tell by its age, see the log).
                    self._mark_late_locked(item)
        return Appended(seq, item.entry_id)

    def _mark_late_locked(self, item: _Item) -> None:
        if not item.message.get("late"):
            item.message["late"] = True
            item.data = pack(item.message)
            self._outbox_bytes += len(item.data) - item.size
            item.size = len(item.data)

    def _bound_locked(self) -> None:
        """Drop the oldest waiting entries past the bounds; a gap takes their
        place (see :mod:`realtime.socketio.recovery.gaps`)."""
        options, outbox = self._outbox_options, self._outbox
        dropped: list[dict[str, Any]] = []
        last_seq = 0
        while len(outbox) > 1 and (
            len(outbox) > options.max_messages or self._outbox_bytes > options.max_bytes
        ):
            item = outbox.popleft()
            self._outbox_bytes -= item.size
            dropped.append(item.message)
            last_seq = item.seq
            item.done.set()
        if not dropped:
            return
        gap = gaps.merge(dropped)
        if gap is not None:
            # In their place, at the head: numbered as the last of them, so
            # that the sequence still rises along the stream.
            gap["o"], gap["s"] = self._node, last_seq
            item = _Item(last_seq, gap, pack(gap), self._mode.event())
            item.done.set()
            outbox.appendleft(item)
            self._outbox_bytes += item.size
        lost = sum(1 for message in dropped if not gaps.is_gap(message))
        self._dropped_since_report += lost
        now = time.monotonic()
        if self._dropped_since_report and now - self._last_drop_report >= DROP_REPORT_INTERVAL:
            self._logger.error(
                "the recovery log's outbox is full (%s entries, %s bytes): dropped %s "
                "entries Redis will never get; the other processes' clients in %s "
                "will be told they missed events",
                options.max_messages,
                options.max_bytes,
                self._dropped_since_report,
                _describe(gap),
            )
            self._dropped_since_report = 0
            self._last_drop_report = now

    @property
    def waiting(self) -> int:
        """Entries in the outbox."""
        return len(self._outbox)

    def _run(self) -> None:
        backoff = _FIRST_BACKOFF
        while not self._stopping():
            self._wake.wait(1.0)
            self._wake.clear()
            while not self._stopping():
                with self._lock:
                    batch = list(self._outbox)[:_BATCH]
                    again = self._due_again_locked() if self._resubmit else []
                if not batch and not again:
                    break
                try:
                    ids = self._send(again + batch)
                except Exception as exc:
                    if not isinstance(exc, self._errors):
                        self._logger.exception("error appending to the recovery log")
                    self._failed(exc)
                    self._mode.sleep(backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF)
                    continue
                backoff = _FIRST_BACKOFF
                self._succeeded(batch, ids[len(again) :])

    def _stopping(self) -> bool:
        # A method, not the attribute: close() flips it from another task.
        return self._closed

    def _due_again_locked(self) -> list[_Item]:
        limit = time.monotonic() - RESUBMIT_WINDOW
        recent = self._recent
        while recent and recent[0][0] < limit:
            recent.popleft()
        return [item for _, item in recent]

    def _send(self, items: list[_Item]) -> list[Any]:
        args: list[Any] = [self._max_len, self._key_ttl]
        for item in items:
            args += [item.seq, item.data]
        ids: list[Any] = self._script(keys=self._keys, args=args)
        return ids

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            first = not self.down
            self.down = True
            if not self._resubmit:
                for _, item in self._recent:
                    if item.entry_id is not None and "i" not in item.message:
                        # Appended again, it gets another id: readers must
                        # know where it stood (a client may have it already).
                        item.message["i"] = item.entry_id
                        item.data = pack(item.message)
            self._resubmit = True
            waiting = list(self._outbox)
            for item in waiting:
                # It goes out late: the readers must know (see the log).
                self._mark_late_locked(item)
        if first:
            self._logger.warning(
                "cannot append to the recovery log (%s); serving local clients, "
                "%s entries wait in the outbox",
                exc,
                len(waiting),
            )
        for item in waiting:
            item.done.set()  # they serve their own clients meanwhile

    def _succeeded(self, batch: list[_Item], ids: list[Any]) -> None:
        now = time.monotonic()
        with self._lock:
            if self.down:
                self._logger.warning("appending to the recovery log again")
            self.down = False
            self._resubmit = False
            for item, entry_id in zip(batch, ids, strict=False):
                if self._outbox and self._outbox[0] is item:
                    self._outbox.popleft()
                    self._outbox_bytes -= item.size
                if entry_id is not None:
                    text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                    item.entry_id = text
                    ms, _, seq = text.partition("-")
                    self.last_id = max(self.last_id, (int(ms), int(seq)))
                item.sent_at = now
                self._recent.append((now, item))
                item.done.set()
            self._due_again_locked()

    def close(self) -> None:
        """Stop appending (what waits in the outbox is lost)."""
        self._closed = True
        self._wake.set()


def _describe(gap: dict[str, Any] | None) -> str:
    """The rooms a gap names, for the log."""
    if gap is None:
        return "no room (only room changes were dropped)"
    return "; ".join(
        f"namespace {namespace}: "
        + ("every room" if rooms is None else ", ".join(rooms[:10]))
        + ("" if rooms is None or len(rooms) <= 10 else f" and {len(rooms) - 10} more")
        for namespace, rooms in gaps.lost_in(gap)
    )
