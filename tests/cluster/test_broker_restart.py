"""Redis stops mid-stream and comes back: local service goes on, fan-out resumes.

Two processes (threads, eventlet) share a private redis-server. While it is
down each process keeps serving its own clients (events, acks, broadcasts to
them); broadcasts for the other process's clients wait in the sender's
outbox. Once it is back, both processes resubscribe by themselves, say so in
their logs, the outbox goes out, and every client has every broadcast, once
and in order. The same with connection state recovery on, where events go
through a Redis Stream.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.support.peer import Peer, connect_peer
from tests.support.redis_server import RedisServer, redis_server_path
from tests.support.servers import ServerProcess

APP = "tests.support.cluster_apps:sio_cluster"


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    require(redis_server_path() is not None, "redis-server (Debian's redis-server package)")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["fanout", "recovery"])
def pair(
    redis: RedisServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[list[ServerProcess]]:
    options: dict[str, object] = {
        "message_queue": redis.url,
        "channel": f"restart-{uuid.uuid4().hex[:6]}",
    }
    if request.param == "recovery":
        options["connection_state_recovery"] = True
    servers = []
    try:
        for mode in ("threading", "eventlet"):
            log = str(tmp_path / f"{mode}.log")
            servers.append(ServerProcess(APP, mode, dict(options), log_path=log).start())
        yield servers
    finally:
        for server in servers:
            server.stop()


def tick(sender: Peer, room: str, n: int) -> None:
    sender.client.call("to", (room, "tick", n), timeout=10)


@pytest.mark.timeout(120)
def test_local_service_survives_and_fan_out_resumes(
    redis: RedisServer, pair: list[ServerProcess]
) -> None:
    offsets = "connection_state_recovery" in pair[0].options
    a, b = (
        connect_peer(server.url, transports, offsets=offsets)
        for server, transports in zip(pair, (["websocket"], ["polling"]), strict=True)
    )
    room = "everyone"
    for peer in (a, b):
        peer.client.call("join", room, timeout=10)
    for n in range(10):
        tick(a, room, n)
    assert b.wait("tick", 10) == [(n,) for n in range(10)]

    redis.stop()
    # Each process goes on serving its own clients.
    for n in range(10, 20):
        tick(a, room, n)
    assert a.wait("tick", 20)[10:] == [(n,) for n in range(10, 20)]
    assert b.client.call("whoami", timeout=10)["sid"] == b.client.get_sid()
    assert b.client.call("count", 0, timeout=10) is True

    redis.start()
    # Both resubscribe with backoff; once B hears A again, fan-out is back.
    deadline = time.monotonic() + 60
    probes = 0
    while not b.events.get("probe"):
        assert time.monotonic() < deadline, "fan-out did not resume"
        a.client.call("to", (room, "probe", probes), timeout=10)
        probes += 1
        b.wait("probe", timeout=0.5)
    for n in range(20, 30):
        tick(a, room, n)
    ticks = b.wait("tick", 30)
    # What was broadcast while Redis was down reached B once it was back; all
    # of it once each and in order.
    assert ticks == [(n,) for n in range(30)]
    assert a.wait("tick", 30) == [(n,) for n in range(30)]
    for peer in (a, b):
        peer.client.disconnect()
    for server in pair:
        # With recovery on, events flow through the stream again before the
        # pub/sub subscription's backoff is over: give it a few seconds.
        deadline = time.monotonic() + 10
        log = Path(str(server.log_path)).read_text()
        while "reconnected to the broker" not in log and time.monotonic() < deadline:
            time.sleep(0.2)
            log = Path(str(server.log_path)).read_text()
        assert "lost the broker" in log and "reconnected to the broker" in log, log
