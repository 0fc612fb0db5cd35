"""No sticky sessions, with the bundled client in headless Chromium.

The deployments of ``test_no_sticky_sessions.py`` (gunicorn with four gevent
workers, or eventlet ones on gunicorn < 26; two servers behind a round-robin
nginx) serve a page and
``/socket.io/realtime.js`` themselves, so each page is same-origin with the
server. Pages with the client's default options upgrade from polling to
WebSocket; pages whose WebSockets are refused (Playwright's interception, as
a proxy that drops the upgrade) fall to ``sse``, read by the browser's own
``EventSource``; one page prefers ``streaming`` (``fetch`` streams). Each
stream GET may land on a process other than the one that holds its session,
as may each POST beside it. Every page joins one room, gets a burst of
numbered broadcasts and sends numbered events with acks: every message
arrives once and in order, both ways, each page ends on the transport it
should (the process that holds its session agrees), and the processes report
that they did forward requests to each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.test_client_in_chromium import wait_log
from tests.browser.test_ladder_in_chromium import WATCH, record_requests, refuse_websockets, seen
from tests.cluster.test_no_sticky_sessions import COUNT, Deployment, deployed
from tests.support.peer import Peer

pytestmark = pytest.mark.xdist_group("no-sticky")

#: The pages of each deployment: the client's options, whether the page's
#: WebSockets are refused, and the transports the session must go through.
PAGES: list[tuple[str, bool, list[str]]] = [
    ("{}", False, ["polling", "websocket"]),
    ("{}", False, ["polling", "websocket"]),
    ("{}", True, ["polling", "sse"]),
    ("{}", True, ["polling", "sse"]),
    ("{transports: ['polling', 'streaming']}", True, ["polling", "streaming"]),
]

#: Joins the room, then keeps every "tick" in ``window.ticks``, and sets
#: ``window.lastCame`` on the "last" event that follows them.
JOIN = """async (room) => {
  window.ticks = [];
  window.lastCame = false;
  socket.on("tick", (n) => ticks.push(n));
  socket.on("last", () => { window.lastCame = true; });
  await socket.timeout(20000).emitWithAck("join", room);
}"""

#: Sends numbered "count" events back to back; ``window.inOrder`` gets the
#: acks (each true if the server saw that number next), or the error.
SEND_COUNTS = """(count) => {
  window.inOrder = null;
  const acks = [];
  for (let n = 0; n < count; n++) acks.push(socket.timeout(60000).emitWithAck("count", n));
  Promise.all(acks).then((answers) => { window.inOrder = answers; },
                         (err) => { window.inOrder = String(err); });
}"""


@pytest.fixture(params=["gunicorn-gevent", "gunicorn-eventlet", "nginx-round-robin"])
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    with deployed(str(request.param)) as made:
        yield made


@pytest.fixture
def blocked(browser: Any) -> Iterator[Any]:
    """A browser context whose pages' WebSockets are all refused."""
    context = browser.new_context()
    refuse_websockets(context)
    yield context
    context.close()


class Page:
    """A harness page of the deployment, with a connected client."""

    def __init__(self, context: Any, url: str, options: str, rungs: list[str]) -> None:
        self.page = context.new_page()
        self.rungs = rungs
        self.what = f"a page on {rungs[-1]}"
        self.requests = record_requests(self.page)
        self.page.goto(f"{url}/harness")
        self.page.wait_for_function("typeof io === 'function'")
        self.page.evaluate(WATCH)
        self.page.evaluate(f"window.socket = watch(open_socket('/', {options}))")


@pytest.mark.timeout(180)
def test_every_message_arrives_once_and_in_order_in_chromium(
    context: Any, blocked: Any, deployment: Deployment
) -> None:
    room = f"room-{uuid.uuid4().hex[:6]}"
    pages = [
        Page(blocked if refused else context, deployment.url, options, rungs)
        for options, refused, rungs in PAGES
    ]
    for page in pages:
        wait_log(page.page, "connect", timeout=20)
        page.page.evaluate(JOIN, room)
    sender = Peer()
    sender.client.connect(deployment.url, transports=["websocket"], wait_timeout=20)
    for page in pages:
        page.page.evaluate(SEND_COUNTS, COUNT)
    for n in range(COUNT):
        sender.client.emit("to", (room, "tick", n))
    # After the burst: anything doubled would come before it.
    sender.client.emit("to", (room, "last"))
    for page in pages:
        check(page)
    sender.client.disconnect()
    for page in pages:
        page.page.evaluate("socket.disconnect()")
    stats = deployment.stats()
    # Requests did land on processes that did not hold their session.
    assert sum(s["forwarded"] for s in stats) > 0, stats
    assert sum(s["served_for_others"] for s in stats) > 0, stats


def check(page: Page) -> None:
    """Every tick once and in order, every count acked in order, on the right transport."""
    js, what, final = page.page, page.what, page.rungs[-1]
    js.wait_for_function("window.lastCame && window.inOrder !== null", timeout=60000)
    assert js.evaluate("ticks") == list(range(COUNT)), what
    assert js.evaluate("inOrder") == [True] * COUNT, what
    js.wait_for_function(f"socket.io.engine.transport.name === {final!r}", timeout=15000)
    watched = seen(js)
    assert watched["rungs"] == page.rungs, what
    assert watched["upgradeErrors"] == (["websocket error"] if final == "sse" else []), what
    assert watched["disconnects"] == [], what
    assert js.evaluate("socket.timeout(20000).emitWithAck('transport')") == final, what
    assert not [e for e in js.evaluate("window.log") if e["kind"] == "connect_error"], what
    if final == "sse":
        # The stream is the browser's own EventSource.
        kinds = {kind for _, kind, url in page.requests if "transport=sse" in url}
        assert "eventsource" in kinds, page.requests
