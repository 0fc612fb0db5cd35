"""Issue 13, "how it is shown": nothing acknowledged is lost when a worker or Redis dies.

The issue's deployment, as an operator runs it: ``gunicorn -w 2`` (gevent,
and eventlet on the last gunicorn that has its worker), the Flask app of
:mod:`tests.support.reliability_app` with a Redis message queue and
connection state recovery on (120 s), on a private Redis the test can kill.
Receivers in one room: ten official socket.io-client 4.8 sockets (polling
only, WebSocket only, polling with the upgrade) and two python-socketio
clients; a python-socketio producer emits a numbered, acknowledged
broadcast every 20 ms. Mid-stream the worker that holds most receivers is
SIGKILLed; then Redis is SIGKILLed and restarted empty.

Checked for every receiver, against what the producer had acknowledged:
nothing missing, nothing twice, in order; every reconnection of an official
client recovered, with its sid; every client answers a round trip at the
end. python-socketio's client cannot recover (it sends no ``pid``), so it
is held to what follows its last join.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest

from tests.support.faults import restart_redis_empty
from tests.support.gunicorn_cluster import GunicornCluster
from tests.support.redis_server import RedisServer
from tests.support.reliability_clients import (
    NodeReceivers,
    Producer,
    PyReceiver,
    delivery,
    render,
)

pytestmark = [
    pytest.mark.node,
    pytest.mark.xdist_group("reliability-heavy"),
]

#: The Node receivers: (transport, how many).
NODE_CLIENTS = [("polling", 3), ("websocket", 3), ("upgrade", 4)]
#: Short heartbeats: a client cut off silently finds out by itself within
#: 10 s, so the test does not wait 45 s for it (detection has its own test).
PING = "5,5"
#: Seconds of the stream before the worker is killed, between the kill and
#: Redis's, Redis's outage, and after it. After: long enough that a
#: python-socketio client (which cannot recover, and joins again) is back
#: with a second of the stream to spare on a loaded machine, where its
#: polling reconnection after the outage was seen to take 3 s.
BEFORE_KILL, BEFORE_REDIS, REDIS_DOWN, AFTER = 2.0, 4.0, 1.5, 6.0
#: Seconds the receivers have to catch up once the producer stopped.
SETTLE = 12.0


@pytest.mark.timeout(180)
@pytest.mark.parametrize("worker", ["gevent", "eventlet"])
def test_nothing_acknowledged_is_lost_when_a_worker_and_redis_die(
    node: str, redis: RedisServer, tmp_path: Path, worker: str
) -> None:
    cluster = GunicornCluster(
        worker,
        2,
        {"REALTIME_TEST_QUEUE": redis.url, "REALTIME_TEST_PING": PING},
        tmp_path / "gunicorn.log",
    ).start()
    specs = [
        (f"node-{transport}-{i}", cluster.url, transport)
        for transport, count in NODE_CLIENTS
        for i in range(count)
    ]
    receivers = NodeReceivers(node, specs, tmp_path / "node.log")
    python: list[PyReceiver] = []
    producer: Producer | None = None
    notes: list[str] = []
    try:
        joined = receivers.ready()
        python = [
            PyReceiver("py-polling", cluster.url, "polling"),
            PyReceiver("py-websocket", cluster.url, "websocket"),
        ]
        owners = collections.Counter(int(e["pid"]) for e in joined)
        owners.update(int(p.joins[0]["pid"]) for p in python)
        victim, held = owners.most_common(1)[0]
        # On the other worker, so that the stream goes on while the victim dies.
        producer = Producer(cluster.url, interval=0.02).start(avoid=victim)
        started = time.monotonic()

        time.sleep(BEFORE_KILL)
        cluster.kill_worker(victim)
        killed_at = time.monotonic()
        notes.append(f"SIGKILLed worker {victim} holding {held} of {sum(owners.values())}")

        time.sleep(BEFORE_REDIS)
        redis_at = time.monotonic()
        restart_redis_empty(redis, REDIS_DOWN)
        notes.append(f"Redis SIGKILLed at +{redis_at - started:.1f} s, back empty")

        time.sleep(AFTER)
        producer.stop()
        expected = sorted(producer.acked)
        reports = receivers.report(expected, SETTLE)
        reports += [receiver.report(producer, 5) for receiver in python]
    finally:
        if producer is not None:
            producer.stop()
        for receiver in python:
            receiver.close()
        receivers.close()
        cluster.stop()

    results = [delivery(report, producer) for report in reports]
    notes.append(detections(receivers, killed_at, redis_at))
    summary = render(results, producer, "; ".join(notes))
    assert held >= 1, summary
    assert len(producer.acked) >= 200, summary
    assert all(result.ok for result in results), summary
    # A python-socketio client is held to what followed its last join: that
    # join must have come while the stream still ran, or nothing was checked.
    assert all(r.due >= 50 for r in results if not r.received.recovers), summary


def detections(receivers: NodeReceivers, killed_at: float, redis_at: float) -> str:
    """When each Node socket noticed it had lost its connection (seconds after the kill)."""
    seen = [
        f"{event['name']} +{event['t'] - killed_at:.1f}s ({event['reason']})"
        for event in receivers.events
        if event["ev"] == "disconnect" and event["reason"] != "io client disconnect"
    ]
    return f"Node disconnects, after the kill (Redis killed at +{redis_at - killed_at:.1f}s): " + (
        ", ".join(seen) or "none"
    )
