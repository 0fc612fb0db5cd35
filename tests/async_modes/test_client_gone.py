"""The embedded servers (eventlet, gevent, threads) and clients that vanish mid-exchange.

A client that resets its connection while its response is being written,
or in the middle of its request head, is a DEBUG line: no traceback, no
ERROR or WARNING, and the server goes on serving others. The application's
own connection errors (a backend that reset) are still reported with their
traceback: only the client's going is quiet.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest
import requests

from tests.support.servers import ServerProcess
from tests.support.vanishing import GONE, ServerLog, connect, logged_server, read_some, vanish

pytestmark = pytest.mark.usefixtures("async_mode")

APP = "tests.support.vanishing:plain_app"
BACKEND_RESET = re.compile(r"ConnectionResetError: backend reset")


@pytest.fixture
def server(
    async_mode: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerLog]]:
    path = tmp_path_factory.mktemp("log") / "server.log"
    process = logged_server(APP, async_mode, path)
    log = ServerLog(path)
    log.mark()
    yield process, log
    process.stop()


def assert_still_serving(server: ServerProcess) -> None:
    assert requests.get(f"{server.url}/ok", timeout=10).text == "ok"


def test_a_reset_while_the_response_is_written(server: tuple[ServerProcess, ServerLog]) -> None:
    process, log = server
    for _ in range(3):
        sock = connect(process.port)
        sock.sendall(b"GET /big?n=8000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_some(sock, 1000).startswith(b"HTTP/1.1 200")
        vanish(sock)
    assert log.wait_for(GONE), log.since_mark()
    assert_still_serving(process)
    assert log.crash_like() == []


def test_a_reset_before_the_response(server: tuple[ServerProcess, ServerLog]) -> None:
    process, log = server
    for _ in range(20):
        sock = connect(process.port)
        sock.sendall(b"GET /big?n=1000000 HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        vanish(sock)
    assert_still_serving(process)
    assert log.crash_like() == []


@pytest.mark.parametrize(
    "head",
    [
        b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Cut",
        b"GET /ok HTTP/1.1\r\nHo",
        b"GET /o",
        b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc",
    ],
    ids=["mid-header", "mid-name", "mid-request-line", "mid-body"],
)
def test_a_reset_mid_request(server: tuple[ServerProcess, ServerLog], head: bytes) -> None:
    process, log = server
    for _ in range(5):
        sock = connect(process.port)
        sock.sendall(head)
        vanish(sock)
    assert_still_serving(process)
    assert log.crash_like() == []


def test_the_applications_own_reset_keeps_its_traceback(
    server: tuple[ServerProcess, ServerLog],
) -> None:
    process, log = server
    with contextlib.suppress(requests.RequestException):
        # werkzeug answers nothing to it (eventlet and gevent a 500)
        requests.get(f"{process.url}/backend-reset", timeout=2)
    assert log.wait_for(BACKEND_RESET), log.since_mark()
    text = log.since_mark()
    assert "Traceback" in text
    assert " ERROR " in text or "failed with ConnectionResetError" in text
    assert not GONE.search(text)
    assert_still_serving(process)
