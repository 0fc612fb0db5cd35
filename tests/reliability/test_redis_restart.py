"""Issue 13, item 3: Redis SIGKILLed and restarted empty while a relayed session and a producer run.

Two processes of the Flask app share a private Redis (message queue,
recovery on) with the default heartbeat (45 s before a client cut off
silently finds out by itself). Official Node clients: one whose session
lives on process A and whose WebSocket process B relays (a routing proxy
sends its handshake to A and its upgrade to B), one straight on A, one
straight on B. A producer on A emits an acknowledged broadcast every 20 ms.
Redis is SIGKILLed, and restarted empty on the same port 1.5 s later.

Every acknowledged broadcast must reach every client, once and in order; a
client that had to reconnect must have been recovered with its sid; every
client answers a round trip at the end. When issue 13 was filed the
relayed session died silently, and the broadcasts of the outage never
reached the clients of B.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.faults import restart_redis_empty
from tests.support.redis_server import RedisServer
from tests.support.reliability_clients import NodeReceivers, Producer, delivery, render
from tests.support.routing_proxy import RoutingProxy
from tests.support.servers import ServerProcess

APP = "tests.support.reliability_app:create_app"
MONKEY = {"REALTIME_TEST_MONKEY_PATCH": "1"}

pytestmark = [
    pytest.mark.node,
]


@pytest.mark.timeout(120)
def test_a_redis_restart_loses_nothing_acknowledged(
    node: str, redis: RedisServer, tmp_path: Path
) -> None:
    options = {"message_queue": redis.url}
    a = ServerProcess(APP, "gevent", dict(options), env=MONKEY, log_path=str(tmp_path / "a.log"))
    b = ServerProcess(APP, "gevent", dict(options), env=MONKEY, log_path=str(tmp_path / "b.log"))
    a.start()
    b.start()

    def route(method: str, target: str, headers: dict[str, str]) -> int:
        return b.port if "transport=websocket" in target else a.port

    proxy = RoutingProxy(route).start()
    clients = [
        ("relayed-a-by-b", proxy.url, "upgrade"),
        ("websocket-on-a", a.url, "websocket"),
        ("websocket-on-b", b.url, "websocket"),
    ]
    receivers = NodeReceivers(node, clients, tmp_path / "node.log")
    producer = Producer(a.url, interval=0.02)
    try:
        joined = {e["name"]: e["pid"] for e in receivers.ready()}
        assert joined["relayed-a-by-b"] == joined["websocket-on-a"] != joined["websocket-on-b"]
        assert receivers.wait_for(lambda events: any(e["ev"] == "upgrade" for e in events), 10), (
            f"the upgrade did not happen: {receivers.tail()}"
        )
        producer.start()
        time.sleep(1.0)
        restart_redis_empty(redis, 1.5)
        time.sleep(3.0)
        producer.stop()
        reports = receivers.report(sorted(producer.acked), 8)
    finally:
        producer.stop()
        receivers.close()
        proxy.close()
        a.stop()
        b.stop()
    results = [delivery(report, producer) for report in reports]
    summary = render(results, producer, "Redis SIGKILLed 1 s in, back empty 1.5 s later")
    assert len(producer.acked) >= 50, summary
    assert all(result.ok for result in results), summary
