"""Details a moving Flask-SocketIO or python-socketio app relies on.

Each was found by walking Flask-SocketIO 5.7's and python-socketio's public
names against ours (tests/flask_integration/test_migration_table.py) and
trying what differed.
"""

from __future__ import annotations

import builtins
from typing import Any

import pytest
from flask import Flask

import realtime
from realtime.engine import DisconnectReason
from realtime.flask_integration import ConnectionRefusedError, Namespace, SocketIO
from realtime.socketio.testing import LocalClient
from tests.flask_integration.test_extension import handshake, make_app


def test_a_namespace_error_method_answers_what_its_methods_raise() -> None:
    # Flask-SocketIO 5.7: Namespace.error(exc), when no error handler took it.
    app = make_app()
    sio = SocketIO(app, async_mode="threading")

    class Guarded(Namespace):
        def on_boom(self) -> None:
            raise ValueError("boom")

        def on_fine(self) -> str:
            return "fine"

        def error(self, exc: Exception) -> str:
            return f"handled {exc}"

    sio.on_namespace(Guarded("/guarded"))
    client = sio.test_client(app, namespace="/guarded")
    assert client.emit("boom", namespace="/guarded", callback=True) == "handled boom"
    assert client.emit("fine", namespace="/guarded", callback=True) == "fine"


def test_event_takes_the_namespace_by_position() -> None:
    app = make_app()
    sio = SocketIO(app, async_mode="threading")

    @sio.event("/chat")
    def hello() -> str:
        return "hello from /chat"

    client = sio.test_client(app, namespace="/chat")
    assert client.emit("hello", namespace="/chat", callback=True) == "hello from /chat"


def test_on_error_default_by_keyword() -> None:
    app = make_app()
    sio = SocketIO(app, async_mode="threading")

    @sio.on("boom")
    def boom() -> None:
        raise KeyError("k")

    sio.on_error_default(exception_handler=lambda exc: f"default {type(exc).__name__}")
    assert sio.test_client(app).emit("boom", callback=True) == "default KeyError"


def test_refusals_with_several_data_values_as_python_socketio_sends_them() -> None:
    sio = realtime.Server(async_mode="threading")
    # (Python's own ConnectionRefusedError is an OSError: a third argument
    # becomes its filename, so it carries one data value at most.)
    refusals: dict[str, Exception] = {
        "/ours": ConnectionRefusedError("no", {"a": 1}, 2),
        "/builtin": builtins.ConnectionRefusedError("no", [{"a": 1}, 2]),
    }
    for namespace, refusal in refusals.items():

        def refuse(sid: str, environ: Any, auth: Any, refusal: Exception = refusal) -> None:
            raise refusal

        sio.on("connect", refuse, namespace=namespace)
    client = LocalClient(sio, namespace=None)
    for namespace in refusals:
        assert not client.connect(namespace)
        assert client.connect_errors[namespace] == {"message": "no", "data": [{"a": 1}, 2]}, (
            namespace
        )
    assert ConnectionRefusedError("no", {"a": 1}, 2).error_args == {
        "message": "no",
        "data": [{"a": 1}, 2],
    }
    assert ConnectionRefusedError().error_args == {"message": "Connection rejected by server"}
    sio.shutdown()


def test_python_socketio_server_options_and_attributes() -> None:
    sio = realtime.Server(async_mode="threading", monitor_clients=False, ping_interval=(10, 5))
    assert sio.reason is DisconnectReason
    assert sio.reason.CLIENT_DISCONNECT == "client disconnect"
    # (interval, grace): the grace is added to the ping timeout, as in python-engineio.
    assert (sio.engine.options.ping_interval, sio.engine.options.ping_timeout) == (10.0, 25.0)
    sio.shutdown()
    with pytest.raises(realtime.ConfigurationError, match="seconds, grace"):
        realtime.Server(async_mode="threading", ping_interval=(1, 2, 3))


def test_the_test_client_module_keeps_flask_socketio_s_name() -> None:
    from realtime.flask_integration.test_client import RealtimeTestClient, SocketIOTestClient

    assert SocketIOTestClient is RealtimeTestClient


def test_cookie_attributes_given_as_functions_are_called_per_session() -> None:
    app = Flask(__name__)
    paths = iter(["/first", "/second"])
    SocketIO(app, async_mode="threading", cookie={"name": "io", "path": lambda: next(paths)})
    first, response = handshake(app)
    expected = f"io={first['sid']}; Path=/first; HttpOnly; SameSite=Lax"
    assert response.headers["Set-Cookie"] == expected
    _, response = handshake(app)
    assert "Path=/second" in response.headers["Set-Cookie"]
