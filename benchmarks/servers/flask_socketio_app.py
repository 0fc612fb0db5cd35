"""Flask-SocketIO 5.x with the benchmark handlers, on eventlet.

Run: ``python -m benchmarks.servers.flask_socketio_app``. Set up as its
documentation says for eventlet (monkey patching first), and served by
``eventlet.wsgi`` as ``SocketIO.run()`` does, but without the two caps
``run()`` keeps on eventlet (at most 1,024 connections at once, a listen
backlog of 50), which would stop the 10,000-client scenario outright: the
comparison is of the servers, not of those defaults.
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

from typing import Any  # noqa: E402

import eventlet.wsgi  # noqa: E402
from flask import Flask  # noqa: E402
from flask_socketio import SocketIO, emit, join_room  # noqa: E402

from benchmarks.servers.common import ROOM, announce, arguments, raise_fd_limit  # noqa: E402

MAX_CONNECTIONS = 100_000
BACKLOG = 4096


def create() -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="eventlet")

    @socketio.on("echo")
    def echo(data: Any) -> Any:
        return data

    @socketio.on("join")
    def join(room: str) -> bool:
        join_room(room)
        return True

    @socketio.on("bcast")
    def bcast(seq: int, payload: str) -> None:
        emit("msg", (seq, payload), to=ROOM)

    return app, socketio


def main() -> None:
    args = arguments(__doc__ or "")
    if args.mode != "eventlet":
        raise SystemExit("this benchmark runs Flask-SocketIO on eventlet only")
    raise_fd_limit()
    app, _ = create()
    listener = eventlet.listen(("127.0.0.1", args.port), backlog=BACKLOG)
    announce(listener.getsockname()[1])
    eventlet.wsgi.server(listener, app, log_output=False, max_size=MAX_CONNECTIONS)


if __name__ == "__main__":
    main()
