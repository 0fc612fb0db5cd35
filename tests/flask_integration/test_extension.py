"""The extension contract and the options, in-process."""

from __future__ import annotations

import decimal
import re
from typing import Any

import orjson
import pytest
from flask import Flask, current_app
from flask import json as flask_json

import realtime
from realtime.async_modes import get_async_mode
from realtime.flask_integration import Namespace, Realtime, SocketIO, emit
from realtime.flask_integration.options import FLASK_CLI


def make_app(name: str = "app") -> Flask:
    app = Flask(name)
    app.config["SECRET_KEY"] = "s"

    @app.route("/hello")
    def hello() -> str:
        return "hello from flask"

    return app


def handshake(app: Flask, path: str = "/socket.io/") -> tuple[dict[str, Any], Any]:
    response = app.test_client().get(f"{path}?EIO=4&transport=polling")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.startswith("0")
    return orjson.loads(body[1:]), response


def test_registers_under_the_flask_socketio_key_and_wraps_wsgi_app() -> None:
    app = make_app()
    rt = Realtime(app)
    assert app.extensions["socketio"] is rt
    assert app.wsgi_app is rt.server
    client = app.test_client()
    assert client.get("/hello").get_data(as_text=True) == "hello from flask"
    assert client.get("/socket.io/realtime.js").status_code == 200
    assert SocketIO is Realtime


def test_app_factory_with_options_in_both_places() -> None:
    rt = Realtime(manage_session=False, cookie="io", channel="mine")
    with pytest.raises(realtime.ConfigurationError):
        rt.server  # noqa: B018 - not installed yet
    app = make_app()
    rt.init_app(app, ping_interval=7, max_http_buffer_size=1234)
    assert (rt.manage_session, rt.channel) == (False, "mine")
    assert rt.server_options == {"cookie": "io", "ping_interval": 7, "max_http_buffer_size": 1234}
    opened, response = handshake(app)
    assert (opened["pingInterval"], opened["maxPayload"]) == (7000, 1234)
    assert response.headers["Set-Cookie"].startswith(f"io={opened['sid']}")


def test_handlers_registered_before_and_after_init_app() -> None:
    rt = Realtime()

    @rt.on("before")
    def before() -> str:
        return "before"

    app = make_app()
    rt.init_app(app, async_mode="threading")

    @rt.on("after")
    def after() -> str:
        return "after"

    client = rt.test_client(app)
    assert client.emit("before", callback=True) == "before"
    assert client.emit("after", callback=True) == "after"


def test_event_decorator_with_and_without_namespace() -> None:
    app = make_app()
    rt = Realtime(app, async_mode="threading")

    @rt.event
    def plain() -> str:
        return "plain"

    @rt.event(namespace="/ns")
    def spaced() -> str:
        return "spaced"

    client = rt.test_client(app)
    client.connect("/ns")
    assert client.emit("plain", callback=True) == "plain"
    assert client.emit("spaced", namespace="/ns", callback=True) == "spaced"


def test_every_namespace_and_pattern_namespaces() -> None:
    app = make_app()
    rt = Realtime(app, async_mode="threading")

    @rt.on("where", namespace="*")
    def anywhere() -> str:
        from flask import request

        return str(request.namespace)

    @rt.on("which", namespace=re.compile(r"/room-\d+"))
    def which(n: int) -> list[Any]:
        from flask import request

        return [request.namespace, n]

    client = rt.test_client(app, namespace="/anything")
    assert client.emit("where", namespace="/anything", callback=True) == "/anything"
    client.connect("/room-7")
    assert client.emit("which", 3, namespace="/room-7", callback=True) == ["/room-7", 3]


def test_the_every_namespace_handler_serves_a_namespace_with_its_own_handlers() -> None:
    # Flask-SocketIO's test_send_catch_all_namespace, with the test client.
    app = make_app()
    rt = Realtime(app, async_mode="threading")

    @rt.on("json", namespace="/test")
    def on_json(data: Any) -> None:
        emit("json back", data)

    @rt.on("wildcard", namespace="*")
    def wildcard(data: Any) -> None:
        emit("my custom response", data)

    client = rt.test_client(app, namespace="/test")
    client.get_received("/test")
    client.emit("wildcard", {"a": "b"}, namespace="/test")
    received = client.get_received("/test")
    assert received == [{"name": "my custom response", "args": [{"a": "b"}], "namespace": "/test"}]


def test_two_apps_one_extension() -> None:
    rt = Realtime(async_mode="threading")

    @rt.on("app name")
    def app_name() -> str:
        return str(current_app.name)

    first, second = make_app("first"), make_app("second")
    rt.init_app(first)
    rt.init_app(second)
    assert rt.server_for(first) is not rt.server_for(second)
    client1 = rt.test_client(first)
    client2 = rt.test_client(second)
    assert client1.emit("app name", callback=True) == "first"
    assert client2.emit("app name", callback=True) == "second"
    with first.app_context():
        assert rt.server is rt.server_for(first)
        rt.emit("only first")
        emit("also only first", broadcast=True)
    assert [r["name"] for r in client1.get_received()] == ["only first", "also only first"]
    assert client2.get_received() == []
    assert rt.server is rt.server_for(second)  # outside any app: the latest


def test_init_app_again_replaces_the_server_without_double_wrapping() -> None:
    app = make_app()
    rt = Realtime(app, async_mode="threading")
    old = rt.server
    rt.init_app(app, ping_interval=3)
    assert rt.server is not old and app.wsgi_app is rt.server
    assert rt.server.wsgi_app is not old
    assert app.test_client().get("/hello").status_code == 200
    assert handshake(app)[0]["pingInterval"] == 3000


def test_server_for_an_app_without_the_extension() -> None:
    rt = Realtime(make_app(), async_mode="threading")
    with pytest.raises(realtime.ConfigurationError):
        rt.server_for(make_app("other"))


@pytest.mark.parametrize("url", ["localhost:6379", 6379, ["redis://x"]])
def test_message_queue_must_be_a_url(url: object) -> None:
    with pytest.raises(realtime.ConfigurationError, match="message_queue"):
        Realtime(message_queue=url)
    with pytest.raises(ValueError, match="message_queue"):
        Realtime(make_app(), message_queue=url)


def test_message_queue_of_an_unknown_kind() -> None:
    with pytest.raises(realtime.ConfigurationError, match="kafka://"):
        Realtime(make_app(), message_queue="kafka://localhost", async_mode="threading")


def test_message_queue_none_is_accepted() -> None:
    rt = Realtime(message_queue=None, channel="chan")
    assert rt.channel == "chan"
    app = make_app()
    rt.init_app(app, async_mode="threading")
    assert rt.test_client(app).is_connected()


@pytest.mark.parametrize(("option", "value"), [("path", "/rt/"), ("resource", "rt")])
def test_path_and_its_alias(option: str, value: str) -> None:
    app = make_app()
    Realtime(app, async_mode="threading", **{option: value})
    client = app.test_client()
    assert client.get("/rt/realtime.js").status_code == 200
    assert client.get("/socket.io/realtime.js").status_code == 404
    assert handshake(app, "/rt/")[0]["sid"]


def test_ping_interval_with_a_grace_period() -> None:
    app = make_app()
    Realtime(app, async_mode="threading", ping_interval=(10, 5), ping_timeout=4)
    opened, _ = handshake(app)
    assert (opened["pingInterval"], opened["pingTimeout"]) == (10000, 9000)


def test_transports_and_cors_pass_through() -> None:
    app = make_app()
    Realtime(
        app,
        async_mode="threading",
        transports=["polling"],
        cors_allowed_origins=["https://ok.example"],
        monitor_clients=False,
    )
    opened, _ = handshake(app)
    assert opened["upgrades"] == []
    client = app.test_client()
    allowed = client.get(
        "/socket.io/?EIO=4&transport=polling", headers={"Origin": "https://ok.example"}
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ok.example"
    refused = client.get(
        "/socket.io/?EIO=4&transport=polling", headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403


def test_unknown_options_are_errors() -> None:
    with pytest.raises(TypeError):
        Realtime(make_app(), async_mode="threading", no_such_option=1)


def test_json_flask_json_uses_the_apps_provider() -> None:
    app = make_app()
    rt = Realtime(app, async_mode="threading", json=flask_json)

    @rt.on("price")
    def price() -> Any:
        return {"price": decimal.Decimal("1.50")}  # orjson cannot, Flask's provider can

    assert rt.test_client(app).emit("price", callback=True) == {"price": "1.50"}


def test_flask_cli_selects_threading_unless_a_mode_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(FLASK_CLI, "true")
    assert Realtime(make_app()).async_mode == "threading"
    assert Realtime(make_app(), async_mode="gevent").async_mode == "gevent"
    monkeypatch.delenv(FLASK_CLI)
    assert Realtime(make_app()).async_mode == get_async_mode().name


def test_registration_errors_are_raised_at_once() -> None:
    rt = Realtime()
    with pytest.raises(realtime.ConfigurationError):
        rt.on("x", namespace="no-slash")(lambda: None)
    with pytest.raises(ValueError):
        rt.on_namespace(realtime.Namespace("/core"))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        rt.on_error()(42)  # type: ignore[type-var]
    with pytest.raises(ValueError):
        rt.on_error_default(42)  # type: ignore[type-var]


def test_namespace_registered_before_and_after_init_app() -> None:
    class Before(Namespace):
        def on_ping(self) -> str:
            return "before"

    class After(Namespace):
        def on_ping(self) -> str:
            return "after"

    rt = Realtime()
    rt.on_namespace(Before("/before"))
    app = make_app()
    rt.init_app(app, async_mode="threading")
    rt.on_namespace(After("/after"))
    client = rt.test_client(app, namespace="/before")
    client.connect("/after")
    assert client.emit("ping", namespace="/before", callback=True) == "before"
    assert client.emit("ping", namespace="/after", callback=True) == "after"


def test_unregistered_namespace_helpers_fail_clearly() -> None:
    with pytest.raises(realtime.ConfigurationError):
        Namespace("/x").emit("event")


def test_stop_without_run() -> None:
    with pytest.raises(realtime.ConfigurationError):
        Realtime(make_app(), async_mode="threading").stop()


def test_reason_names() -> None:
    assert Realtime.reason.CLIENT_DISCONNECT == "client disconnect"
    assert Realtime.reason.SERVER_DISCONNECT == "server disconnect"
    assert Realtime.reason.PING_TIMEOUT == "ping timeout"
    assert Realtime.reason.TRANSPORT_CLOSE == "transport close"
