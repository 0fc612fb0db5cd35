"""Our JavaScript client through a real nginx, configured right and wrong.

``client_through_nginx.test.js`` beside this file holds the scenarios per
nginx profile (tests/support/nginx.py): with a good proxy the client ends on
WebSocket; with Upgrade not forwarded, on ``sse`` (or ``streaming`` when
preferred), also with buffering forced on, since nginx passes each chunk of
a chunked response at once; with buffering forced on and HTTP/1.0 to the
upstream (nginx's default), on long polling; with short read timeouts, on
short polling. Each runs in front of a ``tests.support.interop_apps`` server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.client.test_ladder import APP, node_for_tests, run_node_tests
from tests.support.nginx import Nginx
from tests.support.servers import ServerPool, ServerProcess

Proxy = Callable[[ServerProcess, str], Nginx]
SCRIPT = Path(__file__).resolve().parent / "client_through_nginx.test.js"
#: Profile -> scenarios in client_through_nginx.test.js.
PROFILES = {
    "good": 1,
    "defaults": 3,
    "buffer-everything": 1,
    "http10-buffer-everything": 1,
    "short-timeouts": 1,
}
#: Where nginx buffers, the WSGI server's writes matter: werkzeug (the
#: threading mode) sends a chunk's size line, data and end separately, and
#: nginx then holds each chunk until the next one starts, so a stream lags one
#: write behind. Those profiles run on eventlet, which sends a chunk at once,
#: until the threading mode does the same.
CASES = [
    (profile, mode)
    for profile in PROFILES
    for mode in ("eventlet", "threading")
    if mode == "eventlet" or "buffer" not in profile
]

pytestmark = pytest.mark.node


@pytest.mark.timeout(180)
@pytest.mark.parametrize(("profile", "mode"), CASES)
def test_client_lands_on_the_best_rung(
    server_pool: ServerPool, proxied: Proxy, profile: str, mode: str
) -> None:
    node = node_for_tests()
    proxy = proxied(server_pool.get(APP, mode), profile)
    env = {"LADDER_URL": proxy.url, "LADDER_PROFILE": profile}
    run_node_tests(node, SCRIPT, env, PROFILES[profile])
