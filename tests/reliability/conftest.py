"""Fixtures of the reliability tests: Node, a private Redis, a Sentinel deployment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import require
from tests.support.node import node
from tests.support.redis_server import RedisServer, redis_server_path
from tests.support.sentinel import SentinelDeployment

__all__ = ["node", "redis", "sentinels"]


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
