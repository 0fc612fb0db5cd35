"""What is measured: the servers, the scenarios and their metrics, and the targets."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from benchmarks.harness import NODE_DIR, ServerSpec

LADDER = ("polling", "websocket", "sse", "streaming", "short-polling")


def _python_server(module: str, mode: str) -> tuple[str, ...]:
    return (sys.executable, "-m", f"benchmarks.servers.{module}", "--mode", mode)


GUNICORN_GEVENT = (
    sys.executable,
    "-m",
    "gunicorn",
    "-c",
    "python:benchmarks.servers.gunicorn_conf",
    "benchmarks.servers.flask_app:app",
)
#: What the secondary servers without a column of their own in every table run
#: (scenario key prefixes): enough to show what a layer costs.
ECHO_AND_CONNECT = ("connect", "echo")
#: What the gevent and threading rows run: all but the one-client latency per
#: transport, which the eventlet rows show (it keeps the full run near 20 minutes).
NOT_PER_TRANSPORT = ("connect", "upgrade", "echo", "fanout")


def servers(versions: dict[str, str]) -> dict[str, ServerSpec]:
    """Every implementation the harness knows, by key, in table order.

    The primary rows are the Flask app as users write it (realtime's
    extension, ``benchmarks/servers/flask_app.py``) in each async mode,
    each beside Flask-SocketIO on the same mode, and Node's socket.io. The
    bare ``realtime.Server`` (no Flask) and the Flask app under gunicorn
    are secondary: they show what the Flask layer and the WSGI server cost.
    """
    fsio = versions.get("Flask-SocketIO", "?")
    sio = versions.get("socket.io", "?")
    node = versions.get("node", "?")
    specs = []
    for mode in MODES:
        specs.append(
            ServerSpec(
                f"flask-{mode}",
                f"realtime, Flask app ({mode})",
                _python_server("flask_app", mode),
                LADDER,
                only=None if mode == "eventlet" else NOT_PER_TRANSPORT,
            )
        )
    for mode, websocket in zip(
        MODES, ("eventlet's own", "gevent-websocket", "simple-websocket"), strict=True
    ):
        specs.append(
            ServerSpec(
                f"fsio-{mode}",
                f"Flask-SocketIO {fsio} ({mode}; WebSocket: {websocket})",
                _python_server("flask_socketio_app", mode),
                family="flask-socketio",
                only=None if mode == "eventlet" else NOT_PER_TRANSPORT,
            )
        )
    specs.append(
        ServerSpec(
            "node",
            f"socket.io {sio} (Node {node})",
            ("node", str(NODE_DIR / "server.js")),
            family="node",
        )
    )
    specs.append(
        ServerSpec(
            "bare-eventlet",
            "realtime.Server, no Flask (eventlet)",
            _python_server("realtime_app", "eventlet"),
            LADDER,
        )
    )
    for mode in ("gevent", "threading"):
        specs.append(
            ServerSpec(
                f"bare-{mode}",
                f"realtime.Server, no Flask ({mode})",
                _python_server("realtime_app", mode),
                LADDER,
                only=ECHO_AND_CONNECT,
            )
        )
    specs.append(
        ServerSpec(
            "flask-gunicorn",
            "realtime, Flask app under gunicorn -k gevent",
            GUNICORN_GEVENT,
            only=ECHO_AND_CONNECT,
        )
    )
    return {spec.key: spec for spec in specs}


MODES = ("eventlet", "gevent", "threading")
#: The Flask app in each mode, and Flask-SocketIO on the same mode.
FLASK = {mode: f"flask-{mode}" for mode in MODES}
FSIO = {mode: f"fsio-{mode}" for mode in MODES}
BARE = {"eventlet": "bare-eventlet", "gevent": "bare-gevent", "threading": "bare-threading"}
PRIMARY_SERVERS = (*FLASK.values(), *FSIO.values(), "node")
SECONDARY_SERVERS = ("bare-eventlet", "bare-gevent", "bare-threading", "flask-gunicorn")
#: What ``--quick`` runs.
QUICK_SERVERS = (*PRIMARY_SERVERS, "bare-eventlet")
#: The server the profiles are of first; the bare engine is profiled beside it.
SUBJECT = FLASK["eventlet"]


@dataclass(frozen=True)
class Comparison:
    """A ratio every scenario table shows: ``subject``'s median over ``other``'s."""

    subject: str
    other: str
    name: str


COMPARISONS = (
    *(Comparison(FLASK[m], FSIO[m], f"{m}: rt/FSIO") for m in MODES),
    Comparison(FLASK["eventlet"], "node", "eventlet: rt/Node"),
    *(Comparison(FLASK[m], BARE[m], f"{m}: Flask/bare") for m in MODES),
    Comparison("flask-gunicorn", FLASK["gevent"], "gevent: gunicorn/run()"),
)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool
    scale: float = 1.0
    digits: int = 0

    def show(self, value: float | None) -> str:
        if value is None:
            return "-"
        scaled = value * self.scale
        return f"{scaled:,.{self.digits}f}"


CONNECTS = Metric("connectsPerSecond", "connects/s", "1/s", True)
CONNECT_P99 = Metric("connectP99Ms", "p99 connect latency", "ms", False, digits=1)
CONNECT_P50 = Metric("connectP50Ms", "p50 connect latency", "ms", False, digits=1)
MEMORY = Metric("bytesPerConnection", "server memory per connection", "KiB", False, 1 / 1024, 1)
ACKS = Metric("acksPerSecond", "acks/s", "1/s", True)
LAT_P50 = Metric("latencyP50Ms", "p50 latency", "ms", False, digits=2)
LAT_P99 = Metric("latencyP99Ms", "p99 latency", "ms", False, digits=2)
DELIVERIES = Metric("deliveriesPerSecond", "deliveries/s", "1/s", True)
PER_READ = Metric("deliveriesPerRead", "deliveries per client read", "msgs", True, digits=2)
WIRE = Metric("bytesPerMessage", "bytes on the wire per message", "B", False)
SERVER_CPU = Metric("serverCpu", "server CPU", "cores", False, digits=2)
CLIENT_CPU = Metric("clientCpu", "load client CPU", "cores", False, digits=2)


@dataclass(frozen=True)
class Scenario:
    """One workload, run by ``client.js`` with ``params``, against ``servers``."""

    key: str
    title: str
    params: dict[str, Any]
    metrics: tuple[Metric, ...]
    timeout: float
    transport: str | None = None
    checks: tuple[str, ...] = field(default_factory=tuple)
    #: Run ``2 * rounds + 1`` rounds instead of ``rounds``: for a figure that
    #: moves between runs more than the target's margin (echo), so that the
    #: median says which side of the bound it lies on.
    more_rounds: bool = False

    def rounds(self, base: int) -> int:
        return 2 * base + 1 if self.more_rounds else base


def scenarios(quick: bool) -> list[Scenario]:
    """The scenarios of a full run, or the smaller ones of ``--quick``."""
    sizes = (500,) if quick else (5_000, 10_000)
    plan = [
        Scenario(
            f"connect-{n // 1000}k" if n >= 1000 else f"connect-{n}",
            f"connect: {n:,} WebSocket clients, 200 at a time",
            {"scenario": "connect", "clients": n, "concurrency": 200},
            (CONNECTS, CONNECT_P99, MEMORY),
            timeout=60 + n / 50,
            checks=("failures",),
        )
        for n in sizes
    ]
    upgrade_n = 200 if quick else 1_000
    plan.append(
        Scenario(
            "upgrade",
            f"connect over polling, then upgrade: {upgrade_n:,} clients, 100 at a time",
            {"scenario": "upgrade", "clients": upgrade_n, "concurrency": 100},
            (CONNECTS, CONNECT_P50, CONNECT_P99),
            timeout=120,
            checks=("failures",),
        )
    )
    plan.append(
        Scenario(
            "echo",
            "echo: 50 clients, each emitting and waiting for the ack before the next",
            {
                "scenario": "echo",
                "clients": 50,
                "warmupMs": 500 if quick else 1000,
                "durationMs": 2000 if quick else 4000,
            },
            (ACKS, LAT_P50, LAT_P99),
            timeout=60,
            more_rounds=True,
        )
    )
    if not quick:
        plan.append(
            Scenario(
                "echo-200",
                "echo: 200 clients (enough to keep any of the servers busy), as above",
                {"scenario": "echo", "clients": 200, "warmupMs": 1000, "durationMs": 4000},
                (ACKS, LAT_P50, LAT_P99),
                timeout=60,
            )
        )
    fan_n = 200 if quick else 1_000
    plan.append(
        Scenario(
            "fanout",
            f"fan-out: {fan_n:,} clients in a room, one broadcasting (20 broadcasts in flight)",
            {
                "scenario": "fanout",
                "clients": fan_n,
                "window": 20,
                "durationMs": 2000 if quick else 3000,
                "drainMs": 20000,
            },
            (DELIVERIES, PER_READ),
            timeout=90,
            checks=("missing", "orderErrors"),
        )
    )
    for transport in LADDER:
        plan.append(
            Scenario(
                f"transport-{transport}",
                f"one client on {transport}, sequential echoes with acks",
                {
                    "scenario": "transport",
                    "transport": transport,
                    "warmup": 20,
                    "messages": 2000,
                    "durationMs": 1000 if quick else 2000,
                },
                (LAT_P50, LAT_P99, WIRE),
                timeout=60,
                transport=transport,
            )
        )
    return plan


@dataclass(frozen=True)
class Target:
    """A goal of issue 15: ``subject``'s ``metric`` in ``scenario`` against a bound."""

    mode: str
    text: str
    scenario: str
    metric: Metric
    subject: str
    baseline: str | None  # None: an absolute bound
    bound: float  # ratio subject/baseline, or an absolute value in the metric's raw unit
    at_least: bool


KB = 1000  # the targets' "KB" (issue 15), as "kB" in issue 9's: 1,000 bytes

TARGETS = (
    Target(
        "eventlet",
        "echo acks/s at least 5x Flask-SocketIO's",
        "echo",
        ACKS,
        FLASK["eventlet"],
        FSIO["eventlet"],
        5.0,
        True,
    ),
    Target(
        "eventlet",
        "echo acks/s at least 0.5x Node's",
        "echo",
        ACKS,
        FLASK["eventlet"],
        "node",
        0.5,
        True,
    ),
    Target(
        "eventlet",
        "p99 echo latency at most 0.2x Flask-SocketIO's",
        "echo",
        LAT_P99,
        FLASK["eventlet"],
        FSIO["eventlet"],
        0.2,
        False,
    ),
    Target(
        "eventlet",
        "connects/s at 5,000 WebSocket clients at least 2x Flask-SocketIO's",
        "connect-5k",
        CONNECTS,
        FLASK["eventlet"],
        FSIO["eventlet"],
        2.0,
        True,
    ),
    Target(
        "eventlet",
        "fan-out deliveries/s at least 4x Flask-SocketIO's",
        "fanout",
        DELIVERIES,
        FLASK["eventlet"],
        FSIO["eventlet"],
        4.0,
        True,
    ),
    Target(
        "eventlet",
        "connects/s over polling then upgrade at least 1.5x Flask-SocketIO's",
        "upgrade",
        CONNECTS,
        FLASK["eventlet"],
        FSIO["eventlet"],
        1.5,
        True,
    ),
    Target(
        "gevent",
        "echo acks/s at least 5x Flask-SocketIO's on gevent",
        "echo",
        ACKS,
        FLASK["gevent"],
        FSIO["gevent"],
        5.0,
        True,
    ),
    Target(
        "gevent",
        "memory per idle WebSocket at most 12 KB (10,000 clients; socketio.run)",
        "connect-10k",
        MEMORY,
        FLASK["gevent"],
        None,
        12 * KB,
        False,
    ),
    Target(
        "gevent",
        "memory per idle WebSocket at most 12 KB (10,000 clients; gunicorn -k gevent)",
        "connect-10k",
        MEMORY,
        "flask-gunicorn",
        None,
        12 * KB,
        False,
    ),
    Target(
        "threading",
        "echo acks/s at least 3x Flask-SocketIO's on threading",
        "echo",
        ACKS,
        FLASK["threading"],
        FSIO["threading"],
        3.0,
        True,
    ),
    Target(
        "threading",
        "memory per idle WebSocket at most 25 KB (10,000 clients)",
        "connect-10k",
        MEMORY,
        FLASK["threading"],
        None,
        25 * KB,
        False,
    ),
)
