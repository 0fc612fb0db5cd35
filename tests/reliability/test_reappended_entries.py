"""Entries appended again after Redis lost them reach who was there, not who came after.

A process keeps what it appended in the last 10 s and appends it again
after Redis fails (Redis may have lost it, restarted empty or failed over).
A process that never read the first copy (it started after those entries,
as gunicorn's replacement for a killed worker does) reads the second one
as new. Its fresh sockets, which joined after the entries were emitted,
must not get them: a client that was there got them the first time, on its
earlier connection (found by the chaos test: a python-socketio polling
client, back on a new worker after the kill, got 62 events twice when Redis
came back empty, under offsets of the old and of the new stream).

Two processes of the Flask app share a private Redis, recovery on: A
emits, C starts after A's first events, a fresh client joins C, Redis is
killed and restarted empty, A emits again. The fresh client must get only
what was emitted after it joined.
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
def test_entries_appended_again_skip_sockets_that_joined_after_them(
    redis: RedisServer, app_process: Callable[[str], ServerProcess]
) -> None:
    a = app_process("a")
    c = app_process("c")
    receivers: list[PyReceiver] = []
    emitter = socketio.Client(reconnection=False)
    try:
        a.start()
        emitter.connect(a.url, transports=["websocket"], wait_timeout=10)
        for n in (0, 1, 2):
            assert emitter.call("produce", n, timeout=10)["n"] == n
        # C starts after them: it never reads their first copies.
        c.start()
        fresh = PyReceiver("fresh", c.url, "websocket")
        receivers.append(fresh)
        time.sleep(0.5)

        sigkill_redis(redis)
        time.sleep(0.5)
        # A fails to append: it will append 0 to 2 again, and 3 late.
        assert emitter.call("produce", 3, timeout=10)["n"] == 3
        redis.start()

        assert wait_for(lambda: [n for n, _ in fresh.ticks] == [3], 20), fresh.ticks
        assert emitter.call("produce", 4, timeout=10)["n"] == 4
        assert wait_for(lambda: [n for n, _ in fresh.ticks] == [3, 4], 20), fresh.ticks
        time.sleep(0.5)
        assert [n for n, _ in fresh.ticks] == [3, 4], "events from before its join reached it"
    finally:
        if emitter.connected:
            emitter.disconnect()
        for receiver in receivers:
            receiver.close()
