"""The engine under gunicorn's gevent, gthread and (gunicorn < 26) eventlet workers."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import engineio
import pytest
import requests
import websocket

from tests.conftest import require
from tests.support import eio
from tests.support.ports import free_port
from tests.support.vanishing import vanish

ROOT = Path(__file__).resolve().parents[2]
LEGACY = ROOT / ".cache" / "gunicorn-legacy"

WORKERS = {
    "gevent": (["-k", "gevent"], "gevent", None),
    "gthread": (["-k", "gthread", "--threads", "64"], "threading", None),
    "eventlet": (["-k", "eventlet"], "eventlet", LEGACY),
    # No async_mode given: realtime must pick threads for gthread even though
    # eventlet is installed.
    "gthread-auto": (["-k", "gthread", "--threads", "64"], "auto", None),
}


class Gunicorn:
    def __init__(
        self,
        worker: str,
        extra: tuple[str, ...] = (),
        open_files: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """gunicorn with one ``worker``; ``open_files`` lowers its soft limit first;
        ``env`` is added to its environment."""
        args, mode, extra_path = WORKERS[worker]
        args = [*args, *extra]
        if extra_path is not None:
            require(
                (extra_path / "gunicorn").is_dir(), f"gunicorn<26 in {extra_path} (make prereqs)"
            )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([*([str(extra_path)] if extra_path else []), str(ROOT)]),
            "REALTIME_TEST_MODE": mode,
            **(env or {}),
        }
        self.process = subprocess.Popen(
            [
                *_with_soft_open_files(open_files),
                sys.executable,
                "-m",
                "gunicorn",
                *args,
                "-w",
                "1",
                "-b",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "info",
                "tests.support.gunicorn_app:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log: list[str] = []
        threading.Thread(target=self._read_log, daemon=True).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/_test/disconnects", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start:\n" + "".join(self.log))

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        return "".join(self.log)


def _with_soft_open_files(limit: int | None) -> list[str]:
    """A command prefix that lowers the soft open-files limit (util-linux prlimit)."""
    if limit is None:
        return []
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return ["prlimit", f"--nofile={limit}:{hard}"]


@pytest.fixture(params=list(WORKERS), scope="module")
def gunicorn(request: pytest.FixtureRequest) -> Iterator[Gunicorn]:
    server = Gunicorn(request.param)
    yield server
    log = server.stop()
    for bad in ("Traceback", "Error handling request", "Exception in worker"):
        assert bad not in log, log


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]])
def test_python_engineio_client(gunicorn: Gunicorn, transports: list[str]) -> None:
    client = engineio.Client(request_timeout=10)
    received: list[str | bytes] = []
    done = threading.Event()

    def on_message(data: str | bytes) -> None:
        received.append(data)
        if len(received) == 3:
            done.set()

    client.on("message", on_message)
    client.connect(gunicorn.url, transports=transports)
    if len(transports) == 2:
        for _ in range(100):
            if client.transport() == "websocket":
                break
            time.sleep(0.05)
    assert client.transport() == transports[-1]
    client.send("one")
    client.send(b"\x00two")
    client.send("three")
    assert done.wait(10)
    assert received == ["one", b"\x00two", "three"]
    client.disconnect()


def test_raw_upgrade_and_refusals(gunicorn: Gunicorn) -> None:
    sid, _ = eio.handshake(gunicorn.url)
    ws = eio.ws_connect(gunicorn.url.replace("http", "ws"), sid)
    ws.send("2probe")
    assert ws.recv() == "3probe"
    assert eio.poll(gunicorn.url, sid).text == "6"
    ws.send("5")
    ws.send("4after upgrade")
    assert ws.recv() == "4after upgrade"
    assert eio.poll(gunicorn.url, sid).status_code == 400
    ws.send("4disconnect-me")
    assert ws.recv() == "1"
    assert eio.ws_closed(ws)


def test_documented_gevent_setup_holds_more_clients_than_the_soft_open_files_limit() -> None:
    # serving.md: gunicorn -k gevent -w 1 --worker-connections 10000. gunicorn
    # raises no limit itself; the engine lifts the soft open-files limit (here
    # 1,024, a common default) to the hard one when it is built in the worker.
    clients = 1_300
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    require(hard >= 2 * clients + 100, f"a hard open-files limit of {2 * clients + 100}")
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2 * clients + 100), hard))
    server = Gunicorn("gevent", ("--worker-connections", "10000"), open_files=1024)
    sockets = []
    try:
        base_ws = server.url.replace("http://", "ws://")
        for _ in range(clients):
            ws, _data = eio.ws_open(base_ws)
            sockets.append(ws)
        for ws in (sockets[0], sockets[len(sockets) // 2], sockets[-1]):
            ws.send("4still there")
            assert eio.ws_recv_skip_pings(ws) == "4still there"
    finally:
        for ws in sockets:
            ws.close()
        log = server.stop()
    assert "Too many open files" not in log, log


def test_gevent_worker_serves_idle_websockets_with_no_greenlet_each_and_stop_ends_them() -> None:
    # Under -k gevent an open WebSocket is served by an io watcher of the
    # worker's hub; a graceful stop (SIGTERM, then --graceful-timeout) still
    # ends every connection as a transport close, with no traceback.
    server = Gunicorn(
        "gevent", ("--graceful-timeout", "2"), env={"REALTIME_TEST_LOG_LEVEL": "DEBUG"}
    )
    base_ws = server.url.replace("http://", "ws://")
    clients: list[websocket.WebSocket] = []
    try:
        probe, _ = eio.ws_open(base_ws)
        clients.append(probe)
        _greenlets(probe)  # let the workers the first message needs exist
        before = _greenlets(probe)
        for _ in range(40):
            ws, _data = eio.ws_open(base_ws)
            ws.send("4hi")
            assert eio.ws_recv_skip_pings(ws) == "4hi"
            clients.append(ws)
        after = _greenlets(probe)
        # 40 connections once held 40 greenlets; a few workers may be added.
        assert after - before < 10, (before, after)
        large = bytes(range(256)) * 3500
        clients[1].send_binary(large)
        assert eio.ws_recv_skip_pings(clients[1]) == large
        clients[2].send("4binary:3000000")
        assert len(eio.ws_recv_skip_pings(clients[2])) == 3_000_000 // 256 * 256 + 1
        vanishing, data = eio.ws_open(base_ws)
        vanish(vanishing.sock)  # a reset: a DEBUG line, and the others go on
        assert eio.disconnect_reason(server.url, data["sid"]) == "transport close"
        for ws in clients:
            ws.send("4still here")
            assert eio.ws_recv_skip_pings(ws) == "4still here"
    finally:
        log = server.stop()
    for ws in clients:
        assert eio.ws_closed(ws)
    assert log.count("closed: transport close") == len(clients) + 1, log
    for bad in ("Traceback", "Error handling request", "Exception in worker", " ERROR "):
        assert bad not in log, log


def _greenlets(ws: websocket.WebSocket) -> int:
    ws.send("4greenlets")
    return int(str(eio.ws_recv_skip_pings(ws))[1:])
