"""Fixtures of the reliability tests: Node, a private Redis, a Sentinel deployment."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.support.node import node
from tests.support.redis_server import RedisServer, redis_server_path
from tests.support.sentinel import SentinelDeployment
from tests.support.servers import ServerProcess

__all__ = ["app_process", "node", "redis", "sentinels", "wait_for"]

APP = "tests.support.reliability_app:create_app"


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """A private redis-server the test may kill and restart (empty) on the same port."""
    require(redis_server_path() is not None, "redis-server (Debian's redis-server package)")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def sentinels() -> Iterator[SentinelDeployment]:
    """A primary, a replica and three sentinels on loopback (tests/support/sentinel.py)."""
    require(redis_server_path() is not None, "redis-server (Debian's redis-server package)")
    with SentinelDeployment() as deployment:
        yield deployment


@pytest.fixture
def app_process(redis: RedisServer, tmp_path: Path) -> Iterator[Callable[[str], ServerProcess]]:
    """Makes processes of the reliability app (gevent, monkey patched; recovery
    on, 5 s heartbeats) on the test's Redis, each named for its log file; the
    test starts them, and they are stopped at the end."""
    made: list[ServerProcess] = []

    def make(name: str) -> ServerProcess:
        options = {"message_queue": redis.url, "ping_interval": 5, "ping_timeout": 5}
        server = ServerProcess(
            APP,
            "gevent",
            options,
            env={"REALTIME_TEST_MONKEY_PATCH": "1"},
            log_path=str(tmp_path / f"{name}.log"),
        )
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


def wait_for(predicate: Callable[[], object], timeout: float = 10) -> bool:
    """Whether ``predicate()`` became true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())
