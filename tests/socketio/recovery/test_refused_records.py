"""A socket its connect handler refuses leaves no recovery record in Redis.

With the Redis recovery log, a joining socket's record (what another process
needs to take it over if this one dies) is written while its connect handler
runs. A refusal must remove it: before, it stayed in Redis for 24 hours, one
per refused connection. A real redis-server; the connect handler waits until
the record is there before it refuses, so the test sees it written, then gone.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import realtime
from tests.conftest import require
from tests.socketio.recovery.test_abandoned_resume import _open, _poll, _post
from tests.support.embedded import embedded_server
from tests.support.redis_server import RedisServer, redis_server_path


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    require(redis_server_path() is not None, "redis-server (Debian's redis-server package)")
    server = RedisServer().start()
    yield server
    server.stop()


def _records(client: redis.Redis) -> list[bytes]:
    return sorted(client.scan_iter(match="*:rec:*"))


def _until(check: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_a_refused_socket_leaves_no_record(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    sio = realtime.Server(
        async_mode="threading",
        connection_state_recovery=True,
        message_queue=redis_server.url,
        channel=f"refused-{uuid.uuid4().hex[:8]}",
    )
    seen: dict[str, list[bytes]] = {}

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        if auth == {"let": "in"}:
            return True
        # Refused once its record is in Redis (the accepted client's is too).
        seen["during"] = _records(client) if _until(lambda: len(_records(client)) == 2) else []
        return False

    with embedded_server(sio, "threading") as base:
        accepted = _open(base)
        assert _post(base, accepted, "40" + json.dumps({"let": "in"})).text == "ok"
        assert _poll(base, accepted)[0].startswith("40{")
        assert _until(lambda: len(_records(client)) == 1)
        kept = _records(client)

        refused = _open(base)
        assert _post(base, refused, "40").text == "ok"
        (reply,) = _poll(base, refused)
        assert reply.startswith("44"), reply
        assert len(seen["during"]) == 2, "the refused socket's record was written"
        assert _until(lambda: _records(client) == kept), _records(client)
        time.sleep(0.5)
        assert _records(client) == kept, "and stays gone"
    client.close()
