"""The official Socket.IO Admin UI in headless Chromium, watching our server.

The UI's built page comes from npm (``@socket.io/admin-ui``'s ``ui/dist``,
pinned by tests/admin_ui/package-lock.json), served on loopback by the test;
the page connects to a server of tests/support/admin_apps.py, as it would to
a Node server instrumented with the package, and the test reads what the UI
shows and clicks its buttons.
"""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from playwright.sync_api import expect

from tests.conftest import require
from tests.support.servers import ServerProcess

UI = Path(__file__).resolve().parents[1] / "admin_ui" / "node_modules" / "@socket.io" / "admin-ui"
APP = "tests.support.admin_apps:sio_admin"
FLASK_APP = "tests.support.admin_apps:flask_admin"
TIMEOUT_MS = 15000

pytestmark = pytest.mark.xdist_group("admin-ui-chromium")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def ui() -> Iterator[str]:
    """The Admin UI's page, served from its npm package on loopback."""
    require(
        (UI / "ui" / "dist" / "index.html").is_file(),
        "tests/admin_ui/node_modules/@socket.io/admin-ui (npm ci --prefix tests/admin_ui)",
    )
    handler = functools.partial(_Quiet, directory=str(UI / "ui" / "dist"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module", params=[APP, FLASK_APP], ids=["server", "flask"])
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    started = ServerProcess(request.param, "threading").start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def read_only_server() -> Iterator[ServerProcess]:
    started = ServerProcess(APP, "gevent", {"read_only": True}).start()
    yield started
    started.stop()


def _user(url: str) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.connect(url, wait_timeout=10)
    return client


def _log_in(page: Any, ui: str, server: ServerProcess, password: str) -> None:
    page.goto(ui)
    page.get_by_label("Server URL").fill(server.url)
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Connect").click()


def _connected(page: Any) -> None:
    page.get_by_role("button", name="Connect").wait_for(state="hidden", timeout=TIMEOUT_MS)


def _until(predicate: Any, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_the_ui_lists_clients_and_rooms_shows_events_and_disconnects(
    context: Any, ui: str, server: ServerProcess
) -> None:
    user = _user(server.url)
    bystander = _user(server.url)
    try:
        user.call("join", "lobby", timeout=10)
        page = context.new_page()
        _log_in(page, ui, server, "s3cret")
        _connected(page)
        sid = user.get_sid()
        assert sid is not None

        # The sockets, with the user's (its sid, from all_sockets).
        page.goto(f"{ui}#/sockets/")
        row = page.get_by_role("row").filter(has_text=sid)
        row.wait_for(timeout=TIMEOUT_MS)
        # Its rooms: its own (private) and the lobby.
        page.goto(f"{ui}#/n/%2F/sockets/{sid}")
        page.get_by_text("lobby", exact=True).wait_for(timeout=TIMEOUT_MS)
        page.goto(f"{ui}#/rooms/")
        lobby = page.get_by_role("row").filter(has_text="lobby")
        lobby.wait_for(timeout=TIMEOUT_MS)
        # The client, by its Engine.IO id.
        page.goto(f"{ui}#/clients/")
        page.get_by_role("row").filter(has_text=user.eio.sid).wait_for(timeout=TIMEOUT_MS)

        # An event, as it happens (development mode).
        user.call("echo", "hello admin", timeout=10)
        page.goto(f"{ui}#/events/")
        page.get_by_text("echoed", exact=True).first.wait_for(timeout=TIMEOUT_MS)
        page.get_by_text("echo", exact=True).first.wait_for(timeout=TIMEOUT_MS)

        # The disconnect button of the user's row.
        page.goto(f"{ui}#/sockets/")
        row = page.get_by_role("row").filter(has_text=sid)
        row.get_by_role("button").click()
        _until(lambda: not user.connected, "the user to be disconnected")
        # The UI heard of it (socket_disconnected): the row is gone.
        page.goto(f"{ui}#/sockets/")
        page.get_by_role("row").filter(has_text=bystander.get_sid()).wait_for(timeout=TIMEOUT_MS)
        expect(page.get_by_role("row").filter(has_text=sid)).to_have_count(0, timeout=TIMEOUT_MS)
        assert bystander.connected
        assert bystander.call("echo", "still here", timeout=10) == ["still here"]
    finally:
        user.disconnect()
        bystander.disconnect()


def test_a_wrong_password_is_refused(context: Any, ui: str, server: ServerProcess) -> None:
    page = context.new_page()
    _log_in(page, ui, server, "not the password")
    page.get_by_text("Invalid credentials").wait_for(timeout=TIMEOUT_MS)
    # Still asked to connect, as the UI does on that refusal.
    assert page.get_by_role("button", name="Connect").is_visible()


def test_read_only_offers_no_disconnect(
    context: Any, ui: str, read_only_server: ServerProcess
) -> None:
    user = _user(read_only_server.url)
    try:
        page = context.new_page()
        _log_in(page, ui, read_only_server, "s3cret")
        _connected(page)
        sid = user.get_sid()
        assert sid is not None
        page.goto(f"{ui}#/sockets/")
        row = page.get_by_role("row").filter(has_text=sid)
        row.wait_for(timeout=TIMEOUT_MS)
        assert row.get_by_role("button").count() == 0
        page.goto(f"{ui}#/n/%2F/sockets/{sid}")
        page.get_by_text("Socket details").wait_for(timeout=TIMEOUT_MS)
        assert page.get_by_role("button").filter(has=page.locator(".mdi-logout")).count() == 0
        assert user.connected
    finally:
        user.disconnect()
