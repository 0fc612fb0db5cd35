"""The outbox: what waits for the broker while it is away, and duplicates."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

import realtime
from realtime.async_modes.threading_mode import ThreadingMode
from realtime.exceptions import BrokerUnavailable, ConfigurationError
from realtime.socketio.managers.outbox import Deduplicator, Outbox, OutboxOptions
from tests.conftest import require
from tests.support.redis_server import RedisServer, redis_server_path

logger = logging.getLogger("tests.outbox")


class Broker:
    """Stands for the broker's side of publishing: up, down, or dropping for a while."""

    def __init__(self) -> None:
        self.up = True
        self.reached = True
        self.got: list[tuple[str | None, int]] = []
        self.lock = threading.Lock()

    def send(self, node: str | None, message: dict[str, Any]) -> bool:
        with self.lock:
            if not self.up:
                raise BrokerUnavailable("down")
            self.got.append((node, message["n"]))
            return self.reached


def wait_for(predicate: Any, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_sends_at_once_while_the_broker_is_there() -> None:
    broker = Broker()
    outbox = Outbox(broker.send, ThreadingMode(), OutboxOptions(), logger)
    for n in range(3):
        outbox.post(None, {"n": n})
    assert broker.got == [(None, 0), (None, 1), (None, 2)]
    assert outbox.waiting == 0


def test_keeps_in_order_while_it_is_away_and_nothing_overtakes() -> None:
    broker = Broker()
    outbox = Outbox(broker.send, ThreadingMode(), OutboxOptions(), logger)
    broker.up = False
    for n in range(5):
        outbox.post("node", {"n": n})
    assert outbox.waiting == 5
    broker.up = True
    outbox.post("node", {"n": 5})
    assert wait_for(lambda: outbox.waiting == 0)
    assert [n for _, n in broker.got] == [0, 1, 2, 3, 4, 5]
    outbox.close()


def test_sends_again_what_a_process_that_should_have_got_it_did_not() -> None:
    broker = Broker()
    outbox = Outbox(broker.send, ThreadingMode(), OutboxOptions(), logger)
    broker.reached = False
    outbox.post(None, {"n": 1})
    time.sleep(0.3)
    broker.reached = True
    assert wait_for(lambda: outbox.waiting == 0)
    assert len(broker.got) >= 2 and {n for _, n in broker.got} == {1}
    outbox.close()


def test_drops_the_oldest_past_its_bound(caplog: pytest.LogCaptureFixture) -> None:
    broker = Broker()
    outbox = Outbox(broker.send, ThreadingMode(), OutboxOptions(max_messages=3), logger)
    broker.up = False
    with caplog.at_level(logging.ERROR, logger="tests.outbox"):
        for n in range(5):
            outbox.post(None, {"n": n})
    assert outbox.waiting == 3
    # Two drops, one report: a full outbox does not flood the log.
    assert sum("dropped the 1 oldest" in r.getMessage() for r in caplog.records) == 1
    broker.up = True
    assert wait_for(lambda: outbox.waiting == 0)
    assert [n for _, n in broker.got] == [2, 3, 4]
    outbox.close()


def test_numbers_every_message() -> None:
    broker = Broker()
    outbox = Outbox(broker.send, ThreadingMode(), OutboxOptions(), logger)
    messages = [{"n": n} for n in range(3)]
    for message in messages:
        outbox.post(None, message)
    assert [m["seq"] for m in messages] == [1, 2, 3]


def test_deduplicator() -> None:
    dedup = Deduplicator()
    assert dedup.first_time("a", 1) and dedup.first_time("a", 2) and dedup.first_time("b", 1)
    assert not dedup.first_time("a", 1)
    assert dedup.first_time("a", None)  # unnumbered messages pass


def test_options() -> None:
    assert OutboxOptions.from_option(None) == OutboxOptions()
    assert OutboxOptions.from_option({"max_messages": 5}).max_messages == 5
    for bad in ({"max_messages": 0}, {"nope": 1}, 3):
        with pytest.raises(ConfigurationError):
            OutboxOptions.from_option(bad)


def test_the_server_option_reaches_the_manager() -> None:
    require(redis_server_path() is not None, "redis-server (Debian's redis-server package)")
    redis = RedisServer().start()
    try:
        server = realtime.Server(
            message_queue=redis.url, outbox={"max_messages": 7}, async_mode="threading"
        )
        assert server.manager.outbox_options == OutboxOptions(max_messages=7)  # type: ignore[attr-defined]
        server.shutdown()
    finally:
        redis.stop()
    with pytest.raises(ConfigurationError, match="outbox applies to a message_queue"):
        realtime.Server(outbox={"max_messages": 7}, async_mode="threading")
