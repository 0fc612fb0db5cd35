"""Engine test servers: the echo app in each async mode, in a few configurations."""

from __future__ import annotations

import pytest

from tests.support.servers import ServerPool, ServerProcess

ECHO = "tests.support.apps:engine_echo"
ALLOWED_ORIGIN = "http://allowed.example"
#: A second configuration: small payload limit, a cookie, an origin allow-list.
STRICT = {
    "max_http_buffer_size": 1000,
    "cookie": "io",
    "cors_allowed_origins": [ALLOWED_ORIGIN],
    "http_compression": True,
    "compression_threshold": 100,
}
#: Short heartbeats, as the reference conformance suite uses.
FAST_HEARTBEAT = {"ping_interval": 0.3, "ping_timeout": 0.2}


@pytest.fixture
def echo(server_pool: ServerPool, async_mode: str) -> ServerProcess:
    return server_pool.get(ECHO, async_mode)


@pytest.fixture
def strict(server_pool: ServerPool, async_mode: str) -> ServerProcess:
    return server_pool.get(ECHO, async_mode, **STRICT)


@pytest.fixture
def fast_heartbeat(server_pool: ServerPool, async_mode: str) -> ServerProcess:
    return server_pool.get(ECHO, async_mode, **FAST_HEARTBEAT)
