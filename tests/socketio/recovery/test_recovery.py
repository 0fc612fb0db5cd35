"""Connection state recovery with Socket.IO clients under Node.

``recovery.test.js`` holds the scenarios (an outage, the zero-event case, a
silent network change, expiry, a buffer too small, a kicked client, the
connect handler's say), for the official client and for realtime.js, which
runs four more: the events it sent and the server did not get are sent again
after a recovery, once. Here they run once per client, async mode and
transport against servers of ``tests.support.recovery_apps``.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.servers import ServerPool

HERE = Path(__file__).resolve().parent
SCRIPT = "recovery.test.js"
APP = "tests.support.recovery_apps:sio_recovery"
#: Scenarios per client: realtime.js runs four more (the events it replays).
SCENARIOS = {"official": 8, "realtime": 12}

pytestmark = pytest.mark.node


def _passed(output: str) -> int:
    match = re.search(r"^\S*\s*pass (\d+)$", output, re.MULTILINE)
    return int(match.group(1)) if match else 0


def run_scenarios(
    node: str, server_pool: ServerPool, async_mode: str, client: str, transport: str
) -> subprocess.CompletedProcess[str]:
    def url(**recovery: object) -> str:
        return server_pool.get(APP, async_mode, recovery=recovery or True).url

    env = {
        **os.environ,
        "INTEROP_URL": url(),
        "RECOVERY_SHORT_URL": url(max_disconnection_duration=1),
        "RECOVERY_SMALL_URL": url(max_packets=5),
        "RECOVERY_STRICT_URL": url(skip_middlewares=False),
        "INTEROP_CLIENT": client,
        "INTEROP_TRANSPORT": transport,
    }
    command = [node, "--test", "--test-reporter=spec", "--test-timeout=60000", SCRIPT]
    return subprocess.run(
        command, cwd=HERE, env=env, capture_output=True, text=True, check=False, timeout=240
    )


@pytest.mark.timeout(300)
@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_official_client(
    node: str, server_pool: ServerPool, async_mode: str, transport: str
) -> None:
    proc = run_scenarios(node, server_pool, async_mode, "official", transport)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    assert _passed(proc.stdout) == SCENARIOS["official"], proc.stdout


@pytest.mark.timeout(300)
@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_our_client(node: str, server_pool: ServerPool, async_mode: str, transport: str) -> None:
    proc = run_scenarios(node, server_pool, async_mode, "realtime", transport)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    assert _passed(proc.stdout) == SCENARIOS["realtime"], proc.stdout
