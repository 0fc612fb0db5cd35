"""The embedded eventlet server's request heads, read by realtime's own header parser."""

from __future__ import annotations

import re
import socket

import pytest

from tests.support.servers import ServerPool, ServerProcess

ECHO = "tests.support.apps:engine_echo"


@pytest.fixture
def server(server_pool: ServerPool) -> ServerProcess:
    return server_pool.get(ECHO, "eventlet")


def exchange(server: ServerProcess, raw: bytes, timeout: float = 5) -> bytes:
    """Send ``raw``, return everything the server sends until it closes."""
    host, port = server.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def statuses(data: bytes) -> list[bytes]:
    return re.findall(rb"HTTP/1\.[01] (\d{3}) ", data)


def test_keep_alive_serves_several_requests_on_one_connection(server: ServerProcess) -> None:
    request = b"GET /info HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data = exchange(server, request * 2 + last)
    assert statuses(data) == [b"200"] * 3


def test_http_1_0_closes_after_one_response(server: ServerProcess) -> None:
    data = exchange(server, b"GET /info HTTP/1.0\r\n\r\n")
    assert statuses(data) == [b"200"]


def test_headers_in_any_case_with_folding_and_repeats(server: ServerProcess) -> None:
    # A folded header and a header given twice still make one request the
    # engine reads (its CORS check sees the Origin header, in any case).
    data = exchange(
        server,
        b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\n"
        b"host: x\r\nX-Long: first\r\n second\r\nX-Twice: a\r\nX-Twice: b\r\n"
        b"oRiGiN: http://elsewhere.example\r\nConnection: close\r\n\r\n",
    )
    assert statuses(data)[0] == b"403"  # a cross-origin refusal


def test_too_many_headers_get_431(server: ServerProcess) -> None:
    head = b"GET /info HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(101))
    data = exchange(server, head + b"\r\n")
    assert statuses(data)[0] == b"431"


def test_a_header_line_too_long_is_refused(server: ServerProcess) -> None:
    # eventlet.wsgi's reader stops at 8 KiB lines before the parser sees them.
    data = exchange(server, b"GET /info HTTP/1.1\r\nX-Big: " + b"y" * 70000 + b"\r\n\r\n")
    assert statuses(data)[0] == b"400"


@pytest.mark.parametrize(
    "line", [b"no colon here", b": no name", b"Space Before : colon", b" folded first"]
)
def test_a_line_that_is_not_a_header_gets_400(server: ServerProcess, line: bytes) -> None:
    data = exchange(server, b"GET /info HTTP/1.1\r\n" + line + b"\r\n\r\n")
    assert statuses(data)[0] == b"400"


def test_expect_100_continue(server: ServerProcess) -> None:
    host, port = server.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /info HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        # The interim response comes only once the app reads the body; this
        # app does not, so the final response comes without it.
        sock.sendall(b"hello")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert statuses(data)[-1] == b"200"


def test_other_request_lines_keep_http_servers_answers(server: ServerProcess) -> None:
    # (http.server answers these without a status line: the code is in the body.)
    assert b"505" in exchange(server, b"GET /info HTTP/2.0\r\n\r\n")
    assert b"400" in exchange(server, b"GET /info JUNK/1.1\r\n\r\n")
    assert b"400" in exchange(server, b"GET\r\n\r\n")
