"""Web Push in the Socket.IO server: users, the client's requests, the offline fallback.

Real python-socketio clients on loopback, the push service emulator of
tests/push (npm's web-push-testing), and, for the fallback across
processes, a real Redis.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import socketio

import realtime
from realtime.exceptions import ConfigurationError
from realtime.push import VapidKey, WebPush
from realtime.socketio.web_push import user_room
from tests.conftest import require
from tests.support.embedded import embedded_server
from tests.support.push_service import PushService, push_service
from tests.support.redis_server import RedisServer, redis_server_path

__all__ = ["push_service"]

SUBJECT = "mailto:ops@example.com"


def until(check: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def push_server(**options: Any) -> realtime.Server:
    """A server whose connect handler ties each client to the user its auth names."""
    sio = realtime.Server(
        async_mode="threading",
        web_push={"private_key": VapidKey.generate().private_key, "subject": SUBJECT},
        **options,
    )

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if isinstance(auth, dict) and auth.get("user"):
            sio.set_user(sid, auth["user"])

    return sio


def client(base: str, user: str | None = None) -> socketio.Client:
    sio = socketio.Client(reconnection=False)
    sio.connect(base, auth={"user": user} if user else None, transports=["websocket"])
    return sio


@pytest.fixture(params=[False, True], ids=["plain", "recovery"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[realtime.Server, str]]:
    """A push server, without and with connection state recovery (2 s windows).

    python-socketio's client closes its transport without sending its
    DISCONNECT first, so the server sees its leaving as a drop: with
    recovery, a push to its user waits for the window to close.
    """
    recovery = {"max_disconnection_duration": 2.0} if request.param else False
    sio = push_server(connection_state_recovery=recovery)
    with embedded_server(sio, "threading") as base:
        yield sio, base
    sio.shutdown()


def test_without_the_option_push_is_refused_clearly() -> None:
    sio = realtime.Server(async_mode="threading")
    with pytest.raises(ConfigurationError, match="web_push"):
        sio.push  # noqa: B018
    with pytest.raises(ConfigurationError, match="web_push"):
        realtime.Server(async_mode="threading", web_push={"subject": SUBJECT})


def test_a_webpush_object_is_taken_as_it_is() -> None:
    push = WebPush(VapidKey.generate(), SUBJECT)
    assert realtime.Server(async_mode="threading", web_push=push).push is push


def test_set_user_puts_the_socket_in_its_users_room(served: tuple[realtime.Server, str]) -> None:
    sio, base = served
    ada = client(base, "ada")
    try:
        assert until(lambda: sio.user_of(ada.get_sid()) == "ada")
        sid = ada.get_sid()
        assert user_room("ada") in sio.rooms(sid)
        assert sio.user_is_connected("ada")
        assert not sio.user_is_connected("grace")
        for bad in ("", 7, None):
            with pytest.raises(ConfigurationError, match="non-empty string"):
                sio.set_user(sid, bad)  # type: ignore[arg-type]
        sio.set_user(sid, "grace")
        assert sio.user_of(sid) == "grace"
        assert user_room("ada") not in sio.rooms(sid)
    finally:
        ada.disconnect()
    assert until(lambda: not sio.user_is_connected("grace"))


def test_the_clients_requests_subscribe_its_user(
    served: tuple[realtime.Server, str], push_service: PushService
) -> None:
    sio, base = served
    ada, anonymous = client(base, "ada"), client(base)
    try:
        assert ada.call("realtime:push", {"op": "key"}) == {"publicKey": sio.push.public_key}
        subscription = push_service.subscribe(sio.push.public_key)
        answer = ada.call("realtime:push", {"op": "subscribe", "subscription": subscription})
        assert answer == {"subscribed": True}
        assert [s.endpoint for s in sio.push.subscriptions("ada")] == [subscription["endpoint"]]
        refused = anonymous.call("realtime:push", {"op": "subscribe", "subscription": subscription})
        assert "no user" in refused["error"]
        bad = ada.call("realtime:push", {"op": "subscribe", "subscription": {"endpoint": "x"}})
        assert "endpoint" in bad["error"]
        inside = dict(subscription, endpoint="http://10.0.0.5:6379/")
        refused = ada.call("realtime:push", {"op": "subscribe", "subscription": inside})
        assert refused == {"error": "this server does not push to that endpoint"}
        assert "error" in ada.call("realtime:push", {"op": "steal"})
        assert "error" in ada.call("realtime:push", "nonsense")
        endpoint = subscription["endpoint"]
        gone = ada.call("realtime:push", {"op": "unsubscribe", "endpoint": endpoint})
        assert gone == {"removed": True}
        assert sio.push.subscriptions("ada") == []
    finally:
        ada.disconnect()
        anonymous.disconnect()


def test_an_emit_to_a_user_nobody_gets_becomes_a_push(
    served: tuple[realtime.Server, str], push_service: PushService
) -> None:
    sio, base = served
    subscription = push_service.subscribe(sio.push.public_key)
    sio.push.subscribe("ada", subscription)
    ada = client(base, "ada")
    got: list[Any] = []
    # With recovery on, an event carries its offset as one more argument.
    ada.on("chat", lambda data, *offset: got.append(data))
    assert until(lambda: sio.user_is_connected("ada"))
    message = {"title": "Grace", "body": "Lunch?", "url": "/chat"}
    assert sio.emit_to_user("ada", "chat", {"text": "Lunch?"}, push=message) is True
    assert until(lambda: got == [{"text": "Lunch?"}])
    # The tab is closed for good (with recovery: the push comes once its
    # window closed, within the wait below).
    ada.disconnect()
    assert until(lambda: not sio.user_is_connected("ada"))
    assert sio.emit_to_user("ada", "chat", {"text": "Still there?"}, push=message) is False
    assert until(lambda: len(push_service.messages(subscription)) == 1)
    assert [orjson.loads(m) for m in push_service.messages(subscription)] == [message]
    assert sio.emit_to_user("ada", "chat", {"text": "quiet"}, push=False) is False
    time.sleep(0.3)
    assert len(push_service.messages(subscription)) == 1


def test_with_a_delay_a_user_back_in_time_gets_no_push(
    served: tuple[realtime.Server, str], push_service: PushService
) -> None:
    sio, base = served
    subscription = push_service.subscribe(sio.push.public_key)
    sio.push.subscribe("ada", subscription)
    # Away, and back within the delay: no notification.
    emitted = time.monotonic()
    assert sio.emit_to_user("ada", "chat", "one", push={"n": 1}, delay=3.0) is False
    ada = client(base, "ada")
    try:
        assert until(lambda: sio.user_is_connected("ada"))
        time.sleep(max(0.0, emitted + 3.5 - time.monotonic()))
        assert push_service.messages(subscription) == []
    finally:
        ada.disconnect()
    assert until(lambda: not sio.user_is_connected("ada"))
    # Away for longer than the delay: the notification, after it.
    sent = time.monotonic()
    assert sio.emit_to_user("ada", "chat", "two", push={"n": 2}, delay=0.5) is False
    assert until(lambda: push_service.messages(subscription) == ['{"n":2}'])
    assert time.monotonic() - sent >= 0.5
    with pytest.raises(ValueError, match="limit"):
        sio.emit_to_user("ada", "chat", "big", push={"t": "x" * 4000}, delay=0.5)


def test_a_push_without_the_option_is_refused(push_service: PushService) -> None:
    sio = realtime.Server(async_mode="threading")
    assert sio.emit_to_user("ada", "chat", "no push asked") is False
    with pytest.raises(ConfigurationError, match="web_push"):
        sio.emit_to_user("ada", "chat", "x", push={"t": 1})


def test_the_applications_handler_maps_an_event_to_a_push(
    served: tuple[realtime.Server, str], push_service: PushService
) -> None:
    sio, _ = served
    subscription = push_service.subscribe(sio.push.public_key)
    sio.push.subscribe("ada", subscription)
    seen: list[tuple[str, str, Any]] = []

    @sio.push_fallback
    def to_notification(user: str, event: str, data: Any) -> dict[str, Any] | None:
        seen.append((user, event, data))
        if event != "chat":
            return None
        return {"title": f"{data['from']} wrote", "body": data["text"], "tag": f"chat-{user}"}

    assert sio.emit_to_user("ada", "typing", {"from": "grace"}) is False
    assert sio.emit_to_user("ada", "chat", {"from": "grace", "text": "hi"}) is False
    assert until(lambda: len(push_service.messages(subscription)) == 1)
    assert [orjson.loads(m) for m in push_service.messages(subscription)] == [
        {"title": "grace wrote", "body": "hi", "tag": "chat-ada"}
    ]
    assert seen == [
        ("ada", "typing", {"from": "grace"}),
        ("ada", "chat", {"from": "grace", "text": "hi"}),
    ]


@pytest.fixture
def redis_url() -> Iterator[str]:
    require(redis_server_path() is not None, "redis-server (Debian's redis-server package)")
    server = RedisServer().start()
    yield server.url
    server.stop()


def test_across_processes_a_user_live_on_another_gets_no_push(
    redis_url: str, push_service: PushService
) -> None:
    channel = f"push-{uuid.uuid4().hex[:8]}"
    key = VapidKey.generate().private_key
    options = {"message_queue": redis_url, "channel": channel}
    one = push_server(**options)
    other = realtime.Server(
        async_mode="threading", web_push={"private_key": key, "subject": SUBJECT}, **options
    )
    with embedded_server(one, "threading") as base, embedded_server(other, "threading"):
        # Subscriptions in the message queue's Redis: one process's are the other's.
        subscription = push_service.subscribe(other.push.public_key)
        other.push.subscribe("ada", subscription)
        assert [s.endpoint for s in one.push.subscriptions("ada")] == [subscription["endpoint"]]
        ada = client(base, "ada")
        got: list[Any] = []
        done = threading.Event()
        ada.on("chat", lambda data: (got.append(data), done.set()))
        try:
            assert until(lambda: one.user_is_connected("ada"))
            assert until(lambda: other.user_is_connected("ada"))
            assert other.emit_to_user("ada", "chat", "from the other", push={"t": 1}) is True
            assert done.wait(10)
            assert got == ["from the other"]
        finally:
            ada.disconnect()
        assert until(lambda: not other.user_is_connected("ada"))
        assert other.emit_to_user("ada", "chat", "nobody", push={"t": 2}) is False
        assert until(lambda: push_service.messages(subscription) == ['{"t":2}'])
    one.shutdown()
    other.shutdown()


def test_a_server_without_the_option_loads_no_push_machinery() -> None:
    import subprocess
    import sys

    code = (
        "import sys, realtime; realtime.Server(async_mode='threading'); "
        "print(sorted(m for m in ('realtime.push', 'cryptography') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
