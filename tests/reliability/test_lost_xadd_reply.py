"""Issue 13, item 4: a broadcast whose XADD reply was lost is delivered once, not twice.

One process of the Flask app reaches its private Redis through a proxy
that, once armed, forwards an append to the recovery log (an ``XADD``, or
a script that runs one) to Redis, waits until Redis has
answered it (the entry is in the stream), then drops the answer and ends
the connection, in order (redis-py: "Connection closed by server") or with
a reset ("Connection reset by peer"). Official Node clients (WebSocket and
polling) on that process receive the broadcasts of a producer that emits
one every 20 ms, acknowledged.

Every acknowledged broadcast must reach each client exactly once, in
order. When issue 13 was filed the XADD raised, and the server delivered
the event through its "local clients only" fallback, and again when it read
the entry back from the stream (with the same offset, when the read came
first).
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
#: The recovery log of the Flask extension's default channel (docs/recovery.md).
STREAM = "flask-socketio:recovery:log"
#: Commands that may append to it.
APPENDS = ("XADD", "EVALSHA", "EVAL", "FCALL")

pytestmark = [
    pytest.mark.node,
]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("how", ["closed", "reset"])
def test_an_append_whose_reply_was_lost_is_delivered_once(
    node: str, redis: RedisServer, tmp_path: Path, how: str
) -> None:
    cutter = RedisCutProxy(redis.port).start()
    options = {"message_queue": cutter.url, "ping_interval": 5, "ping_timeout": 5}
    server = ServerProcess(
        APP, "gevent", dict(options), env=MONKEY, log_path=str(tmp_path / "server.log")
    ).start()
    clients = [("websocket", server.url, "websocket"), ("polling", server.url, "polling")]
    receivers = NodeReceivers(node, clients, tmp_path / "node.log")
    producer = Producer(server.url, interval=0.02, ack_timeout=10)
    try:
        receivers.ready()
        producer.start()
        time.sleep(0.5)
        # The append: an XADD, or a script that runs one (EVALSHA), on the log.
        cutter.arm(APPENDS, key=STREAM, reset=how == "reset")
        cut = cutter.cut_done.wait(5)
        time.sleep(1.5)
        producer.stop()
        reports = receivers.report(sorted(producer.acked), 5)
    finally:
        producer.stop()
        receivers.close()
        server.stop()
        cutter.close()
    log = Path(tmp_path / "server.log").read_text()
    results = [delivery(report, producer) for report in reports]
    fallback = "local clients only" in log
    summary = render(
        results, producer, f"append reply lost ({how}); 'local clients only' fallback: {fallback}"
    )
    assert cut, "the proxy saw no append to the recovery log to cut"
    assert len(producer.acked) >= 50, summary
    assert all(result.ok for result in results), summary
