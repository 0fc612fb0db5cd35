"""Runs the Node suite of the bundled JavaScript client (tests/node).

Each ``*.test.js`` / ``*.test.mjs`` file there drives realtime/static/realtime.js
against a stock ``socket.io`` server from npm, with ``node --test``. Here each
file is one test, so pytest-xdist can spread them and a failure shows the Node
output. ``loading.test.mjs`` also runs the client's build (realtime/static/build,
with its own packages) to check the generated files are fresh. Without node,
npm or the installed packages the tests skip, except under CI, where ``make
test`` must have installed them (tests/support/prereqs.sh).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
BUILD_DIR = Path(__file__).resolve().parents[2] / "realtime" / "static" / "build"
#: Node test files that run the client's build, and so need its packages.
BUILDING = {"loading.test.mjs"}
NODE_FILES = sorted(p.name for p in NODE_DIR.glob("*.test.*js"))
MIN_NODE = 20

pytestmark = pytest.mark.node


def _node_major(node: str) -> int:
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout
    match = re.match(r"v(\d+)\.", version.strip())
    return int(match.group(1)) if match else 0


def test_suite_is_found() -> None:
    assert "upgrade.test.js" in NODE_FILES, f"no Node tests found in {NODE_DIR}"
    assert set(NODE_FILES) >= BUILDING
    assert (BUILD_DIR / "package-lock.json").is_file(), f"no build in {BUILD_DIR}"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("test_file", NODE_FILES)
def test_node(test_file: str) -> None:
    node = shutil.which("node")
    require(node is not None, "node (Node.js 20+) on PATH")
    assert node is not None
    require(shutil.which("npm") is not None, "npm on PATH")
    require(_node_major(node) >= MIN_NODE, f"Node.js {MIN_NODE}+")
    require(
        (NODE_DIR / "node_modules" / "socket.io").is_dir(),
        "tests/node/node_modules (run: npm ci --prefix tests/node)",
    )
    if test_file in BUILDING:
        require(
            (BUILD_DIR / "node_modules" / "terser").is_dir(),
            "realtime/static/build/node_modules (run: npm ci --prefix realtime/static/build)",
        )
    try:
        proc = subprocess.run(
            [node, "--test", "--test-reporter=spec", "--test-timeout=60000", test_file],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            check=False,
            timeout=240,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout
        pytest.fail(f"node --test {test_file} did not finish in 240 s:\n{out or ''}")
    if proc.returncode != 0:
        pytest.fail(
            f"node --test {test_file} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}",
            pytrace=False,
        )
