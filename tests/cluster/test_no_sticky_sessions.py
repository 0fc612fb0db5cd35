"""No sticky sessions: gunicorn with four workers, and two servers behind a round-robin nginx.

In both, each request of a session may land on any process: gunicorn's
workers take connections as they come, and nginx, with no keep-alive to its
upstreams, sends each request to the next server. Clients on polling only,
clients that upgrade to WebSocket (python-socketio's, the official Node
client, realtime.js under Node) and realtime.js clients that move to SSE or
HTTP streaming join one room, get a burst of numbered broadcasts, and send
numbered events: every message arrives once and in order, both ways, each
client ends on the transport it should, as the process that holds its
session agrees, and the processes report that they did forward requests.
``test_no_sticky_in_chromium.py`` does the same with realtime.js in Chromium.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.cluster.test_engine_forwarding import REDIS, redis_answers
from tests.conftest import require
from tests.support.nginx import Nginx, nginx_path
from tests.support.peer import Peer
from tests.support.ports import free_port
from tests.support.servers import ServerProcess

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LEGACY = ROOT / ".cache" / "gunicorn-legacy"
COUNT = 100

pytestmark = pytest.mark.xdist_group("no-sticky")

#: The Node clients of each deployment (``spread.js``): which client, and the
#: transports it may use, the last one being where it must end up. ``sse``
#: and ``streaming`` are realtime.js's own (under Node it reads both streams
#: with ``fetch``); their stream GET and the POSTs of the same session land
#: on different processes.
NODE_SETUPS = [
    (client, transports)
    for client in ("official", "realtime")
    for transports in ("polling", "polling,websocket")
] + [("realtime", "polling,sse"), ("realtime", "polling,streaming")]


class Deployment:
    """Processes serving one deployment, reached at ``url``."""

    def __init__(self, url: str, backends: list[str], stop: list[Any]) -> None:
        self.url = url
        self._backends = backends
        self._stop = stop

    def stats(self) -> list[dict[str, Any]]:
        """Each process's cluster counters, by pid."""
        seen: dict[int, dict[str, Any]] = {}
        for _ in range(200):
            for backend in self._backends:
                # A new connection each time, so gunicorn hands it to any worker.
                got = requests.get(f"{backend}/_test/state?stats=1", timeout=5).json()
                seen[got["pid"]] = got
            if len(seen) >= self.expected_processes:
                break
        return list(seen.values())

    expected_processes = 0

    def close(self) -> None:
        for stop in self._stop:
            stop()


def gunicorn(worker: str, channel: str) -> Deployment:
    args = {"gevent": ["-k", "gevent"], "eventlet": ["-k", "eventlet"]}[worker]
    path = [str(ROOT)]
    if worker == "eventlet":
        require((LEGACY / "gunicorn").is_dir(), f"gunicorn<26 in {LEGACY} (make prereqs)")
        path.insert(0, str(LEGACY))
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(path),
        "REALTIME_TEST_MODE": worker,
        "REALTIME_TEST_QUEUE": REDIS,
        "REALTIME_TEST_CHANNEL": channel,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            *args,
            "-w",
            "4",
            "-b",
            f"127.0.0.1:{port}",
            "tests.support.gunicorn_sio_app:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def stop() -> None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    deadline = time.monotonic() + 30
    deployment = Deployment(url, [url], [stop])
    deployment.expected_processes = 4
    while True:
        try:
            if len(deployment.stats()) == 4:
                return deployment
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop()
            raise RuntimeError(f"gunicorn ({worker}) did not start its 4 workers")
        time.sleep(0.2)


def behind_nginx(channel: str) -> Deployment:
    require(nginx_path() is not None, "nginx (make prereqs installs Debian's nginx-light)")
    options = {"message_queue": REDIS, "channel": channel}
    servers = [
        ServerProcess("tests.support.cluster_apps:sio_cluster", mode, dict(options)).start()
        for mode in ("threading", "eventlet")
    ]
    proxy = Nginx([server.port for server in servers], "good").start()
    deployment = Deployment(
        proxy.url, [server.url for server in servers], [proxy.stop, *[s.stop for s in servers]]
    )
    deployment.expected_processes = 2
    return deployment


@contextmanager
def deployed(kind: str) -> Iterator[Deployment]:
    """A deployment on its own channel: ``gunicorn-gevent``, ``gunicorn-eventlet``
    or ``nginx-round-robin``."""
    require(redis_answers(), "a Redis server on 127.0.0.1:6379 (make prereqs starts one)")
    channel = f"spread-{uuid.uuid4().hex[:8]}"
    made = behind_nginx(channel) if kind == "nginx-round-robin" else gunicorn(kind[9:], channel)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(params=["gunicorn-gevent", "gunicorn-eventlet", "nginx-round-robin"])
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    with deployed(str(request.param)) as made:
        yield made


class NodeClients:
    """``spread.js``: Node clients of one kind, in a child process."""

    def __init__(
        self, node_binary: str, url: str, client: str, transports: str, room: str, clients: int
    ) -> None:
        env = {
            **os.environ,
            "SPREAD_URL": url,
            "SPREAD_CLIENT": client,
            "SPREAD_TRANSPORTS": transports,
            "SPREAD_CLIENTS": str(clients),
            "SPREAD_ROOM": room,
            "SPREAD_COUNT": str(COUNT),
        }
        self.what = f"{client} over {transports}"
        self.transports = transports.split(",")
        self.process = subprocess.Popen(
            [node_binary, "spread.js"],
            cwd=HERE,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ready(self) -> None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.strip() == "READY", f"{self.what}: {line}{self.process.stderr.read()}"  # type: ignore[union-attr]

    def results(self) -> list[dict[str, Any]]:
        out, err = self.process.communicate(timeout=90)
        assert self.process.returncode == 0, f"{self.what}:\n{out}\n{err}"
        return list(json.loads(out.strip().splitlines()[-1]))


class PythonClient:
    """A python-socketio client that counts ticks and sends numbered events."""

    def __init__(self, url: str, transports: list[str], room: str) -> None:
        self.peer = Peer()
        self.peer.client.connect(url, transports=transports, wait_timeout=20)
        self.transports = transports
        self.peer.client.call("join", room, timeout=20)
        self.acks: list[bool] = []
        self._acked = threading.Event()

    def send_counts(self) -> None:
        def acked(ok: bool) -> None:
            self.acks.append(ok)
            if len(self.acks) == COUNT:
                self._acked.set()

        for n in range(COUNT):
            self.peer.client.emit("count", n, callback=acked)

    def check(self) -> None:
        assert self._acked.wait(60), f"{self.transports}: {len(self.acks)} acks"
        assert self.acks == [True] * COUNT
        assert self.peer.wait("tick", COUNT, timeout=60) == [(n,) for n in range(COUNT)]
        time.sleep(0.3)
        assert len(self.peer.events["tick"]) == COUNT, "a tick arrived twice"
        assert self.peer.client.transport() == self.transports[-1]
        self.peer.client.disconnect()


@pytest.mark.timeout(240)
def test_every_message_arrives_once_and_in_order(deployment: Deployment, node: str) -> None:
    room = f"room-{uuid.uuid4().hex[:6]}"
    node_clients = [
        NodeClients(node, deployment.url, client, transports, room, 2)
        for client, transports in NODE_SETUPS
    ]
    for clients in node_clients:
        clients.ready()
    python_clients = [
        PythonClient(deployment.url, transports, room)
        for transports in (["polling"], ["polling"], ["polling", "websocket"])
    ]
    sender = Peer()
    sender.client.connect(deployment.url, transports=["websocket"], wait_timeout=20)
    for client in python_clients:
        client.send_counts()
    for n in range(COUNT):
        sender.client.emit("to", (room, "tick", n))
    for client in python_clients:
        client.check()
    for clients in node_clients:
        for seen in clients.results():
            assert seen["errors"] == [] and seen["disconnects"] == [], (clients.what, seen)
            assert seen["ticks"] == list(range(COUNT)), clients.what
            assert seen["inOrder"] == [True] * COUNT, clients.what
            assert seen["rungs"] == clients.transports, (clients.what, seen["rungs"])
            assert seen["transport"] == clients.transports[-1], clients.what
            assert seen["serverTransport"] == clients.transports[-1], clients.what
    sender.client.disconnect()
    stats = deployment.stats()
    # Requests did land on processes that did not hold their session.
    assert sum(s["forwarded"] for s in stats) > 0, stats
    assert sum(s["served_for_others"] for s in stats) > 0, stats
