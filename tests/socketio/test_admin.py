"""instrument(): the Socket.IO Admin UI's namespace.

The protocol as the official client under Node sees it (``admin.node.test.js``:
credentials, config, every socket, server stats, live events, actions,
read-only), on the bare server and the Flask extension, over polling,
WebSocket and the upgrade; here, with python-socketio's client, the other
options (a callable auth, production mode), and the arguments refused.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio

import realtime
from realtime.exceptions import ConfigurationError
from tests.support.node import node
from tests.support.servers import ServerProcess

__all__ = ["node"]

HERE = Path(__file__).resolve().parent
SCRIPT = "admin.node.test.js"
SCENARIOS = 7
APPS = {
    "server": "tests.support.admin_apps:sio_admin",
    "flask": "tests.support.admin_apps:flask_admin",
}


@pytest.fixture(scope="module", params=sorted(APPS))
def servers(request: pytest.FixtureRequest) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    app = APPS[request.param]
    started: list[ServerProcess] = []
    try:
        started.append(ServerProcess(app, "threading").start())
        started.append(ServerProcess(app, "gevent", {"read_only": True}).start())
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


def _passed(output: str) -> int:
    match = re.search(r"^\S*\s*pass (\d+)$", output, re.MULTILINE)
    return int(match.group(1)) if match else 0


@pytest.mark.node
@pytest.mark.timeout(300)
@pytest.mark.parametrize("transport", ["polling", "websocket", "upgrade"])
def test_official_client(
    node: str, servers: tuple[ServerProcess, ServerProcess], transport: str
) -> None:
    env = {
        **os.environ,
        "INTEROP_URL": servers[0].url,
        "ADMIN_RO_URL": servers[1].url,
        "INTEROP_CLIENT": "official",
        "INTEROP_TRANSPORT": transport,
    }
    command = [node, "--test", "--test-reporter=spec", "--test-timeout=60000", SCRIPT]
    proc = subprocess.run(
        command, cwd=HERE, env=env, capture_output=True, text=True, check=False, timeout=240
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    # One more with the upgrade: socket_updated.
    assert _passed(proc.stdout) == SCENARIOS + (transport == "upgrade"), proc.stdout


# -- with python-socketio's client ---------------------------------------------


class Admin:
    """A python-socketio client on /admin that records what it receives."""

    def __init__(self) -> None:
        self.client = socketio.Client()
        self.log: list[tuple[str, tuple[Any, ...]]] = []
        self.client.on("*", lambda event, *args: self.log.append((event, args)), "/admin")

    def connect(self, url: str, auth: Any) -> None:
        self.client.connect(url, namespaces=["/admin"], auth=auth, wait_timeout=10)

    def events(self, name: str) -> list[tuple[Any, ...]]:
        return [args for event, args in self.log if event == name]

    def wait_for(self, name: str, timeout: float = 10) -> tuple[Any, ...]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(name)
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"no {name}: {self.log}")


@pytest.fixture
def admin() -> Iterator[Admin]:
    made = Admin()
    yield made
    made.client.disconnect()


def test_a_callable_decides_who_gets_in(admin: Admin) -> None:
    server = ServerProcess(APPS["server"], "threading", {"auth": "callable"}).start()
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            admin.connect(server.url, {"password": "wrong"})
        admin.connect(server.url, {"password": "open sesame"})
        assert "ALL_EVENTS" in admin.wait_for("config")[0]["supportedFeatures"]
    finally:
        server.stop()


def test_production_mode_sends_stats_only(admin: Admin) -> None:
    server = ServerProcess(
        APPS["flask"], "eventlet", {"admin_mode": "production", "server_id": "eu-1"}
    ).start()
    user = socketio.Client()
    try:
        user.connect(server.url, wait_timeout=10)
        admin.connect(server.url, {"username": "admin", "password": "s3cret"})
        features = admin.wait_for("config")[0]["supportedFeatures"]
        assert "ALL_EVENTS" not in features and "DISCONNECT" in features
        assert admin.wait_for("server_stats")[0]["serverId"] == "eu-1"
        user.call("echo", "hi", timeout=10)
        user.call("join", "room", timeout=10)
        stats = len(admin.events("server_stats"))
        while len(admin.events("server_stats")) < stats + 2:
            time.sleep(0.05)
        seen = {event for event, _ in admin.log}
        assert seen == {"session", "config", "server_stats"}, seen
    finally:
        user.disconnect()
        server.stop()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs auth"),
        ({"auth": None}, "needs auth"),
        ({"auth": True}, "auth must be"),
        ({"auth": {}}, "auth must be"),
        ({"auth": ["x"]}, "auth must be"),
        ({"auth": False, "mode": "debug"}, "mode must be"),
        ({"auth": False, "namespace": "admin"}, "namespace must be"),
        ({"auth": False, "namespace": "/"}, "namespace must be"),
        ({"auth": False, "server_stats_interval": 0}, "server_stats_interval"),
    ],
)
def test_arguments_that_cannot_work_are_refused(options: dict[str, Any], message: str) -> None:
    sio = realtime.Server(async_mode="threading")
    try:
        with pytest.raises(ConfigurationError, match=message):
            sio.instrument(**options)
    finally:
        sio.shutdown()


def test_a_server_is_instrumented_once() -> None:
    sio = realtime.Server(async_mode="threading")
    try:
        sio.instrument(auth=False)
        with pytest.raises(ConfigurationError, match="instrumented already"):
            sio.instrument(auth=False)
    finally:
        sio.shutdown()


def test_the_extension_checks_arguments_before_any_app() -> None:
    from realtime.flask_integration import Realtime

    rt = Realtime()
    with pytest.raises(ConfigurationError, match="needs auth"):
        rt.instrument()
    assert rt.instrument(auth=False) is None
