"""What the server log says about handlers, with a real client against the Flask app.

A client that sends a handler the wrong number of arguments made a mistake:
one warning line naming the event, the sid and what did not fit, no
traceback. A handler that raises is the application's bug: its traceback.
Either way the connection goes on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.peer import TRANSPORTS, connect_peer
from tests.support.servers import ServerProcess

APP = "tests.support.flask_apps:create_app"


@pytest.fixture
def server(tmp_path: Path, async_mode: str) -> Iterator[ServerProcess]:
    env = {"REALTIME_TEST_MONKEY_PATCH": "1"} if async_mode == "gevent" else {}
    process = ServerProcess(APP, async_mode, env=env, log_path=str(tmp_path / "server.log"))
    yield process.start()
    process.stop()


def log_of(server: ServerProcess, needle: str, timeout: float = 5) -> str:
    assert server.log_path is not None
    deadline = time.monotonic() + timeout
    while True:
        text = Path(server.log_path).read_text()
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def test_wrong_arguments_are_one_warning_and_a_crash_is_a_traceback(
    server: ServerProcess,
) -> None:
    peer = connect_peer(server.url, TRANSPORTS["websocket"])
    try:
        sid = peer.client.get_sid()
        for _ in range(3):
            peer.client.emit("echo", ("one", "two", "three"))
        peer.client.emit("echo")
        assert peer.client.call("echo", "still here", timeout=5) == "still here"
        text = log_of(server, "echo() missing 1 required positional argument")
        warnings = [line for line in text.splitlines() if "does not take" in line]
        assert len(warnings) == 4, text
        assert (
            f"event 'echo' from {sid} in /: the handler does not take the 3 argument(s) the "
            "client sent (echo() takes 1 positional argument but 3 were given)"
        ) in warnings[0]
        assert "WARNING" in warnings[0]
        assert "echo() missing 1 required positional argument: 'data'" in warnings[3]
        assert "Traceback" not in text, text

        peer.client.emit("crash")
        assert peer.client.call("echo", "and still", timeout=5) == "and still"
        text = log_of(server, "RuntimeError: unhandled on purpose")
        assert "Traceback" in text and "RuntimeError: unhandled on purpose" in text, text
    finally:
        peer.client.disconnect()
