"""Web Push on the Flask extension: SocketIO(app, web_push=...), set_user in a
handler, push_fallback on every app's server, emit_to_user (docs/push.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import socketio
from flask import Flask

from realtime.exceptions import ConfigurationError
from realtime.flask_integration import SocketIO
from realtime.push import VapidKey
from tests.support.embedded import embedded_server
from tests.support.push_service import PushService, push_service

__all__ = ["push_service"]


def until(check: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def app() -> Iterator[tuple[Flask, SocketIO, str]]:
    flask_app = Flask(__name__)
    rt = SocketIO(
        flask_app,
        async_mode="threading",
        web_push={"private_key": VapidKey.generate().pem(), "subject": "mailto:ops@example.com"},
    )

    @rt.on("connect")
    def connect(auth: Any) -> None:
        rt.set_user(auth["user"])

    @rt.on("whoami")
    def whoami() -> Any:
        return rt.user_of()

    with embedded_server(flask_app, "threading") as base:
        yield flask_app, rt, base
    rt.server.shutdown()


def test_push_needs_the_option() -> None:
    rt = SocketIO(Flask(__name__), async_mode="threading")
    with pytest.raises(ConfigurationError, match="web_push"):
        rt.push  # noqa: B018
    with pytest.raises(ConfigurationError, match="sid="):
        rt.set_user("ada")


def test_set_user_in_a_handler_and_the_fallback_through_the_extension(
    app: tuple[Flask, SocketIO, str], push_service: PushService
) -> None:
    flask_app, rt, base = app
    assert rt.push is rt.server_for(flask_app).push
    client = socketio.Client(reconnection=False)
    got: list[Any] = []
    client.on("note", got.append)
    client.connect(base, auth={"user": "ada"}, transports=["websocket"])
    try:
        assert client.call("whoami") == "ada"
        key = client.call("realtime:push", {"op": "key"})["publicKey"]
        assert key == rt.push.public_key
        subscription = push_service.subscribe(key)
        assert client.call("realtime:push", {"op": "subscribe", "subscription": subscription}) == {
            "subscribed": True
        }

        @rt.push_fallback
        def to_push(user: str, event: str, data: Any) -> dict[str, Any]:
            return {"title": f"{event} for {user}", "body": data}

        assert rt.emit_to_user("ada", "note", "live") is True
        assert until(lambda: got == ["live"])
    finally:
        client.disconnect()
    assert until(lambda: not rt.server.user_is_connected("ada"))
    assert rt.emit_to_user("ada", "note", "later") is False
    assert until(lambda: len(push_service.messages(subscription)) == 1)
    assert orjson.loads(push_service.messages(subscription)[0]) == {
        "title": "note for ada",
        "body": "later",
    }
