"""The server's side of each rung through a real nginx, configured right and wrong."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import engineio
import pytest
import requests
import websocket

from tests.support import eio
from tests.support.nginx import Nginx
from tests.support.servers import ServerPool, ServerProcess
from tests.support.streams import HttpStream, post

Proxy = Callable[[ServerProcess, str], Nginx]


@pytest.fixture(params=["eventlet", "threading"])
def echo(request: pytest.FixtureRequest, server_pool: ServerPool) -> ServerProcess:
    return server_pool.get("tests.support.apps:engine_echo", str(request.param))


def test_good_proxy_upgrades_to_websocket(echo: ServerProcess, proxied: Proxy) -> None:
    proxy = proxied(echo, "good")
    client = engineio.Client()
    received: list[str] = []
    client.on("message", received.append)
    client.connect(proxy.url, transports=["polling", "websocket"])
    for _ in range(100):
        if client.transport() == "websocket":
            break
        time.sleep(0.05)
    assert client.transport() == "websocket"
    client.send("through nginx")
    for _ in range(100):
        if received:
            break
        time.sleep(0.05)
    assert received == ["through nginx"]
    client.disconnect()


def test_default_proxy_blocks_websocket_but_polling_works(
    echo: ServerProcess, proxied: Proxy
) -> None:
    proxy = proxied(echo, "defaults")
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(eio.url(proxy.ws_url, transport="websocket"), timeout=5)
    sid, _ = eio.handshake(proxy.url)
    eio.post(proxy.url, sid, "4polling through nginx")
    assert eio.poll(proxy.url, sid).text == "4polling through nginx"


@pytest.mark.parametrize("stream", ["sse", "streaming"])
def test_streams_pass_a_buffering_proxy(echo: ServerProcess, proxied: Proxy, stream: str) -> None:
    # nginx buffers responses by default; X-Accel-Buffering: no turns it off
    # for the stream, so packets arrive as they are sent.
    proxy = proxied(echo, "defaults")
    sid, _ = eio.handshake(proxy.url, ext="ladder")
    downstream = HttpStream(proxy.url, sid, stream)
    post(proxy.url, sid, stream, "2probe")
    started = time.monotonic()
    assert downstream.next().encode_text() == "3probe"
    assert time.monotonic() - started < 2
    assert eio.poll(proxy.url, sid).text == "6"
    post(proxy.url, sid, stream, "5")
    post(proxy.url, sid, stream, "4streamed through nginx")
    assert downstream.next_skipping_pings().encode_text() == "4streamed through nginx"
    downstream.close()


def _probe_through(proxy: Nginx, stream: str) -> tuple[bytes, str]:
    """Probe ``stream`` through ``proxy``: what came down in 2 s, and the sid."""
    sid, _ = eio.handshake(proxy.url, ext="ladder")
    received = bytearray()

    def read() -> None:
        try:
            response = requests.get(eio.url(proxy.url, sid, stream), stream=True, timeout=(5, 2))
            for chunk in response.iter_content(chunk_size=None):
                received.extend(chunk)
        except requests.exceptions.RequestException:
            pass  # 2 s without a byte: what came is all that will

    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(read)
        time.sleep(0.3)
        assert post(proxy.url, sid, stream, "2probe").text == "ok"
        reading.result()
    return bytes(received), sid


@pytest.mark.parametrize("stream", ["sse", "streaming"])
def test_a_proxy_that_buffers_everything_on_http10_stalls_streams(
    server_pool: ServerPool, proxied: Proxy, stream: str
) -> None:
    # The situation the client's ladder must detect: the probe never answers.
    # Over HTTP/1.0 (nginx's default to upstreams) eventlet's stream has no
    # chunks, and with buffering forced on nginx holds it until its buffers
    # fill. (werkzeug chunks it anyway, in three writes per chunk: see below.)
    server = server_pool.get("tests.support.apps:engine_echo", "eventlet")
    proxy = proxied(server, "http10-buffer-everything")
    received, sid = _probe_through(proxy, stream)
    assert b"3probe" not in received
    eio.post(proxy.url, sid, "4polling still works")
    assert "4polling still works" in eio.poll(proxy.url, sid).text.split("\x1e")


@pytest.mark.parametrize("stream", ["sse", "streaming"])
def test_buffering_forced_on_still_passes_each_chunk(
    server_pool: ServerPool, proxied: Proxy, stream: str
) -> None:
    # With HTTP/1.1 to the upstream, nginx passes each chunk of a chunked
    # response on once it is complete, buffering or not. (eventlet sends a
    # chunk in one write; werkzeug's three writes make nginx hold each chunk
    # until the next one starts.)
    server = server_pool.get("tests.support.apps:engine_echo", "eventlet")
    proxy = proxied(server, "buffer-everything")
    received, _ = _probe_through(proxy, stream)
    assert b"3probe" in received


def test_short_read_timeouts_cut_long_polls_but_not_short_ones(
    echo: ServerProcess, proxied: Proxy
) -> None:
    proxy = proxied(echo, "short-timeouts")
    sid, _ = eio.handshake(proxy.url)
    started = time.monotonic()
    cut = eio.poll(proxy.url, sid)
    assert cut.status_code == 504
    assert time.monotonic() - started < 5
    # The cut poll ended the server's wait without a client; a new session
    # short-polls instead.
    sid, _ = eio.handshake(proxy.url)
    for i in range(3):
        assert eio.poll_url(proxy.url, sid, wait="0").text == "6"
        eio.post(proxy.url, sid, f"4short {i}")
        # The echo handler runs in its own task, so the answer may come a
        # short poll or two after the POST: each of those answers at once.
        for _ in range(50):
            text = eio.poll_url(proxy.url, sid, wait="0").text
            if text != "6":
                break
            time.sleep(0.02)
        assert text == f"4short {i}"
