"""The deployment's ordered log in a Redis Stream, as the managers see it.

With connection state recovery on and a Redis message queue, every event
emitted without a callback, and every room change that concerns other
processes, goes through one Redis Stream that every process reads in the
same order (the recovery log, :mod:`realtime.socketio.recovery.redis_log`,
which lives above the managers). This module holds what the managers'
floor needs of it: the keys, the :class:`StreamWriter` of a write-only
process (an emitter), and :class:`OrderedLog`, what a manager asks of the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from realtime.exceptions import BrokerUnavailable
from realtime.socketio.managers.broker_link import pack

if TYPE_CHECKING:
    from realtime.engine.outgoing import Outgoing
    from realtime.protocol.engineio import EngineSid
    from realtime.protocol.parsers import Parser
    from realtime.protocol.socketio import SioPacket, SocketSid
    from realtime.socketio.managers.broker_link import BrokerLink
    from realtime.socketio.managers.brokers import Broker
    from realtime.socketio.managers.outbox import OutboxOptions
    from realtime.socketio.managers.queries import Queries

__all__ = [
    "MARK_CHECK",
    "MARK_TTL",
    "OrderedLog",
    "OrderedLogHost",
    "StreamWriter",
    "stream_keys",
]

#: Seconds the ``on`` mark lives unless a server refreshes it.
MARK_TTL = 30
#: Seconds an emitter trusts what it last learnt of the mark.
MARK_CHECK = 5.0


def stream_keys(channel: str) -> tuple[str, str]:
    """The stream and the ``on`` mark of a deployment's channel."""
    return f"{channel}:recovery:log", f"{channel}:recovery:on"


class StreamWriter:
    """How a write-only emitter reaches a deployment that has recovery on.

    Args:
        client: a ``redis.Redis`` client.
        channel: the deployment's channel.
        errors: the base class of the client's errors.
        where: the broker's address, for error messages.
    """

    def __init__(
        self,
        client: Any,
        channel: str,
        errors: type[Exception] = Exception,
        where: str = "Redis",
    ) -> None:
        self._redis = client
        self._stream, self._mark = stream_keys(channel)
        self._errors = errors
        self._where = where
        self._checked = -MARK_CHECK
        self._active = False

    @classmethod
    def on(cls, broker: Broker, channel: str) -> StreamWriter | None:
        """The writer for ``broker``'s deployment; None if the broker is not Redis."""
        client = getattr(broker, "client", None)
        if client is None:
            return None
        errors: type[Exception] = getattr(broker, "errors", Exception)
        return cls(client, channel, errors, broker.describe())

    def append_if_read(self, message: dict[str, Any]) -> bool:
        """Append ``message`` if the deployment's servers read the stream; False if not.

        Raises:
            BrokerUnavailable: Redis cannot be reached.
        """
        try:
            if not self.active():
                return False
            self.append(message)
        except self._errors as exc:
            raise BrokerUnavailable(f"cannot append to {self._where}: {exc}") from exc
        return True

    def active(self) -> bool:
        """Whether the deployment's servers read the stream (checked every few seconds).

        Raises:
            redis.RedisError: Redis cannot be reached.
        """
        now = time.monotonic()
        if now - self._checked >= MARK_CHECK:
            self._active = bool(self._redis.exists(self._mark))
            self._checked = now
        return self._active

    def append(self, message: dict[str, Any]) -> None:
        """Append an event (``ns``, ``rooms``, ``exclude``, ``fmt``, ``parts``).

        Raises:
            redis.RedisError: Redis cannot be reached.
        """
        self._redis.xadd(self._stream, {"m": pack(message)})


class OrderedLog(Protocol):
    """A log every process reads in the same order (the recovery log, in Redis).

    See :meth:`~realtime.socketio.managers.pubsub.PubSubManager.use_ordered_log`.
    """

    def append(self, message: dict[str, Any]) -> bool:
        """Append a room change; False if it could not be."""

    def catch_up(self) -> None:
        """Deliver to this process's clients what it appended and has not read yet."""

    def deliver_volatile(self, message: dict[str, Any]) -> None:
        """Deliver another process's volatile event (an ``m.emit``, not in the
        log) to this process's clients, in order with the log."""


class OrderedLogHost(Protocol):
    """What a manager offers the ordered log that reads the stream for it."""

    channel: str
    logger: logging.Logger
    outbox_options: OutboxOptions

    @property
    def link(self) -> BrokerLink:
        """The manager's link to the broker (Redis)."""

    @property
    def parser(self) -> Parser:
        """The packet format of this process's clients."""

    def use_ordered_log(self, log: OrderedLog) -> None:
        """Send room changes through ``log`` from now on."""

    def warn(self, text: str, *args: Any) -> None:
        """Log a warning about the broker, now and then."""

    def broadcast_here(
        self,
        namespace: str,
        outgoing: Outgoing,
        rooms: Sequence[str] | None = None,
        exclude: Iterable[str] = (),
    ) -> list[SocketSid]:
        """Deliver to this process's clients only."""

    def broadcast_elsewhere(
        self,
        namespace: str,
        outgoing: Outgoing,
        rooms: Sequence[str] | None = None,
        exclude: Iterable[str] = (),
    ) -> None:
        """Deliver to the other processes' clients only."""

    def members(
        self, namespace: str, rooms: Sequence[str] | None = None
    ) -> list[tuple[SocketSid, EngineSid]]:
        """This process's connections in any of ``rooms`` of ``namespace``."""

    def apply_ordered(self, message: dict[str, Any]) -> None:
        """Apply a room change read from the log to this process's clients."""

    def decode_packet(self, message: dict[str, Any]) -> SioPacket | None:
        """The event a log entry holds; None if it holds none."""

    def moved_here(self, sid: str) -> None:
        """Client ``sid`` came back on this process."""

    @property
    def queries(self) -> Queries:
        """Questions to every other process, and this one's answers."""
