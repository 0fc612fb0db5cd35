"""The engine and clients that vanish mid-exchange, over real sockets, in every async mode.

A client that resets its connection in the middle of a long poll's
response, of a large WebSocket message, of an SSE stream or of its own POST
body gets a DEBUG line in the server's log, never a traceback, an ERROR or
a WARNING; its session ends as Node's engine.io ends it, and other clients
go on. A body that is merely late (the client is still there) is still a
WARNING.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from tests.engine.conftest import ECHO
from tests.support import eio
from tests.support.raw_websocket import open_raw
from tests.support.servers import ServerProcess
from tests.support.vanishing import GONE, ServerLog, connect, logged_server, read_some, vanish

pytestmark = pytest.mark.usefixtures("async_mode")

#: Bytes of a message too large for a small receive window and the kernel's
#: buffers: the server is still writing it when the client vanishes.
LARGE = 6_000_000


@pytest.fixture
def server(
    async_mode: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerLog]]:
    path = tmp_path_factory.mktemp("log") / "server.log"
    # A body has ping_interval + ping_timeout to arrive (threads: http_timeout
    # between reads): short, for the late-body test.
    process = logged_server(
        ECHO, async_mode, path, http_timeout=2.0, ping_interval=1, ping_timeout=1
    )
    log = ServerLog(path)
    log.mark()
    yield process, log
    process.stop()


def assert_others_go_on(server: ServerProcess) -> None:
    sid, _ = eio.handshake(server.url)
    assert eio.post(server.url, sid, "4still serving").text == "ok"
    assert eio.poll(server.url, sid).text == "4still serving"


def assert_quiet(server: ServerProcess, log: ServerLog) -> None:
    """The client's going was noticed, at DEBUG only, and others are served."""
    assert log.wait_for(GONE), log.since_mark()
    assert_others_go_on(server)
    assert log.crash_like() == []


def request_head(method: str, sid: str, transport: str = "polling", **headers: str) -> bytes:
    lines = [f"{method} {eio.url('', sid, transport)} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_mid_long_poll_response(server: tuple[ServerProcess, ServerLog]) -> None:
    process, log = server
    sid, _ = eio.handshake(process.url)
    assert eio.post(process.url, sid, f"4binary:{LARGE}").text == "ok"
    sock = connect(process.port)
    sock.sendall(request_head("GET", sid))
    assert read_some(sock, 1000).startswith(b"HTTP/1.1 200")
    vanish(sock)
    assert_quiet(process, log)


def test_mid_websocket_message(server: tuple[ServerProcess, ServerLog]) -> None:
    process, log = server
    ws = open_raw(process.port, "EIO=4&transport=websocket", want_after=10, receive_buffer=4096)
    sid = json.loads(ws.after[ws.after.index(b"{") :])["sid"]
    ws.send_text(f"4binary:{LARGE}")
    read_some(ws.sock, 1000)
    ws.reset()
    assert_quiet(process, log)
    assert eio.disconnect_reason(process.url, sid) == "transport close"


def test_mid_sse_stream(server: tuple[ServerProcess, ServerLog]) -> None:
    process, log = server
    sid, _ = eio.handshake(process.url, ext="ladder")
    sock = connect(process.port)
    sock.sendall(request_head("GET", sid, "sse"))
    assert read_some(sock, 100).startswith(b"HTTP/1.1 200")

    def post(body: str) -> None:
        assert requests.post(eio.url(process.url, sid, "sse"), data=body, timeout=10).text == "ok"

    post("2probe")
    assert eio.poll(process.url, sid).text == "6"
    post("5")
    post(f"4binary:{LARGE}")
    read_some(sock, 10000)
    vanish(sock)
    assert_quiet(process, log)
    assert eio.disconnect_reason(process.url, sid) == "transport close"


@pytest.mark.parametrize(
    ("framing", "cut"),
    [("length", "reset"), ("chunked", "reset"), ("length", "half-close")],
)
def test_mid_post_body(server: tuple[ServerProcess, ServerLog], framing: str, cut: str) -> None:
    process, log = server
    sid, _ = eio.handshake(process.url)
    sock = connect(process.port)
    if framing == "length":
        sock.sendall(request_head("POST", sid, **{"Content-Length": "100000"}) + b"4abc")
    else:
        head = request_head("POST", sid, **{"Transfer-Encoding": "chunked"})
        sock.sendall(head + b"3e8\r\n4abc")
    time.sleep(0.2)
    if cut == "reset":
        vanish(sock)
    else:
        sock.shutdown(socket.SHUT_WR)  # the body ends early; the client could still read
        time.sleep(0.2)
        vanish(sock)
    assert_quiet(process, log)
    # As Node's engine.io: a data request closed prematurely is a transport error.
    assert eio.disconnect_reason(process.url, sid) == "transport error"


def test_a_late_body_is_still_a_warning(server: tuple[ServerProcess, ServerLog]) -> None:
    process, log = server
    sid, _ = eio.handshake(process.url)
    sock = connect(process.port)
    sock.sendall(request_head("POST", sid, **{"Content-Length": "100"}) + b"4abc")
    assert read_some(sock, 12).startswith(b"HTTP/1.1 400")  # after ping_interval + ping_timeout
    sock.close()
    assert "WARNING" in log.since_mark()
    assert "did not arrive in time" in log.since_mark()
    assert not GONE.search(log.since_mark())
