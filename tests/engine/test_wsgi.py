"""The engine as a WSGI app and as middleware, driven in-process (no sockets)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from werkzeug.test import Client

from realtime.engine import Server
from realtime.exceptions import ConfigurationError


def other_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"other app: " + environ["PATH_INFO"].encode()]


def test_middleware_serves_its_path_and_passes_the_rest() -> None:
    server = Server(async_mode="threading", wsgi_app=other_app, path="rt")
    client = Client(server)
    handshake = client.get("/rt/?EIO=4&transport=polling")
    assert handshake.status_code == 200
    assert json.loads(handshake.get_data(as_text=True)[1:])["upgrades"] == ["websocket"]
    assert client.get("/rt?EIO=4&transport=polling").status_code == 200
    assert client.get("/index.html").get_data(as_text=True) == "other app: /index.html"
    assert client.get("/rtx/").get_data(as_text=True) == "other app: /rtx/"


def test_alone_it_answers_404_elsewhere() -> None:
    client = Client(Server(async_mode="threading"))
    assert client.get("/elsewhere").status_code == 404
    assert client.get("/engine.io/?EIO=4&transport=polling").status_code == 200


def test_polling_only_server_advertises_no_upgrade() -> None:
    client = Client(Server(async_mode="threading", transports=["polling"]))
    body = client.get("/engine.io/?EIO=4&transport=polling").get_data(as_text=True)
    assert json.loads(body[1:])["upgrades"] == []
    response = client.get("/engine.io/?EIO=4&transport=websocket")
    assert json.loads(response.get_data(as_text=True)) == {
        "code": 0,
        "message": "Transport unknown",
    }


def test_allow_upgrades_false() -> None:
    client = Client(Server(async_mode="threading", allow_upgrades=False))
    body = client.get("/engine.io/?EIO=4&transport=polling").get_data(as_text=True)
    assert json.loads(body[1:])["upgrades"] == []


def test_websocket_needs_a_server_that_hands_over_its_socket() -> None:
    server = Server(async_mode="threading")
    response = Client(server).get(
        "/engine.io/?EIO=4&transport=websocket",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
        },
    )
    assert response.status_code == 400
    assert json.loads(response.get_data(as_text=True))["code"] == 3


@pytest.mark.parametrize(
    "options",
    [
        {"transports": ["carrier-pigeon"]},
        {"ping_interval": 0},
        {"max_http_buffer_size": 0},
        {"cookie": 42},
        {"cookie": {"name": "x", "Expires": "never"}},
        {"cors_allowed_origins": 42},
        {"async_mode": "asyncio"},
        {"path": "", "wsgi_app": other_app},
    ],
)
def test_bad_options_are_refused_at_once(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Server(**options)


def test_send_to_unknown_session_is_a_quiet_false() -> None:
    assert Server(async_mode="threading").send("nope", "x") is False


def test_handlers_register_by_decorator_and_by_call() -> None:
    server = Server(async_mode="threading")
    seen: list[str] = []

    @server.on("connect")
    def connect(sid: str, environ: dict[str, Any]) -> None:
        seen.append("decorated")

    server.on("disconnect", lambda sid: seen.append("called"))
    Client(server).get("/engine.io/?EIO=4&transport=polling")
    assert seen == ["decorated"]
    with pytest.raises(ConfigurationError):
        server.on("connection", connect)  # type: ignore[call-overload]


@pytest.mark.parametrize("stream", ["sse", "streaming"])
def test_a_handshake_on_a_stream_is_refused_with_the_reason(
    caplog: pytest.LogCaptureFixture, stream: str
) -> None:
    client = Client(Server(async_mode="threading"))
    with caplog.at_level("WARNING", logger="realtime.engine"):
        response = client.get(f"/engine.io/?EIO=4&transport={stream}")
    assert response.status_code == 400 and response.json["code"] == 3
    assert any(
        f"a session cannot open on transport={stream}: it opens on polling" in r.getMessage()
        for r in caplog.records
    )


def test_refusals_are_logged_with_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    client = Client(Server(async_mode="threading", transports=["websocket"]))
    with caplog.at_level("WARNING", logger="realtime.engine"):
        client.get("/engine.io/?EIO=4&transport=polling")
        client.get("/engine.io/?EIO=3&transport=websocket")
    messages = [record.getMessage() for record in caplog.records]
    assert any(
        "'polling' is not one of the enabled transports ['websocket']" in m for m in messages
    )


def test_user_session_is_readable_in_the_disconnect_handler() -> None:
    server = Server(async_mode="threading", async_handlers=False)
    seen: dict[str, Any] = {}

    @server.on("connect")
    def connect(sid: str, environ: dict[str, Any]) -> None:
        server.save_session(sid, {"user": "ada"})

    @server.on("disconnect")
    def disconnect(sid: str, reason: str) -> None:
        seen["session"] = server.get_session(sid)
        seen["reason"] = reason

    client = Client(server)
    sid = json.loads(client.get("/engine.io/?EIO=4&transport=polling").get_data(as_text=True)[1:])[
        "sid"
    ]
    assert server.get_session(sid) == {"user": "ada"}
    client.post(f"/engine.io/?EIO=4&transport=polling&sid={sid}", data="1")
    assert seen == {"session": {"user": "ada"}, "reason": "client disconnect"}
    with pytest.raises(KeyError):
        server.get_session(sid)


def test_no_connect_handler_call_when_websocket_cannot_work() -> None:
    server = Server(async_mode="threading")
    connects: list[str] = []
    server.on("connect", lambda sid, environ: connects.append(sid))
    response = Client(server).get(
        "/engine.io/?EIO=4&transport=websocket",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
        },
    )
    assert response.status_code == 400
    assert connects == []


def test_make_server_uses_the_servers_own_async_mode() -> None:
    import realtime

    engine = Server(async_mode="threading")
    assert engine.async_mode == "threading"
    embedded = realtime.make_server(engine, "127.0.0.1", 0)
    try:
        assert type(embedded).__module__ == "realtime.async_modes.threading_mode"
    finally:
        embedded.stop()


@pytest.mark.parametrize(
    ("before", "tune_gc", "after"),
    [
        ((700, 10, 10), True, "tuned"),
        ((700, 10, 10), False, (700, 10, 10)),
        ((1234, 5, 6), True, (1234, 5, 6)),  # the program's own choice stays
    ],
)
def test_make_server_tunes_the_garbage_collector(
    before: tuple[int, int, int], tune_gc: bool, after: Any
) -> None:
    import gc

    import realtime
    from realtime.async_modes import GC_THRESHOLDS

    saved = gc.get_threshold()
    gc.set_threshold(*before)
    try:
        embedded = realtime.make_server(
            Server(async_mode="threading"), "127.0.0.1", 0, tune_gc=tune_gc
        )
        embedded.stop()
        assert gc.get_threshold() == (GC_THRESHOLDS if after == "tuned" else after)
    finally:
        gc.set_threshold(*saved)


#: Run in a process of its own: monkey patching, then a server made as
#: ``socketio.run()`` makes it (where eventlet patched threading,
#: current_thread() is not main_thread() even on the main thread, and the
#: collector was once left untuned there).
_PATCHED_GC = """
import sys
if sys.argv[1] == "eventlet":
    import eventlet
    eventlet.monkey_patch()
else:
    from gevent import monkey
    monkey.patch_all()
import gc
import realtime
server = realtime.make_server(realtime.Server(async_mode=sys.argv[1]), "127.0.0.1", 0)
print(gc.get_threshold())
"""


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_a_monkey_patched_program_gets_the_collector_tuned_too(mode: str) -> None:
    import subprocess
    import sys

    from realtime.async_modes import GC_THRESHOLDS

    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _PATCHED_GC, mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.split("\n")[-2] == str(GC_THRESHOLDS), out


def test_a_server_made_off_the_main_thread_leaves_the_collector_alone() -> None:
    # werkzeug's reloader serves from a daemon thread: process-wide settings
    # are the program's there.
    import gc
    import threading

    import realtime

    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    seen: list[tuple[int, int, int]] = []

    def build() -> None:
        realtime.make_server(Server(async_mode="threading"), "127.0.0.1", 0).stop()
        seen.append(gc.get_threshold())

    try:
        thread = threading.Thread(target=build)
        thread.start()
        thread.join(10)
        assert seen == [(700, 10, 10)]
    finally:
        gc.set_threshold(*saved)
