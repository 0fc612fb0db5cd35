"""A resume that the Redis recovery log cannot check now keeps its snapshot.

Resuming takes the socket's snapshot first, then asks the log what the
client missed. When that needs Redis and Redis is out of reach (in a
deployment: an offset another process delivered and this one has not read
yet; here: an offset ahead of everything this process has read), the server
closes the connection for the client to try again, and the snapshot must
still be there for that try. Before, it was lost with the first try, and the
client came back as a new socket. A real redis-server, stopped; raw
Engine.IO polling against a server in this process.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator

import pytest

import realtime
from realtime.engine.session import DisconnectReason
from tests.conftest import require
from tests.socketio.recovery.test_abandoned_resume import (
    ROOM,
    _connected,
    _joined,
    _open,
    _poll,
    _post,
)
from tests.support.embedded import embedded_server
from tests.support.redis_server import RedisServer, redis_server_path


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    require(redis_server_path() is not None, "redis-server (Debian's redis-server package)")
    server = RedisServer().start()
    yield server
    server.stop()


def test_a_resume_the_log_cannot_check_is_kept_for_the_next_try(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    sio = realtime.Server(
        async_mode="threading",
        connection_state_recovery=True,
        message_queue=redis_server.url,
        channel=f"resume-{uuid.uuid4().hex[:8]}",
    )

    @sio.on("join")
    def join(sid: str) -> bool:
        sio.enter_room(sid, ROOM)
        return True

    caplog.set_level(logging.INFO, logger="realtime")
    with embedded_server(sio, "threading") as base:
        joined = _joined(base, sio)
        first, sid, pid, offset = joined.eio_sid, joined.sid, joined.pid, joined.offset
        sio.engine.disconnect(first, reason=DisconnectReason.TRANSPORT_CLOSE)

        redis_server.stop()
        # An offset this process has not read: only Redis can say what it is.
        ahead = "99999999999999-0"
        second = _open(base)
        assert _post(base, second, "40" + json.dumps({"pid": pid, "offset": ahead})).text == "ok"
        assert _poll(base, second) == ["1"], "the client is told to reconnect"
        assert "cannot resume a socket" in caplog.text

        # The next try (its real offset; Redis still down) gets the socket
        # back: its sid, its room.
        third = _open(base)
        assert _post(base, third, "40" + json.dumps({"pid": pid, "offset": offset})).text == "ok"
        connect = _connected(base, third)
        assert connect["sid"] == sid and connect["pid"] == pid, connect
        assert sio.recovered(sid)
        assert ROOM in sio.rooms(sid)
