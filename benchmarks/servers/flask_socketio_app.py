"""Flask-SocketIO 5.x with the benchmark handlers, in the async mode of ``--mode``.

Run: ``python -m benchmarks.servers.flask_socketio_app --mode eventlet`` (or
``gevent``, ``threading``). The same file as ``flask_app.py`` but for the
import, set up as Flask-SocketIO's documentation says for each mode:
monkey patched first thing on eventlet and gevent; WebSocket from
gevent-websocket on gevent (``run()`` picks its handler when it is
installed) and from simple-websocket on threading. Served by
``socketio.run(app)``, with two caps of its servers lifted so that the
comparison is of the servers, not of those defaults:

- the listen backlog (50 on eventlet, 128 on gevent and werkzeug) is 4,096,
  as realtime's; with 200 clients connecting at once a short backlog drops
  SYNs, and a client whose SYN was dropped waits a second to send it again;
- on eventlet, ``eventlet.wsgi.server``'s 1,024 connections at once, which
  would stop the 10,000-client scenario outright: the server is started as
  ``run()`` starts it, with ``max_size`` raised and the socket listening
  with the larger backlog (``run()`` passes no backlog to ``eventlet.listen``).

``run()`` in threading mode refuses to start outside a terminal unless told
``allow_unsafe_werkzeug=True``, as its message says.
"""

from __future__ import annotations

if __name__ == "__main__":
    from benchmarks.servers.patching import patch_for_command_line

    MODE: str | None = patch_for_command_line()
else:
    MODE = None

from typing import Any

from flask import Flask
from flask_socketio import SocketIO, emit, join_room  # type: ignore[import-untyped]

from benchmarks.servers.common import (
    HOST,
    ROOM,
    announce,
    arguments,
    raise_fd_limit,
    serve_announced,
    trace_if_asked,
)

BACKLOG = 4096
MAX_CONNECTIONS = 100_000

app = Flask(__name__)
socketio = SocketIO(app, async_mode=MODE)


@socketio.on("echo")  # type: ignore[untyped-decorator]
def echo(data: Any) -> Any:
    return data


@socketio.on("join")  # type: ignore[untyped-decorator]
def join(room: str) -> bool:
    join_room(room)
    return True


@socketio.on("bcast")  # type: ignore[untyped-decorator]
def bcast(seq: int, payload: str) -> None:
    emit("msg", (seq, payload), to=ROOM)


def run_eventlet(port: int) -> None:
    """What ``socketio.run(app)`` does on eventlet, without its two caps."""
    import eventlet
    import eventlet.wsgi

    listener = eventlet.listen((HOST, port), backlog=BACKLOG)
    announce(listener.getsockname()[1])
    eventlet.wsgi.server(listener, app, log_output=False, max_size=MAX_CONNECTIONS)


def main() -> None:
    args = arguments(__doc__ or "")
    raise_fd_limit()
    trace_if_asked(args.tracemalloc)
    if MODE == "eventlet":
        run_eventlet(args.port)
    elif MODE == "gevent":
        serve_announced(
            lambda port: socketio.run(app, host=HOST, port=port, backlog=BACKLOG), args.port
        )
    else:
        from werkzeug.serving import BaseWSGIServer

        # run() hands werkzeug no backlog; its server class holds it.
        BaseWSGIServer.request_queue_size = BACKLOG
        serve_announced(
            lambda port: socketio.run(app, host=HOST, port=port, allow_unsafe_werkzeug=True),
            args.port,
        )


if __name__ == "__main__":
    main()
