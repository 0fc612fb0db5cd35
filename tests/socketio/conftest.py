"""Messaging-layer test servers: the Socket.IO echo app in each async mode."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support.servers import ServerPool, ServerProcess

SIO = "tests.support.sio_apps:sio_echo"


@pytest.fixture
def sio(server_pool: ServerPool, async_mode: str) -> ServerProcess:
    return server_pool.get(SIO, async_mode)


@pytest.fixture
def sio_fast(server_pool: ServerPool, async_mode: str) -> ServerProcess:
    """Short heartbeats, as the reference conformance suite configures them."""
    return server_pool.get(SIO, async_mode, ping_interval=0.3, ping_timeout=0.2)


def state(server: ServerProcess, **query: str) -> dict[str, Any]:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return requests.get(f"{server.url}/_test/state?{params}", timeout=10).json()  # type: ignore[no-any-return]
