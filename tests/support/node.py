"""Node.js and the npm packages of tests/node, as a fixture for tests that run Node."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require

__all__ = ["NODE_MODULES", "node"]

NODE_MODULES = Path(__file__).resolve().parents[1] / "node" / "node_modules"
NODE_PACKAGES = ("socket.io-client", "socket.io-msgpack-parser", "ws")
MIN_NODE = 20


def _node_major(node: str) -> int:
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout
    match = re.match(r"v(\d+)\.", version.strip())
    return int(match.group(1)) if match else 0


@pytest.fixture(scope="session")
def node() -> str:
    """The ``node`` executable, once Node 20+ and the npm packages are there.

    Skips without them, except under CI, where ``make test`` must have
    installed them (tests/support/prereqs.sh): there it fails.
    """
    found = shutil.which("node")
    require(found is not None, "node (Node.js 20+) on PATH")
    assert found is not None
    require(shutil.which("npm") is not None, "npm on PATH")
    require(_node_major(found) >= MIN_NODE, f"Node.js {MIN_NODE}+")
    for package in NODE_PACKAGES:
        require(
            (NODE_MODULES / package / "package.json").is_file(),
            f"tests/node/node_modules/{package} (run: npm ci --prefix tests/node)",
        )
    return found
