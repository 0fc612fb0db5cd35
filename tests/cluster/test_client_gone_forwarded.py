"""A client that vanishes in the middle of a POST that a process would forward to
the session's owner: a DEBUG line where it landed, nothing at the owner, and
the session goes on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.test_engine_forwarding import MODES, REDIS, redis_answers
from tests.conftest import require
from tests.engine.conftest import ECHO
from tests.support import eio
from tests.support.servers import ServerProcess
from tests.support.vanishing import GONE, ServerLog, connect, logged_server, vanish

Logged = tuple[ServerProcess, ServerLog]


@pytest.fixture(params=MODES)
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Logged, Logged]]:
    require(redis_answers(), "a Redis server on 127.0.0.1:6379 (make prereqs starts one)")
    options = {"cluster_url": REDIS, "cluster_channel": f"test-{uuid.uuid4().hex[:8]}"}
    servers: list[Logged] = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.log"
        mode = str(request.param)
        process = logged_server(ECHO, mode, path, monkey_patch=mode == "gevent", **options)
        log = ServerLog(path)
        servers.append((process, log))
    for _, log in servers:
        log.mark()
    yield servers[0], servers[1]
    for process, _ in servers:
        process.stop()


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_mid_forwarded_post_body(pair: tuple[Logged, Logged], framing: str) -> None:
    (a, a_log), (b, b_log) = pair
    sid, _ = eio.handshake(a.url)
    sock = connect(b.port)
    target = eio.url("", sid)
    if framing == "length":
        head = f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
        sock.sendall(head.encode() + b"4abc")
    else:
        head = f"POST {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        sock.sendall(head.encode() + b"3e8\r\n4abc")
    vanish(sock)
    assert b_log.wait_for(GONE), b_log.since_mark()
    assert eio.post(b.url, sid, "4after").text == "ok"
    assert eio.poll(b.url, sid).text == "4after"
    assert a_log.crash_like() == []
    assert b_log.crash_like() == []
