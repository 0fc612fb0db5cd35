"""The link between the server processes of a deployment, over a broker.

Each process listens on ``<channel>:node:<node id>`` for messages addressed
to it, and (with ``fanout``) on ``<channel>`` for messages to every process.
Both channels are one subscription, so what one process publishes reaches
another in the order it was published, whichever of the two channels it
took. Messages are msgpack maps with a version field (``"v": 1``) and an
``op``; nothing crosses the broker as pickle. Ops starting with ``m.`` are
the messaging layer's (see :mod:`realtime.socketio.managers.pubsub`), the
others the engine's (see :mod:`realtime.engine.forwarding`).

A process whose link has a :class:`BrokerMonitor` (metrics) stamps what it
publishes with the wall-clock time (``"sent"``, seconds), so that a receiver
can tell how long a message took; other processes ignore the field.

Liveness: every listening process publishes ``{"op": "alive"}`` to every
process each :data:`HEARTBEAT_INTERVAL` seconds, and ``{"op": "bye"}`` when
it closes. A process that has been silent (no heartbeat, no message) for
:data:`NODE_TIMEOUT` seconds, or to which a message reached no one, or whose
channel has no subscriber any more (asked of Redis every
:data:`PROBE_INTERVAL` seconds: a killed process's subscription ends with
its connection), is *lost*: the link tells its watchers
(:class:`~realtime.engine.forwarding.ClusterEvents`), which close what
depended on it. A process only judges others while its own subscription has
been up for that long; when it loses the subscription it tells its watchers
so instead (``link_lost``): whatever others sent meanwhile may be missed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

from realtime.engine.forwarding import new_node_id
from realtime.exceptions import BrokerUnavailable, ConfigurationError
from realtime.socketio.managers.brokers import Broker

if TYPE_CHECKING:
    from realtime.engine.forwarding import ClusterEvents

__all__ = [
    "HEARTBEAT_INTERVAL",
    "NODE_TIMEOUT",
    "PROBE_INTERVAL",
    "PROTOCOL_VERSION",
    "BrokerLink",
    "BrokerMonitor",
    "BrokerOperation",
    "pack",
    "unpack",
]

PROTOCOL_VERSION = 1
#: Seconds a new process waits for its broker subscription before serving.
READY_TIMEOUT = 5.0
#: Seconds between two heartbeats of a process.
HEARTBEAT_INTERVAL = 1.0
#: Seconds of silence after which a process counts as gone. With heartbeats
#: every second and checks every half second, a process whose host vanished
#: is noticed within NODE_TIMEOUT + PROBE_INTERVAL seconds (3.5 s); one that
#: died on a live host, within PROBE_INTERVAL (on Redis).
NODE_TIMEOUT = 3.0
#: Seconds between two checks of the other processes.
PROBE_INTERVAL = 0.5
_ALIVE = "alive"
_BYE = "bye"

try:  # msgpack comes with the redis extra
    import msgpack
except ImportError:  # pragma: no cover - checked when a link is made
    msgpack = None

logger = logging.getLogger("realtime.cluster")


#: What failed: a publish, the subscription (lost), or reading a message received.
BrokerOperation = Literal["publish", "subscription", "receive"]


class BrokerMonitor(Protocol):
    """What a link tells those who watch its broker (metrics); each call is
    made on the publishing or listening task: quick, and never waiting."""

    def broker_published(self, size: int) -> None:
        """A message of ``size`` bytes was published."""

    def broker_received(self, size: int, lag: float | None) -> None:
        """A message of ``size`` bytes arrived; ``lag``: seconds since it was
        published, by the wall clocks of both processes (None: not stamped)."""

    def broker_error(self, operation: BrokerOperation) -> None:
        """``operation`` failed (the subscription: it was lost)."""


def pack(message: dict[str, Any]) -> bytes:
    """A message as the bytes that cross the broker."""
    data: bytes = msgpack.packb({"v": PROTOCOL_VERSION, **message}, use_bin_type=True)
    return data


def unpack(data: bytes) -> dict[str, Any] | None:
    """A message read from the broker; None for one this version cannot read."""
    try:
        message = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception:
        logger.warning("ignored an unreadable message from the broker")
        return None
    if not isinstance(message, dict) or message.get("v") != PROTOCOL_VERSION:
        logger.warning("ignored a broker message of another protocol version")
        return None
    return message


class BrokerLink:
    """A :class:`~realtime.engine.forwarding.ClusterLink` over a broker.

    Args:
        broker: the connection to the broker.
        channel: the prefix every channel of this deployment starts with.
        fanout: also listen to messages published to every process (and
            take part in the heartbeats).
        listen: False for a process that only publishes (an emitter).
        node_id: this process's id (a fresh one by default).
    """

    def __init__(
        self,
        broker: Broker,
        channel: str,
        *,
        fanout: bool = False,
        listen: bool = True,
        node_id: str | None = None,
    ) -> None:
        if msgpack is None:
            raise ConfigurationError(
                "message_queue needs the msgpack package: "
                "pip install 'realtime[redis]' (or 'realtime[kombu]')"
            )
        self.broker = broker
        self.channel = channel
        self.node_id = node_id or new_node_id()
        self._handler: Callable[[dict[str, Any]], None] | None = None
        self._manager_handler: Callable[[dict[str, Any]], None] | None = None
        self._watchers: list[ClusterEvents] = []
        # Monotonic time each other process was last heard of.
        self._last_seen: dict[str, float] = {}
        self._seen_lock = broker.mode.lock()
        # Since when the subscription is in place (None: it is not).
        self._up_since: float | None = None
        self._closed = False
        self._ready = broker.mode.event()
        #: Told of each message published and received, and of failures.
        self.monitor: BrokerMonitor | None = None
        if not listen:
            return
        channels = [self.node_channel(self.node_id)] + ([channel] if fanout else [])
        broker.subscribe(channels, self)
        if fanout:
            broker.mode.spawn(self._beat)
        if not self._ready.wait(READY_TIMEOUT):
            logger.warning(
                "the broker at %s did not answer within %s s; serving local clients until it does",
                broker.describe(),
                READY_TIMEOUT,
            )

    def node_channel(self, node: str) -> str:
        return f"{self.channel}:node:{node}"

    @property
    def connected(self) -> bool:
        """Whether the subscription is in place."""
        return self._up_since is not None

    def peers(self) -> set[str]:
        """The other processes heard from lately (and not lost since)."""
        with self._seen_lock:
            return set(self._last_seen)

    # -- sending ----------------------------------------------------------------

    def send(self, node: str, message: dict[str, Any]) -> bool:
        """Send ``message`` to process ``node``; False if it cannot have got it.

        A message that reached no one means the process is gone: the
        watchers are told.
        """
        try:
            receivers = self.publish(self.node_channel(node), message)
        except BrokerUnavailable as exc:
            # The subscription reports the outage once; this is its echo.
            logger.debug("cannot reach process %s: %s", node, exc)
            return False
        if receivers == 0:
            if self._judging() and not self.heard_lately(node):
                self._lose(node)
            # Else it may be subscribing again (so may this process): the
            # probes and the silence check decide.
            return False
        if node != self.node_id:
            with self._seen_lock:
                # A process never heard from counts from now: if it stays
                # silent, it is lost like any other.
                self._last_seen.setdefault(node, time.monotonic())
        return True

    def send_all(self, message: dict[str, Any]) -> int | None:
        """Publish ``message`` to every process listening; how many got it, if known.

        Raises:
            BrokerUnavailable: the broker cannot be reached.
        """
        return self.publish(self.channel, message)

    def publish(self, channel: str, message: dict[str, Any]) -> int | None:
        """Publish ``message`` on ``channel``, with no bookkeeping of who
        should get it; how many got it, if known.

        Raises:
            BrokerUnavailable: the broker cannot be reached.
        """
        monitor = self.monitor
        if monitor is None:
            return self.broker.publish(channel, pack(message))
        data = pack({**message, "sent": time.time()})
        try:
            receivers = self.broker.publish(channel, data)
        except BrokerUnavailable:
            monitor.broker_error("publish")
            raise
        monitor.broker_published(len(data))
        return receivers

    # -- receiving --------------------------------------------------------------

    def on_message(self, handler: Callable[[dict[str, Any]], None]) -> None:
        """Where the engine's messages go."""
        self._handler = handler

    def on_manager_message(self, handler: Callable[[dict[str, Any]], None]) -> None:
        """Where the messaging layer's messages (ops ``m.*``) go."""
        self._manager_handler = handler

    def heard_lately(self, node: str) -> bool:
        """Whether ``node`` was heard from within :data:`NODE_TIMEOUT` seconds."""
        with self._seen_lock:
            seen = self._last_seen.get(node)
        return seen is not None and time.monotonic() - seen <= NODE_TIMEOUT

    def watch(self, events: ClusterEvents) -> None:
        """Tell ``events`` when a process is gone, or when this one lost the broker."""
        self._watchers.append(events)

    def message(self, channel: str, data: bytes) -> None:
        """A message from the broker (this is the subscription's Subscriber)."""
        message = unpack(data)
        monitor = self.monitor
        if monitor is not None:
            if message is None:
                monitor.broker_error("receive")
            else:
                sent = message.get("sent")
                lag = time.time() - sent if isinstance(sent, float) else None
                monitor.broker_received(len(data), lag)
        if message is None:
            return
        sender = message.get("from")
        if isinstance(sender, str) and sender != self.node_id:
            with self._seen_lock:
                self._last_seen[sender] = time.monotonic()
        op = message.get("op")
        if op == _ALIVE:
            return
        if op == _BYE:
            if isinstance(sender, str) and sender != self.node_id:
                self._lose(sender)
            return
        handler = (
            self._manager_handler if isinstance(op, str) and op.startswith("m.") else self._handler
        )
        if handler is not None:
            handler(message)

    def subscribed(self) -> None:
        now = time.monotonic()
        with self._seen_lock:
            # What was heard before the gap says nothing about now.
            self._last_seen = dict.fromkeys(self._last_seen, now)
        self._up_since = now
        self._ready.set()

    def unsubscribed(self, error: BaseException) -> None:
        self._up_since = None
        if self.monitor is not None:
            self.monitor.broker_error("subscription")
        # Not on the broker's listener: closing what depended on the link
        # must not delay subscribing again.
        self.broker.mode.spawn(self._tell_link_lost)

    def _tell_link_lost(self) -> None:
        for watcher in list(self._watchers):
            try:
                watcher.link_lost()
            except Exception:
                logger.exception("error while handling the loss of the broker")

    # -- liveness ---------------------------------------------------------------

    def _beat(self) -> None:
        mode = self.broker.mode
        last_beat = 0.0
        while not self._stopping():
            now = time.monotonic()
            if self.connected:
                # A failure is the broker's to report, through the subscription.
                with contextlib.suppress(BrokerUnavailable):
                    if now - last_beat >= HEARTBEAT_INTERVAL:
                        last_beat = now
                        self.send_all({"op": _ALIVE, "from": self.node_id})
                    self._probe()
            self._check_silence(now)
            mode.sleep(PROBE_INTERVAL)

    def _probe(self) -> None:
        """Lose the processes whose channel nobody listens to any more.

        Raises:
            BrokerUnavailable: the broker cannot be reached.
        """
        if not self._judging():
            # After a broker restart the others resubscribe within their
            # backoff: no judging until they had the time to.
            return
        peers = sorted(self.peers())
        if not peers:
            return
        counts = self.broker.listeners([self.node_channel(node) for node in peers])
        if counts is None:
            return  # the broker cannot say: heartbeats alone tell
        for node in peers:
            if counts.get(self.node_channel(node), 1) == 0:
                logger.warning("process %s no longer listens: taken for gone", node)
                self._lose(node)

    def _stopping(self) -> bool:
        # A method, not the attribute: close() flips it from another task.
        return self._closed

    def _judging(self) -> bool:
        """Whether this process may judge others: its own subscription has
        been up long enough for them to have been heard."""
        up_since = self._up_since
        return up_since is not None and time.monotonic() - up_since >= NODE_TIMEOUT

    def _check_silence(self, now: float) -> None:
        if not self._judging():
            return
        with self._seen_lock:
            silent = [n for n, seen in self._last_seen.items() if now - seen > NODE_TIMEOUT]
        for node in silent:
            logger.warning("process %s fell silent for %s s: taken for gone", node, NODE_TIMEOUT)
            self._lose(node)

    def _lose(self, node: str) -> None:
        with self._seen_lock:
            self._last_seen.pop(node, None)
        # Not on the caller's task (a sender, the listener, the heartbeat):
        # closing what depended on that process may take a while.
        self.broker.mode.spawn(self._tell_node_lost, node)

    def _tell_node_lost(self, node: str) -> None:
        for watcher in list(self._watchers):
            try:
                watcher.node_lost(node)
            except Exception:
                logger.exception("error while handling the loss of process %s", node)

    def close(self) -> None:
        """Say goodbye to the other processes, and stop listening."""
        if not self._closed and self.connected:
            with contextlib.suppress(BrokerUnavailable):
                self.send_all({"op": _BYE, "from": self.node_id})
        self._closed = True
        self.broker.close()
