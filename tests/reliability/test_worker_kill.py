"""Issue 13, item 1: the sessions of a worker killed with SIGKILL are recovered elsewhere.

Two processes of the Flask app share a private Redis (message queue,
recovery on). A routing proxy, the deployment's load balancer, sends the
official Node clients (polling, WebSocket, upgrade) to process A; a producer
on process B emits an acknowledged broadcast every 20 ms. A is SIGKILLed
mid-stream (no disconnect handler runs, nothing is flushed) and the proxy
sends every new connection to B, as a balancer does with a dead upstream.
Each client must come back on B recovered, with its sid and every
acknowledged broadcast, once and in order. When issue 13 was filed the
snapshot that recovery needs reached Redis only when the owning process
handled the disconnect: the clients came back with a new sid and lost what
was broadcast meanwhile.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.faults import sigkill_server
from tests.support.redis_server import RedisServer
from tests.support.reliability_clients import NodeReceivers, Producer, delivery, render
from tests.support.routing_proxy import RoutingProxy
from tests.support.servers import ServerProcess

APP = "tests.support.reliability_app:create_app"
TRANSPORTS = ("polling", "websocket", "upgrade")
MONKEY = {"REALTIME_TEST_MONKEY_PATCH": "1"}

pytestmark = [
    pytest.mark.node,
]


@pytest.mark.timeout(120)
def test_the_sessions_of_a_killed_worker_recover_on_another(
    node: str, redis: RedisServer, tmp_path: Path
) -> None:
    options = {"message_queue": redis.url, "ping_interval": 5, "ping_timeout": 5}
    a = ServerProcess(APP, "gevent", dict(options), env=MONKEY, log_path=str(tmp_path / "a.log"))
    b = ServerProcess(APP, "gevent", dict(options), env=MONKEY, log_path=str(tmp_path / "b.log"))
    a.start()
    b.start()
    target = {"port": a.port}
    proxy = RoutingProxy(lambda method, path, headers: target["port"]).start()
    names = [f"node-{t}" for t in TRANSPORTS]
    receivers = NodeReceivers(
        node,
        [(n, proxy.url, t) for n, t in zip(names, TRANSPORTS, strict=True)],
        tmp_path / "node.log",
    )
    producer = Producer(b.url, interval=0.02)
    try:
        joined = receivers.ready()
        assert {e["pid"] for e in joined} == {a.process.pid}  # type: ignore[union-attr]
        producer.start()
        time.sleep(1.0)
        killed = sigkill_server(a)
        target["port"] = b.port
        killed_at = time.monotonic()

        def back(events: list[dict[str, object]]) -> bool:
            return all(
                any(
                    e["ev"] == "joined" and e.get("name") == n and e["t"] > killed_at
                    for e in events
                )
                for n in names
            )

        came_back = receivers.wait_for(back, 20)
        time.sleep(1.0)
        producer.stop()
        reports = receivers.report(sorted(producer.acked), 6)
    finally:
        producer.stop()
        receivers.close()
        proxy.close()
        a.stop()
        b.stop()
    results = [delivery(report, producer) for report in reports]
    summary = render(results, producer, f"process A ({killed}) SIGKILLed")
    assert came_back, summary
    assert len(producer.acked) >= 50, summary
    for result in results:
        assert result.reconnects >= 1, summary
    assert all(result.ok for result in results), summary
