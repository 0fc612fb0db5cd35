"""Connection state recovery of the bundled client in headless Chromium.

The page reaches the server through a TCP proxy (``tests.support.tcp_proxy``)
that plays the network: an outage resets every connection and refuses new
ones for a while. Another page, connected straight to the server, emits to
the first page's room while its connection silently swallows everything
(so the server believes those were delivered), and during the gap. When the
network is back, the page's socket is recovered (``socket.recovered``, the
same id, its rooms) and gets the events it missed once and in order, with
the offsets stripped; what the page emitted into the dead connection and
during the gap reaches the server once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.test_client_in_chromium import MODES, open_page, wait_log
from tests.support.servers import ServerPool, ServerProcess
from tests.support.tcp_proxy import TcpProxy

RECOVERY_APP = "tests.support.browser_apps:browser_recovery"
QUICK = "{reconnectionDelay: 100, reconnectionDelayMax: 300, randomizationFactor: 0}"


@pytest.fixture(params=MODES)
def server(request: pytest.FixtureRequest, server_pool: ServerPool) -> ServerProcess:
    return server_pool.get(RECOVERY_APP, str(request.param))


@pytest.fixture
def proxy(server: ServerProcess) -> Iterator[TcpProxy]:
    proxy = TcpProxy(server.port).start()
    yield proxy
    proxy.close()


def events(page: Any, name: str) -> list[list[Any]]:
    return list(
        page.evaluate(
            f"window.log.filter(e => e.kind === 'event' && e.value.event === {name!r})"
            ".map(e => e.value.args)"
        )
    )


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_recovers_after_an_outage(
    context: Any, server: ServerProcess, proxy: TcpProxy, transport: str
) -> None:
    room = f"room-{time.monotonic_ns()}"
    page = context.new_page()
    page.goto(f"{proxy.url}/harness")  # through the proxy, the page and its connections
    page.wait_for_function("typeof io === 'function'")
    transports = '["polling", "websocket"]' if transport == "websocket" else '["polling"]'
    page.evaluate(
        f"window.socket = open_socket('/', Object.assign({QUICK}, {{transports: {transports}}}))"
    )
    wait_log(page, "connect")
    page.wait_for_function(f"socket.io.engine.transport.name === {transport!r}", timeout=10000)
    sid = page.evaluate("socket.id")
    assert page.evaluate("socket.recovered") is False
    page.evaluate(f"socket.emitWithAck('join', {room!r})")
    assert page.evaluate("socket.emitWithAck('count', 0)") is True

    other = open_page(context, server)
    other.evaluate("window.socket = open_socket('/')")
    wait_log(other, "connect")

    def to_room(n: int) -> None:
        other.evaluate(f"socket.emitWithAck('to', {room!r}, 'n', {n})")

    for n in range(2):
        to_room(n)
    page.wait_for_function("window.log.filter(e => e.value && e.value.event === 'n').length >= 2")

    proxy.blackhole()
    to_room(2)  # lost on the way to the page
    page.evaluate("socket.emit('count', 1)")  # lost on the way to the server
    time.sleep(0.3)
    assert events(page, "n") == [[0], [1]]
    proxy.outage(1.5)
    assert wait_log(page, "disconnect")[0] in ("transport close", "transport error")
    page.evaluate("socket.emit('count', 2)")  # during the gap: buffered
    for n in range(3, 5):
        to_room(n)

    wait_log(page, "connect", 2, timeout=20)
    assert page.evaluate("socket.recovered") is True
    assert page.evaluate("socket.id") == sid
    page.wait_for_function(
        "window.log.filter(e => e.value && e.value.event === 'n').length >= 5", timeout=10000
    )
    time.sleep(0.3)
    assert events(page, "n") == [[0], [1], [2], [3], [4]]  # once, in order, no offsets
    me = page.evaluate("socket.emitWithAck('whoami')")
    assert me["sid"] == sid
    assert me["recovered"] is True
    assert room in me["rooms"]
    assert page.evaluate("socket.emitWithAck('counted')") == [0, 1, 2]
