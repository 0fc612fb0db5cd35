"""The transport ladder of realtime.js against our server, under Node.

``ladder.test.js`` beside this file holds the scenarios (each rung carrying
traffic, heartbeats and closes; order kept across each switch; failed,
refused and silent probes; held requests cut until the client short-polls).
Here it runs with ``node --test`` once per async mode of the server, against
``tests.support.interop_apps`` servers in child processes, and the number of
scenarios that passed is checked, so none can silently drop out. Without
node, npm or the installed packages the tests skip, except under CI, where
``make test`` must have installed them (tests/support/prereqs.sh): there
they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require
from tests.support.servers import ServerPool

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE.parent / "node" / "node_modules"
APP = "tests.support.interop_apps:interop"
#: The interop suite's second server (tests/interop/test_node_interop.py): the
#: same options, so a worker runs one such server for both suites.
SERIAL = {"async_handlers": False, "ping_interval": 0.5, "ping_timeout": 1}
SCRIPT = "ladder.test.js"
#: Scenarios in ladder.test.js: 3 per rung (5 rungs), heartbeats, 3
#: orderings, 2 handshakes, 6 probes that fail or overlap, 2 with cut requests.
SCENARIOS = 29
MIN_NODE = 20

pytestmark = pytest.mark.node


def node_for_tests() -> str:
    """The ``node`` executable, once Node 20+ and tests/node's packages are there."""
    node = shutil.which("node")
    require(node is not None, "node (Node.js 20+) on PATH")
    assert node is not None
    require(shutil.which("npm") is not None, "npm on PATH")
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout
    match = re.match(r"v(\d+)\.", version.strip())
    require(bool(match) and int(match.group(1)) >= MIN_NODE, f"Node.js {MIN_NODE}+")
    require(
        (NODE_MODULES / "ws" / "package.json").is_file(),
        "tests/node/node_modules (run: npm ci --prefix tests/node)",
    )
    return node


def run_node_tests(node: str, script: Path, env: dict[str, str], expected: int) -> None:
    """``node --test script``; fails with Node's output unless all ``expected`` pass."""
    command = [node, "--test", "--test-reporter=spec", "--test-timeout=60000", script.name]
    try:
        proc = subprocess.run(
            command,
            cwd=script.parent,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
            timeout=240,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout
        pytest.fail(f"node --test {script.name} did not finish in 240 s:\n{out or ''}")
    passed = re.search(r"^\S*\s*pass (\d+)$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or passed is None or int(passed.group(1)) != expected:
        pytest.fail(
            f"node --test {script.name} exited {proc.returncode}, expected {expected} "
            f"passing scenarios:\n{proc.stdout}\n{proc.stderr}",
            pytrace=False,
        )


@pytest.mark.timeout(300)
def test_ladder(server_pool: ServerPool, async_mode: str) -> None:
    node = node_for_tests()
    env = {
        "LADDER_URL": server_pool.get(APP, async_mode).url,
        "LADDER_SERIAL_URL": server_pool.get(APP, async_mode, **SERIAL).url,
    }
    run_node_tests(node, HERE / SCRIPT, env, SCENARIOS)
