"""The application of the reliability tests (tests/reliability), as Flask-SocketIO users write one.

An extension object at module level, handlers with decorators, the context
helpers; only the import differs from Flask-SocketIO. Events:

- ``join(room)``: the sender enters ``room``; answers who serves it
  (``pid``, ``sid``, ``recovered``);
- ``whoami()``: the same, without joining;
- ``produce(n)``: broadcasts ``tick`` ``{"n": n}`` to the room :data:`ROOM`
  and answers ``{"n": n, "pid": ...}`` (the producer's acknowledgement);
- ``echo(data)``: answers ``{"echo": data, "pid": ..., "sid": ...}`` (the
  final round trip).

``GET /_test/pid`` answers the serving process's pid and its cluster
counters (``forwarded``, ``served_for_others``, ``relayed``).

It runs under ``tests.support.serve_app`` (``create_app(mode, **options)``)
and under gunicorn through :mod:`tests.support.reliability_wsgi`.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify, request

from realtime.flask_integration import SocketIO, emit, join_room

#: The room the producer's broadcasts go to.
ROOM = "stream"
#: Connection state recovery as the issue's deployment has it.
RECOVERY = {"max_disconnection_duration": 120}

socketio = SocketIO()


def _me() -> dict[str, Any]:
    sid: str = request.sid  # type: ignore[attr-defined]
    return {"pid": os.getpid(), "sid": sid, "recovered": socketio.server.recovered(sid)}


@socketio.event
def join(room: str = ROOM) -> dict[str, Any]:
    join_room(room)
    return _me()


@socketio.event
def whoami() -> dict[str, Any]:
    return _me()


@socketio.event
def produce(n: int) -> dict[str, Any]:
    emit("tick", {"n": n}, to=ROOM)
    return {"n": n, "pid": os.getpid()}


@socketio.event
def echo(data: Any = None) -> dict[str, Any]:
    return {"echo": data, "pid": os.getpid(), "sid": request.sid}  # type: ignore[attr-defined]


def create_app(mode: str | None = None, **options: Any) -> Flask:
    """The app; ``options`` go to ``init_app`` (recovery on unless given)."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "reliability"

    @app.route("/_test/pid")
    def pid() -> Any:
        forwarder = socketio.server.engine.forwarder
        stats = dict(forwarder.stats) if forwarder is not None else {}
        return jsonify({"pid": os.getpid(), **stats})

    options.setdefault("connection_state_recovery", RECOVERY)
    socketio.init_app(app, async_mode=mode, **options)
    return app
