"""A deployment on Redis Sentinel keeps serving through a failover (issue 13's follow-up).

The Flask app's ``message_queue`` is a Sentinel URL in python-socketio's
form (``redis+sentinel://h1:p1,h2:p2,h3:p3/0/mymaster``: the database, then
the service): the servers ask the sentinels where the primary is. Two
processes, official Node clients on each (WebSocket and polling), connection
state recovery on, a producer emitting an acknowledged broadcast every 20 ms.
The primary is SIGKILLed; the sentinels promote the replica. Every acknowledged broadcast must reach
every client once, in order, any reconnection recovered, and every client
answers a round trip at the end.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.reliability_clients import NodeReceivers, Producer, delivery, render
from tests.support.sentinel import SentinelDeployment
from tests.support.servers import ServerProcess

APP = "tests.support.reliability_app:create_app"
MONKEY = {"REALTIME_TEST_MONKEY_PATCH": "1"}

pytestmark = pytest.mark.node


def start(server: ServerProcess) -> ServerProcess:
    """Start a server; on failure, say why, from its log."""
    try:
        return server.start()
    except RuntimeError:
        log = Path(str(server.log_path)).read_text()[-2000:]
        raise AssertionError(f"the server did not start with {server.options}:\n{log}") from None


@pytest.mark.timeout(120)
def test_a_deployment_on_sentinel_serves_through_a_failover(
    node: str, sentinels: SentinelDeployment, tmp_path: Path
) -> None:
    options = {"message_queue": sentinels.url, "ping_interval": 5, "ping_timeout": 5}
    a = ServerProcess(APP, "gevent", dict(options), env=MONKEY, log_path=str(tmp_path / "a.log"))
    b = ServerProcess(APP, "gevent", dict(options), env=MONKEY, log_path=str(tmp_path / "b.log"))
    receivers = None
    producer = None
    try:
        start(a)
        start(b)
        clients = [
            (f"{transport}-on-{name}", server.url, transport)
            for name, server in (("a", a), ("b", b))
            for transport in ("websocket", "polling")
        ]
        receivers = NodeReceivers(node, clients, tmp_path / "node.log")
        receivers.ready()
        producer = Producer(a.url, interval=0.02).start()
        time.sleep(1.0)
        old = sentinels.kill_primary()
        promoted = sentinels.wait_for_failover(old, timeout=30)
        time.sleep(3.0)
        producer.stop()
        reports = receivers.report(sorted(producer.acked), 8)
    finally:
        if producer is not None:
            producer.stop()
        if receivers is not None:
            receivers.close()
        a.stop()
        b.stop()
    results = [delivery(report, producer) for report in reports]
    summary = render(results, producer, f"primary {old} SIGKILLed, {promoted} promoted")
    assert len(producer.acked) >= 50, summary
    assert all(result.ok for result in results), summary
