"""The Redis broker against a real redis-server, including losing it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

from realtime.async_modes.threading_mode import ThreadingMode
from realtime.exceptions import BrokerUnavailable, ConfigurationError
from realtime.socketio.managers.brokers import open_broker
from realtime.socketio.managers.brokers.redis_broker import RedisBroker
from tests.conftest import require
from tests.support.redis_server import RedisServer, redis_server_path
from tests.support.subscribers import CallbackSubscriber

logger = logging.getLogger("tests.broker")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    require(redis_server_path() is not None, "redis-server (Debian's redis-server package)")
    server = RedisServer().start()
    yield server
    server.stop()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._arrived = threading.Condition()

    def __call__(self, channel: str, data: bytes) -> None:
        with self._arrived:
            self.messages.append((channel, data))
            self._arrived.notify_all()

    def wait(self, count: int, timeout: float = 10) -> list[tuple[str, bytes]]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)


def subscribed(broker: RedisBroker, channels: list[str], inbox: Inbox) -> None:
    broker.subscribe(channels, CallbackSubscriber(inbox))
    deadline = time.monotonic() + 10
    while broker.publish(channels[0], b"ready?") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    inbox.wait(1)
    inbox.messages.clear()


def test_publish_and_subscribe_in_order(redis_server: RedisServer) -> None:
    broker = open_broker(redis_server.url, ThreadingMode(), logger)
    assert isinstance(broker, RedisBroker)
    inbox = Inbox()
    subscribed(broker, ["a", "b"], inbox)
    for i in range(100):
        assert broker.publish("a" if i % 2 else "b", f"m{i}".encode()) == 1
    received = inbox.wait(100)
    assert [data for _, data in received] == [f"m{i}".encode() for i in range(100)]
    assert {channel for channel, _ in received} == {"a", "b"}
    assert broker.publish("nobody-listens", b"x") == 0
    broker.close()


def test_losing_and_finding_the_broker(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    broker = open_broker(redis_server.url, ThreadingMode(), logger)
    inbox = Inbox()
    subscribed(broker, ["news"], inbox)
    with caplog.at_level(logging.WARNING, logger="tests.broker"):
        redis_server.stop()
        with pytest.raises(BrokerUnavailable):
            broker.publish("news", b"lost")
        time.sleep(1.5)
        redis_server.start()
        deadline = time.monotonic() + 30
        while broker.publish("news", b"back") == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert inbox.wait(1, timeout=10)[0] == ("news", b"back")
    messages = [r.getMessage() for r in caplog.records]
    assert sum("lost the broker" in m for m in messages) == 1
    assert any("reconnected to the broker" in m for m in messages)
    broker.close()


def test_unknown_scheme() -> None:
    with pytest.raises(ConfigurationError, match="redis://"):
        open_broker("kafka://somewhere", ThreadingMode(), logger)


def test_credentials_stay_out_of_log_lines() -> None:
    broker = open_broker("redis://user:secret@127.0.0.1:1/0", ThreadingMode(), logger)
    assert broker.describe() == "redis://127.0.0.1:1/0"


def test_a_closed_broker_is_unavailable(redis_server: RedisServer) -> None:
    # A process's heartbeat task may still publish while the process closes
    # its broker: it gets BrokerUnavailable (which it knows what to do with),
    # never redis-py's own error from a connection closed under it.
    broker = open_broker(redis_server.url, ThreadingMode(), logger)
    assert broker.publish("x", b"before") == 0
    broker.close()
    with pytest.raises(BrokerUnavailable, match="closed"):
        broker.publish("x", b"after")
    with pytest.raises(BrokerUnavailable, match="closed"):
        broker.listeners(["x"])
