"""The server's operations endpoints: health checks and Prometheus metrics.

``Server(health_path="/health", metrics_path="/metrics")`` (the Flask
extension takes the same options) answers, on the server's own port:

- ``GET <health_path>/live``: 200 ``{"status": "ok"}`` while the process
  serves requests (for a liveness probe);
- ``GET <health_path>/ready`` and ``GET <health_path>``: 200 when the
  server can take clients, 503 when it cannot (the message queue's broker
  out of reach, or the server shutting down), with
  ``{"status": ..., "broker": "none" | "reachable" | "unreachable"}`` (for
  a readiness probe or a load balancer's health check);
- ``GET <metrics_path>``: the metrics in Prometheus' text format
  (:mod:`realtime.socketio.metrics`).

Each answer is computed from what the process knows already: no request
goes to the broker, nothing is written. The answers carry no
configuration (no URL, no host name) and are never cached. Other methods
get 405; paths outside these are the server's as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import orjson

from realtime.exceptions import ConfigurationError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from realtime.engine import Server as EngineServer
    from realtime.socketio.dispatch import Dispatcher
    from realtime.socketio.managers import Manager
    from realtime.socketio.metrics import Metrics

__all__ = ["Endpoints", "OperationsAPI", "readiness"]

StartResponse = Callable[..., Any]


def readiness(manager: Manager, shutting_down: bool) -> tuple[bool, dict[str, str]]:
    """Whether the server can take clients, and the body that says so."""
    reachable = manager.broker_reachable()
    broker = "none" if reachable is None else "reachable" if reachable else "unreachable"
    ready = reachable is not False and not shutting_down
    status = "ok" if ready else "shutting down" if shutting_down else "unavailable"
    return ready, {"status": status, "broker": broker}


def _path(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("/") or value == "/":
        raise ConfigurationError(
            f"{what} must be a path such as '/{what.split('_', maxsplit=1)[0]}'"
        )
    return value.rstrip("/")


class Endpoints:
    """Answers the health and metrics requests of one server.

    Args:
        health_path: where the health checks are (None: nowhere).
        metrics_path: where the metrics are (None: nowhere).
        manager: the server's manager (is the broker reachable?).
        metrics: what ``metrics_path`` serves.
        shutting_down: whether the server is shutting down.

    Raises:
        ConfigurationError: a path is not a path, or both are the same.
    """

    def __init__(
        self,
        health_path: str | None,
        metrics_path: str | None,
        manager: Manager,
        metrics: Metrics | None,
        shutting_down: Callable[[], bool],
    ) -> None:
        self.health_path = _path(health_path, "health_path")
        self.metrics_path = _path(metrics_path, "metrics_path")
        if self.health_path is not None and self.health_path == self.metrics_path:
            raise ConfigurationError("health_path and metrics_path must differ")
        self._manager = manager
        self._metrics = metrics
        self._shutting_down = shutting_down
        health = self.health_path
        self._routes: dict[str, Callable[[], tuple[int, bytes, str]]] = {}
        if health is not None:
            self._routes[health] = self._ready
            self._routes[health + "/ready"] = self._ready
            self._routes[health + "/live"] = self._live
        if self.metrics_path is not None and metrics is not None:
            self._routes[self.metrics_path] = self._scrape

    def __bool__(self) -> bool:
        return bool(self._routes)

    def respond(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes] | None:
        """The answer to a request for one of the endpoints; None for any other path."""
        route = self._routes.get(str(environ.get("PATH_INFO", "")).rstrip("/") or "/")
        if route is None:
            return None
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response(
                "405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")]
            )
            return []
        status, body, content_type = route()
        start_response(
            _STATUS[status],
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [] if method == "HEAD" else [body]

    def _live(self) -> tuple[int, bytes, str]:
        return 200, orjson.dumps({"status": "ok"}), _JSON

    def _ready(self) -> tuple[int, bytes, str]:
        ready, body = readiness(self._manager, self._shutting_down())
        return (200 if ready else 503), orjson.dumps(body), _JSON

    def _scrape(self) -> tuple[int, bytes, str]:
        assert self._metrics is not None
        body, content_type = self._metrics.scrape()
        return 200, body, content_type


_JSON = "application/json"
_STATUS = {200: "200 OK", 503: "503 Service Unavailable"}


class OperationsAPI:
    """Health checks and metrics, as :class:`realtime.Server` offers them (a base class of it)."""

    manager: Manager
    metrics: Metrics | None
    _dispatcher: Dispatcher
    _endpoints: Endpoints
    _shutting_down: bool

    engine: EngineServer

    def _setup_operations(self, health_path: str | None, metrics_path: str | None) -> None:
        self.metrics = None
        self._shutting_down = False
        if metrics_path is not None:
            self.enable_metrics()
        self._endpoints = Endpoints(
            health_path, metrics_path, self.manager, self.metrics, lambda: self._shutting_down
        )

    def _stop_operations(self) -> None:
        """The server shuts down: not ready any more, and the metrics' timer stops."""
        self._shutting_down = True
        if self.metrics is not None:
            self.metrics.close()

    def enable_metrics(self, registry: CollectorRegistry | None = None) -> Metrics:
        """Count this server's Prometheus metrics (``metrics_path=`` calls it);
        the same :class:`~realtime.socketio.metrics.Metrics` if called again.

        Args:
            registry: a ``prometheus_client`` registry to register them in,
                such as ``prometheus_client.REGISTRY`` for an application
                that serves its metrics itself (default: one of their own,
                ``metrics.registry``).

        Raises:
            ConfigurationError: ``prometheus_client`` is not installed
                (``pip install 'realtime[metrics]'``).
        """
        if self.metrics is None:
            # Imported on first use: it needs the metrics extra.
            from realtime.socketio.metrics import Metrics  # noqa: PLC0415

            self.metrics = Metrics(self.engine, self._dispatcher, registry)
        return self.metrics
