"""realtime's Flask extension with the benchmark handlers: the app as users write it.

Run: ``python -m benchmarks.servers.flask_app --mode eventlet`` (or ``gevent``,
``threading``). The file is ``flask_socketio_app.py`` with one import
changed: a Flask app, the extension's decorators, handlers that return their
ack and use ``emit`` and ``join_room``; monkey patched first thing in
eventlet and gevent mode, as those libraries' documentation says; served by
``socketio.run(app)`` (docs/flask/guide.md), with its defaults.

Under gunicorn (``gunicorn -k gevent benchmarks.servers.flask_app:app``,
see ``gunicorn_conf.py``) the worker patches and the mode follows the
worker class (docs/serving.md), so the module patches nothing then.
"""

from __future__ import annotations

if __name__ == "__main__":
    from benchmarks.servers.patching import patch_for_command_line

    MODE: str | None = patch_for_command_line()
else:
    MODE = None

from typing import Any

from flask import Flask

from benchmarks.servers.common import HOST, ROOM, arguments, serve_announced, trace_if_asked
from realtime.flask_integration import SocketIO, emit, join_room

app = Flask(__name__)
socketio = SocketIO(app, async_mode=MODE)


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


def main() -> None:
    args = arguments(__doc__ or "")
    trace_if_asked(args.tracemalloc)
    serve_announced(lambda port: socketio.run(app, host=HOST, port=port), args.port)


if __name__ == "__main__":
    main()
