"""Shared fixtures: real servers in child processes, in every async mode."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.servers import ServerPool

ASYNC_MODES = ("eventlet", "gevent", "threading")

# Headless Chromium (``browser``, ``context``): registered once for every
# test directory, since a process can drive only one Playwright at a time.
pytest_plugins = ["tests.support.browser"]


def require(condition: bool, what: str) -> None:
    """Skip when a prerequisite is missing; under CI, fail instead.

    ``make test`` installs or starts every prerequisite, so in CI a missing
    one is a broken setup, never a reason to skip.
    """
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"prerequisite missing under CI: {what}")
    pytest.skip(f"prerequisite missing: {what}")


@pytest.fixture(scope="session")
def server_pool() -> Iterator[ServerPool]:
    pool = ServerPool()
    yield pool
    pool.stop_all()


@pytest.fixture(params=ASYNC_MODES)
def async_mode(request: pytest.FixtureRequest) -> str:
    """Runs a test once per async mode."""
    return str(request.param)
