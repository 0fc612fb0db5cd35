"""The transport ladder in headless Chromium, where WebSocket cannot get through.

Playwright's WebSocket interception stands in for the network: every
WebSocket a page opens is either refused (closed before it opens, as when a
proxy drops the upgrade) or swallowed (it opens, and nothing ever answers,
as behind a middlebox that eats WebSocket frames). The bundled client then
takes the next rung its ``transports`` option names: ``sse`` (read by the
browser's own ``EventSource``) by default, ``streaming`` (``fetch`` streams)
when preferred or when the ``sse`` stream fails too. Events, acks and binary
data flow both ways there, and numbered messages keep their order across the
switch. The chat demo works on ``sse`` and its header shows each switch.
Behind a real nginx that cuts held requests after 2 s, the client drops to
short polling and stays connected.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.test_client_in_chromium import BROWSER_APP, MODES, open_page, wait_log
from tests.conftest import require
from tests.flask_integration.helpers import PYTHON, ROOT, Program, free_port, wait_for_http
from tests.support.nginx import Nginx, nginx_path
from tests.support.servers import ServerPool, ServerProcess

DEMO = ROOT / "examples" / "chat" / "app.py"
#: Every WebSocket URL (the interception sees only WebSockets).
ANY_WEBSOCKET = re.compile(r"^wss?://")

#: Defines ``watch(socket)`` in the page: ``window.seen`` then holds the rungs
#: each Engine.IO session was on, in order (``rungs``), the probes that failed
#: (``upgradeErrors``) and the disconnect reasons. Hooked on the Manager's
#: ``open``, which comes before the session's first probe.
WATCH = """() => {
window.rung = (engine) => (engine.transport.short ? "short polling" : engine.transport.name);
window.watch = (socket) => {
  const seen = window.seen = {rungs: [], upgradeErrors: [], disconnects: []};
  socket.io.on("open", () => {
    const engine = socket.io.engine;
    seen.rungs.push(rung(engine));
    engine.on("upgrade", () => seen.rungs.push(rung(engine)));
    engine.on("upgradeError", (err) => seen.upgradeErrors.push(err.message));
  });
  socket.on("disconnect", (reason) => seen.disconnects.push(reason));
  return socket;
};
}"""

#: Events, acks and binary data both ways; resolves to what came back.
TRAFFIC = """async () => {
  const ack = await new Promise((resolve) =>
    socket.emit("message-with-ack", 1, "two", {three: [3]}, (...args) => resolve(args)));
  const bytes = new Uint8Array(100).map((_, i) => 255 - i);
  const answer = await socket.emitWithAck("binary_back", {buf: bytes.buffer});
  const back = new Promise((resolve) => socket.once("message-back", (...a) => resolve(a)));
  socket.emit("message", "line one\\nline two", "ünïcödé");
  return {
    ack,
    binary: Array.from(new Uint8Array(answer.got.buf)).join(",") === bytes.join(","),
    extra: Array.from(new Uint8Array(answer.extra)),
    echoed: await back,
  };
}"""

#: Numbered messages both ways (an echo and an ack for each) from the moment
#: the namespace is connected, on polling, until 100 after the session left
#: polling. Resolves to how many were sent, and how many before the switch.
NUMBERED = """async () => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  window.echoed = [];
  window.acked = [];
  socket.on("message-back", (i) => echoed.push(i));
  const engine = socket.io.engine;
  let sent = 0, switchedAt = -1;
  while (switchedAt < 0 ? sent < 20000 : sent < switchedAt + 100) {
    if (switchedAt < 0 && engine.transport.name !== "polling") switchedAt = sent;
    socket.emit("message", sent);
    socket.emit("message-with-ack", sent, (i) => acked.push(i));
    sent++;
    if (sent % 2) await sleep(1);
  }
  return {sent, switchedAt};
}"""


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(server_pool: ServerPool, mode: str) -> ServerProcess:
    return server_pool.get(BROWSER_APP, mode)


def refuse_websockets(context: Any) -> list[str]:
    """Close every WebSocket of ``context``'s pages before it opens; their URLs."""
    refused: list[str] = []

    def refuse(route: Any) -> None:
        refused.append(route.url)
        route.close(code=1011, reason="blocked by the test")

    context.route_web_socket(ANY_WEBSOCKET, refuse)
    return refused


def swallow_websockets(context: Any) -> list[str]:
    """Let every WebSocket of ``context``'s pages open, and never answer it; their URLs."""
    swallowed: list[str] = []
    # Without connect_to_server() the page's WebSocket opens on Playwright's
    # side only, and what it sends goes nowhere.
    context.route_web_socket(ANY_WEBSOCKET, lambda route: swallowed.append(route.url))
    return swallowed


def refuse_streams(context: Any, name: str) -> list[str]:
    """Fail every GET that would open a ``name`` stream for ``context``'s pages; their URLs."""
    refused: list[str] = []

    def refuse(route: Any) -> None:
        if route.request.method != "GET":
            route.continue_()
            return
        refused.append(route.request.url)
        route.abort("connectionreset")

    context.route(re.compile(rf"[?&]transport={name}(&|$)"), refuse)
    return refused


def record_requests(page: Any) -> list[tuple[str, str, str]]:
    """(method, resource type, URL) of every request ``page`` makes from now on."""
    requests: list[tuple[str, str, str]] = []
    page.on("request", lambda r: requests.append((r.method, r.resource_type, r.url)))
    return requests


def connect_watched(page: Any, options: str = "{}") -> None:
    page.evaluate(WATCH)
    page.evaluate(f"window.socket = watch(open_socket('/', {options}))")
    wait_log(page, "connect")


def wait_rung(page: Any, name: str, timeout: float = 15) -> None:
    page.wait_for_function(
        f"socket.connected && rung(socket.io.engine) === {name!r}", timeout=timeout * 1000
    )


def seen(page: Any) -> dict[str, list[str]]:
    result: dict[str, list[str]] = page.evaluate("window.seen")
    return result


def check_traffic(page: Any) -> None:
    assert page.evaluate(TRAFFIC) == {
        "ack": [1, "two", {"three": [3]}],
        "binary": True,
        "extra": [0, 255],
        "echoed": ["line one\nline two", "ünïcödé"],
    }


def test_lands_on_sse_when_websocket_is_refused(context: Any, server: ServerProcess) -> None:
    refused = refuse_websockets(context)
    page = open_page(context, server)
    requests = record_requests(page)
    connect_watched(page)
    wait_rung(page, "sse")
    assert seen(page) == {
        "rungs": ["polling", "sse"],
        "upgradeErrors": ["websocket error"],
        "disconnects": [],
    }
    assert len(refused) == 1 and "transport=websocket" in refused[0]
    assert page.evaluate("socket.emitWithAck('transport')") == "sse"
    # The stream is the browser's own EventSource.
    streams = [(m, kind) for m, kind, url in requests if "transport=sse" in url and m == "GET"]
    assert streams == [("GET", "eventsource")]
    check_traffic(page)
    assert page.evaluate("rung(socket.io.engine)") == "sse"


def test_lands_on_streaming_when_the_transports_option_prefers_it(
    context: Any, server: ServerProcess
) -> None:
    refuse_websockets(context)
    page = open_page(context, server)
    requests = record_requests(page)
    connect_watched(page, "{transports: ['polling', 'websocket', 'streaming', 'sse']}")
    wait_rung(page, "streaming")
    assert seen(page) == {
        "rungs": ["polling", "streaming"],
        "upgradeErrors": ["websocket error"],
        "disconnects": [],
    }
    assert page.evaluate("socket.emitWithAck('transport')") == "streaming"
    streams = [kind for m, kind, url in requests if "transport=streaming" in url and m == "GET"]
    assert streams == ["fetch"]
    assert not any("transport=sse" in url for _, _, url in requests), "sse was never tried"
    check_traffic(page)


def test_falls_to_streaming_when_sse_is_refused_too(context: Any, server: ServerProcess) -> None:
    refuse_websockets(context)
    refused = refuse_streams(context, "sse")
    page = open_page(context, server)
    connect_watched(page)
    wait_rung(page, "streaming")
    watched = seen(page)
    assert watched["rungs"] == ["polling", "streaming"]
    assert len(watched["upgradeErrors"]) == 2
    assert watched["upgradeErrors"][0] == "websocket error"
    assert watched["disconnects"] == []
    assert len(refused) == 1
    assert page.evaluate("socket.emitWithAck('transport')") == "streaming"
    check_traffic(page)


def test_a_refused_sse_probe_is_reported_as_an_sse_error(
    context: Any, server_pool: ServerPool
) -> None:
    refuse_websockets(context)
    refuse_streams(context, "sse")
    page = open_page(context, server_pool.get(BROWSER_APP, "eventlet"))
    connect_watched(page)
    wait_rung(page, "streaming")
    assert seen(page)["upgradeErrors"] == ["websocket error", "sse error"]


def test_a_websocket_that_never_answers_is_given_up_for_sse(
    context: Any, server: ServerProcess
) -> None:
    swallowed = swallow_websockets(context)
    page = open_page(context, server)
    connect_watched(page, "{probeTimeout: 1500}")
    wait_rung(page, "sse")
    assert seen(page) == {
        "rungs": ["polling", "sse"],
        "upgradeErrors": ["probe timeout"],
        "disconnects": [],
    }
    assert len(swallowed) == 1
    check_traffic(page)


def test_nothing_lost_doubled_or_reordered_across_the_switch(
    context: Any, server_pool: ServerPool, mode: str
) -> None:
    # Handlers run in the order messages arrive, so the echoes' order is the
    # order the server received them in.
    server = server_pool.get(BROWSER_APP, mode, async_handlers=False)
    swallow_websockets(context)
    page = open_page(context, server)
    # The swallowed WebSocket holds the ladder for a while: the switch to sse
    # comes in the middle of the traffic. (The sse probe has the same time to
    # answer: short enough for the test, long enough for a loaded machine.)
    connect_watched(page, "{probeTimeout: 1500}")
    counts = page.evaluate(NUMBERED)
    sent, switched_at = counts["sent"], counts["switchedAt"]
    assert 0 < switched_at < sent, counts
    page.wait_for_function(f"echoed.length >= {sent} && acked.length >= {sent}", timeout=20000)
    # One more round trip: anything doubled would have come before its answer.
    assert page.evaluate("socket.emitWithAck('message-with-ack', 'last')") == "last"
    assert page.evaluate("echoed") == list(range(sent)), "each once, in order, both ways"
    assert page.evaluate("acked") == list(range(sent)), "every ack, once, in order"
    assert seen(page)["rungs"] == ["polling", "sse"]
    assert seen(page)["disconnects"] == []


def start_demo(mode: str) -> tuple[Program, int]:
    """The chat demo in ``mode``, once it answers; the program and its port."""
    port = free_port()
    program = Program(
        [PYTHON, str(DEMO), "--port", str(port), "--async-mode", mode], cwd=DEMO.parent
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}")
    except AssertionError:
        program.stop()
        raise
    return program, port


@pytest.fixture(params=MODES)
def demo(request: pytest.FixtureRequest) -> Iterator[str]:
    program, port = start_demo(str(request.param))
    yield f"http://127.0.0.1:{port}"
    program.stop()


@pytest.fixture
def demo_behind_short_timeouts() -> Iterator[str]:
    """The chat demo behind nginx that cuts any request held 2 s."""
    require(nginx_path() is not None, "nginx (make prereqs installs Debian's nginx-light)")
    program, port = start_demo("eventlet")
    try:
        proxy = Nginx([port], "short-timeouts").start()
        yield proxy.url
        proxy.stop()
    finally:
        program.stop()


#: Keeps, in ``window.shown``, every text the chat page's transport badge
#: showed, in order.
SHOWN = """
window.shown = [];
new MutationObserver(() => {
  const badge = document.getElementById("transport");
  if (badge && badge.textContent !== shown[shown.length - 1]) shown.push(badge.textContent);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def test_the_chat_demo_works_over_sse(context: Any, demo: str) -> None:
    refused = refuse_websockets(context)
    context.add_init_script(SHOWN)
    room = f"ladder{time.monotonic_ns() % 10**9}"
    pages = [context.new_page() for _ in range(2)]
    for page in pages:
        page.goto(demo)
        page.wait_for_function(
            "document.querySelector('#status').dataset.status === 'connected'"
            " && document.querySelector('#transport').textContent === 'sse'",
            timeout=15000,
        )
        shown = [text for text in page.evaluate("shown") if text != "…"]
        assert shown == ["polling", "sse"], "the badge follows the switch"
        assert page.get_attribute("#transport", "data-transport") == "sse"
        page.fill("#new-room", room)
        page.click("#join-form button")
        page.wait_for_function(f"document.querySelector('#room-title').textContent === '#{room}'")
    assert len(refused) >= 2
    # Each page lists both members of the room, each on sse.
    for page in pages:
        page.wait_for_function(
            "[...document.querySelectorAll('#members .badge')]"
            ".filter((b) => b.dataset.transport === 'sse').length === 2",
            timeout=10000,
        )
    alice, bob = pages
    alice.fill("#text", "hello over server-sent events")
    alice.click("#message-form button")
    alice.wait_for_selector("#messages li.own[data-status='delivered']", timeout=10000)
    bob.wait_for_function(
        "[...document.querySelectorAll('#messages li.message .text')]"
        ".some((t) => t.textContent === 'hello over server-sent events')",
        timeout=10000,
    )
    bob.fill("#text", "and back")
    bob.click("#message-form button")
    bob.wait_for_selector("#messages li.own[data-status='delivered']", timeout=10000)
    alice.wait_for_function(
        "[...document.querySelectorAll('#messages li.message .text')]"
        ".some((t) => t.textContent === 'and back')",
        timeout=10000,
    )
    for page in pages:
        assert page.text_content("#transport") == "sse"


@pytest.mark.timeout(90)
def test_the_chat_demo_shows_short_polling_where_held_requests_are_cut(
    context: Any, demo_behind_short_timeouts: str
) -> None:
    context.add_init_script(SHOWN)
    page = context.new_page()
    page.goto(demo_behind_short_timeouts)
    page.wait_for_function(
        "document.querySelector('#status').dataset.status === 'connected'"
        " && document.querySelector('#transport').textContent === 'short polling'",
        timeout=40000,
    )
    # Two sessions on sse, each cut by nginx, then short polling: the badge
    # showed every rung of every session.
    shown = [text for text in page.evaluate("shown") if text != "…"]
    assert shown == ["polling", "sse", "polling", "sse", "short polling"]
    assert page.get_attribute("#transport", "data-transport") == "short polling"
    page.wait_for_function(
        "[...document.querySelectorAll('#members li.me .badge')]"
        ".some((b) => b.dataset.transport === 'short polling')",
        timeout=10000,
    )
    page.fill("#text", "said on short polling")
    page.click("#message-form button")
    page.wait_for_selector("#messages li.own[data-status='delivered']", timeout=10000)


@pytest.fixture
def behind_short_timeouts(server: ServerProcess) -> Iterator[Nginx]:
    """nginx that cuts any request held 2 s and does not forward Upgrade."""
    require(nginx_path() is not None, "nginx (make prereqs installs Debian's nginx-light)")
    proxy = Nginx([server.port], "short-timeouts").start()
    yield proxy
    proxy.stop()


@pytest.mark.timeout(90)
def test_drops_to_short_polling_where_held_requests_are_cut(
    context: Any, behind_short_timeouts: Nginx
) -> None:
    proxy = behind_short_timeouts
    page = context.new_page()
    requests = record_requests(page)
    page.goto(f"{proxy.url}/harness")
    page.wait_for_function("typeof io === 'function'")
    connect_watched(
        page,
        "{shortPollingInterval: 200, reconnectionDelay: 200, reconnectionDelayMax: 500}",
    )
    wait_rung(page, "short polling", timeout=40)
    watched = seen(page)
    # Two sessions whose sse stream nginx cut were the evidence.
    assert watched["rungs"] == ["polling", "sse", "polling", "sse", "short polling"]
    assert watched["upgradeErrors"] == ["websocket error", "websocket error"]
    assert watched["disconnects"] == ["transport close", "transport close"]
    assert page.evaluate("socket.emitWithAck('transport')") == "polling"
    check_traffic(page)
    # Outlast nginx's 2 s cut: short polls are never held, so none is cut, and
    # the session stays the same one.
    sid = page.evaluate("socket.io.engine.id")
    since = page.evaluate("performance.now()")
    page.wait_for_function(f"performance.now() - {since} > 3000", polling=250, timeout=10000)
    assert seen(page)["disconnects"] == ["transport close", "transport close"]
    assert page.evaluate("socket.io.engine.id") == sid
    gets = [url for method, _, url in requests if method == "GET" and f"sid={sid}" in url]
    assert len(gets) > 5 and all("wait=0" in url for url in gets), gets
    check_traffic(page)
