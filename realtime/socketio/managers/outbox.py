"""What a process publishes to the others while the broker is away: kept, in order.

A broadcast, ``close_room``, or a room change for another process's client
goes to the broker at once when it can. When it cannot (the broker is down,
restarting, failing over), the message waits in this process's
:class:`Outbox`, and so does every later one (nothing overtakes), until the
broker takes them again; then they go out in order. Each carries this
process's sequence number (``seq``), so a message sent twice (a publish
that failed after the broker had it) is handled once
(:class:`Deduplicator`). The outbox is bounded (:class:`OutboxOptions`):
past the bound the oldest messages are dropped, and the log says how many.
"""

from __future__ import annotations

import collections
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from realtime.exceptions import BrokerUnavailable, ConfigurationError

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode

__all__ = ["Deduplicator", "Outbox", "OutboxOptions"]

_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 2.0
#: Seconds between two reports of messages dropped from a full outbox.
DROP_REPORT_INTERVAL = 10.0
#: Sequence numbers remembered per process, to recognise a message sent twice.
_WINDOW = 4096
#: Processes remembered (the oldest heard of are forgotten first).
_ORIGINS = 1024


@dataclass(frozen=True)
class OutboxOptions:
    """Bounds of what a process keeps for the others while the broker is away.

    Attributes:
        max_messages: messages waiting, at most.
        max_bytes: bytes of event payloads waiting, at most.
    """

    max_messages: int = 10_000
    max_bytes: int = 16 * 1024 * 1024

    @classmethod
    def from_option(cls, value: Any) -> OutboxOptions:
        """None for the defaults, a mapping of these fields, or an instance.

        Raises:
            ConfigurationError: anything else, or a bound that is not positive.
        """
        if value is None:
            return cls()
        if isinstance(value, cls):
            options = value
        elif isinstance(value, Mapping):
            unknown = set(value) - {"max_messages", "max_bytes"}
            if unknown:
                raise ConfigurationError(f"outbox: unknown option(s) {', '.join(sorted(unknown))}")
            options = cls(**value)
        else:
            raise ConfigurationError("outbox must be a dict of options")
        if options.max_messages <= 0 or options.max_bytes <= 0:
            raise ConfigurationError("outbox: every bound must be positive")
        return options


#: Sends one message now: to every process (node None) or to one; False if
#: some process that should have got it did not (it is sent again later).
Send = Callable[[str | None, dict[str, Any]], bool]


class Outbox:
    """Sends messages in order, keeping them while the broker is away.

    Args:
        send: publishes one message; raises
            :class:`~realtime.exceptions.BrokerUnavailable` when it cannot, and
            returns False when a process that should have got it did not
            (resubscribing after an outage, say): it is sent again.
        mode: the async mode (a task to send what waits).
        options: the bounds.
        logger: where waiting and dropping are reported.
    """

    def __init__(
        self, send: Send, mode: AsyncMode, options: OutboxOptions, logger: logging.Logger
    ) -> None:
        self._send = send
        self._mode = mode
        self._options = options
        self._logger = logger
        self._lock = mode.lock()
        self._wake = mode.event()
        self._waiting: collections.deque[tuple[str | None, dict[str, Any], int]] = (
            collections.deque()
        )
        self._bytes = 0
        self._seqs = itertools.count(1)
        self._closed = False
        self._running = False
        self._dropped_since_report = 0
        self._last_drop_report = -DROP_REPORT_INTERVAL

    def post(self, node: str | None, message: dict[str, Any]) -> None:
        """Send ``message`` to every process (``node`` None) or to ``node``, in order."""
        size = sum(len(part) for part in message.get("parts", ()))
        with self._lock:
            message["seq"] = next(self._seqs)
            if not self._waiting:
                try:
                    if self._send(node, message):
                        return
                except BrokerUnavailable as exc:
                    self._logger.warning(
                        "cannot reach the other server processes (%s); what is sent to "
                        "them waits until the broker is back",
                        exc,
                    )
            self._waiting.append((node, message, size))
            self._bytes += size
            dropped = self._bound_locked()
            start = not self._running
            self._running = True
        if dropped:
            self._report_dropped(dropped)
        if start:
            self._mode.spawn(self._drain)
        self._wake.set()

    def _report_dropped(self, dropped: int) -> None:
        """Say what was dropped: at once, then at most every DROP_REPORT_INTERVAL s."""
        self._dropped_since_report += dropped
        now = time.monotonic()
        if now - self._last_drop_report < DROP_REPORT_INTERVAL:
            return
        self._logger.error(
            "the outbox to the other server processes is full (%s messages, %s bytes): "
            "dropped the %s oldest; the other processes' clients never get them",
            self._options.max_messages,
            self._options.max_bytes,
            self._dropped_since_report,
        )
        self._dropped_since_report = 0
        self._last_drop_report = now

    @property
    def waiting(self) -> int:
        """Messages waiting for the broker."""
        return len(self._waiting)

    def _bound_locked(self) -> int:
        options, waiting, dropped = self._options, self._waiting, 0
        while len(waiting) > 1 and (
            len(waiting) > options.max_messages or self._bytes > options.max_bytes
        ):
            _, _, size = waiting.popleft()
            self._bytes -= size
            dropped += 1
        return dropped

    def _drain(self) -> None:
        backoff = _FIRST_BACKOFF
        while not self._stopping():
            with self._lock:
                if not self._waiting:
                    self._running = False
                    self._logger.warning("the broker took what waited for it")
                    return
                node, message, size = self._waiting[0]
            try:
                delivered = self._send(node, message)
            except BrokerUnavailable:
                delivered = False
            if not delivered:
                self._wake.wait(backoff)
                self._wake.clear()
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            backoff = _FIRST_BACKOFF
            with self._lock:
                if self._waiting and self._waiting[0][1] is message:
                    self._waiting.popleft()
                    self._bytes -= size

    def _stopping(self) -> bool:
        # A method, not the attribute: close() flips it from another task.
        return self._closed

    def close(self) -> None:
        """Stop sending (what waits is lost)."""
        self._closed = True
        self._wake.set()


class Deduplicator:
    """Recognises a message a process sent twice, by its ``seq``."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[set[int], collections.deque[int]]] = {}

    def first_time(self, origin: str, seq: Any) -> bool:
        """False if ``origin``'s message ``seq`` was seen already."""
        if not isinstance(seq, int):
            return True
        seen = self._seen.get(origin)
        if seen is None:
            if len(self._seen) >= _ORIGINS:
                del self._seen[next(iter(self._seen))]
            seen = self._seen[origin] = (set(), collections.deque())
        numbers, order = seen
        if seq in numbers:
            return False
        numbers.add(seq)
        order.append(seq)
        if len(order) > _WINDOW:
            numbers.discard(order.popleft())
        return True
