"""The bundled client in headless Chromium against our server."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.servers import ServerPool, ServerProcess

BROWSER_APP = "tests.support.browser_apps:browser_echo"
MODES = ("eventlet", "threading")


@pytest.fixture(params=MODES)
def server(request: pytest.FixtureRequest, server_pool: ServerPool) -> ServerProcess:
    return server_pool.get(BROWSER_APP, str(request.param))


def open_page(context: Any, server: ServerProcess, harness: str = "/harness") -> Any:
    page = context.new_page()
    page.goto(f"{server.url}{harness}")
    page.wait_for_function("typeof io === 'function'")
    return page


def wait_log(page: Any, kind: str, count: int = 1, timeout: float = 10) -> list[Any]:
    page.wait_for_function(
        f"window.log.filter(e => e.kind === {kind!r}).length >= {count}", timeout=timeout * 1000
    )
    return page.evaluate(f"window.log.filter(e => e.kind === {kind!r}).map(e => e.value)")


def test_connects_upgrades_and_talks_with_acks(context: Any, server: ServerProcess) -> None:
    page = open_page(context, server)
    page.evaluate("window.socket = open_socket('/', {auth: {token: 'browser'}})")
    wait_log(page, "connect")
    page.wait_for_function("socket.io.engine.transport.name === 'websocket'", timeout=10000)
    ack = page.evaluate(
        "new Promise(resolve => socket.emit('message-with-ack', 1, 'two', {three: [3]},"
        " (...args) => resolve(args)))"
    )
    assert ack == [1, "two", {"three": [3]}]
    assert page.evaluate("socket.emitWithAck('message-with-ack', 'first', 'second')") == "first"
    page.evaluate("socket.emit('message', 'hello from the page')")
    events = wait_log(page, "event", 2)
    assert {"event": "auth", "args": [{"token": "browser"}]} in events
    assert {"event": "message-back", "args": ["hello from the page"]} in events
    assert page.evaluate("socket.emitWithAck('transport')") == "websocket"


def test_the_minified_build_connects_upgrades_and_talks(
    context: Any, server: ServerProcess
) -> None:
    page = open_page(context, server, "/harness-min")
    scripts = page.evaluate("Array.from(document.scripts, (s) => s.getAttribute('src'))")
    assert "/socket.io/realtime.min.js" in scripts
    page.evaluate("window.socket = open_socket('/', {auth: {token: 'min'}})")
    wait_log(page, "connect")
    page.wait_for_function("socket.io.engine.transport.name === 'websocket'", timeout=10000)
    assert page.evaluate("socket.emitWithAck('message-with-ack', 'first', 'second')") == "first"
    result = page.evaluate(
        """async () => {
            const buf = new Uint8Array([1, 2]).buffer;
            const answer = await socket.emitWithAck('binary_back', {buf});
            return Array.from(new Uint8Array(answer.got.buf)).join(',');
        }"""
    )
    assert result == "1,2"
    events = wait_log(page, "event")
    assert {"event": "auth", "args": [{"token": "min"}]} in events
    # The source map it names is served, and points at realtime.js, served too.
    source_map = page.evaluate("fetch('/socket.io/realtime.min.js.map').then((r) => r.json())")
    assert source_map["sources"] == ["realtime.js"]


def test_two_pages_in_one_room_see_each_other(context: Any, server: ServerProcess) -> None:
    room = f"room-{time.monotonic_ns()}"
    pages = [open_page(context, server) for _ in range(2)]
    for page in pages:
        page.evaluate("window.socket = open_socket('/')")
        wait_log(page, "connect")
        page.evaluate(f"socket.emitWithAck('join', {room!r})")
    pages[0].evaluate(f"socket.emit('to_room', {room!r}, 'said', 'hi from page one')")
    events = wait_log(pages[1], "event", 2)
    assert {"event": "said", "args": ["hi from page one"]} in events
    time.sleep(0.3)
    first = pages[0].evaluate("window.log.filter(e => e.kind === 'event').map(e => e.value.event)")
    assert "said" not in first


def test_binary_round_trips(context: Any, server: ServerProcess) -> None:
    page = open_page(context, server)
    page.evaluate("window.socket = open_socket('/')")
    wait_log(page, "connect")
    result = page.evaluate(
        """async () => {
            const bytes = new Uint8Array(300).map((_, i) => i % 256);
            const blob = new Blob([new Uint8Array([7, 8, 9])]);
            const answer = await socket.emitWithAck(
                'binary_back', {buf: bytes.buffer, view: bytes.subarray(10, 20), blob});
            const hex = (b) => Array.from(new Uint8Array(b)).join(',');
            return {
                buf: answer.got.buf instanceof ArrayBuffer && hex(answer.got.buf) === hex(bytes),
                view: hex(answer.got.view) === hex(bytes.subarray(10, 20)),
                blob: hex(answer.got.blob),
                extra: hex(answer.extra),
            };
        }"""
    )
    assert result == {"buf": True, "view": True, "blob": "7,8,9", "extra": "0,255"}


def test_namespace_refusal_reaches_connect_error(context: Any, server: ServerProcess) -> None:
    page = open_page(context, server)
    page.evaluate("window.socket = open_socket('/', {auth: {refuse: 'members only'}})")
    assert wait_log(page, "connect_error") == [
        {"message": "members only", "data": {"why": "members only"}}
    ]
    page.evaluate("window.other = open_socket('/nowhere')")
    errors = wait_log(page, "connect_error", 2)
    assert (
        errors[1] == {"message": "Invalid namespace", "data": None}
        or errors[1]["message"] == "Invalid namespace"
    )


def test_reconnects_by_itself_after_a_server_restart(context: Any) -> None:
    server = ServerProcess(BROWSER_APP, "eventlet").start()
    try:
        page = open_page(context, server)
        page.evaluate(
            "window.socket = open_socket('/', {reconnectionDelay: 100, reconnectionDelayMax: 500})"
        )
        wait_log(page, "connect")
        port = server.port
        server.stop()
        assert wait_log(page, "disconnect") == ["transport close"]
        page.evaluate("socket.emit('message', 'sent while the server was down')")
        server = ServerProcess(BROWSER_APP, "eventlet", port=port).start()
        wait_log(page, "connect", 2, timeout=20)
        events = wait_log(page, "event", 3)
        assert {"event": "message-back", "args": ["sent while the server was down"]} in events
    finally:
        server.stop()
