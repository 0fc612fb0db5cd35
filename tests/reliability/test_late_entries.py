"""Events emitted while Redis was away reach the clients that were there, not later ones.

Two processes share a private Redis, recovery on. Redis is killed; process
A serves its own clients at once and keeps what it emitted in its outbox;
when Redis is back those entries are appended *late*. A client that joined
process B before the emission must get them once; a client that joined B
after it (a fresh session, python-socketio's client, which cannot recover)
must not: they were broadcast before it was in the room.

When this test was written, B compared stream positions, which stand still
while Redis is away: a client that joined during the outage tied with the
emission and got events from before its join.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import socketio

from tests.reliability.conftest import wait_for
from tests.support.faults import sigkill_redis
from tests.support.redis_server import RedisServer
from tests.support.reliability_clients import PyReceiver
from tests.support.servers import ServerProcess


@pytest.mark.timeout(90)
def test_late_entries_reach_who_was_there_and_not_who_came_after(
    redis: RedisServer, app_process: Callable[[str], ServerProcess]
) -> None:
    a = app_process("a")
    b = app_process("b")
    receivers: list[PyReceiver] = []
    emitter = socketio.Client(reconnection=False)
    try:
        a.start()
        b.start()
        early = PyReceiver("early", b.url, "websocket")
        receivers.append(early)
        emitter.connect(a.url, transports=["websocket"], wait_timeout=10)
        assert emitter.call("produce", 0, timeout=10)["n"] == 0
        assert wait_for(lambda: [n for n, _ in early.ticks] == [0]), early.ticks

        sigkill_redis(redis)
        time.sleep(0.5)
        # Served by A at once; kept in A's outbox for the others.
        for n in (1, 2, 3):
            assert emitter.call("produce", n, timeout=10)["n"] == n
        time.sleep(0.2)
        fresh = PyReceiver("fresh", b.url, "websocket")
        receivers.append(fresh)
        redis.start()

        assert wait_for(lambda: [n for n, _ in early.ticks] == [0, 1, 2, 3], 20), early.ticks
        # Something emitted after the fresh join reaches it: the log flows again.
        assert emitter.call("produce", 4, timeout=10)["n"] == 4
        assert wait_for(lambda: [n for n, _ in fresh.ticks] == [4], 20), fresh.ticks
        time.sleep(0.5)
        assert [n for n, _ in early.ticks] == [0, 1, 2, 3, 4]
        assert [n for n, _ in fresh.ticks] == [4], "events from before its join reached it"
    finally:
        if emitter.connected:
            emitter.disconnect()
        for receiver in receivers:
            receiver.close()
