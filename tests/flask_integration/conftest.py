"""Fixtures for the Flask extension's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.flask_integration.helpers import TRANSPORTS, Program


@pytest.fixture(params=list(TRANSPORTS))
def transports(request: pytest.FixtureRequest) -> list[str]:
    return TRANSPORTS[request.param]


@pytest.fixture
def programs() -> Iterator[list[Program]]:
    """Programs a test starts; each is stopped, with its process group, afterwards."""
    started: list[Program] = []
    yield started
    for program in started:
        program.stop()
