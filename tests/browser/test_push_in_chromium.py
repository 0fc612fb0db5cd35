"""Web Push's browser side in headless Chromium: the service worker and io.push.

A real push service is not reachable from here, so ``pushManager.subscribe``
cannot complete; the push is delivered to the service worker with the
DevTools protocol instead (``ServiceWorker.deliverPushMessage``, which needs
no subscription once notifications are allowed), and what the worker shows
is read back with ``registration.getNotifications()``. DevTools can neither
click a notification nor make the browser replace a subscription: those
events are made by hand in the worker (see each test for what that leaves
out). Subscriptions the server keeps come from the push service emulator of
tests/push, so a push to a replaced one is really delivered and decrypted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any

import orjson
import pytest

import realtime
from realtime.push import VapidKey
from tests.support.embedded import embedded_server
from tests.support.push_service import PushService, push_service

__all__ = ["push_service"]

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
        if environ.get("PATH_INFO") == "/push/resubscribe":
            return resubscribe(environ, start_response)
        if environ.get("PATH_INFO") != "/":
            start_response("404 Not Found", [("Content-Length", "0")])
            return []
        start_response(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(PAGE)))],
        )
        return [PAGE]

    def resubscribe(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        # The application's route for the worker's POST: its user from the
        # page's cookie (a session, in a real application).
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        change = orjson.loads(environ["wsgi.input"].read(length))
        if environ["REQUEST_METHOD"] != "POST" or "user" not in cookie:
            start_response("403 Forbidden", [("Content-Length", "0")])
            return []
        sio.push.resubscribe(cookie["user"].value, change["subscription"], change["oldEndpoint"])
        start_response("204 No Content", [])
        return []

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


def click(worker: Any, title: str) -> None:
    """A click on the notification titled ``title``, made by hand in the worker."""
    worker.evaluate(
        """async (title) => {
            for (let i = 0; i < 250; i++) {
                const shown = await self.registration.getNotifications();
                const notification = shown.find((n) => n.title === title);
                if (notification) {
                    self.dispatchEvent(new NotificationEvent("notificationclick", {notification}));
                    return;
                }
                await new Promise((resolve) => setTimeout(resolve, 20));
            }
            throw new Error("no notification " + title);
        }""",
        title,
    )


def test_a_click_on_a_push_without_a_url_goes_to_the_workers_scope(
    server: tuple[realtime.Server, str], context: Any
) -> None:
    _, base = server
    page = open_app(context, base)
    page.evaluate("io.push.register(socket)")
    registration = registration_id(context, page, base + "/socket.io/")
    deliver(page, base, registration, {"title": "No url"})
    (worker,) = [w for w in context.service_workers if w.url.endswith("/realtime-sw.js")]
    click(worker, "No url")
    page.wait_for_function("window.messages.some(m => m.type.endsWith('click'))")
    (clicked,) = [m for m in page.evaluate("window.messages") if m["type"].endswith("click")]
    assert clicked == {
        "type": "realtime:notificationclick",
        "url": base + "/socket.io/",
        "data": None,
    }


def test_with_no_tab_open_a_click_opens_the_messages_url(
    server: tuple[realtime.Server, str], context: Any
) -> None:
    _, base = server
    page = open_app(context, base)
    page.evaluate("io.push.register(socket)")
    registration = registration_id(context, page, base + "/socket.io/")
    deliver(page, base, registration, {"title": "Grace", "url": "/chat#grace"})
    notifications(page, 1)
    (worker,) = [w for w in context.service_workers if w.url.endswith("/realtime-sw.js")]
    page.close()
    # clients.openWindow is allowed only during a click the user made, which
    # DevTools cannot make: the call is watched on its way to the browser,
    # which refuses it here (a real click would open the tab).
    outcome = worker.evaluate(
        """async () => {
            const tabs = await self.clients.matchAll({type: "window", includeUncontrolled: true});
            const openWindow = self.clients.openWindow.bind(self.clients);
            let asked = null;
            const settled = new Promise((resolve) => {
                self.clients.openWindow = (url) => {
                    asked = url;
                    const opening = openWindow(url);
                    opening.then(() => resolve("opened"), (e) => resolve(e.name));
                    return opening;
                };
            });
            let notification;
            while (!notification) {
                [notification] = await self.registration.getNotifications();
                await new Promise((resolve) => setTimeout(resolve, 20));
            }
            self.dispatchEvent(new NotificationEvent("notificationclick", {notification}));
            const refused = await settled;
            return {tabs: tabs.length, asked, refused};
        }"""
    )
    assert outcome["tabs"] == 0
    assert outcome["asked"] == base + "/chat#grace"
    assert outcome["refused"] == "InvalidAccessError"


def change_subscription(worker: Any, old: dict[str, Any], new: dict[str, Any] | None) -> None:
    """A pushsubscriptionchange event made by hand: the browser replaced ``old``
    with ``new`` (None: left it to the worker to subscribe again)."""
    worker.evaluate(
        """([old, fresh]) => {
            const event = new ExtendableEvent("pushsubscriptionchange");
            const key = new Uint8Array(65).fill(4);
            Object.defineProperty(event, "oldSubscription", {value: {
                endpoint: old.endpoint, options: {applicationServerKey: key.buffer}}});
            Object.defineProperty(event, "newSubscription", {value: fresh && {
                endpoint: fresh.endpoint, toJSON: () => fresh}});
            self.dispatchEvent(event);
        }""",
        [old, new],
    )


def test_a_replaced_subscription_is_handed_to_the_server_which_forgets_the_old_one(
    server: tuple[realtime.Server, str], context: Any, push_service: PushService
) -> None:
    sio, base = server
    old = push_service.subscribe(sio.push.public_key)
    new = push_service.subscribe(sio.push.public_key)
    sio.push.subscribe("ada", old)
    context.add_cookies([{"name": "user", "value": "ada", "url": base}])
    page = open_app(context, base)
    # Registered with the URL of the application's route.
    script = page.evaluate(
        "io.push.register(socket, {resubscribe: '/push/resubscribe'}).then(r => r.active.scriptURL)"
    )
    assert script == base + "/socket.io/realtime-sw.js?resubscribe=%2Fpush%2Fresubscribe"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not [
        w for w in context.service_workers if "resubscribe=" in w.url
    ]:
        page.wait_for_timeout(50)
    (worker,) = [w for w in context.service_workers if "resubscribe=" in w.url]
    change_subscription(worker, old, new)
    page.wait_for_function("window.messages.length >= 1")
    assert page.evaluate("window.messages") == [
        {
            "type": "realtime:pushsubscriptionchange",
            "oldEndpoint": old["endpoint"],
            "subscription": new,
            "error": None,
        }
    ]
    assert [s.endpoint for s in sio.push.subscriptions("ada")] == [new["endpoint"]]
    # The new subscription works: a push to the user reaches it.
    (result,) = sio.push.send("ada", {"title": "after the change"})
    assert result.ok
    assert push_service.messages(new) == ['{"title":"after the change"}']
    assert push_service.messages(old) == []

    # Left to the worker, which subscribes again with the old key: no push
    # service answers here, so it fails, says why, and the server keeps
    # what it had.
    change_subscription(worker, new, None)
    page.wait_for_function("window.messages.length >= 2")
    told = page.evaluate("window.messages")[1]
    assert told["type"] == "realtime:pushsubscriptionchange"
    assert told["oldEndpoint"] == new["endpoint"]
    assert told["error"] and "application server key" not in told["error"]
    assert [s.endpoint for s in sio.push.subscriptions("ada")] == [new["endpoint"]]


def test_a_page_hands_a_replaced_subscription_over_on_its_socket(
    server: tuple[realtime.Server, str], context: Any, push_service: PushService
) -> None:
    sio, base = server
    old = push_service.subscribe(sio.push.public_key)
    new = push_service.subscribe(sio.push.public_key)
    sio.push.subscribe("ada", old)
    page = open_app(context, base)
    answer = page.evaluate(
        """([oldEndpoint, subscription]) => socket.emitWithAck(
            "realtime:push", {op: "resubscribe", oldEndpoint, subscription})""",
        [old["endpoint"], new],
    )
    assert answer == {"subscribed": True}
    assert [s.endpoint for s in sio.push.subscriptions("ada")] == [new["endpoint"]]
