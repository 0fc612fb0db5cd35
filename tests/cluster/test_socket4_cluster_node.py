"""Node's socket.io 4 server tools across two processes sharing Redis, with
the official client under Node (``socket4.cluster.test.js``: fetch_sockets,
a fetched socket's emit, sockets_join, exclude, disconnect_sockets, a
middleware's refusal, server_side_emit), over polling, WebSocket and the
upgrade."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.test_engine_forwarding import REDIS, redis_answers
from tests.conftest import require
from tests.support.servers import ServerProcess

HERE = Path(__file__).resolve().parent
SCRIPT = "socket4.cluster.test.js"
APP = "tests.support.socket4_apps:sio_socket4"
SCENARIOS = 5

pytestmark = [pytest.mark.node, pytest.mark.xdist_group("socket4-cluster-node")]


@pytest.fixture(scope="module")
def servers() -> Iterator[list[ServerProcess]]:
    require(redis_answers(), "a Redis server on 127.0.0.1:6379 (make prereqs starts one)")
    options: dict[str, object] = {
        "message_queue": REDIS,
        "channel": f"socket4-node-{uuid.uuid4().hex[:8]}",
    }
    started = []
    try:
        for mode in ("gevent", "threading"):
            env = {"REALTIME_TEST_MONKEY_PATCH": "1"} if mode == "gevent" else {}
            started.append(ServerProcess(APP, mode, dict(options), env=env).start())
        yield started
    finally:
        for server in started:
            server.stop()


def _passed(output: str) -> int:
    match = re.search(r"^\S*\s*pass (\d+)$", output, re.MULTILINE)
    return int(match.group(1)) if match else 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize("transport", ["polling", "websocket", "upgrade"])
def test_official_client(node: str, servers: list[ServerProcess], transport: str) -> None:
    env = {
        **os.environ,
        "INTEROP_URL": servers[0].url,
        "SOCKET4_OTHER_URL": servers[1].url,
        "INTEROP_CLIENT": "official",
        "INTEROP_TRANSPORT": transport,
    }
    command = [node, "--test", "--test-reporter=spec", "--test-timeout=60000", SCRIPT]
    proc = subprocess.run(
        command, cwd=HERE, env=env, capture_output=True, text=True, check=False, timeout=240
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    assert _passed(proc.stdout) == SCENARIOS, proc.stdout
