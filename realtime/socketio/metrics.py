"""Prometheus metrics of a server, through ``prometheus_client`` (the ``metrics`` extra).

A :class:`Metrics` is a monitor (:mod:`realtime.socketio.monitoring`):
the dispatcher tells it of connections, sockets, events and deliveries,
which it counts; the acknowledgement registry tells it how long each
answer took; the engine, of the requests it refused and how upgrades ended
(:class:`~realtime.engine.listener.EngineMonitor`); the manager's broker
link, of what it published and received, and of its failures
(:class:`~realtime.socketio.managers.broker_link.BrokerMonitor`). What
is a state rather than a count (the connections by transport, the sockets
by namespace and transport, the acknowledgements awaited) is read when
Prometheus scrapes, from the server's own tables, so it is never off by a
missed moment.

Every metric is named ``realtime_...`` (see docs/operations.md for the
list and a sample scrape).

Under gunicorn with several workers, prometheus_client's multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR`` set before the workers start) sums every
worker's metrics in each scrape, whichever worker answers it. The states
are then gauges that each worker sets from its tables every
:data:`REFRESH_SECONDS` (and when it answers a scrape), summed over the
live workers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from realtime.exceptions import ConfigurationError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

    from realtime.engine import DisconnectReason
    from realtime.engine import Server as EngineServer
    from realtime.engine.http import Refusal
    from realtime.engine.outgoing import Outgoing
    from realtime.engine.scheduler import TimerHandle
    from realtime.engine.session import UpgradeOutcome
    from realtime.protocol.engineio import EngineSid
    from realtime.socketio.clients import Socket
    from realtime.socketio.dispatch import Dispatcher
    from realtime.socketio.managers.broker_link import BrokerOperation

__all__ = ["ACK_BUCKETS", "LAG_BUCKETS", "REFRESH_SECONDS", "Metrics", "multiprocess_dir"]

#: Seconds, for the acknowledgement latency histogram: from a LAN's
#: milliseconds to a phone's slow network.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: Seconds, for the broker lag histogram: from a loopback Redis to a broker
#: that fell behind.
LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

#: In multiprocess mode, how often each worker sets its gauges.
REFRESH_SECONDS = 2.0


def multiprocess_dir() -> str | None:
    """The directory of prometheus_client's multiprocess mode, when it is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def _prometheus() -> Any:
    try:
        # Imported on first use: an optional extra.
        import prometheus_client  # noqa: PLC0415
        import prometheus_client.core  # noqa: PLC0415
        import prometheus_client.multiprocess  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigurationError(
            "metrics need the prometheus_client package: pip install 'realtime[metrics]'"
        ) from exc
    return prometheus_client


class Metrics:
    """The counters, histogram and gauges of one server.

    Args:
        engine: the server's Engine.IO server (for each connection's transport).
        dispatcher: the server's dispatcher (its connections and sockets,
            and the acknowledgements awaited).
        registry: where the metrics are registered (default: a registry of
            their own, :attr:`registry`). Give ``prometheus_client.REGISTRY``
            to serve them with the application's other metrics.

    Raises:
        ConfigurationError: ``prometheus_client`` is not installed.
    """

    def __init__(
        self,
        engine: EngineServer,
        dispatcher: Dispatcher,
        registry: CollectorRegistry | None = None,
    ) -> None:
        prometheus = _prometheus()
        self.registry: CollectorRegistry = registry or prometheus.CollectorRegistry()
        self._engine = engine
        self._dispatcher = dispatcher
        counter, histogram, r = prometheus.Counter, prometheus.Histogram, self.registry
        self.connections_opened = counter(
            "realtime_connections_opened", "Engine.IO connections opened.", registry=r
        )
        self.connections_closed = counter(
            "realtime_connections_closed",
            "Engine.IO connections closed, by reason.",
            ["reason"],
            registry=r,
        )
        self.connects = counter(
            "realtime_socket_connects",
            "Sockets accepted in a namespace.",
            ["namespace"],
            registry=r,
        )
        self.refusals = counter(
            "realtime_socket_refusals",
            "Clients refused a socket, by namespace and reason (refused: by the connect "
            "handler or a middleware; invalid namespace, with namespace empty).",
            ["namespace", "reason"],
            registry=r,
        )
        self.disconnects = counter(
            "realtime_socket_disconnects",
            "Sockets gone from a namespace, by reason.",
            ["namespace", "reason"],
            registry=r,
        )
        self.events_received = counter(
            "realtime_events_received",
            "Events received from clients.",
            ["namespace"],
            registry=r,
        )
        self.events_sent = counter(
            "realtime_events_sent",
            "Events handed to clients of this process (a broadcast counts once per recipient).",
            ["namespace"],
            registry=r,
        )
        self.bytes_received = counter(
            "realtime_received_bytes",
            "Bytes of the Socket.IO messages received (characters, for text).",
            registry=r,
        )
        self.bytes_sent = counter(
            "realtime_sent_bytes",
            "Bytes of the events handed to clients (characters, for text).",
            registry=r,
        )
        self.recovery_attempts = counter(
            "realtime_recovery_attempts",
            "Clients that asked to resume a dropped socket, by outcome (recovered, failed).",
            ["namespace", "outcome"],
            registry=r,
        )
        self.ack_latency = histogram(
            "realtime_ack_latency_seconds",
            "Seconds from an event sent with a callback to the client's acknowledgement.",
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self._count_engine(prometheus)
        self._count_broker(prometheus)
        self._timer: TimerHandle | None = None
        self._closed = False
        self._multiprocess = multiprocess_dir() is not None
        if self._multiprocess:
            self._gauges = _Gauges(prometheus, r)
            self._refresh_soon()
        else:
            r.register(_Live(self, prometheus))
        dispatcher.monitors.add(self)
        dispatcher.acks.on_answer = self.ack_latency.observe
        dispatcher.on_refused = self.socket_refused
        engine.monitors.add(self)
        dispatcher.manager.monitor_broker(self)

    def _count_engine(self, prometheus: Any) -> None:
        self.refused = prometheus.Counter(
            "realtime_refused_requests",
            "Engine.IO requests refused (handshakes, and requests for a session), by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.upgrades = prometheus.Counter(
            "realtime_upgrades",
            "Upgrades whose probe began, by transport and outcome "
            "(succeeded, failed, timed out, aborted).",
            ["transport", "outcome"],
            registry=self.registry,
        )

    def _count_broker(self, prometheus: Any) -> None:
        counter, r = prometheus.Counter, self.registry
        self.broker_publishes = counter(
            "realtime_broker_published", "Messages published to the broker.", registry=r
        )
        self.broker_receives = counter(
            "realtime_broker_received", "Messages received from the broker.", registry=r
        )
        self.broker_published_bytes = counter(
            "realtime_broker_published_bytes", "Bytes of the messages published.", registry=r
        )
        self.broker_received_bytes = counter(
            "realtime_broker_received_bytes", "Bytes of the messages received.", registry=r
        )
        self.broker_errors = counter(
            "realtime_broker_errors",
            "Broker failures, by operation (publish, subscription lost, receive).",
            ["operation"],
            registry=r,
        )
        self.broker_lag = prometheus.Histogram(
            "realtime_broker_lag_seconds",
            "Seconds from a message's publish (by its sender's clock) to its receipt here.",
            buckets=LAG_BUCKETS,
            registry=r,
        )

    def close(self) -> None:
        """Stop counting (what was counted stays in the registry)."""
        self._closed = True
        self._dispatcher.monitors.remove(self)
        self._dispatcher.acks.on_answer = None
        self._dispatcher.on_refused = None
        self._engine.monitors.remove(self)
        self._dispatcher.manager.monitor_broker(None)
        if self._timer is not None:
            self._timer.cancel()

    def scrape(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format, and their content type: this
        server's registry, or in multiprocess mode every worker's."""
        prometheus = _prometheus()
        if not self._multiprocess:
            return prometheus.generate_latest(self.registry), prometheus.CONTENT_TYPE_LATEST
        self._gauges.set(self)
        gathered = prometheus.CollectorRegistry()
        prometheus.multiprocess.MultiProcessCollector(gathered)
        return prometheus.generate_latest(gathered), prometheus.CONTENT_TYPE_LATEST

    def _refresh_soon(self) -> None:
        if not self._closed:
            self._timer = self._engine.scheduler.call_later(REFRESH_SECONDS, self._refresh)

    def _refresh(self, now: float) -> None:
        try:
            self._gauges.set(self)
        finally:
            self._refresh_soon()

    # -- the Monitor port ---------------------------------------------------------

    def session_opened(self, eio_sid: EngineSid, environ: dict[str, Any]) -> None:
        self.connections_opened.inc()

    def session_closed(self, eio_sid: EngineSid, reason: DisconnectReason) -> None:
        self.connections_closed.labels(str(reason)).inc()

    def message_received(self, eio_sid: EngineSid, size: int) -> None:
        self.bytes_received.inc(size)

    def socket_connected(self, socket: Socket) -> None:
        self.connects.labels(socket.namespace).inc()

    def socket_disconnected(self, socket: Socket, reason: DisconnectReason) -> None:
        self.disconnects.labels(socket.namespace, str(reason)).inc()

    def socket_refused(self, namespace: str | None) -> None:
        """A client was refused a socket in ``namespace`` (None: one not served)."""
        if namespace is None:
            # A name the client chose: no label value of its making.
            self.refusals.labels("", "invalid namespace").inc()
        else:
            self.refusals.labels(namespace, "refused").inc()

    def event_received(self, socket: Socket) -> None:
        self.events_received.labels(socket.namespace).inc()

    def delivered(self, namespace: str, eio_sid: EngineSid, outgoing: Outgoing) -> None:
        self.events_sent.labels(namespace).inc()
        self.bytes_sent.inc(sum(len(p.data or "") for p in outgoing.packets))

    def recovery_attempted(self, namespace: str, recovered: bool) -> None:
        self.recovery_attempts.labels(namespace, "recovered" if recovered else "failed").inc()

    # -- the EngineMonitor port ---------------------------------------------------

    def request_refused(self, refusal: Refusal) -> None:
        self.refused.labels(refusal.value).inc()

    def upgrade_ended(self, transport: str, outcome: UpgradeOutcome) -> None:
        self.upgrades.labels(transport, outcome.value).inc()

    # -- the BrokerMonitor port ---------------------------------------------------

    def broker_published(self, size: int) -> None:
        self.broker_publishes.inc()
        self.broker_published_bytes.inc(size)

    def broker_received(self, size: int, lag: float | None) -> None:
        self.broker_receives.inc()
        self.broker_received_bytes.inc(size)
        if lag is not None:
            # Across hosts the clocks differ: a message may seem to arrive
            # before it left.
            self.broker_lag.observe(max(lag, 0.0))

    def broker_error(self, operation: BrokerOperation) -> None:
        self.broker_errors.labels(operation).inc()

    # -- read when scraped -----------------------------------------------------------

    def transports(self) -> dict[str, int]:
        """This process's connections by transport."""
        counts: dict[str, int] = {}
        for eio_sid in list(self._dispatcher.clients.connections):
            try:
                transport = self._engine.transport(eio_sid)
            except KeyError:
                continue
            counts[transport] = counts.get(transport, 0) + 1
        return counts

    def sockets(self) -> dict[tuple[str, str], int]:
        """This process's connected sockets by (namespace, transport)."""
        counts: dict[tuple[str, str], int] = {}
        for socket in list(self._dispatcher.clients.sockets.values()):
            if not socket.connected:
                continue
            try:
                transport = self._engine.transport(socket.eio_sid)
            except KeyError:
                continue
            key = (socket.namespace, transport)
            counts[key] = counts.get(key, 0) + 1
        return counts


class _Live:
    """The gauges read at scrape time (a prometheus_client custom collector)."""

    def __init__(self, metrics: Metrics, prometheus: Any) -> None:
        self._metrics = metrics
        self._family = prometheus.core.GaugeMetricFamily

    def collect(self) -> Iterator[Metric]:
        family = self._family
        connections = family(
            "realtime_connections",
            "Engine.IO connections open in this process, by transport.",
            labels=["transport"],
        )
        for transport, count in sorted(self._metrics.transports().items()):
            connections.add_metric([transport], count)
        yield connections
        sockets = family(
            "realtime_sockets",
            "Sockets connected in this process, by namespace and transport.",
            labels=["namespace", "transport"],
        )
        for (namespace, transport), count in sorted(self._metrics.sockets().items()):
            sockets.add_metric([namespace, transport], count)
        yield sockets
        yield family(
            "realtime_pending_acks",
            "Acknowledgements awaited from clients of this process.",
            value=self._metrics._dispatcher.acks.pending(),
        )


class _Gauges:
    """The states as gauges each worker sets (multiprocess mode), summed over live workers."""

    def __init__(self, prometheus: Any, registry: CollectorRegistry) -> None:
        gauge = prometheus.Gauge
        self._connections = gauge(
            "realtime_connections",
            "Engine.IO connections open, by transport.",
            ["transport"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._sockets = gauge(
            "realtime_sockets",
            "Sockets connected, by namespace and transport.",
            ["namespace", "transport"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._pending = gauge(
            "realtime_pending_acks",
            "Acknowledgements awaited from clients.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._seen_transports: set[str] = set()
        self._seen_sockets: set[tuple[str, str]] = set()

    def set(self, metrics: Metrics) -> None:
        transports = metrics.transports()
        # A label seen before and gone now must read 0, not its last value.
        for transport in self._seen_transports | set(transports):
            self._connections.labels(transport).set(transports.get(transport, 0))
        self._seen_transports |= set(transports)
        sockets = metrics.sockets()
        for key in self._seen_sockets | set(sockets):
            self._sockets.labels(*key).set(sockets.get(key, 0))
        self._seen_sockets |= set(sockets)
        self._pending.set(metrics._dispatcher.acks.pending())
