"""Prometheus metrics of a server, through ``prometheus_client`` (the ``metrics`` extra).

A :class:`Metrics` is a monitor (:mod:`realtime.socketio.monitoring`):
the dispatcher tells it of connections, sockets, events and deliveries,
which it counts; the acknowledgement registry tells it how long each
answer took. What is a state rather than a count (the connections by
transport, the sockets by namespace and transport, the acknowledgements
awaited) is read when Prometheus scrapes, from the server's own tables,
so it is never off by a missed moment.

Every metric is named ``realtime_...`` (see docs/operations.md for the
list and a sample scrape).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from realtime.exceptions import ConfigurationError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

    from realtime.engine import DisconnectReason
    from realtime.engine import Server as EngineServer
    from realtime.engine.outgoing import Outgoing
    from realtime.protocol.engineio import EngineSid
    from realtime.socketio.clients import Socket
    from realtime.socketio.dispatch import Dispatcher

__all__ = ["ACK_BUCKETS", "Metrics"]

#: Seconds, for the acknowledgement latency histogram: from a LAN's
#: milliseconds to a phone's slow network.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _prometheus() -> Any:
    try:
        # Imported on first use: an optional extra.
        import prometheus_client  # noqa: PLC0415
        import prometheus_client.core  # noqa: PLC0415
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
        self.ack_latency = histogram(
            "realtime_ack_latency_seconds",
            "Seconds from an event sent with a callback to the client's acknowledgement.",
            buckets=ACK_BUCKETS,
            registry=r,
        )
        r.register(_Live(self, prometheus))
        dispatcher.monitors.add(self)
        dispatcher.acks.on_answer = self.ack_latency.observe

    def close(self) -> None:
        """Stop counting (what was counted stays in the registry)."""
        self._dispatcher.monitors.remove(self)
        self._dispatcher.acks.on_answer = None

    def scrape(self) -> tuple[bytes, str]:
        """The registry's metrics in Prometheus' text format, and its content type."""
        prometheus = _prometheus()
        return prometheus.generate_latest(self.registry), prometheus.CONTENT_TYPE_LATEST

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

    def event_received(self, socket: Socket) -> None:
        self.events_received.labels(socket.namespace).inc()

    def delivered(self, namespace: str, eio_sid: EngineSid, outgoing: Outgoing) -> None:
        self.events_sent.labels(namespace).inc()
        self.bytes_sent.inc(sum(len(p.data or "") for p in outgoing.packets))

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
