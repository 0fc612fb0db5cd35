"""nginx in front of a test server, per profile."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import require
from tests.support.nginx import Nginx, nginx_path
from tests.support.servers import ServerProcess


@pytest.fixture
def proxied() -> Iterator[Callable[[ServerProcess, str], Nginx]]:
    started: list[Nginx] = []

    def start(server: ServerProcess, profile: str) -> Nginx:
        require(nginx_path() is not None, "nginx (make prereqs installs Debian's nginx-light)")
        proxy = Nginx([server.port], profile).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()
