"""Slow, vanished and malicious clients against the embedded servers."""

from __future__ import annotations

import socket
import time

import pytest

from tests.support import eio
from tests.support.servers import ServerPool, ServerProcess

pytestmark = pytest.mark.usefixtures("async_mode")


@pytest.fixture
def short_timeout(server_pool: ServerPool, async_mode: str) -> ServerProcess:
    return server_pool.get("tests.support.apps:engine_echo", async_mode, http_timeout=1.0)


def raw(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def test_trickled_request_head_is_cut_off(short_timeout: ServerProcess) -> None:
    sock = raw(short_timeout)
    request = b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"
    started = time.monotonic()
    try:
        for byte in request:
            sock.send(bytes([byte]))
            time.sleep(0.1)
            if time.monotonic() - started > 4:
                break
    except OSError:
        pass  # the server hung up while we were still trickling
    assert closed_within(sock, 3)
    assert time.monotonic() - started < 6
    # The server still serves others.
    sid, _ = eio.handshake(short_timeout.url)
    assert sid


def test_idle_connection_without_a_request_is_closed(short_timeout: ServerProcess) -> None:
    sock = raw(short_timeout)
    assert closed_within(sock, 4)


def test_garbage_instead_of_http(echo: ServerProcess) -> None:
    sock = raw(echo)
    sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100 + b"\r\n\r\n")
    assert closed_within(sock, 5)
    sid, _ = eio.handshake(echo.url)
    eio.post(echo.url, sid, "4fine")
    assert eio.poll(echo.url, sid).text == "4fine"


def test_truncated_post_body_closes_the_session(echo: ServerProcess) -> None:
    sid, _ = eio.handshake(echo.url)
    sock = raw(echo)
    sock.sendall(
        f"POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
        "Host: x\r\nContent-Length: 100\r\n\r\n4only part".encode()
    )
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(10)
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass
    sock.close()
    for _ in range(50):
        if eio.poll(echo.url, sid).status_code == 400:
            break
        time.sleep(0.1)
    assert eio.poll(echo.url, sid).status_code == 400


def test_websocket_client_that_stops_reading_does_not_stall_others(echo: ServerProcess) -> None:
    slow = eio.ws_connect(echo.ws_url)
    slow.recv()
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    for _ in range(20):
        slow.send("4binary:512000")  # 10 MB the client never reads
    healthy, _ = eio.ws_open(echo.ws_url)
    started = time.monotonic()
    for i in range(50):
        healthy.send(f"4m{i}")
        assert eio.ws_recv_skip_pings(healthy) == f"4m{i}"
    assert time.monotonic() - started < 10
    healthy.close()
    slow.sock.close()


def test_each_request_head_on_a_kept_alive_connection_has_its_deadline(
    short_timeout: ServerProcess, async_mode: str
) -> None:
    if async_mode == "threading":
        pytest.skip("the threading server closes this connection after its first answer")
    # The deadline (http_timeout, 1 s here) runs from the wait for each
    # request line: requests 0.6 s apart are all served, on one connection;
    # a head then trickled is cut off about a second after the last answer.
    sock = raw(short_timeout)
    request = b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n"
    answers = b""
    for served in range(1, 4):
        sock.sendall(request)
        while answers.count(b"HTTP/1.1 200") < served:
            chunk = sock.recv(65536)
            assert chunk, answers
            answers += chunk
        time.sleep(0.6)
    started = time.monotonic()
    try:
        for byte in request[:-2]:
            sock.send(bytes([byte]))
            time.sleep(0.1)
            if time.monotonic() - started > 4:
                break
    except OSError:
        pass
    assert closed_within(sock, 3)
    assert time.monotonic() - started < 2.5
