"""Faults the reliability tests inflict: processes killed without warning, Redis lost."""

from __future__ import annotations

import signal
import time

from tests.support.redis_server import RedisServer
from tests.support.servers import ServerProcess

__all__ = ["freeze_server", "restart_redis_empty", "sigkill_redis", "sigkill_server"]


def sigkill_server(server: ServerProcess) -> int:
    """SIGKILL a test server (no handler runs, nothing is flushed); its pid."""
    assert server.process is not None
    pid = server.process.pid
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(5)
    return pid


def freeze_server(server: ServerProcess) -> int:
    """SIGSTOP a test server: it answers nothing, yet none of its sockets closes
    (as when its host vanished from the network); its pid. ``stop()`` still
    ends it (SIGKILL reaches a stopped process)."""
    assert server.process is not None
    server.process.send_signal(signal.SIGSTOP)
    return server.process.pid


def sigkill_redis(redis: RedisServer) -> None:
    """SIGKILL a private redis-server: every connection to it is cut, and it keeps nothing."""
    assert redis.process is not None
    redis.process.send_signal(signal.SIGKILL)
    redis.process.wait(5)
    redis.process = None


def restart_redis_empty(redis: RedisServer, down: float) -> None:
    """SIGKILL Redis, and start it again, empty, on the same port ``down`` s later."""
    sigkill_redis(redis)
    time.sleep(down)
    redis.start()
