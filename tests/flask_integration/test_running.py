"""``socketio.run()``, its reloader, and ``flask run``, each in a real process.

Every test starts a program the way a developer would, connects
python-socketio clients over polling, WebSocket and the upgrade, and checks
who serves: which async mode, which process.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

import realtime
from realtime.async_modes import get_async_mode
from tests.flask_integration.helpers import (
    PYTHON,
    ROOT,
    TRANSPORTS,
    Program,
    connect_peer,
    free_port,
    wait_for_http,
)

APP_MODULE = "tests.support.flask_apps"
#: Files the reloader must not watch here: the checkout may be edited by
#: others while the tests run, and only the test's own script should count.
PACKAGE_DIR = Path(realtime.__file__).resolve().parent
EXCLUDES = [f"{ROOT}/*", f"{PACKAGE_DIR}/*"]


def welcome(url: str, transports: list[str]) -> dict[str, Any]:
    """Connect, check that events flow both ways, and return the welcome."""
    peer = connect_peer(url, transports)
    try:
        greeting: dict[str, Any] = peer.wait("welcome", timeout=5)[0][0]
        assert peer.client.call("echo", {"via": transports}, timeout=5) == {"via": transports}
        info = peer.client.call("whoami", timeout=5)
        assert info["transport"] == transports[-1]
        assert info["pid"] == greeting["pid"]
        peer.client.emit("ticker", 3)
        assert peer.wait("tick", 3, timeout=5) == [(0,), (1,), (2,)]
        return greeting
    finally:
        peer.client.disconnect()


def serving_pid(url: str, timeout: float = 30) -> dict[str, Any]:
    """The welcome of whichever process serves ``url`` now (retrying while none does)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return welcome(url, TRANSPORTS["upgrade"])
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop_through_the_app(url: str) -> None:
    peer = connect_peer(url, ["polling"])
    peer.client.emit("stop_server")
    time.sleep(0.2)
    if peer.client.connected:
        peer.client.disconnect()


def test_run_serves_in_each_async_mode_and_stop_ends_it(
    programs: list[Program], async_mode: str
) -> None:
    port = free_port()
    program = Program([PYTHON, "-m", APP_MODULE, "--port", str(port), "--mode", async_mode])
    programs.append(program)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/state")
    for transports in TRANSPORTS.values():
        greeting = welcome(url, transports)
        assert greeting["mode"] == async_mode
        assert greeting["pid"] == program.process.pid
        assert not greeting["reloader_child"]
    stop_through_the_app(url)
    assert program.wait(15) == 0
    assert f" * Running on http://127.0.0.1:{port}" in program.text()
    assert f"(realtime, {async_mode} mode)" in program.text()


def test_run_picks_the_best_installed_mode(programs: list[Program]) -> None:
    port = free_port()
    program = Program([PYTHON, "-m", APP_MODULE, "--port", str(port)])
    programs.append(program)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/state")
    assert welcome(url, TRANSPORTS["upgrade"])["mode"] == get_async_mode().name == "eventlet"


def test_reloader_child_serves_and_restarts_on_change(
    programs: list[Program], async_mode: str, tmp_path: Path
) -> None:
    script = tmp_path / "serve.py"
    script.write_text(
        "from tests.support.flask_apps import main\n\nif __name__ == '__main__':\n    main()\n"
    )
    port = free_port()
    command = [PYTHON, str(script), "--port", str(port), "--mode", async_mode, "--debug"]
    for pattern in EXCLUDES:
        command += ["--exclude", pattern]
    program = Program(command, cwd=tmp_path)
    programs.append(program)
    url = f"http://127.0.0.1:{port}"
    first = serving_pid(url)
    assert first["reloader_child"] and first["mode"] == async_mode
    assert first["pid"] != program.process.pid  # the parent only watches
    time.sleep(1.2)  # the stat reloader compares modification times
    script.write_text(script.read_text() + "# changed\n")
    os.utime(script, (time.time() + 2, time.time() + 2))
    deadline = time.monotonic() + 30
    second = first
    while second["pid"] == first["pid"]:
        time.sleep(0.3)
        try:
            second = serving_pid(url)
        except Exception as exc:
            # Between the old child's exit and the new one's bind, nothing listens.
            if time.monotonic() > deadline:
                raise AssertionError(f"no server after the restart:\n{program.text()}") from exc
        if time.monotonic() > deadline:
            break
    assert second["pid"] != first["pid"] and second["reloader_child"]
    assert "Detected change" in program.text()
    stop_through_the_app(url)
    assert program.wait(15) == 0


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_flask_run_serves_socketio_on_threads(programs: list[Program], debug: bool) -> None:
    port = free_port()
    command = [PYTHON, "-m", "flask", "--app", f"{APP_MODULE}:create_app"]
    if debug:
        command.append("--debug")
    command += ["run", "--port", str(port)]
    for pattern in EXCLUDES:
        command += ["--exclude-patterns", pattern]
    program = Program(command)
    programs.append(program)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/state")
    for transports in TRANSPORTS.values():
        greeting = welcome(url, transports)
        assert greeting["mode"] == "threading"
        assert greeting["reloader_child"] is debug
    room = f"r{port}"
    peer = connect_peer(url, TRANSPORTS["upgrade"])
    try:
        peer.client.call("join", room)
        assert requests.post(f"{url}/notify/{room}", json={"n": 1}, timeout=5).status_code == 204
        assert peer.wait("notice") == [({"n": 1},)]
    finally:
        peer.client.disconnect()
    output = program.text()
    assert "Running on http://127.0.0.1" in output
    # werkzeug logs each request when it ends: a WebSocket as its 101, never
    # as a 500 or a traceback once the connection closes.
    websockets = [line for line in output.splitlines() if "transport=websocket" in line]
    assert websockets and all('" 101 ' in line for line in websockets), output
    assert "Traceback" not in output and '" 500 ' not in output, output


def broken_packages(root: Path, *names: str) -> str:
    """A directory where each of ``names`` is a package that fails to import, as a
    broken install or one that does not support this Python does; for PYTHONPATH."""
    for name in names:
        package = root / name
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(
            f"raise AttributeError(\"module 'ssl' has no attribute 'wrap_socket' ({name})\")\n"
        )
    return f"{root}{os.pathsep}{ROOT}"


@pytest.mark.parametrize(
    ("broken", "expected"), [(("eventlet",), "gevent"), (("eventlet", "gevent"), "threading")]
)
def test_run_falls_back_when_a_mode_is_installed_but_fails_to_import(
    programs: list[Program], tmp_path: Path, broken: tuple[str, ...], expected: str
) -> None:
    port = free_port()
    path = broken_packages(tmp_path, *broken)
    program = Program([PYTHON, "-m", APP_MODULE, "--port", str(port)], env={"PYTHONPATH": path})
    programs.append(program)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/state")
    for transports in TRANSPORTS.values():
        assert welcome(url, transports)["mode"] == expected
    stop_through_the_app(url)
    assert program.wait(15) == 0
    text = program.text()
    for name in broken:
        # One warning per mode skipped, naming the import error.
        warning = (
            f"async_mode {name!r}: the {name} package is installed but failed to import "
            f"(AttributeError: module 'ssl' has no attribute 'wrap_socket' ({name})); "
            "trying the next async mode"
        )
        assert text.count(warning) == 1, text
    assert "Traceback" not in text, text


def test_a_mode_asked_for_that_fails_to_import_says_why(
    programs: list[Program], tmp_path: Path
) -> None:
    path = broken_packages(tmp_path, "eventlet")
    program = Program(
        [PYTHON, "-m", APP_MODULE, "--port", str(free_port()), "--mode", "eventlet"],
        env={"PYTHONPATH": path},
    )
    programs.append(program)
    assert program.wait(30) != 0
    assert (
        "ConfigurationError: async_mode 'eventlet': the eventlet package is installed but "
        "failed to import (AttributeError: module 'ssl' has no attribute 'wrap_socket' "
        "(eventlet))"
    ) in program.text(), program.text()


def test_a_mode_asked_for_that_is_not_installed_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['gevent'] = None\n"
        "from realtime.async_modes import get_async_mode\n"
        "from realtime.exceptions import ConfigurationError\n"
        "try:\n"
        "    get_async_mode('gevent')\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [PYTHON, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, timeout=60
    ).stdout
    expected = "async_mode 'gevent' needs the gevent package: pip install 'realtime[gevent]'"
    assert out.strip() == expected
