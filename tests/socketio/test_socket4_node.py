"""Node's socket.io 4 server tools with the official client under Node.

``socket4.test.js`` holds the scenarios (connection middlewares and their
refusals, event middlewares, on_any and on_any_outgoing, the disconnecting
event); here they run with socket.io-client from npm once per async mode,
transport and app (the bare server and the Flask extension of
tests/support/socket4_apps.py).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.node import node
from tests.support.servers import ServerPool

__all__ = ["node"]

HERE = Path(__file__).resolve().parent
SCRIPT = "socket4.test.js"
SCENARIOS = 5
APPS = {
    "server": "tests.support.socket4_apps:sio_socket4",
    "flask": "tests.support.socket4_apps:flask_socket4",
}

pytestmark = pytest.mark.node


def _passed(output: str) -> int:
    match = re.search(r"^\S*\s*pass (\d+)$", output, re.MULTILINE)
    return int(match.group(1)) if match else 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize("app", list(APPS))
@pytest.mark.parametrize("transport", ["polling", "websocket", "upgrade"])
def test_official_client(
    node: str, server_pool: ServerPool, async_mode: str, transport: str, app: str
) -> None:
    env = {
        **os.environ,
        "INTEROP_URL": server_pool.get(APPS[app], async_mode).url,
        "INTEROP_CLIENT": "official",
        "INTEROP_TRANSPORT": transport,
    }
    command = [node, "--test", "--test-reporter=spec", "--test-timeout=60000", SCRIPT]
    proc = subprocess.run(
        command, cwd=HERE, env=env, capture_output=True, text=True, check=False, timeout=240
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    assert _passed(proc.stdout) == SCENARIOS, proc.stdout
