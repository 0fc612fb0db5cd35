"""What is measured: the servers, the scenarios and their metrics, and the targets."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from benchmarks.harness import NODE_DIR, ServerSpec

LADDER = ("polling", "websocket", "sse", "streaming", "short-polling")


def _python_server(module: str, mode: str) -> tuple[str, ...]:
    return (sys.executable, "-m", f"benchmarks.servers.{module}", "--mode", mode)


def servers(versions: dict[str, str]) -> dict[str, ServerSpec]:
    """Every implementation the harness knows, by key, in table order."""
    fsio = versions.get("Flask-SocketIO", "?")
    sio = versions.get("socket.io", "?")
    node = versions.get("node", "?")
    return {
        "rt-eventlet": ServerSpec(
            "rt-eventlet",
            "realtime (eventlet)",
            _python_server("realtime_app", "eventlet"),
            LADDER,
        ),
        "fsio": ServerSpec(
            "fsio",
            f"Flask-SocketIO {fsio} (eventlet)",
            _python_server("flask_socketio_app", "eventlet"),
            family="flask-socketio",
        ),
        "node": ServerSpec(
            "node",
            f"socket.io {sio} (Node {node})",
            ("node", str(NODE_DIR / "server.js")),
            family="node",
        ),
        "rt-gevent": ServerSpec(
            "rt-gevent", "realtime (gevent)", _python_server("realtime_app", "gevent"), LADDER
        ),
        "rt-threading": ServerSpec(
            "rt-threading",
            "realtime (threading)",
            _python_server("realtime_app", "threading"),
            LADDER,
        ),
    }


#: The realtime configuration the targets are about, and what it is compared with.
SUBJECT = "rt-eventlet"
BASELINES = ("fsio", "node")
MAIN_SERVERS = ("rt-eventlet", "fsio", "node")
EXTRA_SERVERS = ("rt-gevent", "rt-threading")


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
    servers: tuple[str, ...] | None = None  # None: every server selected
    transport: str | None = None
    checks: tuple[str, ...] = field(default_factory=tuple)


def scenarios(quick: bool) -> list[Scenario]:
    """The scenarios of a full run, or the smaller ones of ``--quick``."""
    sizes = (500,) if quick else (1_000, 5_000, 10_000)
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
    """A goal of issue 9: ``scenario``'s ``metric`` for realtime against a bound."""

    text: str
    scenario: str
    metric: Metric
    baseline: str | None  # None: an absolute bound
    bound: float  # ratio realtime/baseline, or an absolute value in metric units
    at_least: bool


TARGETS = (
    Target("echo acks/s at least 5x Flask-SocketIO", "echo", ACKS, "fsio", 5.0, True),
    Target("echo acks/s at least 0.6x Node", "echo", ACKS, "node", 0.6, True),
    Target("p99 echo latency at most 1/5 of Flask-SocketIO's", "echo", LAT_P99, "fsio", 0.2, False),
    Target(
        "memory per idle WebSocket connection at most 20 kB (10,000 clients)",
        "connect-10k",
        MEMORY,
        None,
        20_000,
        False,
    ),
    Target(
        "memory per idle WebSocket connection below Node's (10,000 clients)",
        "connect-10k",
        MEMORY,
        "node",
        1.0,
        False,
    ),
    Target(
        "connects/s at 5,000 clients at least 2x Flask-SocketIO",
        "connect-5k",
        CONNECTS,
        "fsio",
        2.0,
        True,
    ),
    Target(
        "fan-out deliveries/s at least 2x Flask-SocketIO", "fanout", DELIVERIES, "fsio", 2.0, True
    ),
)
