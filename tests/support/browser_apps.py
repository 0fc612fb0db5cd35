"""Apps for browser tests: Socket.IO test servers plus a harness page."""

from __future__ import annotations

from typing import Any

import realtime
from tests.support.recovery_apps import sio_recovery
from tests.support.sio_apps import sio_echo

#: The page every browser test drives. It loads the bundled client from the
#: server (no CDN) and keeps what happens in ``window.log`` for the test.
HARNESS = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>realtime harness</title>
<script src="/socket.io/realtime.js"></script></head>
<body>
<script>
  window.log = [];
  window.record = (kind, value) => window.log.push({kind, value});
  window.open_socket = (namespace, options) => {
    const socket = io(namespace || "/", options || {});
    socket.on("connect", () => record("connect", socket.id));
    socket.on("connect_error",
              (err) => record("connect_error", {message: err.message, data: err.data}));
    socket.on("disconnect", (reason) => record("disconnect", reason));
    socket.onAny((event, ...args) => record("event", {event, args}));
    return socket;
  };
</script>
</body></html>
"""


#: Harness pages by path: ``/harness-min`` loads the minified build instead.
PAGES = {
    "/harness": HARNESS,
    "/harness-min": HARNESS.replace(b"/socket.io/realtime.js", b"/socket.io/realtime.min.js"),
}


def browser_echo(mode: str, **options: Any) -> realtime.Server:
    """``sio_echo`` with the harness pages (:data:`PAGES`)."""
    return with_harness(sio_echo(mode, **options))


def browser_recovery(mode: str, **options: Any) -> realtime.Server:
    """``sio_recovery`` (connection state recovery on) with the harness page."""
    return with_harness(sio_recovery(mode, **options))


def with_harness(sio: realtime.Server) -> realtime.Server:
    """``sio`` with the harness pages (:data:`PAGES`) beside its own app."""
    state_app = sio.wsgi_app

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        page = PAGES.get(environ.get("PATH_INFO", ""))
        if page is not None:
            start_response(
                "200 OK",
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Length", str(len(page))),
                ],
            )
            return [page]
        assert state_app is not None
        return state_app(environ, start_response)

    sio.wsgi_app = app
    return sio
