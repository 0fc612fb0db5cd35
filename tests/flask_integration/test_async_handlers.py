"""``async def`` handlers in the Flask extension: run as Flask runs async views.

Flask runs an async view with ``app.ensure_sync`` (asgiref): on an event loop
in another thread while the request's task waits; under eventlet or gevent
that needs the process monkey patched, as Flask documents. Here: real
python-socketio clients against the app in each async mode (patched for the
green ones), the test client, and a clear refusal where it cannot work
(a green mode without patching, where the handler would hang its client).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from realtime.exceptions import ConfigurationError
from realtime.flask_integration import Namespace, SocketIO
from tests.support.peer import TRANSPORTS, connect_peer
from tests.support.servers import ServerProcess

APP = "tests.support.async_apps:create_app"


@pytest.fixture
def server(async_mode: str, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"REALTIME_TEST_MONKEY_PATCH": "1"}
    process = ServerProcess(APP, async_mode, env=env, log_path=str(tmp_path / "server.log"))
    yield process.start()
    process.stop()


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_async_handlers_run_in_their_contexts(server: ServerProcess, transport: str) -> None:
    peer = connect_peer(server.url, TRANSPORTS[transport], namespaces=["/", "/ns"])
    try:
        assert peer.client.call("async_echo", {"n": 1}, timeout=10) == {"n": 1}
        assert peer.wait("async_echo") == [
            (
                {
                    "data": {"n": 1},
                    "sid": peer.client.get_sid(),
                    "app": "tests.support.async_apps",
                    "g": "from g",
                },
            )
        ]
        assert peer.client.call("async_ping", namespace="/ns", timeout=10) == "pong"
    finally:
        peer.client.disconnect()


def test_the_test_client_runs_them() -> None:
    app = Flask(__name__)
    sio = SocketIO(app, async_mode="threading")

    @sio.on("twice")
    async def twice(n: int) -> int:
        from realtime.flask_integration import emit

        emit("twice", n * 2)
        return n * 2

    def run() -> None:
        client = sio.test_client(app)
        assert client.emit("twice", 21, callback=True) == 42
        got.append(client.get_received())

    # On a thread of its own: Flask's ensure_sync refuses to run where an
    # asyncio loop is running, and a browser test earlier in this pytest
    # process (Playwright's sync API) may leave one on the main thread.
    got: list[Any] = []
    worker = threading.Thread(target=run)
    worker.start()
    worker.join(30)
    assert got == [[{"name": "twice", "args": [42], "namespace": "/"}]]


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_a_green_mode_without_patching_refuses_them_clearly(mode: str) -> None:
    # This test process is not monkey patched.
    async def handler() -> None:
        pass

    app = Flask(__name__)
    sio = SocketIO()
    sio.on("later")(handler)
    with pytest.raises(ConfigurationError, match=f"needs the process monkey patched by {mode}"):
        sio.init_app(app, async_mode=mode)

    other = SocketIO(Flask(__name__), async_mode=mode)
    with pytest.raises(ConfigurationError, match="the handler for 'now' is async def"):
        other.on("now")(handler)

    class Async(Namespace):
        async def on_x(self) -> None:
            pass

    with pytest.raises(ConfigurationError, match=r"Async\.on_x is async def"):
        other.on_namespace(Async("/a"))
