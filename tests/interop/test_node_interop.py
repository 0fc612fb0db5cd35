"""Interop with Socket.IO clients under Node: the official one from npm, and ours.

``interop.test.js`` beside this file holds the scenarios (auth and refusal,
namespaces on one session, events and acks both ways with their timeouts,
binary, rooms and broadcasts, disconnect reasons, reconnection with buffered
emits, ordering across the upgrade, and, for the official client, the msgpack
parser). Here it runs with ``node --test`` once per async mode of our server,
transport setup and client: ``socket.io-client`` (tests/node/package.json)
or ``realtime/static/realtime.js``, against servers of
``tests.support.interop_apps`` started in child processes. A failure shows
the Node output. Without node, npm or the installed packages the tests skip,
except under CI, where ``make test`` must have installed them
(tests/support/prereqs.sh).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.interop.conftest import APP
from tests.support.servers import ServerPool

HERE = Path(__file__).resolve().parent
SCRIPT = "interop.test.js"
#: The second server: events handled one at a time in arrival order (so an
#: echo keeps the order of the wire), and a dead client noticed in 1.5 s.
SERIAL = {"async_handlers": False, "ping_interval": 0.5, "ping_timeout": 1}
#: Scenarios in interop.test.js; the msgpack ones run with the official client only.
SCENARIOS = {"official": 21, "realtime": 18}

pytestmark = pytest.mark.node


def _passed(output: str) -> int:
    """How many tests the spec reporter says passed (its ``pass N`` line)."""
    match = re.search(r"^\S*\s*pass (\d+)$", output, re.MULTILINE)
    return int(match.group(1)) if match else 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize("client", ["official", "realtime"])
@pytest.mark.parametrize("transport", ["polling", "websocket", "upgrade"])
def test_node_client(
    node: str, server_pool: ServerPool, async_mode: str, transport: str, client: str
) -> None:
    env = {
        **os.environ,
        "INTEROP_URL": server_pool.get(APP, async_mode).url,
        "INTEROP_SERIAL_URL": server_pool.get(APP, async_mode, **SERIAL).url,
        "INTEROP_CLIENT": client,
        "INTEROP_TRANSPORT": transport,
    }
    if client == "official":
        env["INTEROP_MSGPACK_URL"] = server_pool.get(APP, async_mode, serializer="msgpack").url
    command = [node, "--test", "--test-reporter=spec", "--test-timeout=60000", SCRIPT]
    try:
        proc = subprocess.run(
            command, cwd=HERE, env=env, capture_output=True, text=True, check=False, timeout=240
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout
        pytest.fail(f"node --test {SCRIPT} did not finish in 240 s:\n{out or ''}", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(
            f"node --test {SCRIPT} ({client} client, {transport}, {async_mode}) exited "
            f"{proc.returncode}:\n{proc.stdout}\n{proc.stderr}",
            pytrace=False,
        )
    assert _passed(proc.stdout) == SCENARIOS[client], proc.stdout
