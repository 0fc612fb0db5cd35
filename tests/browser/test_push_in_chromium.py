"""Web Push's browser side in headless Chromium: the service worker and io.push.

A real push service is not reachable from here, so ``pushManager.subscribe``
cannot complete; the push is delivered to the service worker with the
DevTools protocol instead (``ServiceWorker.deliverPushMessage``, which needs
no subscription once notifications are allowed), and what the worker shows
is read back with ``registration.getNotifications()``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

import realtime
from realtime.push import VapidKey
from tests.support.embedded import embedded_server

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>push harness</title>
<script src="/socket.io/realtime.js"></script></head>
<body>
<script>
  window.messages = [];
  navigator.serviceWorker.addEventListener("message", (e) => window.messages.push(e.data));
</script>
</body></html>
"""


@pytest.fixture
def server() -> Iterator[tuple[realtime.Server, str]]:
    sio = realtime.Server(
        async_mode="threading",
        web_push={"private_key": VapidKey.generate(), "subject": "mailto:ops@example.com"},
    )

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if isinstance(auth, dict) and auth.get("user"):
            sio.set_user(sid, auth["user"])

    def page(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ.get("PATH_INFO") != "/":
            start_response("404 Not Found", [("Content-Length", "0")])
            return []
        start_response(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(PAGE)))],
        )
        return [PAGE]

    sio.wsgi_app = page
    with embedded_server(sio, "threading") as base:
        yield sio, base
    sio.shutdown()


def open_app(context: Any, base: str, user: str = "ada") -> Any:
    context.grant_permissions(["notifications"], origin=base)
    page = context.new_page()
    page.goto(base + "/")
    page.wait_for_function("typeof io === 'function'")
    page.evaluate(
        "user => new Promise(resolve => {"
        " window.socket = io({auth: {user}}); socket.on('connect', resolve); })",
        user,
    )
    return page


def registration_id(context: Any, page: Any, scope: str) -> str:
    """The DevTools id of the service worker registration for ``scope``."""
    cdp = context.new_cdp_session(page)
    found: dict[str, str] = {}

    def updated(event: dict[str, Any]) -> None:
        for registration in event["registrations"]:
            if registration["scopeURL"] == scope and not registration.get("isDeleted"):
                found["id"] = registration["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while "id" not in found and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert "id" in found, "no registration for " + scope
    page.cdp = cdp  # kept for deliver()
    return found["id"]


def deliver(page: Any, base: str, registration: str, message: Any) -> None:
    data = message if isinstance(message, str) else json.dumps(message)
    page.cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": base + "/", "registrationId": registration, "data": data},
    )


def notifications(page: Any, count: int) -> list[dict[str, Any]]:
    page.wait_for_function(
        "async (n) => (await (await navigator.serviceWorker.getRegistration('/socket.io/'))"
        ".getNotifications()).length >= n",
        arg=count,
        timeout=10000,
    )
    return page.evaluate(
        """async () => {
            const reg = await navigator.serviceWorker.getRegistration('/socket.io/');
            return (await reg.getNotifications()).map(n => ({
                title: n.title, body: n.body, tag: n.tag, data: n.data}));
        }"""
    )


def test_the_service_worker_is_served_beside_the_client(
    server: tuple[realtime.Server, str], context: Any
) -> None:
    _, base = server
    response = context.request.get(base + "/socket.io/realtime-sw.js")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == "/"
    assert b"notificationclick" in response.body()


def test_it_registers_from_the_server_and_shows_a_push(
    server: tuple[realtime.Server, str], context: Any
) -> None:
    sio, base = server
    page = open_app(context, base)
    assert page.evaluate("io.push.supported()") is True
    assert page.evaluate("io.push.publicKey(socket)") == sio.push.public_key
    script = page.evaluate("io.push.register(socket).then(r => r.active.scriptURL)")
    assert script == base + "/socket.io/realtime-sw.js"
    registration = registration_id(context, page, base + "/socket.io/")
    message = {
        "title": "Grace",
        "body": "Lunch at noon?",
        "url": "/chat#grace",
        "tag": "chat-grace",
        "data": {"room": "grace", "id": 7},
    }
    deliver(page, base, registration, message)
    (shown,) = notifications(page, 1)
    assert shown == {
        "title": "Grace",
        "body": "Lunch at noon?",
        "tag": "chat-grace",
        "data": {"url": "/chat#grace", "data": {"room": "grace", "id": 7}},
    }
    # The open tab is told too.
    page.wait_for_function("window.messages.length >= 1")
    assert page.evaluate("window.messages") == [{"type": "realtime:push", "message": message}]


def test_a_push_that_is_not_json_is_shown_as_its_text(
    server: tuple[realtime.Server, str], context: Any
) -> None:
    _, base = server
    page = open_app(context, base)
    page.evaluate("io.push.register(socket)")
    registration = registration_id(context, page, base + "/socket.io/")
    deliver(page, base, registration, "plain words")
    (shown,) = notifications(page, 1)
    assert (shown["title"], shown["body"]) == ("New notification", "plain words")


def test_without_a_push_service_subscribe_fails_clearly_after_the_permission(
    server: tuple[realtime.Server, str], context: Any
) -> None:
    _, base = server
    page = open_app(context, base)
    error = page.evaluate("io.push.subscribe(socket).then(() => null, e => String(e))")
    # The worker registered and the permission was granted; the browser's
    # push service is what is missing here.
    assert error is not None
    assert page.evaluate("Notification.permission") == "granted"
    assert page.evaluate(
        "navigator.serviceWorker.getRegistration('/socket.io/').then(r => !!(r && r.active))"
    )
    assert page.evaluate("io.push.unsubscribe(socket)") is False


def test_a_click_closes_the_notification_and_sends_the_open_tab_to_its_url(
    server: tuple[realtime.Server, str], context: Any
) -> None:
    _, base = server
    page = open_app(context, base)
    page.evaluate("io.push.register(socket)")
    registration = registration_id(context, page, base + "/socket.io/")
    deliver(page, base, registration, {"title": "Grace", "url": "/chat#grace", "data": {"id": 7}})
    notifications(page, 1)
    (worker,) = [w for w in context.service_workers if w.url.endswith("/realtime-sw.js")]
    # DevTools cannot click a notification: the worker gets the event made by
    # hand (untrusted, so its waitUntil throws and focusing or opening a
    # window is not allowed; what the handler starts before that runs).
    worker.evaluate(
        """async () => {
            const [notification] = await self.registration.getNotifications();
            self.dispatchEvent(new NotificationEvent("notificationclick", {notification}));
        }"""
    )
    page.wait_for_function("window.messages.length >= 2")
    assert page.evaluate("window.messages")[1] == {
        "type": "realtime:notificationclick",
        "url": base + "/chat#grace",
        "data": {"id": 7},
    }
    assert (
        page.evaluate(
            "navigator.serviceWorker.getRegistration('/socket.io/')"
            ".then(r => r.getNotifications()).then(n => n.length)"
        )
        == 0
    )
