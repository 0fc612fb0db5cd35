"""Every entry a process served itself before it reached Redis is read as late.

A process that cannot append an event within ``APPEND_WAIT`` (Redis away,
or too slow) delivers it to its own clients at once and appends it later;
the other processes must then keep it from their sockets that joined after
it was emitted (see tests/reliability/test_late_entries.py). Two ways an
entry used to go out unmarked, each found behind the chaos test's one
python-socketio receiver that got 37 events twice:

- emitted while Redis was known to be away, and appended by the appender's
  next try (its back-off reaches 2 s) when Redis was back by then: it was
  marked late only by a *failed* try;
- appended after its caller stopped waiting, with no error on the way (Redis
  stalled, not gone): never marked at all. The readers now tell it by its
  age: its stream id stands more than ``APPEND_WAIT`` after its emission.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis as redis_lib
import socketio

from realtime.async_modes import get_async_mode
from realtime.socketio.managers.broker_link import unpack
from realtime.socketio.managers.outbox import OutboxOptions
from realtime.socketio.recovery.redis_appender import APPEND_WAIT, Appender
from tests.reliability.conftest import wait_for
from tests.support.faults import sigkill_redis
from tests.support.redis_server import RedisServer
from tests.support.reliability_clients import PyReceiver
from tests.support.servers import ServerProcess


def _entries(client: Any, stream: str) -> dict[int, dict[str, Any]]:
    """The stream's events by their number ``n`` (the last copy of each)."""
    found: dict[int, dict[str, Any]] = {}
    for _, fields in client.xrange(stream):
        message = unpack(fields[b"m"])
        if message is not None and "n" in message:
            found[int(message["n"])] = message
    return found


@pytest.mark.timeout(60)
def test_an_entry_appended_while_redis_is_known_away_goes_out_late(redis: RedisServer) -> None:
    stream, node = f"late-{uuid.uuid4().hex[:8]}:log", "n1"
    client = redis_lib.Redis.from_url(redis.url, socket_connect_timeout=0.5, socket_timeout=1)
    appender = Appender(
        client,
        redis_lib.RedisError,
        stream,
        f"{stream}:seq:{node}",
        node,
        get_async_mode("threading"),
        max_len=1000,
        key_ttl=60,
        outbox=OutboxOptions(),
        logger=logging.getLogger("tests.late_marking"),
    )
    try:
        assert appender.append({"n": 0}).entry_id is not None
        sigkill_redis(redis)
        # The try that carries it fails: the appender knows Redis is away.
        assert appender.append({"n": 1}).entry_id is None
        assert appender.down
        # Its back-off grows (0.1, 0.2, 0.4, 0.8 s...): append in the middle
        # of one, and have Redis back before the next try, which succeeds.
        time.sleep(0.9)
        assert appender.append({"n": 2}).entry_id is None
        redis.start()
        assert wait_for(lambda: set(_entries(client, stream)) >= {0, 1, 2}, 20)
        entries = _entries(client, stream)
        assert entries[1].get("late") is True
        assert entries[2].get("late") is True, "served by its caller, appended unmarked"
        # Appended again after the error (Redis came back empty): it says
        # where it stood, and is not late (it was in Redis before its caller went on).
        assert "i" in entries[0]
        assert not entries[0].get("late")
    finally:
        appender.close()
        client.close()


@pytest.mark.timeout(90)
def test_an_entry_appended_after_its_caller_gave_up_waiting_is_late_where_it_is_read(
    redis: RedisServer, app_process: Callable[[str], ServerProcess]
) -> None:
    a = app_process("a")
    b = app_process("b")
    receivers: list[PyReceiver] = []
    emitter = socketio.Client(reconnection=False)
    assert redis.process is not None
    stalled = redis.process.pid
    try:
        a.start()
        b.start()
        early = PyReceiver("early", b.url, "websocket")
        receivers.append(early)
        emitter.connect(a.url, transports=["websocket"], wait_timeout=10)
        assert emitter.call("produce", 0, timeout=10)["n"] == 0
        assert wait_for(lambda: [n for n, _ in early.ticks] == [0]), early.ticks

        # Redis stops answering, without closing a connection: A's append of
        # 1 is on its way when A gives up waiting (APPEND_WAIT) and serves
        # its own clients; no error ever marks it late.
        os.kill(stalled, signal.SIGSTOP)
        try:
            started = time.monotonic()
            assert emitter.call("produce", 1, timeout=15)["n"] == 1
            assert time.monotonic() - started >= APPEND_WAIT
            time.sleep(0.2)
            # Joins B after 1 was emitted, before B reads it.
            fresh = PyReceiver("fresh", b.url, "websocket")
            receivers.append(fresh)
        finally:
            os.kill(stalled, signal.SIGCONT)

        assert wait_for(lambda: [n for n, _ in early.ticks] == [0, 1], 20), early.ticks
        assert emitter.call("produce", 2, timeout=10)["n"] == 2
        assert wait_for(lambda: [n for n, _ in fresh.ticks] == [2], 20), fresh.ticks
        time.sleep(0.5)
        assert [n for n, _ in early.ticks] == [0, 1, 2]
        assert [n for n, _ in fresh.ticks] == [2], "an event from before its join reached it"
    finally:
        if emitter.connected:
            emitter.disconnect()
        for receiver in receivers:
            receiver.close()
