"""Past the outbox's bound, the clients that missed events are told, and nobody else.

Two processes of the Flask app on one private Redis, recovery on. Process A
reaches Redis through a proxy that can take Redis away from A alone, and
its outbox holds 20 entries. Official Node clients are in the producer's
room on both processes; the producer emits to A every 20 ms. Redis is taken
from A for a few seconds, so that far more than 20 broadcasts wait, and the
oldest are dropped.

A's own clients got every broadcast at once (A serves them while Redis is
away): nothing is missing there, and they are not disconnected. B's clients
can never get the dropped ones: B must close their connections once it
reads the gap A appended in their place, and refuse to recover them, so
they come back with ``recovered`` false (and a new sid) and know they
missed events; after their new join they miss nothing. A's log says what
was dropped, B's whom it cut off. A full outbox that keeps dropping must
not chain gap after gap (when this test was written, each dropped entry
appended a gap, which dropped the next entry, recursively).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.redis_cut_proxy import RedisCutProxy
from tests.support.redis_server import RedisServer
from tests.support.reliability_clients import NodeReceivers, Producer, delivery, render
from tests.support.servers import ServerProcess

APP = "tests.support.reliability_app:create_app"
MONKEY = {"REALTIME_TEST_MONKEY_PATCH": "1"}
#: A's outbox bound, entries.
BOUND = 20
#: Seconds Redis is away from A: about 150 broadcasts, well past the bound.
OUTAGE = 3.0

pytestmark = [
    pytest.mark.node,
]


@pytest.mark.timeout(120)
def test_past_the_bound_the_clients_that_missed_events_are_told(
    node: str, redis: RedisServer, tmp_path: Path
) -> None:
    cutter = RedisCutProxy(redis.port).start()
    ping = {"ping_interval": 5, "ping_timeout": 5}
    a = ServerProcess(
        APP,
        "gevent",
        {"message_queue": cutter.url, "outbox": {"max_messages": BOUND}, **ping},
        env=MONKEY,
        log_path=str(tmp_path / "a.log"),
    )
    b = ServerProcess(
        APP,
        "gevent",
        {"message_queue": redis.url, **ping},
        env=MONKEY,
        log_path=str(tmp_path / "b.log"),
    )
    producer: Producer | None = None
    receivers: NodeReceivers | None = None
    try:
        a.start()
        b.start()
        on_b = ["b-websocket", "b-polling"]
        clients = [
            ("a-websocket", a.url, "websocket"),
            (on_b[0], b.url, "websocket"),
            (on_b[1], b.url, "polling"),
        ]
        receivers = NodeReceivers(node, clients, tmp_path / "node.log")
        receivers.ready()
        producer = Producer(a.url, interval=0.02, ack_timeout=10).start()
        time.sleep(1.0)
        cutter.outage(OUTAGE)
        time.sleep(OUTAGE)
        # B's clients are cut off once A appends again, and come back fresh.
        rejoined = receivers.wait_for(
            lambda events: all(
                sum(1 for e in events if e.get("name") == name and e["ev"] == "joined") >= 2
                for name in on_b
            ),
            20,
        )
        time.sleep(1.0)
        producer.stop()
        reports = {r.name: r for r in receivers.report(sorted(producer.acked), 10)}
        fresh_join = {name: receivers.of(name, "joined")[-1]["t"] for name in on_b}
    finally:
        if producer is not None:
            producer.stop()
        if receivers is not None:
            receivers.close()
        a.stop()
        b.stop()
        cutter.close()
    a_log = (tmp_path / "a.log").read_text()
    b_log = (tmp_path / "b.log").read_text()
    assert producer is not None and receivers is not None

    own = delivery(reports["a-websocket"], producer)
    summary = render([own], producer, "A's own client")
    assert own.ok and not reports["a-websocket"].disconnects, summary
    assert rejoined, f"B's clients were not cut off and joined again: {receivers.tail()}"
    for name in on_b:
        report = reports[name]
        connects = report.connects
        assert len(connects) >= 2 and not connects[-1]["recovered"], (name, connects)
        assert connects[-1]["sid"] != connects[0]["sid"], (name, connects)
        report.recovers = False
        report.expect_from = fresh_join[name]
        after = delivery(report, producer)
        text = render([after], producer, f"{name}, held to what followed its new join")
        assert not after.missing and not after.duplicated and not after.out_of_order, text
        assert after.due >= 20, text
    assert "the recovery log's outbox is full" in a_log, a_log[-3000:]
    assert "missed events that cannot be replayed" in b_log, b_log[-3000:]
    assert "RecursionError" not in a_log and "Traceback" not in a_log, a_log[-3000:]
