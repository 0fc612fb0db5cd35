"""Connection state recovery across processes: the client comes back elsewhere.

Two processes of ``tests.support.recovery_apps`` (eventlet and gevent; the
client moves from the first to the second) share a Redis through
``message_queue``; ``recovery.test.js`` beside this file holds the scenarios,
run with the official Socket.IO client over polling and over WebSocket: an
outage, the zero-event case, and a silent network change where the second
process has the first let go of the old connection.
"""

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
APP = "tests.support.recovery_apps:sio_recovery"
SCENARIOS = 4

pytestmark = [pytest.mark.node, pytest.mark.xdist_group("recovery-cluster")]


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    require(redis_answers(), "a Redis server on 127.0.0.1:6379 (make prereqs starts one)")
    options = {"message_queue": REDIS, "channel": f"recovery-{uuid.uuid4().hex[:8]}"}
    first = ServerProcess(APP, "eventlet", dict(options))
    second = ServerProcess(APP, "gevent", dict(options), env={"REALTIME_TEST_MONKEY_PATCH": "1"})
    try:
        yield first.start(), second.start()
    finally:
        first.stop()
        second.stop()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_official_client_recovers_on_another_process(
    node: str, pair: tuple[ServerProcess, ServerProcess], transport: str
) -> None:
    first, second = pair
    env = {
        **os.environ,
        "INTEROP_URL": first.url,
        "RECOVERY_OTHER_URL": second.url,
        "INTEROP_CLIENT": "official",
        "INTEROP_TRANSPORT": transport,
    }
    command = [node, "--test", "--test-reporter=spec", "--test-timeout=60000", "recovery.test.js"]
    proc = subprocess.run(
        command, cwd=HERE, env=env, capture_output=True, text=True, check=False, timeout=200
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    passed = re.search(r"^\S*\s*pass (\d+)$", proc.stdout, re.MULTILINE)
    assert passed is not None and int(passed.group(1)) == SCENARIOS, proc.stdout
